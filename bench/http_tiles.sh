#!/usr/bin/env bash
# Read throughput of the tiles HTTP API (C2SP tlog-tiles) with wrk, client
# and server on the same machine:
#
#   bench/http_tiles.sh [RUNS] [SECONDS] [CONNECTIONS]   # default 3 runs of 10 s, 64 connections
#
# Starts a fresh server on embedded RocksDB, fills it with 70,000 events
# (273 full level-0 tiles and bundles, a level-1 tile, partial edges), then
# measures requests/s for:
#   one-tile      GET of one full hash tile, over and over (the hot-cache path)
#   all-tiles     GETs cycling over every full level-0 hash tile (cached after the first pass)
#   bundles       GETs cycling over every full entry bundle
#   checkpoint    GET /checkpoint
#   nginx         all-tiles again, from nginx serving `infratrail-server export`
#                 with deploy/nginx/infratrail-tiles.conf (the static read path)
# Each is run RUNS times; the median is printed. Needs a release build in
# build/, wrk and nginx (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
seconds=${2:-10}
conns=${3:-64}
events=70000
repo=$(pwd)
bin=build
work=$(mktemp -d "${TMPDIR:-/tmp}/infratrail-http.XXXXXX")
cleanup() {
  kill "${server_pid:-}" 2>/dev/null || true
  if [ -f "$work/nginx.pid" ]; then kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

for tool in wrk /usr/sbin/nginx; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/install-deps.sh" >&2; exit 2; }
done

"$bin/client/infratrail" keygen --origin bench.infratrail.example/log --out "$work/log.key" \
  > "$work/log.vkey"
"$bin/server/infratrail-server" --data-dir "$work/data" --signing-key "$work/log.key" \
  --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 \
  --http-max-connections-per-address 0 \
  --ready-file "$work/ready.json" 2> "$work/server.log" &
server_pid=$!
for _ in $(seq 1 100); do [ -s "$work/ready.json" ] && break; sleep 0.1; done
grpc=$(sed -E 's/.*"grpc_port":([0-9]+).*/\1/' "$work/ready.json")
http=$(sed -E 's/.*"http_port":([0-9]+).*/\1/' "$work/ready.json")
awk -v n="$events" 'BEGIN {
  for (i = 0; i < n; i++)
    printf "{\"kind\":\"DEPLOY\",\"resource\":{\"type\":\"service\",\"id\":\"svc-%d\"},\"artifactDigest\":\"sha256:%064x\"}\n", i, i
}' > "$work/events.jsonl"
"$bin/client/infratrail" add --server "127.0.0.1:$grpc" --file "$work/events.jsonl" --wait \
  --log-key "$(cat "$work/log.vkey")" > /dev/null

full=$((events / 256))
cat > "$work/cycle.lua" <<EOF
local paths, i = {}, 0
init = function(args)
  for n = 0, $full - 1 do paths[#paths + 1] = string.format(args[1], n) end
end
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
EOF

# measure NAME URL [LUA_ARG]: RUNS wrk runs, prints each and the median.
measure() {
  local name=$1 url=$2 arg=${3:-}
  local rates=()
  for _ in $(seq 1 "$runs"); do
    local out
    if [ -n "$arg" ]; then
      out=$(wrk -t1 -c"$conns" -d"${seconds}s" -s "$work/cycle.lua" "$url" -- "$arg")
    else
      out=$(wrk -t1 -c"$conns" -d"${seconds}s" "$url")
    fi
    if grep -q "Non-2xx" <<< "$out"; then
      echo "$name: wrk saw non-2xx responses:" >&2
      echo "$out" >&2
      exit 1
    fi
    rates+=("$(awk '/Requests\/sec/ { printf "%.0f", $2 }' <<< "$out")")
  done
  local median
  median=$(printf '%s\n' "${rates[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  printf '%-11s median %7s req/s   (runs: %s)\n' "$name" "$median" "${rates[*]}"
}

echo "tree of $events entries; wrk -t1 -c$conns -d${seconds}s, $runs runs each, $(nproc) cores shared"
measure one-tile "http://127.0.0.1:$http/tile/0/001"
measure all-tiles "http://127.0.0.1:$http" "/tile/0/%03d"
measure bundles "http://127.0.0.1:$http" "/tile/entries/%03d"
measure checkpoint "http://127.0.0.1:$http/checkpoint"

# The same tiles from nginx serving an export, with the server stopped so
# the two do not share the cores.
"$bin/server/infratrail-server" export --data-dir "$work/data" --to "$work/export" > /dev/null
kill -TERM "$server_pid"
wait "$server_pid" || true
nginx_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/nginx"
cat > "$work/nginx.conf" <<EOF
daemon on;
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  types { }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/export;
    include $repo/deploy/nginx/infratrail-tiles.conf;
  }
}
EOF
if [ "$(id -u)" -eq 0 ]; then sed -i '1i user root;' "$work/nginx.conf"; fi
/usr/sbin/nginx -c "$work/nginx.conf" -p "$work/nginx"
for _ in $(seq 1 50); do [ -s "$work/nginx.pid" ] && break; sleep 0.1; done
measure nginx "http://127.0.0.1:$nginx_port" "/tile/0/%03d"
