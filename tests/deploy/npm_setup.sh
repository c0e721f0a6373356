#!/usr/bin/env bash
# Installs the deploy checks' npm packages (tests/deploy/package.json, at
# the versions of its committed package-lock.json) into NODE_DIR, with
# `npm ci`. Skipped when NODE_DIR already holds exactly that lock file's
# packages, so only the first run needs the npm registry.
#   npm_setup.sh SOURCE_DIR NODE_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/deploy/lib.sh
. "$here/lib.sh"
src="$1/tests/deploy"
node_dir="$2"
require_tool node nodejs
require_tool npm npm
mkdir -p "$node_dir"
if cmp -s "$src/package-lock.json" "$node_dir/package-lock.json.installed" &&
  [ -d "$node_dir/node_modules" ]; then
  echo "npm packages already installed in $node_dir"
  exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$node_dir/"
(cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error) ||
  fail "npm ci in $node_dir failed (it needs the npm registry the first time)"
cp "$src/package-lock.json" "$node_dir/package-lock.json.installed"
echo "npm packages installed in $node_dir"
