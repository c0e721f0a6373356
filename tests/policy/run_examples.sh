#!/usr/bin/env bash
# The worked examples of docs/policy.md, run as the docs say: each policy
# passes `policy check`, each events-pass file gives exit 0 and each
# events-fail file exit 1 with exactly the findings listed here (rule,
# requirement, index), so the docs cannot drift from what the code does.
#
#   run_examples.sh VERIFIER_BIN CLI_BIN EXAMPLES_DIR
set -euo pipefail
verifier=$1 cli=$2 examples=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$examples"/. "$work"/
failed=0

# findings FILE: "rule requirement index severity" per line, sorted.
findings() {
  python3 -c 'import json,sys
for l in open(sys.argv[1]):
    f=json.loads(l); print(f["rule"], f["requirement"], f["index"], f["severity"])' "$1" | sort
}

# expect NAME WANT_RC POLICY EVENTS EXPECTED [policy test flags...]
expect() {
  local name=$1 want=$2 policy=$3 events=$4 expected=$5
  shift 5
  local rc=0
  "$verifier" policy test --policy "$policy" --events "$events" "$@" >"$work/out" 2>"$work/err" || rc=$?
  local got
  got=$(findings "$work/out")
  if [ "$rc" != "$want" ] || [ "$got" != "$(printf '%s' "$expected" | sort)" ]; then
    echo "FAIL $name: exit $rc (want $want)"
    echo "--- got:"; echo "$got"; echo "--- want:"; printf '%s\n' "$expected" | sort
    cat "$work/err"
    failed=1
  else
    echo "ok   $name"
  fi
}

# 1. The IaC repository and database access.
d=$work/iac-audit
"$d/make-repo.sh" >"$work/repo.out"
grep -q "main:       b06fdb81e53eb0a0631c020b13d8cbe07e86e721" "$work/repo.out" ||
  { echo "FAIL make-repo.sh made other commit ids:"; cat "$work/repo.out"; failed=1; }
"$verifier" policy check "$d/policy.yaml"
expect iac-audit/pass 0 "$d/policy.yaml" "$d/events-pass.jsonl" \
  "db-access notify 4 NOTICE"
expect iac-audit/fail 1 "$d/policy.yaml" "$d/events-fail.jsonl" \
  "aws-changes-from-iac via 0 ALERT
aws-changes-from-iac source_in_repo 0 ALERT
aws-changes-from-iac source_in_repo 1 ALERT
aws-changes-from-iac source_in_repo 2 ALERT
lifecycle deprovision_follows_provision 3 ALERT
db-access-needs-ticket ticket 4 ALERT
db-access notify 4 NOTICE"

# The documented pipe: events on standard input give the same findings.
rc=0
"$verifier" policy test --policy "$d/policy.yaml" --events - <"$d/events-fail.jsonl" \
  >"$work/stdin.out" 2>"$work/err" || rc=$?
"$verifier" policy test --policy "$d/policy.yaml" --events "$d/events-fail.jsonl" \
  >"$work/file.out" 2>/dev/null || true
if [ "$rc" != 1 ] || [ "$(findings "$work/stdin.out")" != "$(findings "$work/file.out")" ]; then
  echo "FAIL iac-audit/stdin: exit $rc, or other findings than from --events FILE"
  cat "$work/err"; failed=1
else
  echo "ok   iac-audit/stdin"
fi

# 2. Deploys of rebuildable images only.
d=$work/deploy-digests
"$verifier" policy check "$d/policy.yaml"
expect deploy-digests/pass 0 "$d/policy.yaml" "$d/events-pass.jsonl" ""
expect deploy-digests/fail 1 "$d/policy.yaml" "$d/events-fail.jsonl" \
  "deploy-rebuildable artifact_digest_in 0 ALERT
deploy-rebuildable via 1 ALERT
deploy-rebuildable artifact_digest_in 2 ALERT"

# 3. Key recovery with two approvers.
d=$work/key-recovery
for who in security legal; do
  "$cli" keygen --origin "approver-$who.example.org" --out "$d/approver-$who.key" \
    >"$d/approver-$who.vkey"
done
"$cli" keygen --origin "someone-else.example.org" --out "$d/someone-else.key" >/dev/null
"$verifier" policy check "$d/policy.yaml"
expect key-recovery/two 0 "$d/policy.yaml" "$d/events.jsonl" "" \
  --sign-key "$d/approver-security.key" --sign-key "$d/approver-legal.key"
expect key-recovery/one 1 "$d/policy.yaml" "$d/events.jsonl" \
  "recovery-two-approvers signatures 0 ALERT" --sign-key "$d/approver-security.key"
expect key-recovery/stranger 1 "$d/policy.yaml" "$d/events.jsonl" \
  "recovery-two-approvers signatures 0 ALERT" \
  --sign-key "$d/approver-security.key" --sign-key "$d/someone-else.key"

# A broken policy names file, line and column, and exits 2.
printf 'version: 1\nrules:\n  - id: x\n    match: {kind: [ACESS]}\n    notify: true\n' >"$work/bad.yaml"
rc=0
"$verifier" policy check "$work/bad.yaml" 2>"$work/err" || rc=$?
if [ "$rc" != 2 ] || ! grep -q "bad.yaml:4:" "$work/err"; then
  echo "FAIL policy check of a bad kind: exit $rc"; cat "$work/err"; failed=1
else
  echo "ok   policy check names $(head -c 200 "$work/err")"
fi
exit $failed
