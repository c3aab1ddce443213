#!/usr/bin/env bash
# System packages the full test suite needs, from Debian. `bash scripts/setup-system.sh` as root (CI, containers: no
# sudo needed), or as a user with sudo (it re-runs itself with sudo); without root or sudo it says what to do.
#  - chromium, for the web page's end-to-end test (driven by playwright-core);
#  - PostgreSQL 15 with pgvector built from Debian's source package, for the PostgreSQL store tests;
#  - redis-server, for the distributed ingestion (job queue) test.
# The tests start and stop their own PostgreSQL and Redis servers on 127.0.0.1; nothing is left running.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=ci/as-root.sh
. "$here/ci/as-root.sh"
lookalike_as_root "$here/$(basename "$0")" "$@"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-system.sh: needs Debian's apt-get (Debian bookworm or similar); install chromium, redis-server and" >&2
  echo "PostgreSQL 15 with pgvector by other means, or point the tests at servers: LOOKALIKE_TEST_PG, LOOKALIKE_TEST_REDIS" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! command -v chromium >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends chromium redis-server
  # Debian starts a system Redis on install where it can; the tests use their own on a free port
  (service redis-server stop || true) >/dev/null 2>&1
fi
bash "$here/ci/postgres.sh"
