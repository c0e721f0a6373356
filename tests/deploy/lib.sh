# shellcheck shell=bash
# Shared by the tests/deploy checks (sourced, not run).

# Prints "FAIL: <what>" on stderr and exits 1.
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Fails, naming the package that provides it, unless `command` is on PATH:
# a missing tool is a failure, never a skipped check.
require_tool() {
  local tool="$1" package="$2"
  command -v "$tool" > /dev/null ||
    fail "$tool not found: install $package (scripts/install-deps.sh installs it)"
}

# NODE_PATH for the checks' npm packages, installed by npm_setup.sh into
# the build tree; fails if they are not there.
use_node_modules() {
  local node_dir="$1"
  require_tool node "nodejs"
  [ -d "$node_dir/node_modules/yaml" ] ||
    fail "$node_dir/node_modules is missing: run the deploy_npm_ci test first (ctest -R deploy_)"
  export NODE_PATH="$node_dir/node_modules"
}

# A new temporary directory holding the three programs under their
# installed names (links to SERVER CLI VERIFIER), for check_flags.js and
# for units that name /usr/local/bin; removed when the script exits.
bin_dir() {
  local dir
  dir="$(mktemp -d)"
  ln -s "$1" "$dir/infratrail-server"
  ln -s "$2" "$dir/infratrail"
  ln -s "$3" "$dir/infratrail-verifier"
  echo "$dir"
}
