#!/usr/bin/env bash
# The console in a real browser (docs/console.md): a real server holding
# 10,000 events (every 97th an access without a ticket, one whose
# justification is markup), a monitor with an event policy following its
# tiles with --http-addr, and Debian's Chromium, headless, driven through
# ChromeDriver by browser_test.mjs:
#   the status page, a search by resource, the findings, an event page,
#   "Verify here" says verified, a receipt verifies and the same receipt
#   with one byte of its proof flipped fails, the markup renders as text
#   and runs nothing; screenshots of the pages, checked not blank.
#
#   run_browser_test.sh SERVER_BIN CLI_BIN VERIFIER_BIN WORK_BASE SCREENSHOT_DIR
#
# Works in its own directory under WORK_BASE on ephemeral loopback ports,
# removed on success and kept for inspection on failure.
set -uo pipefail

if [ $# -ne 5 ]; then
  echo "usage: $0 SERVER_BIN CLI_BIN VERIFIER_BIN WORK_BASE SCREENSHOT_DIR" >&2
  exit 2
fi
server_bin="$1" cli="$2" verifier="$3" base="$4" shots="$5"
here="$(cd "$(dirname "$0")" && pwd)"

fatal() {
  echo "run_browser_test: FAIL: $*" >&2
  exit 1
}
for tool in node chromium chromedriver python3; do
  command -v "$tool" >/dev/null 2>&1 || fatal "'$tool' is not installed; run scripts/install-deps.sh"
done

mkdir -p "$base" "$shots"
work="$(mktemp -d "$(cd "$base" && pwd)/console-browser.XXXXXX")"
pids=()
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for WHAT SECONDS COMMAND...: runs COMMAND every 0.2 s until it
# succeeds, at most SECONDS.
wait_for() {
  local what="$1" deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fatal "$what: not within the deadline (work dir $work)"
    sleep 0.2
  done
}

origin="console.test.example"
"$cli" keygen --origin "$origin" --out "$work/log.key" >"$work/log.vkey" 2>"$work/keygen.err" ||
  fatal "keygen: $(cat "$work/keygen.err")"

"$server_bin" --data-dir "$work/data" --signing-key "$work/log.key" --grpc-addr 127.0.0.1:0 \
  --http-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 --ready-file "$work/server.ready" \
  >"$work/server.out" 2>"$work/server.err" &
pids+=($!)
wait_for "the server's ready file" 60 test -s "$work/server.ready"
read -r grpc_port http_port < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(r["grpc_port"], r["http_port"])' "$work/server.ready")

# 10,000 events: resources vm-0..vm-499; every 97th an ACCESS without a
# ticket (an ALERT under the policy below); entry 4242 carries markup.
python3 - "$work/events.jsonl" <<'PY'
import json, sys
kinds = ["PROVISION", "CONFIG_CHANGE", "DEPLOY", "DEPROVISION"]
with open(sys.argv[1], "w") as out:
    for i in range(10000):
        e = {"kind": kinds[i % 4],
             "occurred_at": "2026-11-%02dT%02d:%02d:00Z" % (1 + i % 28, i % 24, i % 60),
             "resource": {"provider": "aws", "type": "vm", "id": "vm-%d" % (i % 500)},
             "actor": {"principal": "deployer-%d@example.com" % (i % 7), "via": "IAC"},
             "ticket": "CHG-%d" % i}
        if i % 97 == 0:
            e["kind"] = "ACCESS"
            del e["ticket"]
        if i == 4242:
            e = {"kind": "ACCESS", "resource": {"provider": "aws", "type": "db", "id": "xss-target"},
                 "actor": {"principal": "mallory"}, "ticket": "INC-1",
                 "justification": "<script>window.__xss=1</script>"
                                  "<img src=x onerror=\"window.__xss=2\">"}
        out.write(json.dumps(e) + "\n")
PY
"$cli" add --server "127.0.0.1:$grpc_port" --file "$work/events.jsonl" \
  >"$work/added.jsonl" 2>"$work/add.err" || fatal "add: $(tail -n 5 "$work/add.err")"
[ "$(wc -l <"$work/added.jsonl")" -eq 10000 ] || fatal "add printed $(wc -l <"$work/added.jsonl") lines"
"$cli" prove --server "127.0.0.1:$grpc_port" --log-key "@$work/log.vkey" --index 4242 \
  --out "$work/4242.tlog-proof" >"$work/prove.out" 2>"$work/prove.err" ||
  fatal "prove: $(cat "$work/prove.err")"

cat >"$work/policy.yaml" <<'YAML'
version: 1
rules:
  - id: access-needs-ticket
    match:
      kind: [ACCESS]
    require:
      ticket: true
YAML
monitor_port="$(free_port)"
"$verifier" monitor --log "http://127.0.0.1:$http_port/" --log-key "@$work/log.vkey" \
  --state-dir "$work/monitor" --policy "$work/policy.yaml" --http-addr "127.0.0.1:$monitor_port" \
  --interval 1s --progress never >"$work/findings.jsonl" 2>"$work/monitor.err" &
pids+=($!)
console="http://127.0.0.1:$monitor_port"
verified() {
  python3 - "$console" <<'PY'
import json, sys, urllib.request
logs = json.load(urllib.request.urlopen(sys.argv[1] + "/api/v1/logs", timeout=5))["logs"]
sys.exit(0 if logs and logs[0]["verified_size"] == 10000 else 1)
PY
}
wait_for "the monitor verifying 10,000 entries" 180 verified

CONSOLE_URL="$console" RECEIPT="$work/4242.tlog-proof" XSS_INDEX=4242 SCREENSHOT_DIR="$shots" \
  WORK_DIR="$work" node --test "$here/browser_test.mjs" || fatal "browser_test.mjs (work dir $work)"

cleanup
pids=()
rm -rf "$work"
echo "run_browser_test: OK"
