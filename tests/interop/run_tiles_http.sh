#!/usr/bin/env bash
# C2SP tlog-tiles interop over plain HTTP: Go's reference client
# (golang.org/x/mod/sumdb/tlog.TileHashReader and sumdb/note, from Debian's
# golang-golang-x-mod-dev, built offline in GOPATH mode) reads the log
#   server leg: from infratrail-server itself, on --http-addr;
#   nginx leg:  from Debian's nginx serving `infratrail-server export`
#               output with deploy/nginx/infratrail-tiles.conf.
#
#   run_tiles_http.sh SERVER_BIN CLI_BIN WORK_BASE
#
# The log grows in rounds to sizes 1, 256, 257 and 70000 (past 65536, so
# there are level-2 tiles); after each round both legs are checked with
# `infratrail_interop verify-http -headers`. Then nginx must hide export's
# temporary files, and a copy of the export with one byte changed in a
# level-0 tile, or in an entry bundle, must be rejected. Every run works in
# its own directory under WORK_BASE on ephemeral loopback ports (so ctest -j
# is safe), removed on success and kept for inspection on failure. Exits
# non-zero on any failure, saying which leg failed.
set -uo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 SERVER_BIN CLI_BIN WORK_BASE" >&2
  exit 2
fi
server_bin="$1"
cli="$2"
base="$3"
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
snippet="$repo/deploy/nginx/infratrail-tiles.conf"
nginx=/usr/sbin/nginx
xmod=/usr/share/gocode/src/golang.org/x/mod/sumdb
sizes=(1 256 257 70000)

fatal() {
  echo "run_tiles_http: FAIL: $*" >&2
  exit 1
}
command -v go >/dev/null 2>&1 || fatal "'go' is not installed; run scripts/install-deps.sh"
if [ ! -d "$xmod/note" ] || [ ! -d "$xmod/tlog" ]; then
  fatal "golang.org/x/mod is not in /usr/share/gocode; run scripts/install-deps.sh (package golang-golang-x-mod-dev)"
fi
[ -x "$nginx" ] || fatal "$nginx is missing; run scripts/install-deps.sh (package nginx-light)"
[ -x "$server_bin" ] || fatal "$server_bin is not an executable"
[ -x "$cli" ] || fatal "$cli is not an executable"
[ -f "$snippet" ] || fatal "$snippet is missing"

mkdir -p "$base"
base="$(cd "$base" && pwd)"  # GOCACHE must be absolute
work="$(mktemp -d "$base/tiles-http.XXXXXX")"
start=$SECONDS

# Offline GOPATH build, as in run_interop.sh (the build cache is shared).
export GO111MODULE=off GOPATH="$here/go:/usr/share/gocode" GOCACHE="$base/gocache" \
  GOFLAGS='' GOPROXY=off GOENV=off CGO_ENABLED=0
gotool="$work/infratrail_interop"
echo "run_tiles_http: $(go version); $("$nginx" -v 2>&1); work dir $work"
go build -o "$gotool" infratrail_interop || fatal "go build infratrail_interop (work dir $work)"

# shellcheck source=tests/interop/checks.sh
source "$here/checks.sh"
leg_failed=([setup]=0 [server]=0 [nginx]=0)
leg=setup

# http_get URL: prints the status code, then the response headers, one per
# line, lower-cased names. curl if present, else bash's /dev/tcp.
http_get() {
  if command -v curl >/dev/null 2>&1; then
    curl -s -o /dev/null -D - --max-time 10 "$1" | tr -d '\r' |
      awk 'NR==1 {print $2; next} /:/ {i=index($0, ":"); print tolower(substr($0, 1, i-1)) substr($0, i)}'
    return
  fi
  local rest="${1#http://}"
  local hostport="${rest%%/*}" path="/${rest#*/}"
  exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" >&3
  tr -d '\r' <&3 | sed '/^$/q' |
    awk 'NR==1 {print $2; next} /:/ {i=index($0, ":"); print tolower(substr($0, 1, i-1)) substr($0, i)}'
  exec 3<&-
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 40000))
}

# Processes this script started and has not yet waited for.
server_pid=
declare -A nginx_running=()
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null
  for p in "${!nginx_running[@]}"; do kill "$p" 2>/dev/null; done
}
trap cleanup EXIT

# start_nginx NAME ROOT: serves ROOT through the snippet on a free loopback
# port, in the foreground of a background job; sets nginx_port and
# nginx_pid. nginx keeps everything it writes under $work/nginx-NAME.
start_nginx() {
  local dir="$work/nginx-$1" root="$2" status
  mkdir -p "$dir"
  for _ in 1 2 3 4 5; do  # another process may take the port first
    nginx_port="$(free_port)"
    cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $dir/client_body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  types { }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$nginx_port;
    root $root;
    include $snippet;
  }
}
EOF
    "$nginx" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" 2>>"$dir/stderr" &
    nginx_pid=$!
    nginx_running[$nginx_pid]=1
    for _ in $(seq 1 100); do
      status="$(http_get "http://127.0.0.1:$nginx_port/checkpoint" 2>/dev/null | head -n 1)"
      [ "$status" = 200 ] && return 0
      kill -0 "$nginx_pid" 2>/dev/null || break
      sleep 0.1
    done
    stop_nginx
    grep -q "Address already in use" "$dir/error.log" "$dir/stderr" 2>/dev/null || break
  done
  echo "run_tiles_http: nginx for $root did not answer 200 on /checkpoint:" >&2
  cat "$dir/error.log" "$dir/stderr" >&2 2>/dev/null
  return 1
}

# stop_nginx: stops the instance nginx_pid names.
stop_nginx() {
  kill "$nginx_pid" 2>/dev/null
  wait "$nginx_pid" 2>/dev/null
  unset "nginx_running[$nginx_pid]"
}

# ---- the log: key, server, ready file --------------------------------------
leg=setup
origin=interop.infratrail.example/tiles-http
"$cli" keygen --origin "$origin" --out "$work/log.key" >"$work/log.vkey" ||
  fatal "infratrail keygen (work dir $work)"
"$server_bin" --data-dir "$work/data" --signing-key "$work/log.key" \
  --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 \
  --checkpoint-interval-ms 10 --ready-file "$work/ready.json" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 300); do
  [ -s "$work/ready.json" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ ! -s "$work/ready.json" ]; then
  cat "$work/server.log" >&2
  fatal "infratrail-server did not write its ready file (work dir $work)"
fi
grpc_port="$(sed -nE 's/.*"grpc_port": *([0-9]+).*/\1/p' "$work/ready.json")"
http_port="$(sed -nE 's/.*"http_port": *([0-9]+).*/\1/p' "$work/ready.json")"
[ -n "$grpc_port" ] || fatal "no grpc_port in $(cat "$work/ready.json")"
echo "run_tiles_http: server pid $server_pid, gRPC 127.0.0.1:$grpc_port, HTTP 127.0.0.1:${http_port:-none}"
if [ -z "$http_port" ]; then
  leg=server
  check "ready file names the tiles HTTP port" 1 \
    "no http_port in $(cat "$work/ready.json"): infratrail-server does not serve tiles on --http-addr yet"
fi

nginx_main_pid=
next=0
for n in "${sizes[@]}"; do
  echo "run_tiles_http: tree size $n"
  leg=setup
  awk -v from="$next" -v to="$n" 'BEGIN {
    for (i = from; i < to; i++)
      printf "{\"kind\":\"DEPLOY\",\"occurredAt\":\"2026-01-01T00:00:00Z\",\"resource\":{\"provider\":\"interop\",\"id\":\"svc-%d\"}}\n", i
  }' >"$work/events-$n.jsonl"
  step "add $((n - next)) events, wait for a checkpoint of size $n" 0 \
    "$cli" add --server "127.0.0.1:$grpc_port" --log-key "@$work/log.vkey" --wait \
    --progress never --file "$work/events-$n.jsonl"
  next=$n

  leg=server
  if [ -n "$http_port" ]; then
    step "size $n: verify-http of infratrail-server" 0 \
      "$gotool" verify-http -headers "http://127.0.0.1:$http_port" "@$work/log.vkey" "$n"
  fi

  # The export runs beside the live server and is re-run into the same
  # directory, as `export --follow` does.
  leg=nginx
  step "size $n: export" 0 "$server_bin" export --data-dir "$work/data" --to "$work/export"
  if [ -z "$nginx_main_pid" ]; then
    if start_nginx main "$work/export"; then
      nginx_main_pid=$nginx_pid
      nginx_main_port=$nginx_port
      echo "run_tiles_http: nginx pid $nginx_pid on 127.0.0.1:$nginx_port serving $work/export"
    else
      check "start nginx on the export" 1 "see above"
      break
    fi
  fi
  step "size $n: verify-http of nginx serving the export" 0 \
    "$gotool" verify-http -headers "http://127.0.0.1:$nginx_main_port" "@$work/log.vkey" "$n"
done

# ---- nginx: what the snippet must not serve, and tampered copies -----------
leg=nginx
if [ -n "$nginx_main_pid" ]; then
  url="http://127.0.0.1:$nginx_main_port"
  # Left behind by an export that died between write and rename.
  cp "$work/export/checkpoint" "$work/export/checkpoint.tmp.99999"
  cp "$work/export/tile/0/000" "$work/export/tile/0/000.tmp.99999"
  for p in checkpoint.tmp.99999 tile/0/000.tmp.99999 tile/ tile/0/ tile/entries/ ""; do
    status="$(http_get "$url/$p" | head -n 1)"
    [ "$status" = 404 ]
    check "nginx does not serve /$p" $? "status $status, want 404"
  done
  status="$(http_get "$url/tile/0/000" | grep -c '^access-control-allow-origin: \*$')"
  [ "$status" = 1 ]
  check "nginx sends Access-Control-Allow-Origin: * on a tile" $? "$status such headers"
  # A tile not written yet must not be cached as missing for a year.
  headers="$(http_get "$url/tile/0/x999/999" | tr '\n' ' ')"
  [[ "$headers" == "404 "*"access-control-allow-origin: *"* && "$headers" != *cache-control* ]]
  check "nginx 404 for a tile has Access-Control-Allow-Origin and no Cache-Control" $? "got: $headers"
  nginx_pid=$nginx_main_pid
  stop_nginx

  last=${sizes[-1]}
  for target in tile/0/000 tile/entries/000; do
    copy="$work/tampered-${target//\//-}"
    cp -r "$work/export" "$copy"
    flip_byte "$copy/$target" 10
    if cmp -s "$work/export/$target" "$copy/$target"; then
      check "tamper with $target" 1 "the copy was not changed"
      continue
    fi
    if start_nginx "${target//\//-}" "$copy"; then
      step "verify-http rejects the export with one byte of $target changed" 1 \
        "$gotool" verify-http -headers "http://127.0.0.1:$nginx_port" "@$work/log.vkey" "$last"
      stop_nginx
    else
      check "start nginx on the tampered copy of $target" 1 "see above"
    fi
  done
fi

# ---- stop the server: SIGTERM drains and exits 0 ---------------------------
leg=setup
kill -TERM "$server_pid"
for _ in $(seq 1 300); do
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$server_pid" 2>/dev/null; then
  check "infratrail-server exits on SIGTERM" 1 "still running after 30 s; killed"
  kill -KILL "$server_pid"
  wait "$server_pid" 2>/dev/null
else
  wait "$server_pid"
  rc=$?
  [ "$rc" -eq 0 ]
  check "infratrail-server exits 0 on SIGTERM" $? "exit code $rc; log $work/server.log"
fi
server_pid=

elapsed=$((SECONDS - start))
[ "${leg_failed[setup]}" -eq 0 ] || echo "run_tiles_http: setup (keys, adds, server stop): FAIL (${leg_failed[setup]} checks failed)"
for l in server nginx; do
  if [ "${leg_failed[$l]}" -eq 0 ]; then
    echo "run_tiles_http: $l leg: PASS"
  else
    echo "run_tiles_http: $l leg: FAIL (${leg_failed[$l]} checks failed)"
  fi
done
echo "run_tiles_http: sizes ${sizes[*]}: $passed passed, $failed failed, ${elapsed}s"
if [ "$failed" -ne 0 ]; then
  printf 'run_tiles_http: FAILED: %s\n' "${failures[@]}" >&2
  echo "run_tiles_http: work directory kept: $work" >&2
  exit 1
fi
rm -rf "$work"
echo "run_tiles_http: OK: Go's tlog client reads the log from infratrail-server and from nginx"
exit 0
