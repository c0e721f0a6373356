#!/usr/bin/env bash
# Throughput of `infratrail add` importing a JSON-lines file into a local
# server on embedded RocksDB: the operator's bulk-import path end to end
# (JSON parsing, validation, batching, gRPC, group commit, fsync).
#
#   bench/cli_import.sh [EVENTS] [RUNS]      # default 1000000 events, 3 runs
#
# Each run starts a fresh server in a temporary directory for each way a user
# feeds the CLI (--file, stdin redirected from the file, stdin from a pipe),
# imports the same file (events of ~230 serialized bytes, ~410 bytes of JSON)
# and prints events/s; the last lines are the medians per input and the
# pipe/--file ratio. Needs a release build in build/.
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-1000000}
runs=${2:-3}
bin=build
work=$(mktemp -d "${TMPDIR:-/tmp}/infratrail-import.XXXXXX")
trap 'kill "${server_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

awk -v n="$events" 'BEGIN {
  for (i = 0; i < n; i++) {
    printf "{\"kind\":\"PROVISION\",\"occurredAt\":\"2026-11-23T10:00:00Z\",\"resource\":{\"provider\":\"aws\",\"type\":\"ec2-instance\",\"id\":\"i-%016x\"},\"actor\":{\"principal\":\"terraform@ci.example.com\",\"via\":\"IAC\"},\"source\":{\"repository\":\"github.com/example/infra\",\"commit\":\"4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39\",\"pipeline\":\"run-%d\"},\"ticket\":\"CHG-%d\",\"attributes\":{\"region\":\"eu-west-1\",\"account\":\"123456789012\",\"env\":\"prod\"}}\n", i, int(i / 1000), i % 5000
  }
}' > "$work/events.jsonl"

# import MODE PORT: one import of the events into the server on PORT.
import() {
  local cli="$bin/client/infratrail" args=(add --server "127.0.0.1:$2")
  case "$1" in
    file) "$cli" "${args[@]}" --file "$work/events.jsonl" > "$work/out.jsonl" ;;
    stdin) "$cli" "${args[@]}" < "$work/events.jsonl" > "$work/out.jsonl" ;;
    pipe) cat "$work/events.jsonl" | "$cli" "${args[@]}" > "$work/out.jsonl" ;;
  esac
}

declare -A rates
modes=(file stdin pipe)
for run in $(seq 1 "$runs"); do
  for mode in "${modes[@]}"; do
    rm -rf "$work/data" "$work/log.key" "$work/log.key.state" "$work/ready.json"
    "$bin/client/infratrail" keygen --origin bench.infratrail.example/log --out "$work/log.key" \
      > "$work/log.vkey"
    "$bin/server/infratrail-server" --data-dir "$work/data" --signing-key "$work/log.key" \
      --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 \
      --ready-file "$work/ready.json" \
      2> "$work/server.log" &
    server_pid=$!
    for _ in $(seq 1 100); do [ -s "$work/ready.json" ] && break; sleep 0.1; done
    port=$(sed -E 's/.*"grpc_port":([0-9]+).*/\1/' "$work/ready.json")
    start=$(date +%s.%N)
    import "$mode" "$port"
    end=$(date +%s.%N)
    lines=$(wc -l < "$work/out.jsonl")
    [ "$lines" -eq "$events" ] || { echo "run $run $mode: $lines results for $events events" >&2; exit 1; }
    rate=$(awk -v n="$events" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", n / (e - s) }')
    echo "run $run $mode: $events events in $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }') s: $rate events/s"
    rates[$mode]="${rates[$mode]:-} $rate"
    kill -TERM "$server_pid"
    wait "$server_pid" || true
  done
done
median() { printf '%s\n' $1 | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for mode in "${modes[@]}"; do echo "median $mode: $(median "${rates[$mode]}") events/s"; done
awk -v p="$(median "${rates[pipe]}")" -v f="$(median "${rates[file]}")" \
  'BEGIN { printf "pipe / file: %.2f\n", p / f }'
