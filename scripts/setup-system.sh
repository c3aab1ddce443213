#!/usr/bin/env bash
# System packages the full test suite needs, from Debian (run as root, e.g. `sudo bash scripts/setup-system.sh`):
#  - chromium, for the web page's end-to-end test (driven by playwright-core);
#  - PostgreSQL 15 with pgvector built from Debian's source package, for the PostgreSQL store tests;
#  - redis-server, for the distributed ingestion (job queue) test.
# The tests start and stop their own PostgreSQL and Redis servers on 127.0.0.1; nothing is left running.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export DEBIAN_FRONTEND=noninteractive
if ! command -v chromium >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
  apt-get update -q
  apt-get install -y -q --no-install-recommends chromium redis-server
  # Debian starts a system Redis on install where it can; the tests use their own on a free port
  (service redis-server stop || true) >/dev/null 2>&1
fi
bash "$here/ci/postgres.sh"
