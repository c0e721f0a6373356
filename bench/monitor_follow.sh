#!/usr/bin/env bash
# Steady-state following: a log appended to at RATE events/s for DURATION
# seconds (`infratrail-loadgen --mode checkpoint-latency`, open loop, batches
# of 1000), followed by `infratrail-verifier monitor --interval 1s`. Every
# second it samples the log's size (/checkpoint) and the size the monitor has
# verified (its infratrail_monitor_verified_size_entries), and prints the lag
# (entries the log holds that the monitor has not verified yet).
#
#   bench/monitor_follow.sh BUILD_DIR [RATE] [DURATION]   # default 100000 events/s, 60 s
#
# RATE "max" appends as fast as the server takes batches (closed loop,
# `--mode batch`) instead of at a fixed rate.
#
# Keeping up means the lag stays bounded (about RATE x (interval + round
# time)) instead of growing with time, and the monitor has verified the last
# checkpoint within a few seconds after the load stops.
set -euo pipefail
b=$(cd "$1" && pwd); rate=${2:-100000}; duration=${3:-60}
w=$(mktemp -d "${TMPDIR:-/tmp}/monitor-follow.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$w"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

vkey=$("$b/client/infratrail" keygen --origin follow.bench/log --out "$w/key" | head -n 1)
"$b/server/infratrail-server" --data-dir "$w/data" --signing-key "$w/key" --grpc-addr 127.0.0.1:0 \
  --http-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 --ready-file "$w/ready" 2> "$w/server.log" &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$w/ready" ] && break; sleep 0.1; done
grpc=$(sed -E 's/.*"grpc_port":([0-9]+).*/\1/' "$w/ready")
http=$(sed -E 's/.*"http_port":([0-9]+).*/\1/' "$w/ready")
mport=$(free_port)
"$b/verifier/infratrail-verifier" monitor --log "http://127.0.0.1:$http/" --log-key "$vkey" \
  --state-dir "$w/state" --interval 1s --metrics-addr "127.0.0.1:$mport" --progress never \
  > "$w/findings" 2> "$w/monitor.log" &
pids+=($!)
if [ "$rate" = max ]; then
  load_args=(--mode batch --batch-size 1000)
else
  load_args=(--mode checkpoint-latency --rate "$rate" --batch-size 1000)
fi
"$b/bench/infratrail-loadgen" "${load_args[@]}" --duration "$duration" --warmup 0 \
  --server "127.0.0.1:$grpc" > "$w/load.log" 2>&1 &
load=$!
pids+=($load)

log_size() { curl -s "http://127.0.0.1:$http/checkpoint" | sed -n 2p; }
verified() {
  curl -s "http://127.0.0.1:$mport/metrics" |
    sed -nE 's/^infratrail_monitor_verified_size_entries\{[^}]*\} ([0-9.e+]+)$/\1/p' |
    awk '{printf "%d", $1}'
}
echo "t_s log_size verified lag"
t0=$(date +%s.%N)
t=0; max_lag=0; lags=()
while kill -0 "$load" 2>/dev/null; do
  sleep 1; t=$((t + 1))
  l=$(log_size); v=$(verified); v=${v:-0}; lag=$((l - v))
  echo "$t $l $v $lag"
  lags+=("$lag"); [ "$lag" -gt "$max_lag" ] && max_lag=$lag
done
wait "$load" || { echo "loadgen failed:"; cat "$w/load.log"; exit 1; }
final=$(log_size); t1=$(date +%s.%N); caught=""
for s in $(seq 1 30); do
  sleep 1
  [ "$(verified)" = "$final" ] && { caught=$s; break; }
done
n=${#lags[@]}; q=$((n / 4))
first=$(printf '%s\n' "${lags[@]:q:q}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
last=$(printf '%s\n' "${lags[@]: -q}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "appended $final entries in $(echo "$t1 - $t0" | bc | cut -c1-5) s: $(echo "$final / ($t1 - $t0)" | bc) entries/s"
echo "load (offered $rate events/s): $(grep -E '^(throughput|pacer):' "$w/load.log" | tr -s ' ' | paste -sd ';')"
echo "lag: max $max_lag, median of the second quarter $first, of the last quarter $last"
echo "verified the final checkpoint ($final) ${caught:-NOT within 30}s after the load stopped"
[ -s "$w/findings" ] && { echo "findings:"; cat "$w/findings"; exit 1; }
grep -m3 '"kind"' "$w/monitor.log" || true
