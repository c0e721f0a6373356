#!/usr/bin/env bash
# A/B of durable append: RUNS rounds, each a fresh server per build and
# `infratrail-loadgen --mode MODE --duration SECONDS`, old and new alternating.
# MODE is batch (default) or single (one event per RPC, 256 callers); both
# servers are driven by NEW_BUILD_DIR's load generator, so only the server
# differs. Prints events/s and the RPC latency p99 of each run.
#
#   [MODE=single] bench/ab_append.sh OLD_BUILD_DIR NEW_BUILD_DIR [RUNS] [SECONDS]   # default 3 runs of 10 s
set -euo pipefail
old=$1; new=$2; runs=${3:-3}; secs=${4:-10}; mode=${MODE:-batch}
w=$(mktemp -d "${TMPDIR:-/tmp}/ab-append.XXXXXX")
for r in $(seq 1 $runs); do
  for which in old new; do
    b=${!which}
    rm -rf $w/data $w/key $w/key.state $w/ready
    $b/client/infratrail keygen --origin cmp.test/log --out $w/key > /dev/null
    $b/server/infratrail-server --data-dir $w/data --signing-key $w/key --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 --ready-file $w/ready 2> $w/srv.log &
    pid=$!
    for _ in $(seq 1 100); do [ -s $w/ready ] && break; sleep 0.1; done
    port=$(sed -E 's/.*"grpc_port":([0-9]+).*/\1/' $w/ready)
    out=$($new/bench/infratrail-loadgen --mode $mode --server 127.0.0.1:$port --duration $secs 2>&1)
    rate=$(sed -nE 's/^throughput: ([0-9]+) events.*/\1/p' <<< "$out")
    p99=$(sed -nE 's/^latency ms: .*p99 ([0-9.]+) .*/\1/p' <<< "$out")
    echo "$which run $r: $rate events/s, p99 $p99 ms"
    kill -TERM $pid; wait $pid || true
  done
done
rm -rf $w
