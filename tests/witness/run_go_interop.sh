#!/usr/bin/env bash
# Interop test of `infratrail-verifier witness` (C2SP tlog-witness v1.0.0)
# against a log played by Go's reference golang.org/x/mod/sumdb/note and
# sumdb/tlog (Debian's golang-golang-x-mod-dev, built offline in GOPATH
# mode), with every cosignature checked by a cosignature/v1 verifier written
# from the spec with Go's standard library only
# (tests/interop/go/src/infratrail_witness_interop).
#
#   run_go_interop.sh VERIFIER_BIN WORK_BASE
#
# keygen (key file 0600, refuses an existing file, Go note signer format);
# a fresh witness refuses a size-0 checkpoint with another root and a proof
# with old 0 (422) and serves nothing (404); cosigns 0 -> 5 and 5 -> 1000
# (x/mod proof) and serves the size-1000 checkpoint, which x/mod note.Open
# accepts with the log key; then refuses, each time with its served
# checkpoint byte-identical afterwards: a stale old size (409, text/x.tlog.size
# "1000\n"), a bad proof (422), another root at the same size (422), old >
# size (400), a malformed body (400), another key for the origin (403), a
# corrupted log signature (403), an unknown origin (404). Restarted on the
# same state dir after SIGTERM (exit 0), it still answers 409 "1000\n" to old
# 0 and cosigns 1000 -> 2000. Every run works in its own directory under
# WORK_BASE on an ephemeral loopback port (so ctest -j is safe), removed on
# success and kept for inspection on failure. Exits non-zero on any failure.
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 VERIFIER_BIN WORK_BASE" >&2
  exit 2
fi
verifier="$1"
base="$2"
tag=witness-go-interop
# shellcheck source=tests/witness/witness_lib.sh
source "$(cd "$(dirname "$0")" && pwd)/witness_lib.sh"

wname=witness.interop.infratrail.example/w1
origin=log.interop.infratrail.example/go-witness-test
hash="$(sha256hex "$origin")"

# --- keygen -----------------------------------------------------------------
keygen "$wname"
[[ "$witness_vkey" =~ ^witness\.interop\.infratrail\.example/w1\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$ ]] &&
  [ "$(wc -l <"$work/keygen.out")" -eq 1 ]
check "keygen prints one line NAME+<8hex>+<base64>" $? "stdout $(show "$work/keygen.out")"
mode="$(stat -c %a "$witness_key")"
[ "$mode" = 600 ]
check "keygen writes the key file with mode 0600" $? "mode $mode"
step "keygen: key file is a Go note signer key for the printed cosignature vkey" 0 \
  "$gotool" check-skey "$witness_key" "$witness_vkey"
cp "$witness_key" "$work/witness.key.orig"
"$verifier" witness keygen --name "$wname" --out "$witness_key" >"$work/keygen2.out" 2>"$work/keygen2.err"
rc=$?
[ "$rc" -eq 2 ] && cmp -s "$witness_key" "$work/witness.key.orig"
check "keygen refuses an existing key file (exit 2, file unchanged)" $? \
  "exit code $rc, stderr $(show "$work/keygen2.err"); file changed: $(cmp -s "$witness_key" "$work/witness.key.orig" && echo no || echo yes)"

# --- the logs -----------------------------------------------------------------
step "Go newlog: the log" 0 "$gotool" newlog "$work/log" "$origin"
step "Go newlog: another key with the log's name" 0 "$gotool" newlog "$work/other" "$origin"
step "Go newlog: a log the witness does not know" 0 \
  "$gotool" newlog "$work/unknown" log.interop.infratrail.example/unknown
log_vkey="$(cat "$work/log/log.vkey")"

# mkbody NAME DIR OLD NEW [OPTION]...: writes $work/NAME.body.
mkbody() {
  local name="$1"
  shift
  "$gotool" body "$@" >"$work/$name.body" 2>"$work/$name.body.err" ||
    fatal "infratrail_witness_interop body $*: $(cat "$work/$name.body.err")"
}
# checkpoint_of BODY NOTE LOGSIG: the checkpoint note of a request body, and
# its signature lines.
checkpoint_of() {
  sed '1,/^$/d' "$1" >"$2"
  sed '1,/^$/d' "$2" >"$3"
}

mkbody b0-0-badroot "$work/log" 0 0 --wrong-root
mkbody b0-5-junk "$work/log" 0 5 --junk-proof
mkbody b0-5 "$work/log" 0 5
mkbody b5-1000 "$work/log" 5 1000
mkbody b5-1200 "$work/log" 5 1200
mkbody b1000-1200-badproof "$work/log" 1000 1200 --bad-proof
mkbody b1000-1000-otherroot "$work/log" 1000 1000 --wrong-root
mkbody b1200-1000 "$work/log" 1200 1000
mkbody b1000-1200-otherkey "$work/other" 1000 1200
mkbody b1000-1200-badsig "$work/log" 1000 1200 --bad-sig
mkbody b0-5-unknown "$work/unknown" 0 5
mkbody b0-2000 "$work/log" 0 2000
mkbody b1000-2000 "$work/log" 1000 2000
printf 'old 1000\n' >"$work/malformed.body"
for b in b0-5 b5-1000 b1000-2000; do
  checkpoint_of "$work/$b.body" "$work/$b.note" "$work/$b.logsig"
done

# --- first run ------------------------------------------------------------------
start_witness "$work/state" "$work/log/logs.txt" || finish ""

expect_unchanged "fresh witness" "$hash" none
refuse "old 0 -> size-0 checkpoint with another root than the empty tree's" "$hash" none \
  "$work/b0-0-badroot.body" 422
refuse "old 0 -> 5 with a proof line" "$hash" none "$work/b0-5-junk.body" 422

expect_post "old 0 -> 5" "$work/b0-5.body" 200
expect_served "after 0 -> 5" "$hash" "$work/b0-5.note" "$work/b0-5.logsig" "$work/served-5"
step "after 0 -> 5: x/mod note.Open accepts the served checkpoint with the log key" 0 \
  "$gotool" open-note "$log_vkey" "$work/served-5" 5

expect_post "old 5 -> 1000 (x/mod consistency proof)" "$work/b5-1000.body" 200
expect_served "after 5 -> 1000" "$hash" "$work/b5-1000.note" "$work/b5-1000.logsig" "$work/served-1000"
step "after 5 -> 1000: x/mod note.Open accepts the served checkpoint with the log key" 0 \
  "$gotool" open-note "$log_vkey" "$work/served-1000" 1000

snap="$work/served-1000"
refuse "old 5 -> 1200 (stale old size)" "$hash" "$snap" "$work/b5-1200.body" 409 \
  text/x.tlog.size $'1000\n'
refuse "old 1000 -> 1200 with a bad proof" "$hash" "$snap" "$work/b1000-1200-badproof.body" 422
refuse "old 1000 -> 1000 with another root" "$hash" "$snap" "$work/b1000-1000-otherroot.body" 422
refuse "old 1200 -> 1000 (old > size)" "$hash" "$snap" "$work/b1200-1000.body" 400
refuse "malformed body (no checkpoint)" "$hash" "$snap" "$work/malformed.body" 400
refuse "old 1000 -> 1200 signed by another key with the log's name" "$hash" "$snap" \
  "$work/b1000-1200-otherkey.body" 403
refuse "old 1000 -> 1200 with the log's signature corrupted" "$hash" "$snap" \
  "$work/b1000-1200-badsig.body" 403
refuse "old 0 -> 5 of an unknown origin" "$hash" "$snap" "$work/b0-5-unknown.body" 404
expect_unchanged "unknown origin" "$(sha256hex log.interop.infratrail.example/unknown)" none

stop_witness

# --- restart on the same state ------------------------------------------------
start_witness "$work/state" "$work/log/logs.txt" || finish ""
expect_unchanged "after restart" "$hash" "$snap"
refuse "after restart: old 0 -> 2000" "$hash" "$snap" "$work/b0-2000.body" 409 \
  text/x.tlog.size $'1000\n'
expect_post "after restart: old 1000 -> 2000" "$work/b1000-2000.body" 200
expect_served "after 1000 -> 2000" "$hash" "$work/b1000-2000.note" "$work/b1000-2000.logsig" \
  "$work/served-2000"
step "after 1000 -> 2000: x/mod note.Open accepts the served checkpoint with the log key" 0 \
  "$gotool" open-note "$log_vkey" "$work/served-2000" 2000
stop_witness

finish "infratrail-verifier witness cosigns a Go x/mod log per C2SP tlog-witness, refuses what it must, and keeps its state across a restart"
