#!/usr/bin/env bash
# Every metric the alert rules (deploy/prometheus-rules.yml) and the Grafana
# dashboard (deploy/grafana/infratrail.json) query must be one the programs
# really export. The names are scraped from a server (with a witness
# policy, after a few writes), a witness that cosigned for it and a monitor
# that audited it, all started here on loopback; check_metric_names.js then
# compares every expression with them (and checks the dashboard's JSON).
#   check_metrics.sh SOURCE_DIR NODE_DIR SERVER_BIN CLI_BIN VERIFIER_BIN
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/deploy/lib.sh
. "$here/lib.sh"
src="$1"
use_node_modules "$2"
server_bin="$3" cli_bin="$4" verifier_bin="$5"
require_tool curl curl

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# wait_for FILE PID LOG: until FILE has content (20 s at most).
wait_for() {
  for _ in $(seq 1 200); do
    [ -s "$1" ] && return 0
    kill -0 "$2" 2> /dev/null || { cat "$3" >&2; fail "process $2 exited before writing $1"; }
    sleep 0.1
  done
  cat "$3" >&2
  fail "$1 did not appear within 20 s"
}
scrape() { curl -sf --max-time 5 "http://$1/metrics"; }

vkey="$("$cli_bin" keygen --origin metrics.infratrail.test/log --out "$work/log.key")"
"$verifier_bin" witness keygen --name witness.metrics.test/w1 --out "$work/w1.key" > "$work/w1.vkey"
printf 'logs/v0\nvkey %s\n' "$vkey" > "$work/logs.txt"
"$verifier_bin" witness --key "$work/w1.key" --state-dir "$work/w1" --listen 127.0.0.1:0 \
  --logs "$work/logs.txt" > "$work/w1.out" 2> "$work/w1.log" &
pids+=($!)
wait_for "$work/w1.out" "${pids[-1]}" "$work/w1.log"
witness_addr="$(sed -E 's/.*"listening":"([^"]+)".*/\1/' "$work/w1.out")"
printf 'log %s\nwitness w1 %s http://%s\nquorum w1\n' "$vkey" "$(cat "$work/w1.vkey")" \
  "$witness_addr" > "$work/policy.txt"

"$server_bin" --data-dir "$work/data" --signing-key "$work/log.key" \
  --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 \
  --witness-policy "$work/policy.txt" --ready-file "$work/ready.json" 2> "$work/server.log" &
pids+=($!)
wait_for "$work/ready.json" "${pids[-1]}" "$work/server.log"
port() { sed -E "s/.*\"$1\":([0-9]+).*/\\1/" "$work/ready.json"; }
grpc="127.0.0.1:$(port grpc_port)"
"$cli_bin" add --server "$grpc" --kind deploy --resource-id vm-1 --actor ci --wait \
  --witness-policy "$work/policy.txt" > /dev/null || fail "infratrail add failed"
"$cli_bin" add --server "$grpc" --kind deploy --resource-id vm-1 --actor ci \
  > /dev/null || fail "infratrail add (a duplicate) failed"
curl -sf "http://127.0.0.1:$(port http_port)/checkpoint" > /dev/null || fail "GET /checkpoint failed"

# The monitor follows the log, and a second log that is down: its fetch
# errors and its staleness finding make the labelled families that exist
# only once something happened (findings, operational errors) appear. It
# cannot say which port it bound, so it tries free-looking ones.
other_vkey="$("$cli_bin" keygen --origin down.infratrail.test/log --out "$work/other.key")"
monitor_metrics=""
for _ in 1 2 3 4 5; do
  p=$((20000 + RANDOM % 40000))
  ! (exec 3<> "/dev/tcp/127.0.0.1/$p") 2> /dev/null || continue
  cat > "$work/monitor.toml" << TOML
state_dir = "$work/monitor"
interval = "1s"
stale_after = "1s"
metrics_addr = "127.0.0.1:$p"
[[log]]
url = "http://127.0.0.1:$(port http_port)/"
key = "$vkey"
witness_policy = "$work/policy.txt"
[[log]]
url = "http://127.0.0.1:1/"
key = "$other_vkey"
TOML
  "$verifier_bin" monitor --config "$work/monitor.toml" --progress never \
    > "$work/monitor.out" 2> "$work/monitor.log" &
  pids+=($!)
  for _ in $(seq 1 150); do
    if scrape "127.0.0.1:$p" 2> /dev/null > "$work/monitor.metrics" &&
      grep -q '^infratrail_monitor_rounds_total{.*outcome="clean"' "$work/monitor.metrics" &&
      grep -q '^infratrail_monitor_findings_total{' "$work/monitor.metrics" &&
      grep -q '^infratrail_monitor_operational_errors_total{' "$work/monitor.metrics"; then
      monitor_metrics="127.0.0.1:$p"
      break 2
    fi
    kill -0 "${pids[-1]}" 2> /dev/null || break
    sleep 0.1
  done
  kill "${pids[-1]}" 2> /dev/null || true
done
[ -n "$monitor_metrics" ] || { cat "$work/monitor.log" >&2; fail "the monitor did not complete a round, or report its findings and errors, with metrics"; }

{
  scrape "127.0.0.1:$(port metrics_port)" || fail "scraping the server failed"
  scrape "$witness_addr" || fail "scraping the witness failed"
  scrape "$monitor_metrics" || fail "scraping the monitor failed"
} > "$work/metrics.txt"
# Family names (# TYPE lines) and sample names.
{
  sed -n 's/^# TYPE \([a-zA-Z_:][a-zA-Z0-9_:]*\) .*/\1/p' "$work/metrics.txt"
  grep -v '^#' "$work/metrics.txt" | sed -n 's/^\([a-zA-Z_:][a-zA-Z0-9_:]*\).*/\1/p'
} | sort -u > "$work/names.txt"
echo "$(wc -l < "$work/names.txt") metric names exported by the server, the witness and the monitor"
node "$here/check_metric_names.js" "$work/names.txt" "$src/deploy/prometheus-rules.yml" \
  "$src/deploy/grafana/infratrail.json" || fail "deploy/ queries metrics that do not exist (see above)"
