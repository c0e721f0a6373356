#!/usr/bin/env bash
# Durable append throughput on the PostgreSQL store beside the RocksDB
# store, in one run on one machine (docs/benchmarks.md, "PostgreSQL and
# failover"):
#
#   bench/postgres.sh [ROUNDS] [SECONDS]     # default 3 rounds of 10 s each
#
# Starts its own PostgreSQL (Debian's, initdb + pg_ctl, as `nobody` when run
# as root) on loopback with the settings below, then alternates the two
# stores round by round (a fresh log each round): infratrail-loadgen
# --mode batch (AddEvents of 1000 events, --concurrency in flight, 300-byte
# events with random fields). Prints each round and the medians and their
# ratio. Needs a release build in build/ configured with
# -DINFRATRAIL_BENCHMARKS=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
seconds=${2:-10}
concurrency=${CONCURRENCY:-4}
bin=build
server=$bin/server/infratrail-server
loadgen=$bin/bench/infratrail-loadgen
pgbin=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
work=$(mktemp -d "${TMPDIR:-/tmp}/infratrail-pgbench.XXXXXX")
chmod 755 "$work"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  chown nobody "$work"
  as_pg=(runuser -u nobody --)
fi
cleanup() {
  kill -9 "${server_pid:-}" 2> /dev/null || true
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg" -m immediate -w stop > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The database settings measured: PostgreSQL's defaults where durability is
# concerned (fsync, synchronous_commit, full_page_writes on), with a buffer
# cache and WAL sized for a write-heavy load on this machine.
pg_settings=(shared_buffers=1GB wal_buffers=64MB max_wal_size=4GB checkpoint_timeout=15min
  synchronous_commit=on fsync=on)
pg_port=$((20000 + RANDOM % 20000))
"${as_pg[@]}" "$pgbin/initdb" -D "$work/pg" -U postgres --auth=trust -E UTF8 --locale=C \
  > "$work/initdb.log"
opts="-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$work"
for s in "${pg_settings[@]}"; do opts="$opts -c $s"; done
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w -o "$opts" start > /dev/null
echo "postgres: $("$pgbin/postgres" --version) on 127.0.0.1:$pg_port; ${pg_settings[*]}"

"$bin/client/infratrail" keygen --origin pgbench.infratrail.example/log --out "$work/log.key" \
  > /dev/null

# run STORE ROUND: one fresh log on STORE (rocksdb|postgres), one measured
# loadgen run; prints its events/s.
run() {
  local store=$1 round=$2 where
  rm -f "$work/ready.json" "$work/log.key.state"
  if [ "$store" = postgres ]; then
    "${as_pg[@]}" psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE DATABASE r$round" \
      > /dev/null
    where=(--storage "postgresql://postgres@127.0.0.1:$pg_port/r$round")
  else
    where=(--data-dir "$work/rocks$round")
  fi
  "$server" "${where[@]}" --signing-key "$work/log.key" --grpc-addr 127.0.0.1:0 \
    --http-addr '' --metrics-addr 127.0.0.1:0 --ready-file "$work/ready.json" \
    > /dev/null 2>> "$work/server.log" &
  server_pid=$!
  while [ ! -s "$work/ready.json" ]; do
    kill -0 "$server_pid" 2> /dev/null || { tail "$work/server.log" >&2; exit 1; }
    sleep 0.01
  done
  local port
  port=$(sed -E 's/.*"grpc_port":([0-9]+).*/\1/' "$work/ready.json")
  "$loadgen" --mode batch --concurrency "$concurrency" --batch-size 1000 --random-fields \
    --duration "$seconds" --server "127.0.0.1:$port" > "$work/loadgen.out"
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  sed -nE 's/^throughput: ([0-9]+) events.*/\1/p' "$work/loadgen.out"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

: > "$work/rocksdb.txt"
: > "$work/postgres.txt"
for r in $(seq 1 "$rounds"); do
  p=$(run postgres "$r")
  k=$(run rocksdb "$r")
  echo "round $r: postgres $p events/s, rocksdb $k events/s"
  echo "$p" >> "$work/postgres.txt"
  echo "$k" >> "$work/rocksdb.txt"
done
pm=$(median < "$work/postgres.txt")
km=$(median < "$work/rocksdb.txt")
echo "median of $rounds: postgres $pm events/s, rocksdb $km events/s, ratio $(awk -v p="$pm" -v k="$km" 'BEGIN { printf "%.2f", p / k }')"
