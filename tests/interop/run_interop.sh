#!/usr/bin/env bash
# Two-way interop test of infratrail's core/ against Go's reference packages
# golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog (Debian's
# golang-golang-x-mod-dev, built offline in GOPATH mode).
#
#   run_interop.sh INTEROP_TOOL WORK_BASE
#
# For each tree size: C++ generate -> Go verify, Go generate -> C++ verify,
# then negative checks: each side must reject the other's checkpoint note
# with one byte changed (in the body, the log signature or the cosignature),
# and a log whose first tile has one byte changed. Every run works in its own
# directory under WORK_BASE (so ctest -j is safe), removed on success and
# kept for inspection on failure. Exits non-zero on any failure.
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 INTEROP_TOOL WORK_BASE" >&2
  exit 2
fi
tool="$1"
base="$2"
here="$(cd "$(dirname "$0")" && pwd)"
sizes=(1 7 256 1000 70000)
xmod=/usr/share/gocode/src/golang.org/x/mod/sumdb

if ! command -v go >/dev/null 2>&1; then
  echo "run_interop: FAIL: 'go' is not installed; run scripts/install-deps.sh" >&2
  exit 1
fi
if [ ! -d "$xmod/note" ] || [ ! -d "$xmod/tlog" ]; then
  echo "run_interop: FAIL: golang.org/x/mod is not in /usr/share/gocode;" \
    "run scripts/install-deps.sh (package golang-golang-x-mod-dev)" >&2
  exit 1
fi
if [ ! -x "$tool" ]; then
  echo "run_interop: FAIL: $tool is not an executable" >&2
  exit 2
fi

mkdir -p "$base"
base="$(cd "$base" && pwd)"  # GOCACHE must be absolute
work="$(mktemp -d "$base/run.XXXXXX")"
start=$SECONDS

# Offline GOPATH build: no modules, no proxy, no user go.env; the build cache
# is shared by concurrent runs (Go's cache is safe for that).
export GO111MODULE=off GOPATH="$here/go:/usr/share/gocode" GOCACHE="$base/gocache" \
  GOFLAGS='' GOPROXY=off GOENV=off CGO_ENABLED=0
gotool="$work/infratrail_interop"
echo "run_interop: $(go version); building the Go side in GOPATH mode"
if ! go build -o "$gotool" infratrail_interop; then
  echo "run_interop: FAIL: go build infratrail_interop (work dir $work)" >&2
  exit 1
fi

# shellcheck source=tests/interop/checks.sh
source "$here/checks.sh"

# set_byte FILE OFFSET CHAR: overwrites one byte in place.
set_byte() {
  printf '%s' "$3" | dd of="$1" bs=1 seek="$2" count=1 conv=notrunc status=none
}

# tamper_sig FILE K: changes one base64 character inside the signature bytes
# of the K-th signature line (past the key ID and any timestamp), keeping
# the base64 canonical so the line still parses.
tamper_sig() {
  local entry line_off name prefix off c
  entry="$(grep -b '^— ' "$1" | sed -n "${2}p")"
  line_off="${entry%%:*}"
  name="$(printf '%s' "${entry#*:}" | cut -d' ' -f2)"
  prefix=$((4 + $(printf '%s' "$name" | wc -c) + 1))  # "— " is 4 bytes
  off=$((line_off + prefix + 40))
  c="$(dd if="$1" bs=1 skip="$off" count=1 status=none)"
  if [ "$c" = "A" ]; then set_byte "$1" "$off" B; else set_byte "$1" "$off" A; fi
}

# negative_checks SIDE DIR VERIFIER: VERIFIER must accept DIR's note as is and
# reject each one-byte tampering of it, and of DIR's first tile.
negative_checks() {
  local side="$1" dir="$2" verifier="$3" n="$4"
  local note="$dir/checkpoint.note"
  step "$side n=$n: untampered note accepted" 0 "$verifier" verify-note "$dir" "$note"
  cp "$note" "$dir/tampered-body.note"
  flip_byte "$dir/tampered-body.note" 0
  step "$side n=$n: note with a body byte changed rejected" 1 \
    "$verifier" verify-note "$dir" "$dir/tampered-body.note"
  cp "$note" "$dir/tampered-logsig.note"
  tamper_sig "$dir/tampered-logsig.note" 1
  step "$side n=$n: note with a log signature byte changed rejected" 1 \
    "$verifier" verify-note "$dir" "$dir/tampered-logsig.note"
  cp "$note" "$dir/tampered-cosig.note"
  tamper_sig "$dir/tampered-cosig.note" 2
  step "$side n=$n: note with a cosignature byte changed rejected" 1 \
    "$verifier" verify-note "$dir" "$dir/tampered-cosig.note"
  for f in tampered-body tampered-logsig tampered-cosig; do
    if cmp -s "$note" "$dir/$f.note"; then
      record_failure "$side n=$n: $f.note was not actually changed"
    fi
  done
  cp -r "$dir" "$dir.badtile"
  flip_byte "$dir.badtile/$(head -n 1 "$dir/tiles.txt")" 5
  step "$side n=$n: log with a tile byte changed rejected" 1 "$verifier" verify "$dir.badtile"
  rm -rf "$dir.badtile"
}

for n in "${sizes[@]}"; do
  echo "run_interop: tree size $n"
  cc="$work/cc-$n"
  gd="$work/go-$n"
  step "C++ generate n=$n" 0 "$tool" generate "$cc" "$n"
  step "Go verify of C++ output n=$n" 0 "$gotool" verify "$cc"
  step "Go generate n=$n" 0 "$gotool" generate "$gd" "$n"
  step "C++ verify of Go output n=$n" 0 "$tool" verify "$gd"
  negative_checks "Go rejects tampered C++" "$cc" "$gotool" "$n"
  negative_checks "C++ rejects tampered Go" "$gd" "$tool" "$n"
done

elapsed=$((SECONDS - start))
echo "run_interop: ${#sizes[@]} tree sizes (${sizes[*]}), $passed passed, $failed failed, ${elapsed}s"
if [ "$failed" -ne 0 ]; then
  printf 'run_interop: FAILED: %s\n' "${failures[@]}" >&2
  echo "run_interop: work directory kept: $work" >&2
  exit 1
fi
rm -rf "$work"
echo "run_interop: OK: C++ core/ and Go x/mod sumdb/note + sumdb/tlog agree in both directions"
exit 0
