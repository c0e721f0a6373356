#!/usr/bin/env bash
# The figures docs/operations.md's capacity planning rests on, measured on
# one store filled the documented way (gRPC AddEvents, batches of 1000, 4 in
# flight) with events whose hashes and padding differ per event
# (`infratrail-loadgen --random-fields`), so compression is not flattered:
#
#   bench/capacity.sh [ENTRIES] [EVENT_SIZE]    # default 10000000, 300 bytes
#
# 1. fill to ENTRIES/2, then fill on to ENTRIES while `backup` copies the
#    live store (the backup's time and bytes, and the fill rate beside it);
# 2. restart after kill -9 under load, 3 times (to serving: the ready file);
# 3. stop; the data directory's bytes per entry (du) and fsck's time and SST
#    bytes per column family;
# 4. `export` of the whole tree to a directory, and its bytes;
# 5. `restore` of the half-way backup, then `catch-up` from the export to the
#    full size (the disaster-recovery path), then fsck of the result.
# Prints one line per step and a summary. Needs a release build in build/
# configured with -DINFRATRAIL_BENCHMARKS=ON (for infratrail-loadgen), and
# about 25 GB free in TMPDIR at 10^7 entries of 300 bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
entries=${1:-10000000}
event_size=${2:-300}
half=$((entries / 2))
bin=build
work=$(mktemp -d "${TMPDIR:-/tmp}/infratrail-capacity.XXXXXX")
trap 'kill -9 "${server_pid:-}" "${fill_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
server=$bin/server/infratrail-server
loadgen=$bin/bench/infratrail-loadgen

now() { date +%s.%N; }
elapsed() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.2f", e - s }'; }

# start_server: starts the server on $work/data; sets server_pid, port and
# ready_s (the seconds from exec to the ready file, i.e. to serving).
start_server() {
  rm -f "$work/ready.json"
  local t0
  t0=$(now)
  "$server" --data-dir "$work/data" --signing-key "$work/log.key" \
    --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 \
    --ready-file "$work/ready.json" > /dev/null 2>> "$work/server.log" &
  server_pid=$!
  while [ ! -s "$work/ready.json" ]; do
    kill -0 "$server_pid" 2> /dev/null || { echo "server exited; see its log:" >&2; tail "$work/server.log" >&2; exit 1; }
    sleep 0.01
  done
  ready_s=$(elapsed "$t0" "$(now)")
  port=$(sed -E 's/.*"grpc_port":([0-9]+).*/\1/' "$work/ready.json")
}

fill() { # fill TARGET: appends until the log holds TARGET entries
  "$loadgen" --mode fill --events "$1" --window 1000000 --random-fields \
    --event-size "$event_size" --server "127.0.0.1:$port"
}

"$bin/client/infratrail" keygen --origin capacity.infratrail.example/log --out "$work/log.key" \
  > "$work/log.vkey"
start_server

# 1. Fill, and back up half-way while the fill goes on.
t0=$(now)
fill "$half" > "$work/fill1.txt"
t1=$(now)
echo "fill 0 -> $half: $(elapsed "$t0" "$t1") s"
fill "$entries" > "$work/fill2.txt" &
fill_pid=$!
sleep 2 # let the second half's writes be under way when the backup starts
tb=$(now)
"$server" backup --data-dir "$work/data" --to "$work/backup" --log-key "@$work/log.vkey" \
  > "$work/backup.json"
te=$(now)
echo "backup under load: $(elapsed "$tb" "$te") s, $(du -sb "$work/backup" | cut -f1) bytes on disk: $(cat "$work/backup.json")"
wait "$fill_pid"
fill_pid=
t2=$(now)
echo "fill $half -> $entries (backup beside it): $(elapsed "$t1" "$t2") s"
cat "$work/fill1.txt" "$work/fill2.txt" | grep -E '^fill:' > "$work/windows.txt" || true
echo "fill windows:"
sed 's/^/  /' "$work/windows.txt"

# 2. Restart after kill -9 under load.
restarts=()
for i in 1 2 3; do
  "$loadgen" --mode batch --duration 3 --warmup 0 --server "127.0.0.1:$port" \
    --random-fields --event-size "$event_size" > /dev/null 2>&1 &
  load_pid=$!
  sleep 1.5
  kill -9 "$server_pid"
  wait "$server_pid" 2> /dev/null || true
  wait "$load_pid" 2> /dev/null || true
  start_server
  restarts+=("$ready_s")
  echo "restart $i after kill -9 under load: $ready_s s to serving"
done

# 3. Stop; bytes and fsck.
kill -TERM "$server_pid"
wait "$server_pid" || true
server_pid=
tf=$(now)
"$server" fsck --data-dir "$work/data" --log-key "@$work/log.vkey" > "$work/fsck.txt" 2>&1
tg=$(now)
echo "fsck: $(elapsed "$tf" "$tg") s"
sed 's/^/  /' "$work/fsck.txt"
size=$(sed -nE 's/^fsck: ([0-9]+) entries re-hashed.*/\1/p' "$work/fsck.txt")
data_bytes=$(du -sb "$work/data" | cut -f1)
echo "data directory: $data_bytes bytes for $size entries: $(awk -v b="$data_bytes" -v n="$size" 'BEGIN { printf "%.1f", b / n }') B/entry"

# 4. Export.
tx=$(now)
"$server" export --data-dir "$work/data" --to "$work/export" > /dev/null
ty=$(now)
echo "export: $(elapsed "$tx" "$ty") s, $(du -sb "$work/export" | cut -f1) bytes, $(find "$work/export" -type f | wc -l) files"

# 5. Restore the half-way backup and catch it up from the export.
tr=$(now)
"$server" restore --from "$work/backup" --data-dir "$work/restored" --log-key "@$work/log.vkey" \
  > "$work/restore.json"
ts=$(now)
echo "restore: $(elapsed "$tr" "$ts") s: $(cat "$work/restore.json")"
"$server" catch-up --data-dir "$work/restored" --from "$work/export" --log-key "@$work/log.vkey" \
  > "$work/catchup.json" 2> "$work/catchup.log"
tc=$(now)
echo "catch-up: $(elapsed "$ts" "$tc") s: $(cat "$work/catchup.json")"

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "median restart: $(median "${restarts[@]}") s"
