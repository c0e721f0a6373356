#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it:
#   1. install dependencies (idempotent),
#   2. optimised build with -Wall -Wextra -Werror, every test (unit, known
#      answers, Go interop),
#   3. clang libFuzzer build of the parsers, a bounded seeded fuzz run; the
#      same clang build compiles the programs with -Wthread-safety as errors,
#   4. AddressSanitizer + UndefinedBehaviorSanitizer build, every test again.
# Set INFRATRAIL_SKIP_SANITIZERS=1 to skip steps 3 and 4 while iterating locally.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
jobs="$(nproc)"

echo "== release build and tests"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINFRATRAIL_WERROR=ON
cmake --build build --parallel "$jobs"
ctest --test-dir build --output-on-failure --parallel "$jobs"

if [ "${INFRATRAIL_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "== libFuzzer smoke run (clang, ASan + UBSan)"
  CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DINFRATRAIL_SANITIZE=ON -DINFRATRAIL_FUZZ=ON -DINFRATRAIL_BENCHMARKS=OFF -DINFRATRAIL_WERROR=ON
  # The same clang build checks the thread-safety annotations
  # (-Wthread-safety -Werror=thread-safety) of everything the programs link.
  cmake --build build-fuzz --parallel "$jobs" --target parsers_fuzz event_json_fuzz entry_validation_fuzz \
    infratrail-server infratrail infratrail-verifier
  (cd build-fuzz && ctest --output-on-failure -R '_fuzz_smoke$')
fi

if [ "${INFRATRAIL_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "== ASan + UBSan build and tests"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DINFRATRAIL_SANITIZE=ON -DINFRATRAIL_WERROR=ON \
    -DINFRATRAIL_BENCHMARKS=OFF
  cmake --build build-asan --parallel "$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure --parallel "$jobs"
fi
