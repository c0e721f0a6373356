# Shared by the interop scripts (sourced, not run): PASS/FAIL bookkeeping
# and byte tampering. A script sets `work` (where step logs go) and may set
# `leg` to tag its output; it reads `passed`, `failed`, `failures` and
# `leg_failed` at the end.
# shellcheck shell=bash

passed=0
failed=0
failures=()
declare -A leg_failed=()
leg=

# record_failure NAME: counts a failure (per leg too).
record_failure() {
  failed=$((failed + 1))
  failures+=("${leg:+[$leg leg] }$1")
  leg_failed[${leg:-all}]=$((${leg_failed[${leg:-all}]:-0} + 1))
}

# step NAME WANT_RC CMD...: runs CMD, passes iff its exit code is WANT_RC.
step() {
  local name="$1" want="$2"
  shift 2
  local log="${work:?}/log.$((passed + failed))"
  "$@" >"$log" 2>&1
  local rc=$?
  if [ "$rc" -eq "$want" ]; then
    passed=$((passed + 1))
    echo "  PASS  ${leg:+[$leg] }$name: $(tail -n 1 "$log")"
  else
    record_failure "$name"
    echo "  FAIL  ${leg:+[$leg] }$name: exit code $rc, want $want; output:"
    sed 's/^/        /' "$log"
  fi
}

# check NAME RESULT DETAIL: records a check done in the shell (RESULT 0 = pass).
check() {
  if [ "$2" -eq 0 ]; then
    passed=$((passed + 1))
    echo "  PASS  ${leg:+[$leg] }$1"
  else
    record_failure "$1"
    echo "  FAIL  ${leg:+[$leg] }$1: $3"
  fi
}

# flip_byte FILE OFFSET: flips the lowest bit of one byte (any byte value).
flip_byte() {
  local b
  b="$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')"
  # shellcheck disable=SC2059
  printf "\\$(printf '%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" count=1 conv=notrunc status=none
}
