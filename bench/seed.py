#!/usr/bin/env python3
"""Fills a migrated openhumans database with members for the benchmarks.

The project and its coordinator come from `openhumans admin` first. This script then
adds in bulk what would take hours through the web pages: members who joined that
project, each with an OAuth2 grant and an access token, one member with files, and a
pool of refresh tokens. Each refresh token has its own grant, so spending one never
revokes another. For bench/faults it can also add members who can log in (sharing
one password hash) and have joined no project yet.

Tokens are stored the way the server stores them: a hex HMAC-SHA256 keyed with the
server key over `purpose NUL token`. The plain tokens the load generator needs are
written to the output folder:

  access_token     the access token of the member with files
  refresh_tokens   one refresh token per line
  fresh_members    with --fresh-members, one username per line

Only the Python standard library is used; PostgreSQL rows go through `psql` and
COPY, SQLite rows through the `sqlite3` module.
"""

import argparse
import csv
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import sqlite3
import string
import subprocess
import sys
import time

# Keep in step with the server: src/db/oauth2.rs names these purposes.
ACCESS_TOKEN_PURPOSE = "access-token"
REFRESH_TOKEN_PURPOSE = "refresh-token"
TOKEN_ALPHABET = string.ascii_letters + string.digits
TOKEN_LENGTH = 30
HOUR_MICROS = 3600 * 1_000_000
FILES_OF_BENCH_MEMBER = 20
BATCH = 20_000


def token():
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


class Hasher:
    def __init__(self, key):
        self.key = key.encode()

    def __call__(self, purpose, secret):
        message = purpose.encode() + b"\0" + secret.encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()


class Sqlite:
    def __init__(self, url):
        path = url.removeprefix("sqlite://").removeprefix("sqlite:").split("?")[0]
        self.conn = sqlite3.connect(path)
        self.conn.execute("PRAGMA foreign_keys = ON")

    def scalar(self, sql):
        return self.conn.execute(sql).fetchone()[0]

    def insert(self, table, columns, rows):
        placeholders = ", ".join("?" for _ in columns)
        self.conn.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows
        )

    def commit(self):
        self.conn.commit()


class Postgres:
    def __init__(self, url):
        self.url = url

    def scalar(self, sql):
        out = subprocess.run(
            ["psql", self.url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    def insert(self, table, columns, rows):
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in rows:
            writer.writerow("" if value is None else value for value in row)
        copy = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)"
        subprocess.run(
            ["psql", self.url, "-qX", "-v", "ON_ERROR_STOP=1", "-c", copy],
            input=buffer.getvalue(),
            check=True,
            text=True,
        )

    def commit(self):
        # Rows given explicit ids leave the identity sequences behind.
        for table in ("members", "memberships", "oauth2_grants", "data_files"):
            self.scalar(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )


def batches(rows):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--project-slug", required=True)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--refresh-tokens", type=int, default=50_000)
    parser.add_argument("--out", required=True, help="folder for the plain tokens")
    parser.add_argument(
        "--fresh-members",
        type=int,
        default=0,
        help="members who can log in but joined no project (bench/faults)",
    )
    parser.add_argument(
        "--fresh-password-from",
        help="username whose password hash the fresh members get, so they share its password",
    )
    args = parser.parse_args()
    if args.members < 1:
        parser.error("--members must be at least 1")
    if args.refresh_tokens < 0:
        parser.error("--refresh-tokens must not be negative")
    if args.fresh_members < 0:
        parser.error("--fresh-members must not be negative")
    if args.fresh_members and not re.fullmatch(r"[A-Za-z0-9_]+", args.fresh_password_from or ""):
        parser.error("--fresh-members needs --fresh-password-from with an existing username")

    if not re.fullmatch(r"[a-z0-9-]+", args.project_slug):
        parser.error("--project-slug must be a slug: lower-case letters, digits and hyphens")

    db = Postgres(args.database_url) if args.database_url.startswith("postgres") else Sqlite(args.database_url)
    hash_secret = Hasher(args.secret_key)
    started = time.monotonic()
    now = int(time.time() * 1_000_000)
    project_id = int(db.scalar(f"SELECT id FROM projects WHERE slug = '{args.project_slug}'"))
    first_member = int(db.scalar("SELECT COALESCE(max(id), 0) FROM members")) + 1
    first_membership = int(db.scalar("SELECT COALESCE(max(id), 0) FROM memberships")) + 1
    first_grant = int(db.scalar("SELECT COALESCE(max(id), 0) FROM oauth2_grants")) + 1
    # Members never log in during the benchmarks; one unusable hash serves them all.
    password_hash = "!bench-member-without-password"

    def members():
        for n in range(args.members):
            member_id = first_member + n
            name = f"bench{member_id}"
            email = f"{name}@bench.invalid"
            yield (member_id, name, name, email, email, password_hash, now, now)

    def memberships():
        for n in range(args.members):
            # Eight digits, like the ids Open Humans gives; unique by construction.
            project_member_id = f"{10_000_000 + first_membership + n}"
            yield (first_membership + n, project_id, first_member + n, project_member_id, 1, 1, now, now)

    def grants(count):
        for n in range(count):
            membership = first_membership + n % args.members
            yield (first_grant + n, project_id, membership, secrets.token_hex(32), "read", now)

    # Grants [0, members) carry the members' access tokens. The refresh pool's grants
    # come after them, so rotating a refresh token deletes no token the exchange
    # benchmark uses.
    grant_count = args.members + args.refresh_tokens
    bench_access = None
    refresh_plain = []

    def access_tokens():
        nonlocal bench_access
        for n in range(args.members):
            plain = token()
            if n == 0:
                bench_access = plain
            yield (hash_secret(ACCESS_TOKEN_PURPOSE, plain), first_grant + n, "read", now, now + 10 * HOUR_MICROS)

    def refresh_tokens():
        year = 365 * 24 * HOUR_MICROS
        for n in range(args.refresh_tokens):
            plain = token()
            refresh_plain.append(plain)
            # The access token hash names no stored token: the pair's access token
            # was never handed out.
            grant = first_grant + args.members + n
            yield (hash_secret(REFRESH_TOKEN_PURPOSE, plain), grant, secrets.token_hex(32), now, now + year)

    def files():
        member_id = first_member
        for n in range(FILES_OF_BENCH_MEMBER):
            metadata = json.dumps({"description": f"Benchmark file {n}", "tags": ["bench", "csv"]})
            key = f"bench/{member_id}/{n}-{secrets.token_hex(8)}/readings-{n}.csv"
            yield (member_id, project_id, key, f"readings-{n}.csv", metadata, 1024 * (n + 1), "0" * 32, 1, now, now, now)

    # Hashing a password is slow on purpose, so the fresh members share one hash,
    # taken from a member the admin command created.
    fresh_hash = None
    if args.fresh_members:
        fresh_hash = db.scalar(
            f"SELECT password_hash FROM members WHERE username = '{args.fresh_password_from}'"
        )
    first_fresh = first_member + args.members
    fresh_names = []

    def fresh_members():
        for n in range(args.fresh_members):
            member_id = first_fresh + n
            name = f"load{member_id}"
            fresh_names.append(name)
            email = f"{name}@bench.invalid"
            yield (member_id, name, name, email, email, fresh_hash, now, now)

    member_columns = ("id", "username", "username_lower", "email", "email_lower", "password_hash", "email_verified_at", "created_at")
    tables = [
        ("members", member_columns, members()),
        ("memberships", ("id", "project_id", "member_id", "project_member_id", "joined", "authorized", "created_at", "authorized_at"), memberships()),
        ("oauth2_grants", ("id", "project_id", "membership_id", "code_hash", "scope", "created_at"), grants(grant_count)),
        ("oauth2_access_tokens", ("token_hash", "grant_id", "scope", "created_at", "expires_at"), access_tokens()),
        ("oauth2_refresh_tokens", ("token_hash", "grant_id", "access_token_hash", "created_at", "expires_at"), refresh_tokens()),
        ("data_files", ("member_id", "project_id", "storage_key", "basename", "metadata", "size", "md5", "completed", "uploaded_at", "created_at", "completed_at"), files()),
        ("members", member_columns, fresh_members()),
    ]
    for table, columns, rows in tables:
        count = 0
        for batch in batches(rows):
            db.insert(table, columns, batch)
            count += len(batch)
        # The second "members" entry adds members who can log in, only for bench/faults.
        # A line saying none were added would read as a failed insert.
        if count or table != "members":
            print(f"seed: {count} rows in {table}", file=sys.stderr)
    db.commit()

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "access_token"), "w") as out:
        out.write(bench_access + "\n")
    with open(os.path.join(args.out, "refresh_tokens"), "w") as out:
        out.writelines(plain + "\n" for plain in refresh_plain)
    if args.fresh_members:
        with open(os.path.join(args.out, "fresh_members"), "w") as out:
            out.writelines(name + "\n" for name in fresh_names)
    print(f"seed: done in {time.monotonic() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
