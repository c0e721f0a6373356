#!/usr/bin/env bash
# infratrail-verifier monitor follows a log it did not write: Go's reference
# golang.org/x/mod/sumdb/tlog and sumdb/note (Debian's
# golang-golang-x-mod-dev, built offline in GOPATH mode) write a C2SP
# tlog-tiles log as static files (go/src/infratrail_staticlog), Python's
# http.server serves them on loopback, and the monitor audits them with
# --entry-format opaque:
#   1000 entries: exit 0, no findings;
#   grown to 1500 and re-signed: exit 0, no findings, trusts size 1500;
#   grown to 2100 with one byte of a new level-0 tile changed: exit 1,
#   CRITICAL log.tile_mismatch, still trusts size 1500.
#
#   run_monitor_interop.sh VERIFIER_BIN WORK_BASE
#
# Every run works in its own directory under WORK_BASE on an ephemeral
# loopback port (so ctest -j is safe), removed on success and kept for
# inspection on failure. Exits non-zero on any failure.
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 VERIFIER_BIN WORK_BASE" >&2
  exit 2
fi
verifier="$1"
base="$2"
here="$(cd "$(dirname "$0")" && pwd)"
xmod=/usr/share/gocode/src/golang.org/x/mod/sumdb

fatal() {
  echo "run_monitor_interop: FAIL: $*" >&2
  exit 1
}
command -v go >/dev/null 2>&1 || fatal "'go' is not installed; run scripts/install-deps.sh"
if [ ! -d "$xmod/note" ] || [ ! -d "$xmod/tlog" ]; then
  fatal "golang.org/x/mod is not in /usr/share/gocode; run scripts/install-deps.sh (package golang-golang-x-mod-dev)"
fi
command -v python3 >/dev/null 2>&1 || fatal "python3 is not installed"
[ -x "$verifier" ] || fatal "$verifier is not an executable"

mkdir -p "$base"
base="$(cd "$base" && pwd)"  # GOCACHE must be absolute
work="$(mktemp -d "$base/monitor-interop.XXXXXX")"
start=$SECONDS

# Offline GOPATH build, as in run_interop.sh (the build cache is shared).
export GO111MODULE=off GOPATH="$here/go:/usr/share/gocode" GOCACHE="$base/gocache" \
  GOFLAGS='' GOPROXY=off GOENV=off CGO_ENABLED=0
gotool="$work/infratrail_staticlog"
echo "run_monitor_interop: $(go version); work dir $work"
go build -o "$gotool" infratrail_staticlog || fatal "go build infratrail_staticlog (work dir $work)"

# shellcheck source=tests/interop/checks.sh
source "$here/checks.sh"

server_pid=
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
}
trap cleanup EXIT

# start_server DIR: python3 -m http.server on a free loopback port; sets
# port. Retries if another process takes the port first.
start_server() {
  local status
  for _ in 1 2 3 4 5; do
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    python3 -m http.server --bind 127.0.0.1 --directory "$1" "$port" >>"$work/http.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
      status="$(python3 - "$port" <<'PY' 2>/dev/null
import sys, urllib.request
try:
    print(urllib.request.urlopen("http://127.0.0.1:%s/checkpoint" % sys.argv[1], timeout=2).status)
except Exception as e:
    print(getattr(e, "code", "none"))
PY
)"
      [ "$status" = 200 ] && return 0
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    cleanup
    server_pid=
  done
  return 1
}

# monitor_once NAME WANT_RC: one --once round over the served log; the
# output is kept in $work/NAME.{out,err}.
monitor_once() {
  "$verifier" monitor --log "http://127.0.0.1:$port/" --log-key "@$log/log.vkey" \
    --state-dir "$work/state" --entry-format opaque --once --timeout 10s --progress never \
    >"$work/$1.out" 2>"$work/$1.err"
  local rc=$?
  [ "$rc" -eq "$2" ]
  check "$1: monitor exit code $2" $? "exit code $rc; stderr: $(head -c 2000 "$work/$1.err")"
}

# trusted_size: the size of the checkpoint state.json trusts.
trusted_size() {
  python3 - "$work/state/state.json" <<'PY'
import json, sys
note = json.load(open(sys.argv[1]))["trusted_note"]
print(note.split("\n")[1] if note else 0)
PY
}

log="$work/log"
step "Go writes a log of 1000 entries" 0 "$gotool" write "$log" 1000
start_server "$log" || fatal "python3 -m http.server did not serve $log: $(tail -n 5 "$work/http.log")"
echo "run_monitor_interop: http.server pid $server_pid on 127.0.0.1:$port"

monitor_once first 0
[ ! -s "$work/first.out" ]
check "first: no findings" $? "$(head -c 2000 "$work/first.out")"
size="$(trusted_size)"
[ "$size" = 1000 ]
check "first: trusts size 1000" $? "trusts $size"

step "Go grows the log to 1500 and re-signs" 0 "$gotool" write "$log" 1500
monitor_once grown 0
[ ! -s "$work/grown.out" ]
check "grown: no findings" $? "$(head -c 2000 "$work/grown.out")"
size="$(trusted_size)"
[ "$size" = 1500 ]
check "grown: trusts size 1500" $? "trusts $size"

step "Go grows the log to 2100 with tile/0/006 changed" 0 "$gotool" write "$log" 2100 tile/0/006
monitor_once tampered 1
grep -q '"rule":"log.tile_mismatch"' "$work/tampered.out"
check "tampered: CRITICAL log.tile_mismatch" $? "stdout: $(head -c 2000 "$work/tampered.out")"
size="$(trusted_size)"
[ "$size" = 1500 ]
check "tampered: still trusts size 1500" $? "trusts $size"

elapsed=$((SECONDS - start))
echo "run_monitor_interop: $passed passed, $failed failed, ${elapsed}s"
if [ "$failed" -ne 0 ]; then
  printf 'run_monitor_interop: FAILED: %s\n' "${failures[@]}" >&2
  echo "run_monitor_interop: work directory kept: $work" >&2
  exit 1
fi
cleanup
server_pid=
rm -rf "$work"
echo "run_monitor_interop: OK: the monitor follows a log written by Go's x/mod sumdb/tlog + sumdb/note"
exit 0
