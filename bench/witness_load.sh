#!/usr/bin/env bash
# The witness add-checkpoint benchmark (docs/benchmarks.md, "Witness
# add-checkpoint"): one corpus of signed checkpoints and consistency proofs,
# then REPEATS rounds of { fsync-floor; a fresh `infratrail-verifier witness`;
# infratrail-witness-load run; stop the witness }, and the medians.
#
# Usage: bench/witness_load.sh BUILD_DIR [LOGS=100] [SECONDS=10] [REPEATS=3]
# Environment:
#   REQUESTS_PER_LOG  bodies per log (default: enough for 20,000 req/s over
#                     SECONDS, 4x the 5,000 req/s target; a run that runs
#                     out says stop_reason "bodies")
#   CONNECTIONS       keep-alive connections (default LOGS)
#   FSYNC_SECONDS     length of each fsync-floor measurement (default 3)
#   VERIFY_CORPUS=1   re-check every body before the runs (slow: ~70 us/body)
#   WITNESS_FLAGS     more flags for `infratrail-verifier witness`
#   SETUP_FLAGS       more flags for `infratrail-witness-load setup` (--max-step 1024)
#   TMPDIR            where the corpus, the witness state and the fsync-floor
#                     file go: the disk being measured
# The witness's per-log rate limit and per-address connection limit are
# turned off when it has them (every request here comes from one address,
# and 5,000 req/s over 100 logs is 50 req/s per log): the benchmark measures
# throughput, not the limits.
# Each round starts a witness with an empty state directory, so every log
# starts again at "old 0" and every request is one the witness must accept;
# any other answer fails the run (exit 1), and the script exits 1.
set -euo pipefail

BUILD=${1:?usage: $0 BUILD_DIR [LOGS] [SECONDS] [REPEATS]}
LOGS=${2:-100}
SECS=${3:-10}
REPEATS=${4:-3}
LOAD=$BUILD/bench/infratrail-witness-load
VERIFIER=$BUILD/verifier/infratrail-verifier
K=${REQUESTS_PER_LOG:-$(((SECS * 20000 + LOGS - 1) / LOGS))}
CONNECTIONS=${CONNECTIONS:-$LOGS}
FSYNC_SECONDS=${FSYNC_SECONDS:-3}
for bin in "$LOAD" "$VERIFIER"; do
  [[ -x $bin ]] || { echo "$0: $bin not built" >&2; exit 2; }
done

witness_flags=()
witness_help=$("$VERIFIER" witness --help 2>&1 || true)
[[ $witness_help != *--rate-per-log* ]] || witness_flags+=(--rate-per-log 0)
[[ $witness_help != *--max-connections-per-address* ]] ||
  witness_flags+=(--max-connections-per-address 0)
read -ra extra <<<"${WITNESS_FLAGS:-}"
witness_flags+=("${extra[@]}")

T=$(mktemp -d -t witness-load.XXXXXX)
WPID=
stop_witness() {
  [[ -n $WPID ]] || return 0
  kill -TERM "$WPID" 2>/dev/null || true
  local rc=0
  wait "$WPID" || rc=$?
  [[ $rc == 0 ]] || echo "note: the witness exited with status $rc after SIGTERM" >&2
  WPID=
}
trap 'stop_witness; rm -rf "$T"' EXIT

# CPU seconds (user + system) of a running process.
cpu_seconds() {
  awk -v tck="$(getconf CLK_TCK)" '{ print ($14 + $15) / tck }' "/proc/$1/stat"
}

echo "# setup: $LOGS logs x $K bodies in $T/corpus; witness flags: ${witness_flags[*]}" >&2
# SETUP_FLAGS: e.g. "--max-step 1024" for longer proofs (~16 hashes).
# shellcheck disable=SC2086
"$LOAD" setup --dir "$T/corpus" --logs "$LOGS" --requests-per-log "$K" ${SETUP_FLAGS:-} >&2
if [[ ${VERIFY_CORPUS:-0} == 1 ]]; then "$LOAD" verify --dir "$T/corpus" >&2; fi
"$VERIFIER" witness keygen --name bench.example/witness --out "$T/witness.key" >/dev/null

failed=0
: >"$T/rounds.jsonl"
for r in $(seq 1 "$REPEATS"); do
  floor=$("$LOAD" fsync-floor --dir "$T" --seconds "$FSYNC_SECONDS")

  out=$T/witness-$r.out
  mkdir "$T/state-$r"
  "$VERIFIER" witness --key "$T/witness.key" --state-dir "$T/state-$r" --listen 127.0.0.1:0 \
    --logs "$T/corpus/logs.txt" "${witness_flags[@]}" >"$out" 2>"$T/witness-$r.err" &
  WPID=$!
  for _ in $(seq 100); do
    [[ -s $out && $(wc -l <"$out") -ge 1 ]] && break
    kill -0 "$WPID" 2>/dev/null || break
    sleep 0.1
  done
  line=$(head -n1 "$out")
  addr=$(jq -er .listening <<<"$line" 2>/dev/null) || {
    echo "$0: the witness did not print its listening line; stderr:" >&2
    tail -n 20 "$T/witness-$r.err" >&2
    exit 1
  }
  vkey=$(jq -er .vkey <<<"$line")

  cpu0=$(cpu_seconds "$WPID")
  rc=0
  run=$("$LOAD" run --dir "$T/corpus" --addr "$addr" --connections "$CONNECTIONS" \
    --duration "${SECS}s" --witness-vkey "$vkey") || rc=$?
  cpu1=$(cpu_seconds "$WPID")
  stop_witness
  rm -rf "$T/state-$r"
  if [[ $rc != 0 ]]; then
    failed=1
    echo "run $r FAILED (exit $rc): $run" >&2
    tail -n 20 "$T/witness-$r.err" >&2
    [[ -n $run ]] || continue
  fi
  jq -c --argjson floor "$floor" --argjson wcpu "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN{print b-a}')" \
    --argjson round "$r" --argjson rc "$rc" \
    '{round: $round, exit: $rc, run: ., fsync_floor: $floor,
      witness_cpu_us_per_request: (if .requests > 0 then $wcpu * 1e6 / .requests else null end),
      ratio_to_fsync_floor: (.requests_per_s / $floor.fsyncs_per_s)}' <<<"$run" | tee -a "$T/rounds.jsonl"
done

jq -s '
  def median: sort | if length == 0 then null
    elif length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  map(select(.exit == 0)) as $ok |
  {rounds: length, ok_rounds: ($ok | length),
   median_requests_per_s: ($ok | map(.run.requests_per_s) | median),
   median_p99_us: ($ok | map(.run.latency_us.p99) | median),
   median_fsync_floor_per_s: ($ok | map(.fsync_floor.fsyncs_per_s) | median),
   median_ratio_to_fsync_floor: ($ok | map(.ratio_to_fsync_floor) | median),
   median_client_cpu_us_per_request: ($ok | map(.run.client_cpu_us_per_request) | median),
   median_witness_cpu_us_per_request: ($ok | map(.witness_cpu_us_per_request) | median),
   logs: '"$LOGS"', connections: '"$CONNECTIONS"', seconds: '"$SECS"'}' "$T/rounds.jsonl"
exit "$failed"
