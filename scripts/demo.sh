#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install dependencies, build,
# then run a log end to end:
#   1. generate a log signing key (infratrail keygen),
#   2. start infratrail-server on embedded RocksDB (loopback, ephemeral ports),
#   3. emit demo infrastructure events with the CLI, waiting for a signed
#      checkpoint and writing one verified .tlog-proof receipt per event,
#   4. read the checkpoint and an entry bundle over HTTP (C2SP tlog-tiles),
#      and verify a receipt offline with infratrail-verifier,
#   5. audit the whole log as an independent monitor would
#      (infratrail-verifier monitor --once: every entry re-hashed, every
#      tile and the signed root checked, and every event checked against
#      an event policy),
#   6. run a witness (infratrail-verifier witness, C2SP tlog-witness) that
#      cosigns the kept checkpoint, then the latest one with a consistency
#      proof from it, and serves what it cosigned,
#   7. stop the server and the witness with SIGTERM (they drain and exit 0).
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
  --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 \
  --ready-file "$demo/ready.json" \
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
http_port=$(sed -E 's/.*"http_port":([0-9]+).*/\1/' "$demo/ready.json")
echo "server pid $server_pid, gRPC 127.0.0.1:$grpc_port, tiles http://127.0.0.1:$http_port," \
  "metrics 127.0.0.1:$metrics_port"

log=(--server "127.0.0.1:$grpc_port" --log-key "@$demo/log.vkey")
echo "== 3. emit demo events (JSON lines), keep the checkpoint"
"$bin/client/infratrail" add "${log[@]}" --file scripts/demo-events.jsonl \
  --wait --receipt-dir "$demo/receipts" | tee "$demo/added.jsonl"
"$bin/client/infratrail" checkpoint "${log[@]}" > "$demo/checkpoint-before"

echo "== 4. one more event from flags, signed by the pipeline's own emitter key"
"$bin/client/infratrail" keygen --origin ci.demo.example/pipeline --out "$demo/ci.key" \
  > "$demo/ci.vkey"
"$bin/client/infratrail" add "${log[@]}" --sign-key "$demo/ci.key" --wait \
  --receipt-dir "$demo/receipts" --kind deploy --resource-id checkout \
  --resource-type k8s-deployment --provider gke-prod --actor ci@demo.example --via ci \
  --digest sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 \
  --repo github.com/demo/checkout --commit 4f2a9c1 | tee -a "$demo/added.jsonl"
"$bin/client/infratrail" get --server "127.0.0.1:$grpc_port" --from 5

echo "== 5. the log still extends the checkpoint kept at step 3"
"$bin/client/infratrail" consistency "${log[@]}" --old "$demo/checkpoint-before" > /dev/null

echo "== 6. the read path: the same log over plain HTTP (C2SP tlog-tiles)"
# http METHOD PATH: the raw response (bash's /dev/tcp, so no curl is needed).
http() {
  exec 3<> "/dev/tcp/127.0.0.1/$http_port"
  printf '%s %s HTTP/1.0\r\nHost: demo\r\n\r\n' "$1" "$2" >&3
  tr -d '\r' <&3
  exec 3<&-
}
echo "GET /checkpoint:"
http GET /checkpoint | sed '1,/^$/d; s/^/    /'
echo "HEAD /tile/0/000.p/6 (the level-0 hash tile of the 6-entry tree):"
http HEAD /tile/0/000.p/6 | grep -E '^(HTTP|Content-Length|Cache-Control|ETag)' | sed 's/^/    /'

echo "== 7. verify a receipt offline"
last=$(tail -n 1 "$demo/added.jsonl")
index=$(echo "$last" | sed -E 's/.*"index":([0-9]+).*/\1/')
leaf=$(echo "$last" | sed -E 's/.*"leaf_hash":"([^"]+)".*/\1/')
echo "receipt $demo/receipts/$index.tlog-proof:"
sed 's/^/    /' "$demo/receipts/$index.tlog-proof"
"$bin/verifier/infratrail-verifier" verify --log-key "@$demo/log.vkey" \
  --proof "$demo/receipts/$index.tlog-proof" --leaf-hash "$leaf"

echo "== 8. audit the log as an independent monitor (every entry, tile and root re-checked,"
echo "      every event checked against the auditor's event policy; findings on stdout)"
cp scripts/demo-policy.yaml "$demo/policy.yaml"
"$bin/verifier/infratrail-verifier" policy check "$demo/policy.yaml"
"$bin/verifier/infratrail-verifier" monitor --log "http://127.0.0.1:$http_port/" \
  --log-key "@$demo/log.vkey" --state-dir "$demo/monitor" --policy "$demo/policy.yaml" \
  --once --progress never
echo "    monitor: clean; it trusts $(sed -n 's/.*"next": \([0-9]*\).*/\1/p' "$demo/monitor/state.json") entries (state in $demo/monitor)"

echo "== 9. a witness cosigns the log's checkpoints, only along one history (C2SP tlog-witness)"
"$bin/verifier/infratrail-verifier" witness keygen --name witness.demo.example/w1 \
  --out "$demo/witness.key" > "$demo/witness.vkey"
printf 'logs/v0\nvkey %s\n' "$(cat "$demo/log.vkey")" > "$demo/witness-logs.txt"
"$bin/verifier/infratrail-verifier" witness --key "$demo/witness.key" \
  --state-dir "$demo/witness" --listen 127.0.0.1:0 --logs "$demo/witness-logs.txt" \
  > "$demo/witness.out" 2> "$demo/witness.log" &
witness_pid=$!
trap 'kill "$server_pid" "$witness_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  [ -s "$demo/witness.out" ] && break
  kill -0 "$witness_pid" 2>/dev/null || { cat "$demo/witness.log"; exit 1; }
  sleep 0.1
done
witness_port=$(sed -E 's/.*"listening":"127\.0\.0\.1:([0-9]+)".*/\1/' "$demo/witness.out")
echo "witness pid $witness_pid on 127.0.0.1:$witness_port, key $(cat "$demo/witness.vkey")"
# add_checkpoint BODY_FILE: POSTs it to the witness; prints the status line and body.
add_checkpoint() {
  exec 3<> "/dev/tcp/127.0.0.1/$witness_port"
  printf 'POST /add-checkpoint HTTP/1.0\r\nHost: demo\r\nContent-Length: %s\r\n\r\n' \
    "$(wc -c < "$1")" >&3
  cat "$1" >&3
  tr -d '\r' <&3 | sed -n '1p; /^$/,$p' | sed '/^$/d; s/^/    /'
  exec 3<&-
}
old_size=$(sed -n 2p "$demo/checkpoint-before")
{ printf 'old 0\n\n'; cat "$demo/checkpoint-before"; } > "$demo/add-1"
echo "add-checkpoint: old 0 -> $old_size (the checkpoint kept at step 3)"
add_checkpoint "$demo/add-1" | tee "$demo/add-1.reply"
grep -q 'HTTP/1.[01] 200' "$demo/add-1.reply"
"$bin/client/infratrail" checkpoint "${log[@]}" > "$demo/checkpoint-now"
{
  printf 'old %s\n' "$old_size"
  "$bin/client/infratrail" consistency "${log[@]}" --old "$demo/checkpoint-before" \
    --checkpoint "$demo/checkpoint-now"
  printf '\n'
  cat "$demo/checkpoint-now"
} > "$demo/add-2"
echo "add-checkpoint: old $old_size -> $(sed -n 2p "$demo/checkpoint-now") with the log's consistency proof"
add_checkpoint "$demo/add-2" | tee "$demo/add-2.reply"
grep -q 'HTTP/1.[01] 200' "$demo/add-2.reply"
echo "the same request again (its old size is no longer the witness's): 409 with the size"
add_checkpoint "$demo/add-1" | tee "$demo/add-3.reply"
grep -q 'HTTP/1.[01] 409' "$demo/add-3.reply"
origin_hash=$(head -n 1 "$demo/checkpoint-now" | tr -d '\n' | sha256sum | cut -d' ' -f1)
echo "GET /$origin_hash/checkpoint (what monitors compare):"
exec 3<> "/dev/tcp/127.0.0.1/$witness_port"
printf 'GET /%s/checkpoint HTTP/1.0\r\nHost: demo\r\n\r\n' "$origin_hash" >&3
tr -d '\r' <&3 | sed '1,/^$/d; s/^/    /'
exec 3<&-

echo "== 10. stop (SIGTERM drains)"
kill -TERM "$server_pid" "$witness_pid"
wait "$server_pid"
wait "$witness_pid"
trap - EXIT
echo "server and witness exited cleanly; logs: $demo/server.log, $demo/witness.log"
