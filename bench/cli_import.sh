#!/usr/bin/env bash
# Throughput of `infratrail add` importing a JSON-lines file into a local
# server on embedded RocksDB: the operator's bulk-import path end to end
# (JSON parsing, validation, batching, gRPC, group commit, fsync).
#
#   bench/cli_import.sh [EVENTS] [RUNS]      # default 1000000 events, 3 runs
#
# Each run starts a fresh server in a temporary directory, imports the same
# file (events of ~230 serialized bytes, ~410 bytes of JSON) and prints
# events/s; the last line is the median. Needs a release build in build/.
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

rates=()
for run in $(seq 1 "$runs"); do
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
  "$bin/client/infratrail" add --server "127.0.0.1:$port" --file "$work/events.jsonl" \
    > "$work/out.jsonl"
  end=$(date +%s.%N)
  lines=$(wc -l < "$work/out.jsonl")
  [ "$lines" -eq "$events" ] || { echo "run $run: $lines results for $events events" >&2; exit 1; }
  rate=$(awk -v n="$events" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", n / (e - s) }')
  echo "run $run: $events events in $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }') s: $rate events/s"
  rates+=("$rate")
  kill -TERM "$server_pid"
  wait "$server_pid" || true
done
median=$(printf '%s\n' "${rates[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
echo "median: $median events/s"
