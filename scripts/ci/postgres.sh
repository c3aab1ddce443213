#!/usr/bin/env bash
# Installs PostgreSQL 15 and builds pgvector from Debian's source package (bookworm has no pgvector binary package;
# the next release's source builds against PostgreSQL 15 in seconds). Needs root (re-runs itself with sudo when not
# root and sudo exists). Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=as-root.sh
. "$here/as-root.sh"
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
if [ -f /usr/share/postgresql/15/extension/vector.control ]; then
  echo "pgvector already installed"
  exit 0
fi
lookalike_as_root "$here/$(basename "$0")" "$@"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends postgresql-15 postgresql-server-dev-15 make gcc
# A deb-src entry for the next Debian release, built from this machine's own apt source (no host name hard-coded).
src=$(ls /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v lookalike-pgvector-src | head -n 1 || true)
if [ -n "$src" ]; then
  uris=$(awk '/^URIs:/{print $2; exit}' "$src")
else
  uris=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
fi
cat > /etc/apt/sources.list.d/lookalike-pgvector-src.sources <<SRC
Types: deb-src
URIs: $uris
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt-get update -q
work=$(mktemp -d)
cd "$work"
apt-get source --download-only pgvector
tar xzf pgvector_*.orig.tar.gz
cd pgvector-*/
# with_llvm=no: no JIT bitcode, so the build needs neither clang nor llvm
make PG_CONFIG=$PG_CONFIG with_llvm=no
make PG_CONFIG=$PG_CONFIG with_llvm=no install
echo "pgvector installed: $(ls /usr/share/postgresql/15/extension/vector.control)"
