# Sourced by the scripts that install system packages (scripts/setup-system.sh, scripts/ci/postgres.sh).
#   lookalike_as_root "<absolute path of the calling script>" "$@"
# As root: returns (root machines, containers and CI often have no sudo at all). Not root and sudo exists: runs the
# calling script again under sudo, with the same arguments. Not root and no sudo: says how to run it, exits 1.
lookalike_as_root() {
  local script="$1"
  shift
  if [ "$(id -u)" -eq 0 ]; then
    return 0
  fi
  if command -v sudo >/dev/null 2>&1; then
    echo "$(basename "$script"): installing system packages needs root; re-running with sudo" >&2
    exec sudo -- bash "$script" "$@"
  fi
  echo "$(basename "$script"): installing system packages (apt-get) needs root, you are $(id -un 2>/dev/null || id -u)" >&2
  echo "and sudo is not installed. Run it as root, e.g.: su -c 'bash $script'" >&2
  exit 1
}
