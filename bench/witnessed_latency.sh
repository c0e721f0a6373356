#!/usr/bin/env bash
# The cost of witnessed publication (docs/benchmarks.md, "Witnessed
# checkpoints"): submit -> published checkpoint latency at RATE events/s
# (RPCs of BATCH events with wait_for_checkpoint), for a server without a
# witness policy and for one whose policy asks three local
# `infratrail-verifier witness` processes for a 2-of-3 quorum. Rounds
# alternate the two (plain, witnessed, plain, ...) on fresh data
# directories, so both see the same machine; the medians of the p50 and p99
# and their ratio are printed last.
#
# Usage: bench/witnessed_latency.sh BUILD_DIR [RATE=10000] [SECONDS=10] [REPEATS=3] [BATCH=100]
# TMPDIR is where the data directories and witness state go (the disk
# being measured). Needs python3 (for the medians).
set -euo pipefail

BUILD=${1:?usage: $0 BUILD_DIR [RATE] [SECONDS] [REPEATS] [BATCH]}
RATE=${2:-10000}
SECS=${3:-10}
REPEATS=${4:-3}
BATCH=${5:-100}
SERVER=$BUILD/server/infratrail-server
CLI=$BUILD/client/infratrail
VERIFIER=$BUILD/verifier/infratrail-verifier
LOADGEN=$BUILD/bench/infratrail-loadgen
for bin in "$SERVER" "$CLI" "$VERIFIER" "$LOADGEN"; do
  [[ -x $bin ]] || { echo "$0: $bin not built" >&2; exit 2; }
done

T=$(mktemp -d -t witnessed-latency.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT

# Polls (bounded) until FILE has a line.
wait_line() {
  for _ in $(seq 1 300); do
    [[ -s $1 ]] && return 0
    sleep 0.1
  done
  echo "$0: nothing in $1" >&2
  cat "${1%.out}.err" >&2 || true
  exit 1
}

# A log key per round (a witness keeps what it cosigned: a fresh data
# directory under the same key would be a fork to it), all known to the
# witnesses from the start.
echo logs/v0 >"$T/logs.txt"
for n in $(seq 1 "$REPEATS"); do
  "$CLI" keygen --origin "bench.example/witnessed-$n" --out "$T/log-$n.key" >"$T/log-$n.vkey"
  printf 'vkey %s\n' "$(tr -d '\n' <"$T/log-$n.vkey")" >>"$T/logs.txt"
done

# Three witnesses, each on its own port, for the whole run.
WITNESSES="$T/witnesses.txt"
: >"$WITNESSES"
for w in w1 w2 w3; do
  "$VERIFIER" witness keygen --name "bench.example/$w" --out "$T/$w.key" >/dev/null
  "$VERIFIER" witness --key "$T/$w.key" --state-dir "$T/$w-state" --listen 127.0.0.1:0 \
    --logs "$T/logs.txt" >"$T/$w.out" 2>"$T/$w.err" &
  PIDS+=($!)
  wait_line "$T/$w.out"
  python3 - "$T/$w.out" "$w" >>"$WITNESSES" <<'EOF'
import json, sys
j = json.loads(open(sys.argv[1]).readline())
print(f"witness {sys.argv[2]} {j['vkey']} http://{j['listening']}")
EOF
done
for n in $(seq 1 "$REPEATS"); do
  {
    printf 'log %s\n' "$(tr -d '\n' <"$T/log-$n.vkey")"
    cat "$WITNESSES"
    printf 'group two-of-three 2 w1 w2 w3\nquorum two-of-three\n'
  } >"$T/policy-$n.txt"
done

# One round: a fresh server (witnessed or not), loadgen, the server stopped.
# Prints loadgen's JSON report on one line.
round() {
  local kind=$1 n=$2 extra=()
  [[ $kind == witnessed ]] && extra=(--witness-policy "$T/policy-$n.txt")
  rm -f "$T/log-$n.key.state"
  "$SERVER" --data-dir "$T/data-$kind-$n" --signing-key "$T/log-$n.key" --grpc-addr 127.0.0.1:0 \
    --http-addr "" --metrics-addr 127.0.0.1:0 --ready-file "$T/ready-$kind-$n" "${extra[@]}" \
    2>"$T/server-$kind-$n.err" &
  local spid=$!
  for _ in $(seq 1 300); do [[ -s $T/ready-$kind-$n ]] && break; sleep 0.1; done
  local port
  port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["grpc_port"])' \
    "$T/ready-$kind-$n")
  "$LOADGEN" --mode checkpoint-latency --rate "$RATE" --batch-size "$BATCH" \
    --server "127.0.0.1:$port" --duration "$SECS" --json |
    python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)))'
  kill -TERM "$spid"
  wait "$spid" || true
  rm -rf "$T/data-$kind-$n"
}

: >"$T/results"
for n in $(seq 1 "$REPEATS"); do
  for kind in plain witnessed; do
    line=$(round "$kind" "$n")
    echo "$kind round $n: $line" >&2
    printf '%s %s\n' "$kind" "$line" >>"$T/results"
  done
done

python3 - "$T/results" <<'EOF'
import json, statistics, sys
rows = {"plain": [], "witnessed": []}
for line in open(sys.argv[1]):
    kind, js = line.split(" ", 1)
    rows[kind].append(json.loads(js))
def lat(r, q):
    l = r.get("latency_ms") or r.get("latency") or {}
    return l.get(q)
out = {}
for kind, rs in rows.items():
    p50 = [lat(r, "p50") for r in rs]
    p99 = [lat(r, "p99") for r in rs]
    eps = [r.get("events_per_s") for r in rs]
    out[kind] = {"p50_ms": p50, "p99_ms": p99, "events_per_s": eps,
                 "median_p50_ms": statistics.median(p50),
                 "median_p99_ms": statistics.median(p99),
                 "median_events_per_s": statistics.median(eps)}
out["p99_ratio_witnessed_to_plain"] = round(
    out["witnessed"]["median_p99_ms"] / out["plain"]["median_p99_ms"], 2)
print(json.dumps(out))
if any(not e for k in ("plain", "witnessed") for e in out[k]["events_per_s"]):
    sys.exit("a round logged nothing: see its server's stderr above")
EOF
