"""Simulated clients of the openhumans server for bench/faults.

Each client thread owns its members, so no two threads ever act for the same member
and every thread tracks the exact state the server should hold for its members. A
ledger records what every request returned and which outcomes were confirmed (a 2xx
arrived) or uncertain (the connection failed, so the server may or may not have
acted). bench/faults.py checks the server's final state against the ledger.
"""

import base64
import hashlib
import http.client
import json
import os
import random
import re
import threading
import time
import urllib.parse
import uuid
from collections import Counter, defaultdict
from html.parser import HTMLParser

# Relative weights of the actions a client picks between.
WEIGHTS = {
    "consent": 10,
    "refresh": 15,
    "exchange": 25,
    "upload": 15,
    "delete": 10,
    "message": 10,
    "withdrawal": 5,
}
MAX_UPLOAD_BYTES = 64 * 1024
REQUEST_TIMEOUT_S = 60
RETRY_PAUSE_S = 0.5
# Keeps the ledger's failure list readable when something fails everywhere.
MAX_FAILURES_KEPT = 200


class ConnectionFailed(Exception):
    """A request that got no HTTP response: the server was down or went down.

    `sent` is false when the connection was refused, so the server never saw the
    request; otherwise it may have acted on it.
    """

    def __init__(self, kind, expected):
        super().__init__(kind)
        self.kind = kind
        self.expected = expected
        self.sent = kind != "refused"


class Unexpected(Exception):
    """A response the protocol does not allow at this step."""


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name)


class ServerState:
    """Whether the server is up, as the fault schedule changes it.

    `generation` counts server starts: a connection opened under an earlier one was
    cut by a kill, so its failure is expected.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.generation = 0
        self.down = False
        self.outages = []

    def mark_down(self, at):
        with self.lock:
            self.down = True
            self.outages.append([at, None])

    def mark_up(self, at):
        with self.lock:
            self.generation += 1
            if self.outages and self.outages[-1][1] is None:
                self.outages[-1][1] = at
            self.down = False

    def failure_is_expected(self, opened_generation):
        with self.lock:
            return self.down or opened_generation != self.generation


class Connection:
    """One keep-alive HTTP connection that reopens itself after a failure."""

    def __init__(self, host, port, server_state, source_ip=""):
        self.host = host
        self.port = port
        self.server = server_state
        self.source_ip = source_ip
        self.conn = None
        self.generation = None

    def request(self, method, target, body=None, headers=None):
        if self.conn is None:
            self.generation = self.server.generation
            self.conn = http.client.HTTPConnection(
                self.host, self.port, timeout=REQUEST_TIMEOUT_S, source_address=(self.source_ip, 0)
            )
        try:
            self.conn.request(method, target, body=body, headers=headers or {})
            raw = self.conn.getresponse()
            data = raw.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise ConnectionFailed(
                failure_kind(error), self.server.failure_is_expected(self.generation)
            )
        if raw.getheader("Connection", "").lower() == "close":
            self.close()
        headers = {}
        for name, value in raw.getheaders():
            key = name.lower()
            headers[key] = f"{headers[key]}\n{value}" if key in headers else value
        return Response(raw.status, headers, data)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def failure_kind(error):
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, ConnectionResetError):
        return "reset"
    if isinstance(error, BrokenPipeError):
        return "broken pipe"
    if isinstance(error, http.client.RemoteDisconnected):
        return "closed"
    if isinstance(error, TimeoutError):
        return "timeout"
    return type(error).__name__


class FormFields(HTMLParser):
    """Collects the hidden inputs of the first form posting to `action`."""

    def __init__(self, action):
        super().__init__()
        self.action = action
        self.inside = False
        self.found = False
        self.fields = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and not self.found and attrs.get("action") == self.action:
            self.inside = self.found = True
        elif tag == "input" and self.inside and attrs.get("type") == "hidden":
            self.fields.append((attrs.get("name", ""), attrs.get("value", "")))

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


class Member:
    """A member a client owns, with what the server should hold for them."""

    def __init__(self, username):
        self.username = username
        self.email = f"{username}@bench.invalid"
        self.cookies = {}
        self.access_token = None
        self.refresh_token = None
        self.project_member_id = None
        # File id -> (md5, size) of completed uploads not deleted.
        self.files = {}
        # Files whose completion or deletion got no response, with their md5 and size.
        self.uncertain_files = {}
        self.deleted_files = set()


class Ledger:
    """Thread-safe record of requests, outcomes and failures."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = Counter()
        self.statuses = defaultdict(Counter)
        self.connection_failures = defaultdict(Counter)
        self.unexpected_connection_failures = 0
        self.actions = Counter()
        self.failures = []
        self.failure_count = 0
        self.members = []
        # Message token -> (recipient email, confirmed).
        self.messages = {}
        self.clients_out_of_members = 0
        # project_member_id -> confirmed.
        self.withdrawals = {}

    def record(self, step, status):
        with self.lock:
            self.requests[step] += 1
            self.statuses[step][status] += 1

    def record_connection_failure(self, step, failure):
        with self.lock:
            self.requests[step] += 1
            self.connection_failures[step][failure.kind] += 1
            if not failure.expected:
                self.unexpected_connection_failures += 1
        if not failure.expected:
            self.fail(f"{step}: connection failed ({failure.kind}) while the server was up")

    def fail(self, text):
        with self.lock:
            self.failure_count += 1
            if len(self.failures) < MAX_FAILURES_KEPT:
                self.failures.append(text)


class Client(threading.Thread):
    """One simulated client: picks weighted actions until the deadline."""

    def __init__(self, number, config, server_state, ledger, usernames, deadline):
        super().__init__(name=f"client-{number}", daemon=True)
        self.config = config
        self.ledger = ledger
        self.fresh = list(usernames)
        self.joined = []
        self.deadline = deadline
        self.random = random.Random(f"{config['seed']}-{number}")
        # Each client connects from its own loopback address, as separate people would
        # from their own machines; the server's per-address login limit counts
        # logins in flight from one address, so 200 clients on 127.0.0.1 would be
        # limited as if they were one client guessing passwords.
        source_ip = f"127.0.{2 + number // 250}.{1 + number % 250}"
        self.conn = Connection(config["host"], config["port"], server_state, source_ip)

    def run(self):
        while time.monotonic() < self.deadline:
            action = self.pick_action()
            if action is None:
                with self.ledger.lock:
                    self.ledger.clients_out_of_members += 1
                break
            with self.ledger.lock:
                self.ledger.actions[action] += 1
            try:
                getattr(self, action)()
            except ConnectionFailed:
                # Like a real client, wait a little before trying again, so a server
                # that is down does not see the clients spin through their members.
                time.sleep(RETRY_PAUSE_S)
            except Unexpected as error:
                self.ledger.fail(str(error))
            except (ValueError, KeyError) as error:
                # A body that is not the JSON the API documents.
                self.ledger.fail(f"{action}: unreadable response: {error!r}")
        self.conn.close()

    def pick_action(self):
        if not self.joined:
            return "consent" if self.fresh else None
        available = dict(WEIGHTS)
        if not self.fresh:
            del available["consent"], available["withdrawal"]
        if not any(member.files for member in self.joined):
            del available["delete"]
        names = list(available)
        return self.random.choices(names, weights=[available[name] for name in names])[0]

    # Requests.

    def call(self, step, method, target, expected, body=None, headers=None, member=None):
        """Sends one request; returns the response when its status is in `expected`."""
        headers = dict(headers or {})
        if member is not None and member.cookies:
            headers["Cookie"] = "; ".join(
                f"{name}={value}" for name, value in member.cookies.items()
            )
        if isinstance(body, dict):
            body = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            response = self.conn.request(method, target, body=body, headers=headers)
        except ConnectionFailed as failure:
            self.ledger.record_connection_failure(step, failure)
            raise
        self.ledger.record(step, response.status)
        if member is not None:
            keep_cookies(member, response)
        if response.status not in expected:
            detail = response.body[:200].decode("utf-8", "replace")
            raise Unexpected(
                f"{step}: status {response.status}, expected {sorted(expected)}: {detail}"
            )
        return response

    def bearer(self, member):
        return {"Authorization": f"Bearer {member.access_token}"}

    def post_api(self, step, path, member, body, expected=frozenset({200})):
        """Posts a form to the project API with the member's access token."""
        return self.call(
            step,
            "POST",
            f"/api/direct-sharing/project/{path}",
            expected,
            body=body,
            headers=self.bearer(member),
        )

    # Actions.

    def consent(self):
        self.joined.append(self.join_project())

    def join_project(self):
        """Logs a fresh member in and authorizes the project, exchanges the code for
        tokens, then reads the member's project_member_id."""
        member = Member(self.fresh.pop())
        config = self.config
        tokens = self.call(
            "token (code)",
            "POST",
            "/oauth2/token/",
            {200},
            body={
                "grant_type": "authorization_code",
                "code": self.authorize(member),
                "redirect_uri": config["redirect_uri"],
            },
            headers={"Authorization": f"Basic {config['basic_auth']}"},
        ).json()
        member.access_token = tokens["access_token"]
        member.refresh_token = tokens["refresh_token"]

        data = self.call(
            "exchange-member",
            "GET",
            "/api/direct-sharing/project/exchange-member/",
            {200},
            headers=self.bearer(member),
        ).json()
        member.project_member_id = data["project_member_id"]
        with self.ledger.lock:
            self.ledger.members.append(member)
        return member

    def authorize(self, member):
        """Logs the member in on the way to the authorize URL, submits the consent form
        with "Authorize", and returns the code from the redirect to the client."""
        state = uuid.uuid4().hex
        path = "/oauth2/authorize/"
        query = {
            "client_id": self.config["client_id"],
            "response_type": "code",
            "redirect_uri": self.config["redirect_uri"],
            "scope": "read",
            "state": state,
        }
        authorize = f"{path}?{urllib.parse.urlencode(query)}"
        login = {"login": member.username, "password": self.config["password"], "next": authorize}
        self.call("login", "POST", "/account/login/", {303}, body=login, member=member)

        page = self.call("consent page", "GET", authorize, {200}, member=member)
        parser = FormFields(path)
        parser.feed(page.body.decode())
        if not parser.found:
            raise Unexpected("consent page: no consent form")
        fields = parser.fields + [("allow", "Authorize")]
        answer = self.call(
            "consent form",
            "POST",
            path,
            {303},
            body=urllib.parse.urlencode(fields),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            member=member,
        )

        location = urllib.parse.urlsplit(answer.header("location") or "")
        redirect = dict(urllib.parse.parse_qsl(location.query))
        if redirect.get("state") != state or "code" not in redirect:
            raise Unexpected(f"consent form: redirect without a code: {location.geturl()[:200]}")
        return redirect["code"]

    def withdrawal(self):
        """Joins a fresh member, then leaves through the connections page's form."""
        member = self.join_project()
        step = "leave"
        target = f"/member/me/connections/{member.project_member_id}/leave/"
        try:
            self.call(step, "POST", target, {303}, body={}, member=member)
        except ConnectionFailed as failure:
            if failure.sent:
                self.ledger.withdrawals[member.project_member_id] = False
            else:
                self.joined.append(member)
            raise
        self.ledger.withdrawals[member.project_member_id] = True

    def refresh(self):
        member = self.random.choice(self.joined)
        body = {"grant_type": "refresh_token", "refresh_token": member.refresh_token}
        try:
            tokens = self.call(
                "token (refresh)",
                "POST",
                "/oauth2/token/",
                {200},
                body=body,
                headers={"Authorization": f"Basic {self.config['basic_auth']}"},
            ).json()
        except ConnectionFailed as failure:
            # The rotation may have happened without the new pair reaching us, so the
            # member's tokens are unknown from here on.
            if failure.sent:
                self.joined.remove(member)
            raise
        member.access_token = tokens["access_token"]
        member.refresh_token = tokens["refresh_token"]

    def exchange(self):
        member = self.random.choice(self.joined)
        data = self.call(
            "exchange-member",
            "GET",
            "/api/direct-sharing/project/exchange-member/?limit=1000",
            {200},
            headers=self.bearer(member),
        ).json()
        problem = compare_files(member, [entry["id"] for entry in data["data"]])
        if problem:
            raise Unexpected(f"exchange-member of {member.project_member_id}: {problem}")

    def upload(self):
        member = self.random.choice(self.joined)
        content = os.urandom(self.random.randint(1, MAX_UPLOAD_BYTES))
        md5 = hashlib.md5(content).hexdigest()
        metadata = json.dumps({"description": "Load test upload", "tags": ["load"], "md5": md5})
        start = {"filename": f"load-{uuid.uuid4().hex[:12]}.bin", "metadata": metadata}
        created = self.post_api("upload start", "files/upload/direct/", member, start, {201}).json()
        put_target = urllib.parse.urlsplit(created["url"])
        self.call(
            "upload put",
            "PUT",
            put_target.path + ("?" + put_target.query if put_target.query else ""),
            {200, 201, 204},
            body=content,
            headers={"Content-Length": str(len(content))},
        )
        file_id = created["id"]
        try:
            self.post_api("upload complete", "files/upload/complete/", member, {"file_id": file_id})
        except ConnectionFailed as failure:
            if failure.sent:
                member.uncertain_files[file_id] = (md5, len(content))
            raise
        member.files[file_id] = (md5, len(content))

    def delete(self):
        member = self.random.choice([member for member in self.joined if member.files])
        file_id = self.random.choice(sorted(member.files))
        try:
            self.post_api("delete", "files/delete/", member, {"file_id": file_id})
        except ConnectionFailed as failure:
            if failure.sent:
                member.uncertain_files[file_id] = member.files.pop(file_id)
            raise
        member.files.pop(file_id)
        member.deleted_files.add(file_id)

    def message(self):
        member = self.random.choice(self.joined)
        token = f"load-message-{uuid.uuid4().hex}"
        body = {
            "subject": f"Load test {token}",
            "message": f"Message {token} for {{{{ PROJECT_MEMBER_ID }}}}.",
        }
        try:
            response = self.post_api("message", "message/", member, body, {200, 429})
        except ConnectionFailed as failure:
            if failure.sent:
                self.ledger.messages[token] = (member.email, False)
            raise
        # 429: the project's daily recipient limit is reached, and nothing was queued.
        if response.status == 200:
            self.ledger.messages[token] = (member.email, True)


def keep_cookies(member, response):
    for line in (response.header("set-cookie") or "").split("\n"):
        pair = line.split(";", 1)[0].strip()
        if "=" not in pair:
            continue
        name, value = pair.split("=", 1)
        if value:
            member.cookies[name] = value
        else:
            member.cookies.pop(name, None)


def compare_files(member, listed_ids):
    """Returns what is wrong with a listing of a member's files, or None.

    Every confirmed file must be listed once, and nothing else may be listed but
    files whose completion or deletion is uncertain.
    """
    counts = Counter(listed_ids)
    repeated = sorted(file_id for file_id, count in counts.items() if count > 1)
    missing = sorted(set(member.files) - set(counts))
    deleted = sorted(member.deleted_files & set(counts))
    unknown = sorted(
        set(counts) - set(member.files) - set(member.uncertain_files) - member.deleted_files
    )
    problems = []
    for label, ids in (
        ("listed twice", repeated),
        ("missing", missing),
        ("deleted but listed", deleted),
        ("never uploaded", unknown),
    ):
        if ids:
            problems.append(f"{label}: {ids[:10]}")
    return "; ".join(problems) or None


def basic_auth(client_id, client_secret):
    return base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()


MESSAGE_TOKEN = re.compile(rb"load-message-[0-9a-f]{32}")
