# Shell functions shared by bench/run and bench/faults; sourced, not run.
#
# The caller sets `repo`, and before calling the functions that need them: `binary`,
# `port`, `base`, `work` and `data_dir`. `extra_environment` adds settings to the server's
# environment.

postgres_admin_url=${OPENHUMANS_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
# A run's seeded tokens are hashed with this key. Set OPENHUMANS_BENCH_SECRET_KEY to
# start the server again by hand on the database a run left under target/bench/, for
# profiling.
secret_key=${OPENHUMANS_BENCH_SECRET_KEY:-$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')}
extra_environment=()
server_pid=""
databases_created=()

# Starts the local PostgreSQL cluster, as the test suite does (scripts/test-env.sh),
# unless it already accepts connections.
ensure_postgres() {
  if ! pg_isready -q -d "$postgres_admin_url"; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
  fi
}

# Builds the server for `profile` (release or debug) and sets binary.
build_server() {
  local profile=$1
  if [ "$profile" = release ]; then
    cargo build --release --bin openhumans
  else
    # All targets, as the test suite builds them: dev-dependencies change the features
    # of shared dependencies, so building the binary alone would rebuild them.
    cargo build --all-targets
  fi
  binary="$repo/target/$profile/openhumans"
}

# Prints $3 (default 1) distinct free TCP ports on 127.0.0.1 between $1 and $2, separated by
# spaces, or kernel-picked ports when no range is given. Picking them in one call keeps two
# picks from landing on the same port, since a probed port is released before it is used.
free_port() {
  python3 - "${1:-0}" "${2:-0}" "${3:-1}" <<'PY'
import random, socket, sys
low, high, count = (int(arg) for arg in sys.argv[1:4])
candidates = random.sample(range(low, high + 1), high - low + 1) if high else [0] * (count * 10)
found = []
for port in candidates:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        port = s.getsockname()[1]
    if port not in found:
        found.append(port)
    if len(found) == count:
        print(*found)
        break
else:
    sys.exit(f"no {count} free ports between {low} and {high}")
PY
}

# The environment of every run of the binary: these settings, everything else default.
set_environment() {
  environment=(PATH="$PATH" HOME="$HOME" DATABASE_URL="$database_url"
    OPENHUMANS_DATA_DIR="$data_dir" OPENHUMANS_SECRET_KEY="$secret_key"
    OPENHUMANS_PUBLIC_URL="$base" OPENHUMANS_BIND="127.0.0.1:$port"
    ${extra_environment[@]+"${extra_environment[@]}"})
}

openhumans() {
  set_environment
  env -i "${environment[@]}" "$binary" "$@"
}

stop_server() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}

# Stops the server and drops the PostgreSQL databases this run made; SQLite files and
# uploads stay under target/ for inspection until the next run. Set as the EXIT trap.
clean_up() {
  stop_server
  for name in ${databases_created[@]+"${databases_created[@]}"}; do
    psql "$postgres_admin_url" -qX -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" || true
  done
}

# Prints one top-level field of a JSON file.
json_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

# Creates an empty database for one backend and sets database_url. A PostgreSQL
# database's name ends in this script's process id, so two runs on one server never
# drop each other's database. clean_up drops it when the run ends.
fresh_database() {
  local backend=$1 name=$2
  if [ "$backend" = sqlite ]; then
    database_url="sqlite://$work/$name.sqlite3"
  else
    name="${name}_$$"
    psql "$postgres_admin_url" -qX -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" \
      -c "CREATE DATABASE $name"
    # Same server and options as the admin URL, another database.
    database_url=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$postgres_admin_url" "$name")
    databases_created+=("$name")
  fi
}

# Migrates the database and creates the coordinator `benchcoordinator` and an approved
# project from the JSON fields in $1, whose credentials land in $work/credentials.json.
# Sets slug, client_id and basic_auth.
create_project() {
  local fields=$1 client_secret
  openhumans migrate >/dev/null
  echo "bench-coordinator-password" | openhumans admin create-member \
    --username benchcoordinator --email coordinator@bench.invalid --verified >/dev/null
  openhumans admin create-project --coordinator benchcoordinator --json "$fields" >"$work/credentials.json"
  slug=$(json_field "$work/credentials.json" slug)
  client_id=$(json_field "$work/credentials.json" client_id)
  client_secret=$(json_field "$work/credentials.json" client_secret)
  basic_auth=$(printf '%s:%s' "$client_id" "$client_secret" | base64 -w0)
}
