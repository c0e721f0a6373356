#!/usr/bin/env bash
# A/B of the tiles read path: two builds side by side (each its own server, filled
# with 70,000 events), then PAIRS interleaved `wrk -t1 -c64 -dSECONDS` runs per
# resource, old then new, so drift on a shared machine hits both alike. Prints
# each pair and the median new/old ratio per resource.
#
#   bench/ab_tiles.sh OLD_BUILD_DIR NEW_BUILD_DIR [PAIRS] [SECONDS]   # default 10 pairs of 2 s
set -euo pipefail
old=$1; new=$2; pairs=${3:-10}; secs=${4:-2}
w=$(mktemp -d "${TMPDIR:-/tmp}/ab-tiles.XXXXXX")
declare -A http pids
for which in old new; do
  b=${!which}
  mkdir -p $w/$which
  $b/client/infratrail keygen --origin cmp.test/log --out $w/$which/key > /dev/null
  $b/server/infratrail-server --data-dir $w/$which/data --signing-key $w/$which/key --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 --ready-file $w/$which/ready 2> $w/$which/srv.log &
  pids[$which]=$!
  for _ in $(seq 1 100); do [ -s $w/$which/ready ] && break; sleep 0.1; done
  port=$(sed -E 's/.*"grpc_port":([0-9]+).*/\1/' $w/$which/ready)
  http[$which]=$(sed -E 's/.*"http_port":([0-9]+).*/\1/' $w/$which/ready)
  $b/bench/infratrail-loadgen --mode fill --events 70000 --server 127.0.0.1:$port > /dev/null 2>&1
done
sleep 1
for path in /tile/0/000 /checkpoint /tile/entries/000; do
  ratios=()
  for i in $(seq 1 $pairs); do
    o=$(wrk -t1 -c64 -d${secs}s http://127.0.0.1:${http[old]}$path | awk '/Requests\/sec/ {print $2}')
    n=$(wrk -t1 -c64 -d${secs}s http://127.0.0.1:${http[new]}$path | awk '/Requests\/sec/ {print $2}')
    ratios+=($(awk -v n=$n -v o=$o 'BEGIN{printf "%.3f", n/o}'))
    echo "$path pair $i: old $o new $n"
  done
  echo "$path median new/old: $(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
done
kill ${pids[old]} ${pids[new]}; wait || true
rm -rf $w
