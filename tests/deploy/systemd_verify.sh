#!/usr/bin/env bash
# Checks every unit in deploy/systemd:
#  - `systemd-analyze verify` accepts it with no diagnostic at all. It exits
#    0 on an unknown directive or a bad value (it only logs them), so any
#    output fails the check. It needs ExecStart's binary to exist: the units
#    are copied with /usr/local/bin/ replaced by a directory holding the
#    built binaries.
#  - every ExecStart flag exists in the built program (check_flags.js);
#  - the hardening and stop behaviour docs/deploy.md promises is there;
#  - `systemd-analyze security --offline` rates it at most 2.5 (OK).
#   systemd_verify.sh SOURCE_DIR NODE_DIR SERVER_BIN CLI_BIN VERIFIER_BIN
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/deploy/lib.sh
. "$here/lib.sh"
src="$1"
use_node_modules "$2"
require_tool systemd-analyze systemd

work="$(bin_dir "$3" "$4" "$5")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/units"

units=("$src"/deploy/systemd/*.service)
[ "${#units[@]}" -ge 4 ] || fail "expected at least 4 units in deploy/systemd, found ${#units[@]}"
problems=0
problem() {
  echo "FAIL: $*" >&2
  problems=$((problems + 1))
}

for unit in "${units[@]}"; do
  name="$(basename "$unit")"
  sed "s#/usr/local/bin/#$work/#g" "$unit" > "$work/units/$name"

  out="$(systemd-analyze verify --man=no --generators=no "$work/units/$name" 2>&1)" ||
    problem "$name: systemd-analyze verify failed: $out"
  [ -z "$out" ] || problem "$name: systemd-analyze verify reported: $out"

  # The directives (last value wins, as for systemd).
  value() { grep -E "^$1=" "$unit" | tail -n 1 | cut -d= -f2-; }
  for want in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes ProtectHome=yes \
    CapabilityBoundingSet= SystemCallFilter=@system-service Restart=on-failure \
    KillSignal=SIGTERM LockPersonality=yes MemoryDenyWriteExecute=yes; do
    key="${want%%=*}"
    grep -qx -- "$want" "$unit" || problem "$name: needs $want (has ${key}=$(value "$key"))"
  done
  for key in User TimeoutStopSec RestrictAddressFamilies; do
    [ -n "$(value "$key")" ] || problem "$name: needs $key="
  done
  [ "$(value User)" != root ] || problem "$name: runs as root"
  # The export only reads the server's store; the others own a state dir.
  if [ "$name" != infratrail-export.service ]; then
    [ -n "$(value StateDirectory)" ] || problem "$name: needs StateDirectory="
  fi

  exec_start="$(value ExecStart)"
  [ -n "$exec_start" ] || problem "$name: no ExecStart="
  read -r -a argv <<< "$exec_start"
  node "$here/check_flags.js" "$work" -- "${argv[@]}" || problem "$name: ExecStart uses a flag the program lacks"

  exposure="$(systemd-analyze security --offline=yes --no-pager "$work/units/$name" 2>&1 |
    sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')"
  [ -n "$exposure" ] || problem "$name: systemd-analyze security gave no exposure level"
  if [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e > 2.5) }'; then
    problem "$name: exposure $exposure is above 2.5 (systemd-analyze security --offline=yes $unit)"
  fi
  echo "$name: verified, exposure ${exposure:-?}"
done

[ "$problems" -eq 0 ] || fail "$problems problem(s) in deploy/systemd"
echo "PASS: ${#units[@]} units"
