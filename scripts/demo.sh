#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install dependencies, build,
# then run a log end to end:
#   1. generate a log signing key (infratrail keygen),
#   2. start two witnesses (infratrail-verifier witness, C2SP tlog-witness)
#      and write the log's trust policy (C2SP tlog-policy: both must cosign),
#   3. start infratrail-server on embedded RocksDB (loopback, ephemeral
#      ports) with that policy: it publishes only cosigned checkpoints,
#   4. emit demo infrastructure events with the CLI, waiting for a witnessed
#      checkpoint and writing one verified .tlog-proof receipt per event,
#   5. read the checkpoint and a tile over HTTP (C2SP tlog-tiles), and
#      verify a receipt offline under the policy with infratrail-verifier,
#   6. ingest a Terraform plan (infratrail ingest terraform): one event per
#      resource change, via IAC, deduplicated when ingested again,
#   7. audit the whole log as an independent monitor would
#      (infratrail-verifier monitor --once: every entry re-hashed, every
#      tile and the signed root checked, every event checked against an
#      event policy, the witness quorum required, and each witness's view
#      compared with the monitor's to catch a split view),
#   8. serve the auditor's web console (monitor --http-addr: it rebuilds
#      its event index from the log) and search it over its JSON API,
#   9. stop the server and the witnesses with SIGTERM (they drain, exit 0).
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

# wait_for FILE PID LOG: until FILE has content (10 s at most); if PID
# exits first, shows its LOG and fails.
wait_for() {
  for _ in $(seq 1 100); do
    [ -s "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3"; exit 1; }
    sleep 0.1
  done
  echo "demo: $1 did not appear within 10 s" >&2
  cat "$3"
  exit 1
}

echo "== 2. two witnesses, and the log's trust policy (C2SP tlog-policy)"
printf 'logs/v0\nvkey %s\n' "$vkey" > "$demo/witness-logs.txt"
printf '# demo.infratrail.example/log: both witnesses must cosign\nlog %s\n' "$vkey" \
  > "$demo/policy.txt"
witness_pids=()
trap 'kill "${witness_pids[@]}" 2>/dev/null || true' EXIT
for w in w1 w2; do
  "$bin/verifier/infratrail-verifier" witness keygen --name "witness.demo.example/$w" \
    --out "$demo/$w.key" > "$demo/$w.vkey"
  "$bin/verifier/infratrail-verifier" witness --key "$demo/$w.key" \
    --state-dir "$demo/$w" --listen 127.0.0.1:0 --logs "$demo/witness-logs.txt" \
    > "$demo/$w.out" 2> "$demo/$w.log" &
  witness_pids+=($!)
  wait_for "$demo/$w.out" "${witness_pids[-1]}" "$demo/$w.log"
  addr=$(sed -E 's/.*"listening":"([^"]+)".*/\1/' "$demo/$w.out")
  echo "witness $w pid ${witness_pids[-1]} on $addr, key $(cat "$demo/$w.vkey")"
  printf 'witness %s %s http://%s\n' "$w" "$(cat "$demo/$w.vkey")" "$addr" >> "$demo/policy.txt"
done
printf 'group both all w1 w2\nquorum both\n' >> "$demo/policy.txt"
sed 's/^/    /' "$demo/policy.txt"

echo "== 3. server (publishes only checkpoints both witnesses cosigned)"
"$bin/server/infratrail-server" --data-dir "$demo/data" --signing-key "$demo/log.key" \
  --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 \
  --witness-policy "$demo/policy.txt" --ready-file "$demo/ready.json" \
  2> "$demo/server.log" &
server_pid=$!
trap 'kill "$server_pid" "${witness_pids[@]}" 2>/dev/null || true' EXIT
wait_for "$demo/ready.json" "$server_pid" "$demo/server.log"
grpc_port=$(sed -E 's/.*"grpc_port":([0-9]+).*/\1/' "$demo/ready.json")
metrics_port=$(sed -E 's/.*"metrics_port":([0-9]+).*/\1/' "$demo/ready.json")
http_port=$(sed -E 's/.*"http_port":([0-9]+).*/\1/' "$demo/ready.json")
echo "server pid $server_pid, gRPC 127.0.0.1:$grpc_port, tiles http://127.0.0.1:$http_port," \
  "metrics 127.0.0.1:$metrics_port"

# Every checkpoint the CLI trusts must carry the policy's quorum.
log=(--server "127.0.0.1:$grpc_port" --witness-policy "$demo/policy.txt")
echo "== 4. emit demo events (JSON lines), keep the (witnessed) checkpoint"
"$bin/client/infratrail" add "${log[@]}" --file scripts/demo-events.jsonl \
  --wait --receipt-dir "$demo/receipts" | tee "$demo/added.jsonl"
"$bin/client/infratrail" checkpoint "${log[@]}" > "$demo/checkpoint-before"

echo "== 5. one more event from flags, signed by the pipeline's own emitter key"
"$bin/client/infratrail" keygen --origin ci.demo.example/pipeline --out "$demo/ci.key" \
  > "$demo/ci.vkey"
"$bin/client/infratrail" add "${log[@]}" --sign-key "$demo/ci.key" --wait \
  --receipt-dir "$demo/receipts" --kind deploy --resource-id checkout \
  --resource-type k8s-deployment --provider gke-prod --actor ci@demo.example --via ci \
  --digest sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 \
  --repo github.com/demo/checkout --commit 4f2a9c1 | tee -a "$demo/added.jsonl"
"$bin/client/infratrail" get --server "127.0.0.1:$grpc_port" --from 5

echo "== 6. the log still extends the checkpoint kept at step 4"
"$bin/client/infratrail" consistency "${log[@]}" --old "$demo/checkpoint-before" > /dev/null

echo "== 7. the read path: the same log over plain HTTP (C2SP tlog-tiles)"
# http METHOD PATH: the raw response (bash's /dev/tcp, so no curl is needed).
http() {
  exec 3<> "/dev/tcp/127.0.0.1/$http_port"
  printf '%s %s HTTP/1.0\r\nHost: demo\r\n\r\n' "$1" "$2" >&3
  tr -d '\r' <&3
  exec 3<&-
}
echo "GET /checkpoint (the log's signature, then the two cosignatures):"
http GET /checkpoint | sed '1,/^$/d; s/^/    /'
echo "HEAD /tile/0/000.p/6 (the level-0 hash tile of the 6-entry tree):"
http HEAD /tile/0/000.p/6 | grep -E '^(HTTP|Content-Length|Cache-Control|ETag)' | sed 's/^/    /'

echo "== 8. verify a receipt offline, under the same policy file"
last=$(tail -n 1 "$demo/added.jsonl")
index=$(echo "$last" | sed -E 's/.*"index":([0-9]+).*/\1/')
leaf=$(echo "$last" | sed -E 's/.*"leaf_hash":"([^"]+)".*/\1/')
echo "receipt $demo/receipts/$index.tlog-proof:"
sed 's/^/    /' "$demo/receipts/$index.tlog-proof"
"$bin/verifier/infratrail-verifier" verify --witness-policy "$demo/policy.txt" \
  --proof "$demo/receipts/$index.tlog-proof" --leaf-hash "$leaf"

echo "== 9. ingest what a platform already records: a Terraform plan (terraform show -json)"
echo "      becomes one event per resource change, via IAC, from the pipeline's commit"
"$bin/client/infratrail" ingest terraform "${log[@]}" --file scripts/demo-plan.json \
  --repository https://github.com/demo/infra --commit 4f2a9c1 \
  --pipeline github-actions/demo/infra/17 --wait --receipt-dir "$demo/receipts"
echo "    again: every event is already in the log (the same plan bytes, the same entries)"
"$bin/client/infratrail" ingest terraform "${log[@]}" --file scripts/demo-plan.json \
  --repository https://github.com/demo/infra --commit 4f2a9c1 \
  --pipeline github-actions/demo/infra/17 2>&1 | grep -E '"duplicate":true|records:' | sed 's/^/    /'

echo "== 10. audit the log as an independent monitor (every entry, tile and root re-checked,"
echo "      every event checked against the auditor's event policy, the witness quorum"
echo "      required, each witness's latest cosigned checkpoint proved consistent with"
echo "      the monitor's view; findings on stdout)"
cp scripts/demo-policy.yaml "$demo/event-policy.yaml"
"$bin/verifier/infratrail-verifier" policy check "$demo/event-policy.yaml"
"$bin/verifier/infratrail-verifier" monitor --log "http://127.0.0.1:$http_port/" \
  --witness-policy "$demo/policy.txt" --state-dir "$demo/monitor" \
  --policy "$demo/event-policy.yaml" --once --progress never
echo "    monitor: clean; it trusts $(sed -n 's/.*"next": \([0-9]*\).*/\1/p' "$demo/monitor/state.json") entries (state in $demo/monitor)"

echo "    the log asked each witness for its cosignature (the server's metrics):"
exec 3<> "/dev/tcp/127.0.0.1/$metrics_port"
printf 'GET /metrics HTTP/1.0\r\nHost: demo\r\n\r\n' >&3
tr -d '\r' <&3 | grep -E '^infratrail_cosigning_(requests_total|witness_size_entries)' |
  sed 's/^/    /'
exec 3<&-

echo "== 11. the auditor's web console (monitor --http-addr; docs/console.md)"
console_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin/verifier/infratrail-verifier" monitor --log "http://127.0.0.1:$http_port/" \
  --witness-policy "$demo/policy.txt" --state-dir "$demo/monitor" \
  --policy "$demo/event-policy.yaml" --http-addr "127.0.0.1:$console_port" --progress never \
  > "$demo/console.log" 2>&1 &
console_pid=$!
trap 'kill "$console_pid" "$server_pid" "${witness_pids[@]}" 2>/dev/null || true' EXIT
# console GET PATH: the body of a GET on the console's port.
console() {
  exec 4<> "/dev/tcp/127.0.0.1/$console_port"
  printf 'GET %s HTTP/1.0\r\nHost: demo\r\n\r\n' "$1" >&4
  tr -d '\r' <&4 | sed '1,/^$/d'
  exec 4<&-
}
# The first round rebuilds the event index from the log (--once kept none).
for _ in $(seq 1 100); do
  console /api/v1/events 2>/dev/null | grep -q '"index":0' && break
  sleep 0.1
done
echo "GET /api/v1/events?kind=DEPLOY (the verified deploys, newest first):"
console '/api/v1/events?kind=DEPLOY' | sed 's/},{/},\n{/g; s/^/    /'
echo "    (open http://127.0.0.1:$console_port/ in a browser while it runs)"
kill -TERM "$console_pid"
wait "$console_pid"

echo "== 12. stop (SIGTERM drains)"
kill -TERM "$server_pid"
wait "$server_pid"
kill -TERM "${witness_pids[@]}"
for p in "${witness_pids[@]}"; do wait "$p"; done
trap - EXIT
echo "server and witnesses exited cleanly; logs: $demo/server.log, $demo/w1.log, $demo/w2.log"
