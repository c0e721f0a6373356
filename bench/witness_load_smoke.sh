#!/usr/bin/env bash
# ctest witness_load_setup_smoke: `setup` writes a small corpus that `verify`
# accepts, and `verify` refuses it once truncated or with one proof byte
# changed. Own temporary directory, so ctest -j is safe.
# Usage: witness_load_smoke.sh PATH/infratrail-witness-load
set -euo pipefail
LOAD=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

"$LOAD" setup --dir "$T/c" --logs 2 --requests-per-log 3 --start-size 300
"$LOAD" verify --dir "$T/c"

expect_refused() {  # what was broken
  if "$LOAD" verify --dir "$T/bad" 2>"$T/err"; then
    echo "FAIL: verify accepted a corpus with $1" >&2
    exit 1
  fi
  echo "refused ($1): $(cat "$T/err")"
}

# Log 1 without its last byte.
cp -r "$T/c" "$T/bad"
truncate -s -1 "$T/bad/bodies/log-00001.bin"
expect_refused "a truncated body"
rm -rf "$T/bad"

# Log 0's second body ("old 300\n" then the first proof line), with the first
# character of the first proof line replaced.
cp -r "$T/c" "$T/bad"
f=$T/bad/bodies/log-00000.bin
len0=$(od -An -tu4 --endian=big -N4 "$f" | tr -d ' ')
body1=$((4 + len0 + 4))
if [[ $(dd if="$f" bs=1 skip=$body1 count=7 2>/dev/null) != "old 300" ]]; then
  echo "FAIL: body 1 does not start with 'old 300'" >&2
  exit 1
fi
off=$((body1 + 8))
c=$(dd if="$f" bs=1 skip=$off count=1 2>/dev/null)
if [[ $c == A ]]; then r=B; else r=A; fi
printf '%s' "$r" | dd of="$f" bs=1 seek=$off conv=notrunc 2>/dev/null
expect_refused "a changed proof hash"
echo OK
