#!/usr/bin/env bash
# Throughput of `infratrail ingest cloudtrail` into a local server on
# embedded RocksDB: reading gzipped CloudTrail files, mapping, batching,
# gRPC, group commit, fsync, as an operator runs it on a day of trail.
#
#   bench/ingest_cloudtrail.sh [RECORDS] [RUNS]   # default 200000 records, 3 runs
#
# The records are written by bench/cloudtrail_corpus.py as CloudTrail writes
# its files: gzipped, one {"Records":[...]} line each, 5,000 records a file,
# a mix of RunInstances (2 instances), AssumeRole, GetSecretValue, Decrypt,
# ConsoleLogin, PutBucketPolicy, TerminateInstances and read-only Describe*
# calls (skipped). Each run starts a fresh server and ingests the files
# given with --file, then the same files piped on stdin (`cat *.gz |`); the
# last lines are the medians (records/s) and the ratio pipe/--file. Peer in
# the same run: `infratrail add` of as many events as ingest logged, from a
# JSON-lines file (bench/cli_import.sh's path). Needs a release build in build/.
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-200000}
runs=${2:-3}
bin=build
work=$(mktemp -d "${TMPDIR:-/tmp}/infratrail-ingest.XXXXXX")
trap 'kill "${server_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

python3 bench/cloudtrail_corpus.py "$records" "$work/trail"
files=("$work"/trail/*.json.gz)

start_server() {
  rm -rf "$work/data" "$work/log.key" "$work/log.key.state" "$work/ready.json"
  "$bin/client/infratrail" keygen --origin bench.infratrail.example/log --out "$work/log.key" \
    > "$work/log.vkey"
  "$bin/server/infratrail-server" --data-dir "$work/data" --signing-key "$work/log.key" \
    --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 \
    --ready-file "$work/ready.json" 2> "$work/server.log" &
  server_pid=$!
  for _ in $(seq 1 100); do [ -s "$work/ready.json" ] && break; sleep 0.1; done
  port=$(sed -E 's/.*"grpc_port":([0-9]+).*/\1/' "$work/ready.json")
}
stop_server() { kill -TERM "$server_pid"; wait "$server_pid" || true; }

# run MODE: one ingest (or add) into a fresh server; prints the rate.
run() {
  start_server
  local cli="$bin/client/infratrail" t0 t1 n
  local args=(ingest cloudtrail --server "127.0.0.1:$port" --progress never)
  t0=$(date +%s.%N)
  case "$1" in
    file) "$cli" "${args[@]}" "${files[@]/#/--file=}" > "$work/out.jsonl" 2> "$work/err" ;;
    pipe) cat "${files[@]}" | "$cli" "${args[@]}" > "$work/out.jsonl" 2> "$work/err" ;;
    add) "$cli" add --server "127.0.0.1:$port" --progress never --file "$work/events.jsonl" \
           > "$work/out.jsonl" ;;
  esac
  t1=$(date +%s.%N)
  stop_server
  n=$records
  [ "$1" = add ] && n=$(wc -l < "$work/events.jsonl")
  awk -v n="$n" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", n / (e - s) }'
}

# The peer's input: the events ingest maps, as InfraEvent JSON lines.
"$bin/client/infratrail" ingest cloudtrail --dry-run "${files[@]/#/--file=}" 2> /dev/null |
  python3 -c 'import json,sys
for l in sys.stdin: print(json.dumps(json.loads(l)["event"], separators=(",", ":")))' \
  > "$work/events.jsonl"
events=$(wc -l < "$work/events.jsonl")
echo "corpus: $records records in ${#files[@]} files ($(du -sh "$work/trail" | cut -f1) gzipped), $events events"

declare -A rates
for r in $(seq 1 "$runs"); do
  for mode in file pipe add; do
    rate=$(run "$mode")
    [ "$mode" = add ] || grep -q "$records records: $events events logged" "$work/err" ||
      { echo "run $r $mode: unexpected summary: $(tail -1 "$work/err")" >&2; exit 1; }
    unit=records/s; [ "$mode" = add ] && unit=events/s
    echo "run $r $mode: $rate $unit"
    rates[$mode]="${rates[$mode]:-} $rate"
  done
done
median() { printf '%s\n' $1 | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for mode in file pipe; do echo "median ingest $mode: $(median "${rates[$mode]}") records/s"; done
echo "median add (peer, same events as JSON lines): $(median "${rates[add]}") events/s"
awk -v p="$(median "${rates[pipe]}")" -v f="$(median "${rates[file]}")" \
  'BEGIN { printf "pipe / file: %.2f\n", p / f }'
