# Shared by the witness interop scripts (sourced, not run): the offline Go
# build of infratrail_witness_interop, starting and stopping
# `infratrail-verifier witness`, and the HTTP checks of C2SP tlog-witness.
#
# Before sourcing, a script sets `tag` (its name in messages), `verifier`
# (the infratrail-verifier binary, may be empty for Go-only scripts) and
# `base` (its WORK_BASE). Sourcing creates `work`, a fresh directory under
# WORK_BASE, builds `gotool` in it and sources tests/interop/checks.sh
# (step, check, passed, failed). `finish` removes `work` on success and keeps
# it on failure.
# shellcheck shell=bash

tag="${tag:?set by the sourcing script}"
base="${base:?set by the sourcing script}"
witness_lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
interop_dir="$(cd "$witness_lib_dir/../interop" && pwd)"
xmod=/usr/share/gocode/src/golang.org/x/mod/sumdb

fatal() {
  echo "$tag: FAIL: $*" >&2
  if [ -n "${work:-}" ]; then echo "$tag: work directory kept: $work" >&2; fi
  exit 1
}

command -v go >/dev/null 2>&1 || fatal "'go' is not installed; run scripts/install-deps.sh"
if [ ! -d "$xmod/note" ] || [ ! -d "$xmod/tlog" ]; then
  fatal "golang.org/x/mod is not in /usr/share/gocode; run scripts/install-deps.sh (package golang-golang-x-mod-dev)"
fi
if [ -n "${verifier:-}" ]; then
  [ -x "$verifier" ] || fatal "$verifier is not an executable"
  command -v curl >/dev/null 2>&1 || fatal "curl is not installed"
  command -v python3 >/dev/null 2>&1 || fatal "python3 is not installed"
fi

mkdir -p "$base"
base="$(cd "$base" && pwd)" # GOCACHE must be absolute
work="$(mktemp -d "$base/$tag.XXXXXX")"
start_time=$SECONDS

# Offline GOPATH build, as in tests/interop/run_interop.sh (the build cache
# is shared by concurrent runs).
export GO111MODULE=off GOPATH="$interop_dir/go:/usr/share/gocode" GOCACHE="$base/gocache" \
  GOFLAGS='' GOPROXY=off GOENV=off CGO_ENABLED=0
gotool="$work/infratrail_witness_interop"
echo "$tag: $(go version); work dir $work"
go build -o "$gotool" infratrail_witness_interop || fatal "go build infratrail_witness_interop"

# shellcheck source=tests/interop/checks.sh
source "$interop_dir/checks.sh"

witness_pid=
witness_drain_pid=
witness_runs=0
witness_url=
requests=0

# shellcheck disable=SC2317  # run by the EXIT trap
witness_cleanup() {
  if [ -n "$witness_pid" ]; then
    kill -KILL "$witness_pid" 2>/dev/null
    wait "$witness_pid" 2>/dev/null
    witness_pid=
  fi
}
trap witness_cleanup EXIT

# finish WHAT: prints the summary; exits 0 (work removed) or 1 (work kept).
finish() {
  witness_cleanup
  echo "$tag: $passed passed, $failed failed, $((SECONDS - start_time))s"
  if [ "$failed" -ne 0 ]; then
    printf '%s: FAILED: %s\n' "$tag" "${failures[@]}" >&2
    echo "$tag: work directory kept: $work" >&2
    exit 1
  fi
  rm -rf "$work"
  echo "$tag: OK: $1"
  exit 0
}

# show FILE: the first bytes of FILE on one line, newlines as "\n".
show() {
  if [ ! -s "$1" ]; then
    printf '(empty)'
    return
  fi
  printf '"%s"' "$(head -c 160 "$1" | sed -z 's/\n/\\n/g')"
  [ "$(wc -c <"$1")" -le 160 ] || printf '...'
}

sha256hex() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# note_text FILE: a checkpoint note's text (up to its blank line).
note_text() { sed '/^$/q' "$1"; }

# keygen NAME: `witness keygen`; sets witness_key, witness_name, witness_vkey.
keygen() {
  witness_key="$work/witness.key"
  witness_name="$1"
  "$verifier" witness keygen --name "$1" --out "$witness_key" >"$work/keygen.out" 2>"$work/keygen.err"
  local rc=$?
  witness_vkey="$(head -n 1 "$work/keygen.out")"
  [ "$rc" -eq 0 ] && [ -s "$witness_key" ]
  check "witness keygen --name $1: exit 0, vkey $witness_vkey" $? \
    "exit code $rc; stdout $(show "$work/keygen.out"); stderr $(show "$work/keygen.err")"
  [ "$rc" -eq 0 ] || fatal "no witness key, nothing else can run"
}

# start_witness STATE_DIR LOGS [ARG]...: starts the witness and waits for
# its one stdout line (through a fifo, at most 30 s); sets witness_url.
# Returns 1 if it did not start.
start_witness() {
  local state="$1" logs="$2"
  shift 2
  witness_runs=$((witness_runs + 1))
  local n=$witness_runs
  local fifo="$work/witness.$n.fifo" out="$work/witness.$n.out" err="$work/witness.$n.err"
  mkfifo "$fifo" || fatal "mkfifo $fifo"
  "$verifier" witness --key "$witness_key" --state-dir "$state" --listen 127.0.0.1:0 \
    --logs "$logs" "$@" >"$fifo" 2>"$err" &
  witness_pid=$!
  local fd line=
  exec {fd}<"$fifo"
  IFS= read -r -t 30 line <&"$fd"
  local rc=$?
  printf '%s\n' "$line" >"$out"
  # The rest of stdout is kept, to check at stop that there was one line.
  cat <&"$fd" >>"$out" &
  witness_drain_pid=$!
  exec {fd}<&-
  if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
    local why="stdout closed without a line"
    [ "$rc" -le 128 ] || why="no stdout line within 30 s"
    check "witness run $n started" 1 "$why; stderr: $(show "$err")"
    witness_cleanup
    wait "$witness_drain_pid"
    return 1
  fi
  local fields
  fields="$(python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert isinstance(d, dict), "not a JSON object"
for k in ("listening", "name", "vkey"):
    assert isinstance(d.get(k), str), "no string field %r" % k
    print(d[k])
' "$line" 2>&1)"
  rc=$?
  local addr name vkey
  { read -r addr; read -r name; read -r vkey; } <<<"$fields"
  [ "$rc" -eq 0 ] && [[ "$addr" =~ ^127\.0\.0\.1:[1-9][0-9]*$ ]] &&
    [ "$name" = "$witness_name" ] && [ "$vkey" = "$witness_vkey" ]
  rc=$?
  check "witness run $n listening on $addr as $name (state ${state##*/})" $rc \
    "first stdout line '$line'; want {\"listening\":\"127.0.0.1:PORT\",\"name\":\"$witness_name\",\"vkey\":\"$witness_vkey\"} ($fields)"
  if [ "$rc" -ne 0 ]; then
    witness_cleanup
    return 1
  fi
  witness_url="http://$addr"
}

# stop_witness: SIGTERM, then the witness must exit 0 within 15 s, having
# printed one stdout line in all.
stop_witness() {
  [ -n "$witness_pid" ] || return 0
  local n=$witness_runs rc
  kill -TERM "$witness_pid"
  local deadline=$((SECONDS + 15))
  while kill -0 "$witness_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.1
  done
  if kill -0 "$witness_pid" 2>/dev/null; then
    witness_cleanup
    check "witness run $n exits on SIGTERM" 1 "still running 15 s after SIGTERM; killed"
  else
    wait "$witness_pid"
    rc=$?
    witness_pid=
    [ "$rc" -eq 0 ]
    check "witness run $n exits 0 on SIGTERM" $? "exit code $rc; stderr: $(show "$work/witness.$n.err")"
  fi
  wait "$witness_drain_pid"
  local lines
  lines="$(wc -l <"$work/witness.$n.out")"
  [ "$lines" -eq 1 ]
  check "witness run $n printed one stdout line" $? "$lines lines: $(show "$work/witness.$n.out")"
}

# post LABEL BODY_FILE: POST /add-checkpoint; sets http_code, http_ctype and
# resp (the file holding the response body).
post() {
  requests=$((requests + 1))
  resp="$work/resp.$requests"
  local out
  out="$(curl -sS -o "$resp" -w '%{http_code} %{content_type}' --max-time 30 \
    --data-binary @"$2" "$witness_url/add-checkpoint" 2>"$resp.curl")"
  http_code="${out%% *}"
  http_ctype="${out#* }"
  [ -n "$http_code" ] || http_code="(no response: $(head -c 200 "$resp.curl"))"
  cp "$2" "$work/req.$requests"
}

# get_checkpoint ORIGIN_HASH: GET /<hash>/checkpoint; sets http_code and resp.
get_checkpoint() {
  requests=$((requests + 1))
  resp="$work/resp.$requests"
  http_code="$(curl -sS -o "$resp" -w '%{http_code}' --max-time 30 \
    "$witness_url/$1/checkpoint" 2>"$resp.curl")"
  [ -n "$http_code" ] || http_code="(no response: $(head -c 200 "$resp.curl"))"
}

# expect_post LABEL BODY_FILE CODE [CONTENT_TYPE BODY_TEXT]: the response
# has that status (and media type and exact body). With CODE 200, the
# response must be cosignature lines that verify-cosig accepts.
expect_post() {
  local label="$1" body="$2" want="$3"
  post "$label" "$body"
  local saw ok=0 why=
  saw="HTTP $http_code, Content-Type '$http_ctype', body $(show "$resp")"
  if [ "$http_code" != "$want" ]; then
    ok=1 why="want HTTP $want"
  elif [ $# -ge 5 ]; then
    local mt="${http_ctype%%;*}"
    if [ "${mt,,}" != "$4" ]; then
      ok=1 why="want Content-Type $4"
    elif [ "$(cat "$resp"; printf x)" != "$(printf '%s' "$5"; printf x)" ]; then
      ok=1 why="want body $(printf '%s' "$5" | sed -z 's/\n/\\n/g')"
    fi
  fi
  if [ "$ok" -ne 0 ]; then
    check "$label: HTTP $want" 1 "saw $saw; $why (request $work/req.$requests)"
    return 1
  fi
  check "$label: $saw" 0
  if [ "$want" = 200 ]; then
    step "$label: cosignature verifies" 0 "$gotool" verify-cosig "$witness_vkey" "$body" "$resp"
  fi
}

# expect_served LABEL ORIGIN_HASH SENT_NOTE SNAPSHOT: GET .../checkpoint
# serves SENT_NOTE's text with SENT_NOTE's log signature lines (LOGSIG_FILE,
# one a line) and a cosignature from the witness; saves it to SNAPSHOT.
expect_served() {
  local label="$1" hash="$2" sent="$3" logsig="$4" snap="$5"
  get_checkpoint "$hash"
  if [ "$http_code" != 200 ]; then
    check "$label: GET /$hash/checkpoint HTTP 200" 1 "saw HTTP $http_code, body $(show "$resp")"
    return 1
  fi
  cp "$resp" "$snap"
  [ "$(note_text "$snap")" = "$(note_text "$sent")" ]
  check "$label: GET serves the checkpoint $(note_text "$sent" | sed -n 2p)" $? \
    "served $(show "$snap"), want the text of $(show "$sent")"
  local missing=0 line
  while IFS= read -r line; do
    grep -Fxq -- "$line" "$snap" || missing=$((missing + 1))
  done <"$logsig"
  [ "$missing" -eq 0 ]
  check "$label: served checkpoint keeps the log signature" $? \
    "$missing log signature line(s) of $logsig missing from $(show "$snap")"
  step "$label: served checkpoint carries a verifying cosignature" 0 \
    "$gotool" verify-cosig "$witness_vkey" "$snap"
}

# expect_unchanged LABEL ORIGIN_HASH SNAPSHOT: GET .../checkpoint is
# byte-identical to SNAPSHOT (or 404 if SNAPSHOT is "none").
expect_unchanged() {
  local label="$1" hash="$2" snap="$3"
  get_checkpoint "$hash"
  if [ "$snap" = none ]; then
    [ "$http_code" = 404 ]
    check "$label: GET checkpoint still 404" $? "saw HTTP $http_code, body $(show "$resp")"
    return
  fi
  [ "$http_code" = 200 ] && cmp -s "$resp" "$snap"
  check "$label: GET checkpoint unchanged" $? \
    "saw HTTP $http_code, body $(show "$resp"); want $(show "$snap") ($snap)"
}

# refuse LABEL ORIGIN_HASH SNAPSHOT BODY_FILE CODE [CONTENT_TYPE BODY_TEXT]:
# the witness refuses BODY_FILE and its state does not change.
refuse() {
  local label="$1" hash="$2" snap="$3"
  shift 3
  expect_post "$label" "$@"
  expect_unchanged "$label" "$hash" "$snap"
}
