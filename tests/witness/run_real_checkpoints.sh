#!/usr/bin/env bash
# `infratrail-verifier witness` (C2SP tlog-witness v1.0.0) fed real signed
# checkpoints: tests/testdata/real_checkpoints.json (sum.golang.org, Rekor v1
# and v2, Pixel binary transparency, the Armored Witness firmware logs, the
# rome2024h1 static CT log, arche2025h1 staging; Ed25519 0x01, ECDSA 0x02
# and RFC 6962 0x05 log keys, some notes already cosigned by other
# witnesses) and the tessera test log of tests/testdata/tiles_vectors.json.
# real_checkpoints_prep.py writes the logs/v0 list of all of them.
#
#   run_real_checkpoints.sh VERIFIER_BIN WORK_BASE
#
# Witness A: tessera's checkpoints 1..15 in order, each with the RFC 6962
# consistency proof from the previous one (x/mod tlog.ProveTree over the
# leaf hashes), all cosigned; then size 7 is refused (400 with old 15, 409
# "15\n" with old 0). For every production log, its smallest checkpoint is
# cosigned with old 0, and every larger one, sent with old = that size and
# no proof, is refused with 422. Witness B, on a fresh state: every log's
# largest checkpoint is cosigned with old 0, and a smaller one refused (400
# with old = largest, 409 "<largest>\n" with old 0). Then fresh witnesses
# cosign, with old 0, each checkpoint neither A nor B started from, so that
# every real checkpoint (and so every log signature type) is accepted once
# as a first checkpoint. Every cosignature is checked with verify-cosig, and
# after every refusal the served checkpoint is byte-identical. Every run
# works in its own directory under WORK_BASE on ephemeral loopback ports
# (so ctest -j is safe), removed on success and kept for inspection on
# failure. Exits non-zero on any failure.
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 VERIFIER_BIN WORK_BASE" >&2
  exit 2
fi
verifier="$1"
base="$2"
tag=witness-real-checkpoints
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/witness/witness_lib.sh
source "$here/witness_lib.sh"

data="$work/data"
python3 "$here/real_checkpoints_prep.py" "$here/../testdata" "$data" ||
  fatal "real_checkpoints_prep.py could not read the test data"
logs="$data/logs.txt"

declare -a dirs=() origins=() sizes=()
while IFS=$'\t' read -r d o s; do
  dirs+=("$d")
  origins+=("$o")
  sizes+=("$s")
done <"$data/logs.tsv"
[ "${#dirs[@]}" -gt 0 ] || fatal "no production logs in $data/logs.tsv"

# plain_body OLD NOTE OUT: an add-checkpoint body with no proof lines.
plain_body() {
  { printf 'old %s\n\n' "$1"; cat "$2"; } >"$3"
}

declare -A first_accepted=() # "dir size" -> witness run
total=0
for i in "${!dirs[@]}"; do
  read -ra s <<<"${sizes[$i]}"
  total=$((total + ${#s[@]}))
done

# accept_first I SIZE LABEL: the checkpoint SIZE of log I is cosigned with
# old 0 (the witness must not know the log yet) and then served.
accept_first() {
  local d="${dirs[$1]}" o="${origins[$1]}" size="$2" label="$3"
  local note="$data/$d/cp.$size.note" body="$work/$d.first.$size.body"
  plain_body 0 "$note" "$body"
  expect_post "$label: $o size $size, old 0" "$body" 200 || return 1
  expect_served "$label: $o" "$(sha256hex "$o")" "$note" "$data/$d/cp.$size.logsig" \
    "$work/$d.served.$witness_runs"
  first_accepted["$d $size"]=$witness_runs
}

keygen witness.interop.infratrail.example/real-checkpoints

# --- witness A ----------------------------------------------------------------
start_witness "$work/state.A" "$logs" || finish ""

t="$data/tessera"
t_origin="$(cat "$t/origin")"
t_hash="$(sha256hex "$t_origin")"
expect_unchanged "tessera before any checkpoint" "$t_hash" none
prev=0
for size in $(seq 1 15); do
  body="$work/tessera.$prev-$size.body"
  if ! "$gotool" tree-body "$t/leaves.txt" "$prev" "$t/cp.$size.note" >"$body" 2>"$body.err"; then
    check "tessera: body $prev -> $size" 1 "tree-body: $(cat "$body.err")"
    continue
  fi
  expect_post "tessera: old $prev -> $size ($(sed -n '2,/^$/p' "$body" | grep -c .) proof lines)" "$body" 200
  prev=$size
done
expect_served "tessera after 15" "$t_hash" "$t/cp.15.note" "$t/cp.15.logsig" "$work/tessera.served"
plain_body 15 "$t/cp.7.note" "$work/tessera.15-7.body"
refuse "tessera: size 7 with old 15" "$t_hash" "$work/tessera.served" \
  "$work/tessera.15-7.body" 400
plain_body 0 "$t/cp.7.note" "$work/tessera.0-7.body"
refuse "tessera: size 7 with old 0" "$t_hash" "$work/tessera.served" \
  "$work/tessera.0-7.body" 409 text/x.tlog.size $'15\n'

for i in "${!dirs[@]}"; do
  d="${dirs[$i]}" o="${origins[$i]}"
  read -ra s <<<"${sizes[$i]}"
  accept_first "$i" "${s[0]}" "A: smallest" || continue
  snap="$work/$d.served.$witness_runs"
  for size in "${s[@]:1}"; do
    plain_body "${s[0]}" "$data/$d/cp.$size.note" "$work/$d.A.$size.body"
    refuse "A: $o size $size, old ${s[0]} and no proof" "$(sha256hex "$o")" "$snap" \
      "$work/$d.A.$size.body" 422
  done
done
stop_witness

# --- witness B: largest first -----------------------------------------------------
start_witness "$work/state.B" "$logs" || finish ""
for i in "${!dirs[@]}"; do
  d="${dirs[$i]}" o="${origins[$i]}"
  read -ra s <<<"${sizes[$i]}"
  [ "${#s[@]}" -ge 2 ] || continue
  largest="${s[-1]}" smaller="${s[0]}"
  accept_first "$i" "$largest" "B: largest" || continue
  snap="$work/$d.served.$witness_runs"
  plain_body "$largest" "$data/$d/cp.$smaller.note" "$work/$d.B.$smaller.body"
  refuse "B: $o size $smaller, old $largest" "$(sha256hex "$o")" "$snap" \
    "$work/$d.B.$smaller.body" 400
  plain_body 0 "$data/$d/cp.$smaller.note" "$work/$d.B0.$smaller.body"
  refuse "B: $o size $smaller, old 0" "$(sha256hex "$o")" "$snap" \
    "$work/$d.B0.$smaller.body" 409 text/x.tlog.size "$largest"$'\n'
done
stop_witness

# --- fresh witnesses for the checkpoints in between ------------------------------
round=1
while :; do
  todo=()
  for i in "${!dirs[@]}"; do
    read -ra s <<<"${sizes[$i]}"
    if [ "${#s[@]}" -ge $((round + 2)) ]; then todo+=("$i"); fi
  done
  [ "${#todo[@]}" -gt 0 ] || break
  if start_witness "$work/state.C$round" "$logs"; then
    for i in "${todo[@]}"; do
      read -ra s <<<"${sizes[$i]}"
      accept_first "$i" "${s[$round]}" "C$round: checkpoint #$((round + 1))"
    done
    stop_witness
  fi
  round=$((round + 1))
done

[ "${#first_accepted[@]}" -eq "$total" ]
check "every one of the $total real checkpoints was cosigned once as a first checkpoint" $? \
  "only ${#first_accepted[@]}: ${!first_accepted[*]}"

finish "infratrail-verifier witness cosigns real Ed25519, ECDSA and RFC 6962 checkpoints and tessera's log with proofs, and refuses rollbacks"
