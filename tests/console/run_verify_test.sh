#!/usr/bin/env bash
# Runs the web console verifier's tests (verifier/monitor/console/verify.js)
# with Node's built-in test runner; no npm packages.
#
#   run_verify_test.sh kat            known answers from tests/testdata
#                                     (verify_test.mjs)
#   run_verify_test.sh go WORK_BASE   a log written by Go's reference
#                                     golang.org/x/mod sumdb/tlog + sumdb/note
#                                     (Debian's golang-golang-x-mod-dev, built
#                                     offline in GOPATH mode as in
#                                     tests/interop/run_monitor_interop.sh),
#                                     grown through sizes up to 70,000 so that
#                                     level-1 and level-2 tiles and partial
#                                     tiles are read, with Go-written receipts
#                                     (verify_go_log_test.mjs)
#
# The go mode works in its own directory under WORK_BASE (so ctest -j is
# safe), removed on success and kept for inspection on failure. INFRATRAIL_SEED
# fixes the random indices (printed on every run). Exits non-zero on failure.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
fatal() {
  echo "run_verify_test: FAIL: $*" >&2
  exit 1
}
command -v node >/dev/null 2>&1 || fatal "'node' is not installed; run scripts/install-deps.sh (package nodejs)"

if [ $# -eq 1 ] && [ "$1" = kat ]; then
  echo "run_verify_test: node $(node --version)"
  exec node --test "$here/verify_test.mjs"
fi
if [ $# -ne 2 ] || [ "$1" != go ]; then
  echo "usage: $0 kat | $0 go WORK_BASE" >&2
  exit 2
fi

xmod=/usr/share/gocode/src/golang.org/x/mod/sumdb
command -v go >/dev/null 2>&1 || fatal "'go' is not installed; run scripts/install-deps.sh"
if [ ! -d "$xmod/note" ] || [ ! -d "$xmod/tlog" ]; then
  fatal "golang.org/x/mod is not in /usr/share/gocode; run scripts/install-deps.sh (package golang-golang-x-mod-dev)"
fi
base="$2"
mkdir -p "$base"
base="$(cd "$base" && pwd)" # GOCACHE must be absolute
work="$(mktemp -d "$base/console-verify.XXXXXX")"
start=$SECONDS

export GO111MODULE=off GOPATH="$here/../interop/go:/usr/share/gocode" GOCACHE="$base/gocache" \
  GOFLAGS='' GOPROXY=off GOENV=off CGO_ENABLED=0
gotool="$work/infratrail_staticlog"
echo "run_verify_test: $(go version), node $(node --version); work dir $work"
go build -o "$gotool" infratrail_staticlog || fatal "go build infratrail_staticlog (work dir $work)"

# One directory grows through the sizes: a partial tile of an earlier size
# stays where a later, wider one is added, as a log serves them; each size's
# checkpoint is kept beside them.
log="$work/log"
receipts="$work/receipts"
sizes="1 2 255 256 257 511 65535 65536 65537 70000"
mkdir -p "$log/checkpoints" "$receipts"
for size in $sizes; do
  "$gotool" write "$log" "$size" >/dev/null || fatal "Go could not write a log of $size entries"
  cp "$log/checkpoint" "$log/checkpoints/$size"
done
for receipt in 1:0 257:256 65537:0 65537:65536 70000:255 70000:65535 70000:69999; do
  size="${receipt%:*}" index="${receipt#*:}"
  "$gotool" receipt "$size" "$index" >"$receipts/$size-$index.tlog-proof" ||
    fatal "Go could not write the receipt of entry $index in $size"
done

INFRATRAIL_GO_LOG="$log" INFRATRAIL_GO_SIZES="$sizes" INFRATRAIL_GO_RECEIPTS="$receipts" \
  node --test "$here/verify_go_log_test.mjs" >"$work/node.out" 2>&1
rc=$?
grep -E '^(not )?ok|^# (tests|pass|fail) |INFRATRAIL_SEED' "$work/node.out"
if [ "$rc" -ne 0 ]; then
  cat "$work/node.out" >&2
  echo "run_verify_test: FAILED after $((SECONDS - start))s; work directory kept: $work" >&2
  exit 1
fi
rm -rf "$work"
echo "run_verify_test: OK in $((SECONDS - start))s: verify.js verifies a log and receipts written by Go's x/mod sumdb/tlog + sumdb/note"
exit 0
