#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install dependencies, build,
# then run a log end to end:
#   1. generate a log signing key (infratrail keygen),
#   2. start infratrail-server on embedded RocksDB (loopback, ephemeral ports),
#   3. emit demo infrastructure events with the CLI, waiting for a signed
#      checkpoint and writing one verified .tlog-proof receipt per event,
#   4. verify a receipt offline with infratrail-verifier,
#   5. stop the server with SIGTERM (it drains and exits 0).
# Everything it creates lives under build/demo/ (removed at the start).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build --parallel "$(nproc)" --target infratrail infratrail-server infratrail-verifier

bin=build
demo=build/demo
rm -rf "$demo"
mkdir -p "$demo/receipts"

echo "== 1. log key"
vkey=$("$bin/client/infratrail" keygen --origin demo.infratrail.example/log --out "$demo/log.key")
echo "$vkey" > "$demo/log.vkey"
echo "verifier key: $vkey"

echo "== 2. server"
"$bin/server/infratrail-server" --data-dir "$demo/data" --signing-key "$demo/log.key" \
  --grpc-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 --ready-file "$demo/ready.json" \
  2> "$demo/server.log" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  [ -s "$demo/ready.json" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$demo/server.log"; exit 1; }
  sleep 0.1
done
grpc_port=$(sed -E 's/.*"grpc_port":([0-9]+).*/\1/' "$demo/ready.json")
metrics_port=$(sed -E 's/.*"metrics_port":([0-9]+).*/\1/' "$demo/ready.json")
echo "server pid $server_pid, gRPC 127.0.0.1:$grpc_port, metrics 127.0.0.1:$metrics_port"

echo "== 3. emit demo events"
"$bin/client/infratrail" add --server "127.0.0.1:$grpc_port" --file scripts/demo-events.jsonl \
  --wait --log-key "@$demo/log.vkey" --receipt-dir "$demo/receipts" | tee "$demo/added.jsonl"

echo "== 4. verify a receipt offline"
last=$(tail -n 1 "$demo/added.jsonl")
index=$(echo "$last" | sed -E 's/.*"index":([0-9]+).*/\1/')
leaf=$(echo "$last" | sed -E 's/.*"leaf_hash":"([^"]+)".*/\1/')
echo "receipt $demo/receipts/$index.tlog-proof:"
sed 's/^/    /' "$demo/receipts/$index.tlog-proof"
"$bin/verifier/infratrail-verifier" verify --log-key "@$demo/log.vkey" \
  --proof "$demo/receipts/$index.tlog-proof" --leaf-hash "$leaf"

echo "== 5. stop (SIGTERM drains)"
kill -TERM "$server_pid"
wait "$server_pid"
trap - EXIT
echo "server exited cleanly; log: $demo/server.log"
