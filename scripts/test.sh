#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it:
#   1. install dependencies (idempotent),
#   2. optimised build with -Wall -Wextra -Werror, every test (unit, known
#      answers, Go interop),
#   3. AddressSanitizer + UndefinedBehaviorSanitizer build, every test again.
# Set INFRATRAIL_SKIP_SANITIZERS=1 to skip step 3 while iterating locally.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
jobs="$(nproc)"

echo "== release build and tests"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build --parallel "$jobs"
ctest --test-dir build --output-on-failure --parallel "$jobs"

if [ "${INFRATRAIL_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "== ASan + UBSan build and tests"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DINFRATRAIL_SANITIZE=ON \
    -DINFRATRAIL_BENCHMARKS=OFF
  cmake --build build-asan --parallel "$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure --parallel "$jobs"
fi
