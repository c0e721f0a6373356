#!/usr/bin/env bash
# deploy/k8s: check_k8s.js over the base and every overlay, with its
# self-test (known breaks must be reported).
#   check_k8s.sh SOURCE_DIR NODE_DIR SERVER_BIN CLI_BIN VERIFIER_BIN
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/deploy/lib.sh
. "$here/lib.sh"
use_node_modules "$2"
bindir="$(bin_dir "$3" "$4" "$5")"
trap 'rm -rf "$bindir"' EXIT
node "$here/check_k8s.js" "$1/deploy/k8s" "$bindir" --self-test || fail "deploy/k8s (see above)"
