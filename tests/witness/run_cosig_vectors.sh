#!/usr/bin/env bash
# The cosignature/v1 verifier that the witness interop tests rely on
# (infratrail_witness_interop verify-cosig, written from the C2SP spec with
# Go's standard library only) checked against known answers before any
# witness exists: tests/testdata/cosignature_vectors.json (real Armored
# Witness and witness-network cosignatures, sunlight's deterministic test
# keys, spec examples, negatives) and tampered copies of each.
#
#   run_cosig_vectors.sh VECTORS_JSON WORK_BASE
#
# Also checks that the verifier's files do not import golang.org/x/mod.
# Works in its own directory under WORK_BASE, removed on success and kept
# on failure. Exits non-zero on any failure.
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 VECTORS_JSON WORK_BASE" >&2
  exit 2
fi
vectors="$1"
base="$2"
tag=witness-cosig-vectors
verifier=
# shellcheck source=tests/witness/witness_lib.sh
source "$(cd "$(dirname "$0")" && pwd)/witness_lib.sh"

[ -f "$vectors" ] || fatal "$vectors is missing"
src="$interop_dir/go/src/infratrail_witness_interop"
! grep -l '"golang.org/x/mod' "$src/cosig.go" "$src/verifycosig.go" "$src/vectors.go"
check "cosig.go, verifycosig.go, vectors.go use the standard library only" $? \
  "they import golang.org/x/mod"
step "verify-vectors $(basename "$vectors")" 0 "$gotool" verify-vectors "$vectors"

finish "the stdlib cosignature/v1 verifier agrees with every known answer"
