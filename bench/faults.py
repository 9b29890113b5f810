"""Runs mixed traffic against the openhumans server, optionally killing it with SIGKILL
and restarting it, and then checks that nothing accepted was lost or duplicated.

bench/faults prepares the database and calls this with the server's environment as
its own, so the server it starts gets exactly those settings. The script runs an SMTP
sink and a webhook receiver on 127.0.0.1, starts the server, runs the clients of
bench/traffic.py, waits for the server's job queue to drain, checks files, messages,
webhooks and the database, and writes the results as JSON.
"""

import argparse
import email
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

import traffic

HEALTHY_TIMEOUT_S = 60
DRAIN_POLL_S = 2


class MailSink:
    """aiosmtpd handler recording, per message token, each recipient and Message-ID."""

    def __init__(self):
        self.lock = threading.Lock()
        self.deliveries = defaultdict(list)
        self.other = 0

    async def handle_DATA(self, server, session, envelope):
        content = (
            envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        )
        message_id = email.message_from_bytes(content).get("Message-ID", "")
        tokens = set(traffic.MESSAGE_TOKEN.findall(content))
        with self.lock:
            if not tokens:
                self.other += 1
            for token in tokens:
                for recipient in envelope.rcpt_tos:
                    self.deliveries[token.decode()].append((recipient.lower(), message_id))
        return "250 Message accepted for delivery"


class WebhookSink(ThreadingHTTPServer):
    """Records every webhook POST: its webhook-id and project_member_id."""

    daemon_threads = True

    def __init__(self, port):
        super().__init__(("127.0.0.1", port), WebhookHandler)
        self.lock = threading.Lock()
        self.deliveries = defaultdict(list)


class WebhookHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        project_member_id = json.loads(body).get("project_member_id", "")
        with self.server.lock:
            self.server.deliveries[project_member_id].append(self.headers.get("webhook-id", ""))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):
        pass


class Sinks:
    """The SMTP sink and the webhook receiver, on 127.0.0.1."""

    def __init__(self, smtp_port, webhook_port):
        self.mail = MailSink()
        self.smtp = Controller(self.mail, hostname="127.0.0.1", port=smtp_port)
        self.webhooks = WebhookSink(webhook_port)

    def start(self):
        self.smtp.start()
        threading.Thread(target=self.webhooks.serve_forever, daemon=True).start()

    def stop(self):
        self.smtp.stop()
        self.webhooks.shutdown()


class Server:
    """The openhumans process, started with this script's environment."""

    def __init__(self, binary, log_path, base_url, state):
        self.binary = binary
        self.log_path = log_path
        self.base_url = base_url
        self.state = state
        self.process = None
        self.started = time.monotonic()

    def start(self):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([self.binary, "serve"], stdout=log, stderr=log)
        deadline = time.monotonic() + HEALTHY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(
                    f"faults: the server exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        self.state.mark_up(self.elapsed())
                        return
            except OSError:
                pass
            time.sleep(0.05)
        sys.exit(
            f"faults: the server did not respond to /healthz within {HEALTHY_TIMEOUT_S} s; see {self.log_path}"
        )

    def kill(self):
        self.state.mark_down(self.elapsed())
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            sys.exit("faults: the server did not stop within 30 s of SIGTERM")

    def kill_if_running(self):
        """Kills the server when the script fails, so no process outlives the run."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def elapsed(self):
        return round(time.monotonic() - self.started, 2)


class Database:
    """Read-only queries on the server's database, through sqlite3 or psql."""

    def __init__(self, url):
        self.url = url
        self.is_sqlite = url.startswith("sqlite:")

    def rows(self, sql):
        if self.is_sqlite:
            path = self.url.removeprefix("sqlite://").removeprefix("sqlite:").split("?")[0]
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                return [tuple(str(value) for value in row) for row in conn.execute(sql)]
        out = subprocess.run(
            ["psql", self.url, "-qAtX", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
            check=True,
            capture_output=True,
            text=True,
        )
        return [tuple(line.split("\t")) for line in out.stdout.splitlines()]

    def scalar(self, sql):
        return int(self.rows(sql)[0][0])


# Queries whose count must be zero once the queue has drained and the server stopped;
# they hold on both backends.
CONSISTENCY_QUERIES = {
    "jobs left running (a lease that nobody finished)": "SELECT count(*) FROM jobs WHERE state = 'running'",
    "jobs due but not run": "SELECT count(*) FROM jobs WHERE state = 'queued' AND run_at <= {now}",
    "webhook deliveries still pending": "SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'",
    "message recipients still queued": "SELECT count(*) FROM message_recipients WHERE state = 'queued'",
    "withdrawals without exactly one webhook delivery": (
        "SELECT count(*) FROM withdrawals w "
        "WHERE (SELECT count(*) FROM webhook_deliveries d WHERE d.withdrawal_id = w.id) <> 1"
    ),
    "access tokens of revoked memberships": (
        "SELECT count(*) FROM oauth2_access_tokens t JOIN oauth2_grants g ON g.id = t.grant_id "
        "JOIN memberships m ON m.id = g.membership_id WHERE m.revoked = 1"
    ),
    # Every upload of this run gives an md5 in its metadata, and the server records
    # the MD5 it checked, so a completed file without one lost it.
    "completed files without size or MD5": (
        "SELECT count(*) FROM data_files WHERE completed = 1 AND (size IS NULL OR md5 IS NULL)"
    ),
    "message recipients whose member has no membership": (
        "SELECT count(*) FROM message_recipients r WHERE NOT EXISTS "
        "(SELECT 1 FROM memberships m WHERE m.project_id = r.project_id AND m.member_id = r.member_id)"
    ),
}


def due_jobs(database):
    now = int(time.time() * 1_000_000)
    return database.scalar(
        f"SELECT count(*) FROM jobs WHERE state = 'running' OR (state = 'queued' AND run_at <= {now})"
    )


def undelivered(ledger, mail, webhooks):
    """Counts confirmed messages and withdrawals not yet seen by the sinks."""
    with mail.lock:
        messages = sum(
            1
            for token, (_, confirmed) in ledger.messages.items()
            if confirmed and not mail.deliveries.get(token)
        )
    with webhooks.lock:
        withdrawals = sum(
            1
            for pmid, confirmed in ledger.withdrawals.items()
            if confirmed and not webhooks.deliveries.get(pmid)
        )
    return messages + withdrawals


def drain(ledger, mail, webhooks, database, timeout):
    """Waits, at most `timeout` seconds, until every confirmed message and webhook
    arrived and no job is due; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if undelivered(ledger, mail, webhooks) == 0 and due_jobs(database) == 0:
            break
        time.sleep(DRAIN_POLL_S)
    return round(time.monotonic() - started, 1)


def check_messages(ledger, mail, faults):
    """Checks that each confirmed message arrived once for its recipient, and an
    uncertain one at most once. After kills, a repeat must carry the same Message-ID."""
    problems = []
    delivered = repeats = 0
    with mail.lock:
        deliveries = dict(mail.deliveries)
    for token, (recipient, confirmed) in ledger.messages.items():
        got = deliveries.pop(token, [])
        delivered += len(got)
        repeats += max(0, len(got) - 1)
        recipients = {address for address, _ in got}
        message_ids = {message_id for _, message_id in got}
        if confirmed and not got:
            problems.append(f"message {token} was accepted but never delivered")
        if recipients - {recipient}:
            problems.append(f"message {token} went to {sorted(recipients - {recipient})}")
        if len(message_ids) > 1 or (len(got) > 1 and not faults):
            problems.append(
                f"message {token} was delivered {len(got)} times with Message-IDs {sorted(message_ids)}"
            )
    for token in deliveries:
        problems.append(f"message {token} was delivered but never accepted")
    return delivered, repeats, problems


def check_webhooks(ledger, webhooks, faults):
    """Checks that each confirmed withdrawal's webhook arrived once, and an uncertain
    one at most once. After kills, a repeat must carry the same webhook-id."""
    problems = []
    delivered = repeats = 0
    with webhooks.lock:
        deliveries = dict(webhooks.deliveries)
    for pmid, confirmed in ledger.withdrawals.items():
        ids = deliveries.pop(pmid, [])
        delivered += len(ids)
        repeats += max(0, len(ids) - 1)
        if confirmed and not ids:
            problems.append(f"the withdrawal of {pmid} succeeded but its webhook never arrived")
        if len(set(ids)) > 1 or (len(ids) > 1 and not faults):
            problems.append(
                f"the withdrawal of {pmid} sent {len(ids)} webhooks with ids {sorted(set(ids))}"
            )
    for pmid in deliveries:
        problems.append(f"a webhook arrived for {pmid}, who never withdrew")
    return delivered, repeats, problems


def check_files(ledger, config):
    """Lists every remaining member's files with the master token and downloads each
    one, comparing its MD5 with what was uploaded."""
    server = traffic.ServerState()
    conn = traffic.Connection(config["host"], config["port"], server)
    headers = {"Authorization": f"Bearer {config['master_token']}"}
    problems = []
    listed_count = downloaded = 0
    withdrawn = set(ledger.withdrawals)
    for member in ledger.members:
        if member.project_member_id in withdrawn:
            continue
        query = urllib.parse.urlencode(
            {"project_member_id": member.project_member_id, "limit": 1000}
        )
        response = conn.request(
            "GET", f"/api/direct-sharing/project/exchange-member/?{query}", headers=headers
        )
        if response.status != 200:
            problems.append(
                f"listing the files of {member.project_member_id}: status {response.status}"
            )
            continue
        listed = response.json()["data"]
        listed_count += len(listed)
        problem = traffic.compare_files(member, [entry["id"] for entry in listed])
        if problem:
            problems.append(f"files of {member.project_member_id}: {problem}")
        for entry in listed:
            expected = member.files.get(entry["id"]) or member.uncertain_files.get(entry["id"])
            if expected is None:
                continue
            url = urllib.parse.urlsplit(entry["download_url"])
            body = conn.request("GET", url.path + "?" + url.query).body
            downloaded += 1
            if traffic.hashlib.md5(body).hexdigest() != expected[0] or len(body) != expected[1]:
                problems.append(
                    f"file {entry['id']} of {member.project_member_id} downloads different bytes"
                )
    conn.close()
    return listed_count, downloaded, problems


def check_database(database):
    """Runs the backend's own integrity checks and the consistency queries."""
    results = {}
    if database.is_sqlite:
        results["PRAGMA integrity_check"] = ", ".join(
            row[0] for row in database.rows("PRAGMA integrity_check")
        )
        results["PRAGMA foreign_key_check rows"] = len(database.rows("PRAGMA foreign_key_check"))
    else:
        results["pg_amcheck"] = run_pg_amcheck(database.url)
    now = int(time.time() * 1_000_000)
    for label, sql in CONSISTENCY_QUERIES.items():
        results[label] = database.scalar(sql.format(now=now))
    problems = [f"{label}: {value}" for label, value in results.items() if value not in (0, "ok")]
    return results, problems


def run_pg_amcheck(url):
    """Checks every table and B-tree index with pg_amcheck; returns "ok" or its output."""
    candidates = [os.path.join(d, "pg_amcheck") for d in os.environ.get("PATH", "").split(":")]
    candidates += sorted(
        (
            (
                os.path.join("/usr/lib/postgresql", version, "bin", "pg_amcheck")
                for version in os.listdir("/usr/lib/postgresql")
            )
            if os.path.isdir("/usr/lib/postgresql")
            else []
        ),
        reverse=True,
    )
    binary = next((path for path in candidates if os.access(path, os.X_OK)), None)
    if binary is None:
        return "not installed"
    out = subprocess.run(
        [binary, "--install-missing", "--heapallindexed", url], capture_output=True, text=True
    )
    return "ok" if out.returncode == 0 else (out.stdout + out.stderr).strip()[:500]


def kill_schedule(duration, kills, seed):
    """Picks `kills` moments spread over the run: one at random inside each of
    `kills` equal slices of its middle 80%."""
    rng = random.Random(seed)
    start, span = duration * 0.1, duration * 0.8
    return [round(start + span * (n + rng.uniform(0.2, 0.8)) / kills, 1) for n in range(kills)]


def run_faults(server, times, started):
    for at in times:
        time.sleep(max(0.0, at - (time.monotonic() - started)))
        server.kill()
        server.start()


def summarise(ledger):
    return {
        "requests": dict(ledger.requests),
        "statuses": {
            step: {str(code): n for code, n in counts.items()}
            for step, counts in ledger.statuses.items()
        },
        "connection_failures": {
            step: dict(kinds) for step, kinds in ledger.connection_failures.items()
        },
        "unexpected_connection_failures": ledger.unexpected_connection_failures,
        "actions": dict(ledger.actions),
        "clients_out_of_members": ledger.clients_out_of_members,
        "server_errors": sum(
            n for counts in ledger.statuses.values() for code, n in counts.items() if code >= 500
        ),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument(
        "--credentials", required=True, help="JSON printed by `admin create-project`"
    )
    parser.add_argument(
        "--members", required=True, help="file with one fresh member's username a line"
    )
    parser.add_argument("--password", required=True, help="the password of every fresh member")
    parser.add_argument("--redirect-uri", required=True)
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--webhook-port", type=int, required=True)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60, help="seconds of traffic")
    parser.add_argument(
        "--kills", type=int, default=0, help="SIGKILL and restart the server this many times"
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=120, help="seconds to wait for queued jobs"
    )
    parser.add_argument("--seed", default="openhumans")
    parser.add_argument("--server-log", required=True)
    parser.add_argument("--result", required=True, help="where to write the results as JSON")
    args = parser.parse_args()

    base_url = os.environ["OPENHUMANS_PUBLIC_URL"]
    database = Database(os.environ["DATABASE_URL"])
    with open(args.credentials) as file:
        credentials = json.load(file)
    with open(args.members) as file:
        usernames = [line.strip() for line in file if line.strip()]
    address = urllib.parse.urlsplit(base_url)
    config = {
        "host": address.hostname,
        "port": address.port,
        "seed": args.seed,
        "client_id": credentials["client_id"],
        "master_token": credentials["master_access_token"],
        "basic_auth": traffic.basic_auth(credentials["client_id"], credentials["client_secret"]),
        "redirect_uri": args.redirect_uri,
        "password": args.password,
    }

    sinks = Sinks(args.smtp_port, args.webhook_port)
    sinks.start()
    state = traffic.ServerState()
    server = Server(args.binary, args.server_log, base_url, state)
    try:
        run(args, config, usernames, database, sinks, server)
    finally:
        server.kill_if_running()


def run(args, config, usernames, database, sinks, server):
    """Runs the traffic and the checks, writes the results, and exits 1 on problems."""
    server.start()
    state = server.state
    mail, webhooks = sinks.mail, sinks.webhooks
    ledger = traffic.Ledger()
    share = len(usernames) // args.clients
    if share < 2:
        sys.exit(f"faults: {len(usernames)} members are too few for {args.clients} clients")
    started = time.monotonic()
    # Outages are reported in seconds since the traffic started, as the kill times are.
    server.started = started
    deadline = started + args.duration
    clients = [
        traffic.Client(n, config, state, ledger, usernames[n * share : (n + 1) * share], deadline)
        for n in range(args.clients)
    ]
    for client in clients:
        client.start()
    times = kill_schedule(args.duration, args.kills, args.seed) if args.kills else []
    run_faults(server, times, started)
    for client in clients:
        client.join(max(0.0, deadline - time.monotonic()) + traffic.REQUEST_TIMEOUT_S + 5)
    traffic_seconds = round(time.monotonic() - started, 1)

    drain_seconds = drain(ledger, mail, webhooks, database, args.drain_timeout)
    files_listed, files_downloaded, file_problems = check_files(ledger, config)
    server.stop()
    sinks.stop()
    messages_delivered, message_repeats, message_problems = check_messages(
        ledger, mail, bool(args.kills)
    )
    webhooks_delivered, webhook_repeats, webhook_problems = check_webhooks(
        ledger, webhooks, bool(args.kills)
    )
    database_checks, database_problems = check_database(database)

    summary = summarise(ledger)
    problems = (
        ledger.failures + file_problems + message_problems + webhook_problems + database_problems
    )
    if summary["server_errors"]:
        problems.insert(0, f"{summary['server_errors']} responses with a 5xx status")
    result = {
        "clients": args.clients,
        "duration_s": args.duration,
        "traffic_s": traffic_seconds,
        "kills_at_s": times,
        "outages_s": state.outages,
        "drain_s": drain_seconds,
        **summary,
        "failure_count": ledger.failure_count,
        "members_joined": len(ledger.members),
        "files": {
            "confirmed": sum(
                len(m.files)
                for m in ledger.members
                if m.project_member_id not in ledger.withdrawals
            ),
            "uncertain": sum(len(m.uncertain_files) for m in ledger.members),
            "deleted": sum(len(m.deleted_files) for m in ledger.members),
            "listed": files_listed,
            "downloaded": files_downloaded,
        },
        "messages": {
            "accepted": sum(1 for _, ok in ledger.messages.values() if ok),
            "uncertain": sum(1 for _, ok in ledger.messages.values() if not ok),
            "limited": ledger.statuses["message"][429],
            "delivered": messages_delivered,
            "repeats": message_repeats,
            "other_emails": mail.other,
        },
        "withdrawals": {
            "confirmed": sum(1 for ok in ledger.withdrawals.values() if ok),
            "uncertain": sum(1 for ok in ledger.withdrawals.values() if not ok),
            "webhooks_delivered": webhooks_delivered,
            "repeats": webhook_repeats,
        },
        "database": database_checks,
        "problems": problems[: traffic.MAX_FAILURES_KEPT],
    }
    with open(args.result, "w") as file:
        json.dump(result, file, indent=1)
    print(
        json.dumps(
            {
                key: result[key]
                for key in ("requests", "files", "messages", "withdrawals", "database")
            }
        )
    )
    for problem in problems[:20]:
        print(f"faults: {problem}", file=sys.stderr)
    if problems:
        sys.exit(f"faults: {len(problems)} problems; see {args.result}")


if __name__ == "__main__":
    main()
