#!/usr/bin/env bash
# Full-audit speed of `infratrail-verifier monitor --once` from size 0, against
# the project's server (its tiles over HTTP, and its gRPC API) and against
# nginx serving `infratrail-server export` of the same log, with core_bench's AuditEntries (hash + rebuild, in
# memory, one core) in the same run as the peer figure.
#
#   bench/monitor_audit.sh BUILD_DIR [ENTRIES] [RUNS]     # default 10^6 entries, 3 runs
#
# Prints each run's entries/s and the medians; the ratio is monitor /
# AuditEntries. Needs nginx (nginx-light) for the nginx legs; the "policy"
# leg is the nginx one with the ten-rule event policy of
# bench/monitor_policy.yaml (--policy), which the generated events satisfy.
set -euo pipefail
b=$(cd "$1" && pwd); n=${2:-1000000}; runs=${3:-3}
repo=$(cd "$(dirname "$0")/.." && pwd)
w=$(mktemp -d "${TMPDIR:-/tmp}/monitor-audit.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$w"; }
trap cleanup EXIT

vkey=$("$b/client/infratrail" keygen --origin audit.bench/log --out "$w/key" | head -n 1)
"$b/server/infratrail-server" --data-dir "$w/data" --signing-key "$w/key" --grpc-addr 127.0.0.1:0 \
  --http-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 --ready-file "$w/ready" 2> "$w/server.log" &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$w/ready" ] && break; sleep 0.1; done
grpc=$(sed -E 's/.*"grpc_port":([0-9]+).*/\1/' "$w/ready")
http=$(sed -E 's/.*"http_port":([0-9]+).*/\1/' "$w/ready")
"$b/bench/infratrail-loadgen" --mode fill --events "$n" --server "127.0.0.1:$grpc" > "$w/fill.log" 2>&1
for _ in $(seq 1 100); do
  [ "$(curl -s "http://127.0.0.1:$http/checkpoint" | sed -n 2p)" = "$n" ] && break; sleep 0.1
done
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
"$b/server/infratrail-server" export --data-dir "$w/data" --to "$w/export" > /dev/null
"$b/server/infratrail-server" --data-dir "$w/data" --signing-key "$w/key" --grpc-addr 127.0.0.1:0 \
  --http-addr "127.0.0.1:$http" --metrics-addr 127.0.0.1:0 --ready-file "$w/ready2" 2>> "$w/server.log" &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$w/ready2" ] && break; sleep 0.1; done

legs=(server grpc)
if [ -x /usr/sbin/nginx ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$w/nginx"
  cat > "$w/nginx/nginx.conf" <<NGINX
daemon off; master_process off; worker_processes 1; pid $w/nginx/nginx.pid; error_log $w/nginx/error.log;
events { worker_connections 256; }
http { access_log off; client_body_temp_path $w/nginx/cb; proxy_temp_path $w/nginx/p;
  fastcgi_temp_path $w/nginx/f; uwsgi_temp_path $w/nginx/u; scgi_temp_path $w/nginx/s;
  types { } default_type application/octet-stream;
  server { listen 127.0.0.1:$port; root $w/export; include $repo/deploy/nginx/infratrail-tiles.conf; } }
NGINX
  /usr/sbin/nginx -p "$w/nginx" -c "$w/nginx/nginx.conf" -e "$w/nginx/error.log" &
  pids+=($!)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/checkpoint" > /dev/null && break; sleep 0.1; done
  legs+=(nginx policy)
fi

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A rates
for r in $(seq 1 "$runs"); do
  for leg in "${legs[@]}"; do
    url="http://127.0.0.1:$http/"; [ "$leg" = nginx ] || [ "$leg" = policy ] && url="http://127.0.0.1:$port/"
    extra=(); [ "$leg" = policy ] && extra=(--policy "$repo/bench/monitor_policy.yaml")
    [ "$leg" = grpc ] && url="grpc://127.0.0.1:$(sed -E 's/.*"grpc_port":([0-9]+).*/\1/' "$w/ready2")"
    rm -rf "$w/state"
    s=$(date +%s.%N)
    "$b/verifier/infratrail-verifier" monitor --log "$url" --log-key "$vkey" --state-dir "$w/state" \
      "${extra[@]}" --once --progress never > "$w/findings" 2> "$w/monitor.log" || { echo "monitor failed:"; cat "$w/monitor.log" "$w/findings"; exit 1; }
    e=$(date +%s.%N)
    rate=$(echo "$n / ($e - $s)" | bc -l | cut -d. -f1)
    rates[$leg]+="$rate "
    f=$(wc -l < "$w/findings")
    echo "$leg run $r: $rate entries/s$([ "$f" -gt 0 ] && echo ", $f findings")"
  done
done
audit=$("$b/bench/core_bench" --benchmark_filter='AuditEntries' --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true --benchmark_min_time=0.2 2>/dev/null |
  sed -nE 's/.*_median.*items_per_second=([0-9.]+)([kM])\/s.*/\1 \2/p' |
  awk '{print ($2=="M") ? $1*1000000 : $1*1000}')
echo "core AuditEntries median: ${audit%.*} entries/s"
for leg in "${legs[@]}"; do
  m=$(echo "${rates[$leg]}" | tr ' ' '\n' | grep . | median)
  echo "$leg median: $m entries/s, ratio to AuditEntries $(echo "$m / $audit" | bc -l | cut -c1-4)"
done
