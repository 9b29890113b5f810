#!/usr/bin/env python3
"""Writes the figures of a bench/run into the results section of a Markdown report.

Reads one `<backend>.json` per backend from the results folder and replaces the text
between the `bench:results:start` and `bench:results:end` markers of the report.
The rest of the report (how to read the figures, the history of changes) stays as
written.
"""

import argparse
import datetime
import json
import os
import platform
import re

START = "<!-- bench:results:start -->"
END = "<!-- bench:results:end -->"

# (figure, target text, test of the result)
EXCHANGE_TARGET = ("≥ 8,000 req/s, p99 ≤ 20 ms", lambda r: r["rps"] >= 8000 and r["p99_ms"] <= 20)
REFRESH_TARGET = ("≥ 1,500 req/s, p99 ≤ 50 ms", lambda r: r["rps"] >= 1500 and r["p99_ms"] <= 50)
RSS_TARGET_MIB = 64
UPLOAD_GROWTH_TARGET_MIB = 32
UPLOAD_SPEED_TARGET = 0.8
STARTUP_TARGET_MS = 1000
SCALE_RATIO_TARGET = 1.5


# Whether figures are judged against the targets, which hold for the release build
# only: main clears it for a debug build's smoke run.
judged = True


def verdict(ok):
    if not judged:
        return "not judged (debug build)"
    return "met" if ok else "**missed**"


def machine():
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo") as info:
            kib = int(info.readline().split()[1])
            memory = f", {kib / 1024 / 1024:.0f} GiB memory"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores ({cpu}){memory}, Linux {platform.release()}"


def run_cell(run):
    errors = run["socket_errors"] + run["http_errors"]
    return (
        f"{run['rps']:,.0f} req/s, p50 {run['p50_ms']:.2f} ms, p99 {run['p99_ms']:.2f} ms, "
        f"{errors} errors"
    )


def section(result):
    rows = []

    ceiling, exchange, refresh = result["ceiling"], result["exchange"], result["refresh"]
    rows.append(("fixed body (ceiling), GET /static/favicon.svg", run_cell(ceiling), "(reference)", ""))
    ratio = exchange["rps"] / ceiling["rps"] if ceiling["rps"] else 0
    rows.append((
        "GET exchange-member (member with 20 files)",
        f"{run_cell(exchange)}; {ratio:.0%} of the ceiling",
        EXCHANGE_TARGET[0],
        verdict(EXCHANGE_TARGET[1](exchange) and exchange["socket_errors"] + exchange["http_errors"] == 0),
    ))
    rows.append((
        "POST /oauth2/token/ refresh",
        run_cell(refresh),
        REFRESH_TARGET[0],
        verdict(REFRESH_TARGET[1](refresh) and refresh["socket_errors"] + refresh["http_errors"] == 0),
    ))

    peak_mib = result["load_peak_rss_kib"] / 1024
    rows.append((
        "server peak RSS during those runs",
        f"{peak_mib:.1f} MiB",
        f"≤ {RSS_TARGET_MIB} MiB",
        verdict(peak_mib <= RSS_TARGET_MIB),
    ))

    upload = result["upload"]
    growth_mib = upload["rss_growth_kib"] / 1024
    speed = upload["mib"] / (upload["ms"] / 1000) if upload["ms"] else 0
    copy_speed = upload["mib"] / (upload["copy_sync_ms"] / 1000) if upload["copy_sync_ms"] else 0
    share = speed / copy_speed if copy_speed else 0
    rounds = len(upload.get("rounds", [])) or 1
    rows.append((
        f"direct upload of {upload['mib']} MiB (PUT)",
        f"{speed:,.0f} MiB/s ({share:.0%} of `cp` + `sync` at {copy_speed:,.0f} MiB/s), "
        f"fastest of {rounds} {'round' if rounds == 1 else 'rounds'} each; "
        f"RSS growth {growth_mib:.1f} MiB at most",
        f"≥ {UPLOAD_SPEED_TARGET:.0%} of `cp` + `sync`; growth ≤ {UPLOAD_GROWTH_TARGET_MIB} MiB",
        verdict(share >= UPLOAD_SPEED_TARGET and growth_mib <= UPLOAD_GROWTH_TARGET_MIB),
    ))
    rows.append((
        "start to first 200 on an existing database",
        f"{result['startup_ms']} ms",
        f"≤ {STARTUP_TARGET_MS / 1000:g} s",
        verdict(result["startup_ms"] <= STARTUP_TARGET_MS),
    ))

    scale = result.get("exchange_scale")
    if scale:
        ratio = scale["p99_ms"] / exchange["p99_ms"] if exchange["p99_ms"] else 0
        rows.append((
            f"exchange-member p99 with {result['scale_members']:,} members vs {result['members']:,}",
            f"{scale['p99_ms']:.2f} ms vs {exchange['p99_ms']:.2f} ms: ratio {ratio:.2f} "
            f"({scale['rps']:,.0f} req/s)",
            f"ratio ≤ {SCALE_RATIO_TARGET}",
            verdict(ratio <= SCALE_RATIO_TARGET),
        ))
    lines = [
        f"### {'SQLite' if result['backend'] == 'sqlite' else 'PostgreSQL'} "
        f"({result['members']:,} members)",
        "",
        "| figure | result | target | |",
        "|---|---|---|---|",
    ]
    lines += [f"| {figure} | {value} | {target} | {mark} |" for figure, value, target, mark in rows]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", required=True)
    parser.add_argument("--report", required=True)
    parser.add_argument("--command", required=True)
    parser.add_argument("--threads", required=True)
    parser.add_argument("--connections", required=True)
    parser.add_argument("--profile", required=True, help="cargo profile of the binary measured")
    args = parser.parse_args()
    global judged
    judged = args.profile == "release"

    results = []
    for backend in ("sqlite", "postgres"):
        path = os.path.join(args.results, f"{backend}.json")
        if os.path.exists(path):
            with open(path) as source:
                results.append(json.load(source))
    if not results:
        raise SystemExit(f"report: no results in {args.results}")

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    duration = results[0]["duration_s"]
    body = [
        START,
        f"Run on {now} with `{args.command}` on {machine()}. Load: "
        f"`wrk -t{args.threads} -c{args.connections} -d{duration}s` on the same cores "
        f"as the server; {args.profile} build, default settings.",
        "",
    ]
    body += [section(result) + "\n" for result in results]
    body.append(END)

    with open(args.report) as report:
        text = report.read()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"report: {args.report} has no {START} … {END} section")
    text = pattern.sub(lambda _: "\n".join(body), text)
    with open(args.report, "w") as report:
        report.write(text)


if __name__ == "__main__":
    main()
