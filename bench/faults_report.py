#!/usr/bin/env python3
"""Writes the results of bench/faults into the results section of a Markdown page.

Reads the `<backend>-<phase>.json` files that bench/faults.py wrote and replaces
what lies between the results markers of the page.
"""

import argparse
import datetime
import json
import os
import platform
import re

START = "<!-- faults:results:start -->"
END = "<!-- faults:results:end -->"
BACKENDS = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
PHASES = {"load": "Load", "faults": "Load with kills"}


def machine():
    cores = os.cpu_count()
    model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        kib = int(meminfo.readline().split()[1])
    return (
        f"{cores} cores ({model}), {kib / 1024 / 1024:.0f} GiB memory, Linux {platform.release()}"
    )


def count(value):
    return f"{value:,}"


def listing(counts):
    return ", ".join(f"{name} {count(n)}" for name, n in sorted(counts.items())) or "none"


def phase_section(title, result):
    statuses = {
        step: ", ".join(f"{code}: {count(n)}" for code, n in sorted(codes.items()))
        for step, codes in result["statuses"].items()
    }
    lines = [f"#### {title}", ""]
    if result["kills_at_s"]:
        outages = "; ".join(f"{start} s to {end} s" for start, end in result["outages_s"])
        lines.append(
            f"Killed with SIGKILL at {', '.join(str(t) for t in result['kills_at_s'])} s; "
            f"down (kill to first 200 from /healthz): {outages}."
        )
    lines.append(
        f"Traffic ran {result['traffic_s']} s; the queue drained {result['drain_s']} s later. "
        f"Actions: {listing(result['actions'])}. Members who joined: {count(result['members_joined'])}."
    )
    lines += ["", "| request | sent | statuses | connection failures |", "|---|---|---|---|"]
    for step in sorted(result["requests"]):
        failures = listing(result["connection_failures"].get(step, {}))
        lines.append(
            f"| {step} | {count(result['requests'][step])} | {statuses.get(step, '')} | {failures} |"
        )
    files, messages, withdrawals = result["files"], result["messages"], result["withdrawals"]
    lines += [
        "",
        "| check | result |",
        "|---|---|",
        f"| responses with a 5xx status | {count(result['server_errors'])} |",
        f"| connection failures while the server was up | {count(result['unexpected_connection_failures'])} |",
        f"| files | {count(files['confirmed'])} confirmed, {count(files['uncertain'])} uncertain, "
        f"{count(files['deleted'])} deleted; {count(files['listed'])} listed, "
        f"{count(files['downloaded'])} downloaded and compared by MD5 |",
        f"| messages | {count(messages['accepted'])} accepted, {count(messages['uncertain'])} uncertain, "
        f"{count(messages['limited'])} refused by the daily limit (429); "
        f"{count(messages['delivered'])} delivered to the SMTP sink, of which "
        f"{count(messages['repeats'])} repeats with the same Message-ID |",
        f"| withdrawals | {count(withdrawals['confirmed'])} confirmed, {count(withdrawals['uncertain'])} "
        f"uncertain; {count(withdrawals['webhooks_delivered'])} webhooks received, of which "
        f"{count(withdrawals['repeats'])} repeats with the same webhook-id |",
    ]
    for label, value in result["database"].items():
        lines.append(f"| {label} | {value} |")
    problems = result["problems"]
    lines += ["", f"**{len(problems)} problems**" + (":" if problems else ".")]
    lines += [f"- {problem}" for problem in problems[:20]]
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", required=True, help="folder of bench/faults.py results")
    parser.add_argument("--report", required=True, help="Markdown page with the results markers")
    parser.add_argument("--command", required=True)
    parser.add_argument("--profile", required=True)
    args = parser.parse_args()

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Run on {now} with `{args.command}` on {machine()}; {args.profile} build, "
        "clients and server on the same cores."
    ]
    for backend, backend_title in BACKENDS.items():
        phases = [
            (phase, os.path.join(args.results, f"{backend}-{phase}.json")) for phase in PHASES
        ]
        phases = [(phase, path) for phase, path in phases if os.path.exists(path)]
        if not phases:
            continue
        lines += ["", f"### {backend_title}"]
        for phase, path in phases:
            with open(path) as file:
                result = json.load(file)
            title = f"{PHASES[phase]}: {result['clients']} clients, {result['duration_s']:g} s"
            lines += [""] + phase_section(title, result)

    with open(args.report) as file:
        page = file.read()
    section = f"{START}\n" + "\n".join(lines) + f"\n{END}"
    page, replaced = re.subn(
        re.escape(START) + ".*?" + re.escape(END), lambda _: section, page, flags=re.S
    )
    if not replaced:
        raise SystemExit(f"faults_report: {args.report} has no {START} marker")
    with open(args.report, "w") as file:
        file.write(page)


if __name__ == "__main__":
    main()
