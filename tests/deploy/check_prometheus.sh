#!/usr/bin/env bash
# deploy/prometheus-rules.yml: `promtool check rules`, its unit tests
# (`promtool test rules deploy/prometheus-rules.test.yml`), that every
# alert has a test in which it fires and one in which it must not
# (exp_alerts: []), and a section of its name in docs/playbook.md.
#   check_prometheus.sh SOURCE_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/deploy/lib.sh
. "$here/lib.sh"
deploy="$1/deploy"
require_tool promtool "prometheus (Debian's package provides promtool)"

promtool check rules "$deploy/prometheus-rules.yml" || fail "promtool check rules"
(cd "$deploy" && promtool test rules prometheus-rules.test.yml) || fail "promtool test rules"

mapfile -t alerts < <(sed -n 's/^ *- alert: *\([A-Za-z0-9_]*\).*/\1/p' "$deploy/prometheus-rules.yml")
[ "${#alerts[@]}" -gt 0 ] || fail "no alerts found in prometheus-rules.yml"
# One line per alert_rule_test: "<alertname> empty" or "<alertname> alerts".
cases="$(awk '
  /^ *alertname:/ { name = $2; next }
  /^ *exp_alerts: *\[\]/ && name != "" { print name, "empty"; name = ""; next }
  /^ *exp_alerts: *$/ && name != "" { print name, "alerts"; name = "" }
' "$deploy/prometheus-rules.test.yml")"
missing=0
for a in "${alerts[@]}"; do
  grep -qx "$a alerts" <<< "$cases" || { echo "FAIL: $a has no test where it fires" >&2; missing=1; }
  grep -qx "$a empty" <<< "$cases" || { echo "FAIL: $a has no test where it must not fire" >&2; missing=1; }
  grep -qx "### $a" "$1/docs/playbook.md" || { echo "FAIL: $a has no section in docs/playbook.md" >&2; missing=1; }
done
[ "$missing" -eq 0 ] || fail "alerts without a firing and a not-firing test, or a playbook section"
echo "PASS: ${#alerts[@]} alerts, each with a firing and a not-firing test and a playbook section"
