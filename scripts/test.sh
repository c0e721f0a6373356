#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it:
#   1. install dependencies (idempotent),
#   2. Release build with GCC and -Wall -Wextra -Werror, every test (unit,
#      known answers, Go interop, end-to-end, kill -9 crash), then
#      scripts/lint.sh (clang-format, clang-tidy) over that build,
#   3. clang libFuzzer build of the parsers, a bounded seeded fuzz run; the
#      same clang build compiles the programs with -Wthread-safety as errors,
#   4. ThreadSanitizer build (GCC, with Debian's abseil rebuilt instrumented
#      by scripts/tsan-absl.sh) running the concurrency tests that need no
#      gRPC: sequencer, group commit, checkpoint publisher, log, tile cache,
#      tree reader, the monitor's tree auditor and its fetch pipeline, the
#      HTTP transport (suspended answers from other threads) and the
#      witness (racing add-checkpoint callers, the group-committed journal)
#      and ingest's reader-to-sender pipe, and the console's event index
#      (searches while the monitor writes).
#      (Debian's gRPC is not instrumented either, and its lock-free
#      internals are reported as races in its own memory, so the log
#      service, batch writer and crash tests are not run under TSan.)
#   5. AddressSanitizer + UndefinedBehaviorSanitizer build, every test again
#      but the deploy/ checks, the docs smoke test and the web console's
#      JavaScript tests (label release_only).
# Set INFRATRAIL_SKIP_SANITIZERS=1 to skip steps 3 to 5 while iterating locally.
#
# The builds go through ccache (installed by install-deps): paths are made
# relative to the clone (CCACHE_BASEDIR, and no working directory in the
# hash), so a clean clone anywhere reuses what an earlier run compiled from
# the same sources. ccache compiles normally when it cannot cache.
# lint.sh caches clang-tidy's clean results the same way (scripts/tidy_cached.py).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
jobs="$(nproc)"
if command -v ccache > /dev/null && [ -z "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ]; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache CMAKE_C_COMPILER_LAUNCHER=ccache
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
fi

echo "== release build and tests"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DINFRATRAIL_WERROR=ON
cmake --build build --parallel "$jobs"
ctest --test-dir build --output-on-failure --parallel "$jobs"

echo "== lint"
./scripts/lint.sh

if [ "${INFRATRAIL_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "== libFuzzer smoke run (clang, ASan + UBSan)"
  CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DINFRATRAIL_SANITIZE=ON -DINFRATRAIL_FUZZ=ON -DINFRATRAIL_BENCHMARKS=OFF -DINFRATRAIL_WERROR=ON
  # The same clang build checks the thread-safety annotations
  # (-Wthread-safety -Werror=thread-safety) of everything the programs link.
  cmake --build build-fuzz --parallel "$jobs" --target parsers_fuzz event_json_fuzz entry_validation_fuzz monitor_fuzz policy_fuzz witness_fuzz \
    ingest_fuzz \
    infratrail-server infratrail infratrail-verifier
  (cd build-fuzz && ctest --output-on-failure -R '_fuzz_smoke$')
fi

if [ "${INFRATRAIL_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "== ThreadSanitizer build, concurrency tests"
  ./scripts/tsan-absl.sh build-tsan/absl
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINFRATRAIL_TSAN=ON \
    -DINFRATRAIL_WERROR=ON -DINFRATRAIL_BENCHMARKS=OFF -DCMAKE_PREFIX_PATH="$PWD/build-tsan/absl"
  cmake --build build-tsan --parallel "$jobs" --target sequencer_test group_commit_test \
    checkpoint_publisher_test log_test tile_cache_test tree_reader_test monitor_test \
    http_server_test witness_test witness_collector_test postgres_storage_test event_pipe_test \
    event_index_test
  # Only these suites are built; halt_on_error makes a report fail its test.
  TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp ignore_noninstrumented_modules=1 halt_on_error=1" \
    LD_LIBRARY_PATH="$PWD/build-tsan/absl/lib" \
    ctest --test-dir build-tsan --output-on-failure --parallel "$jobs" -R \
    '^(SequencerTest|AppliedOrNot/SequencerFailureTest|SplitSizes/SequencerRestartTest|GroupCommit|PublisherTest|LogTest|TileCache|TreeReader|TreeAuditorTest|HttpServerTest|WitnessTest|WitnessStoreTest|WitnessCollectorTest|GossipTest|TwoMonitorsTest|PostgresStorageTest|EventPipeTest|EventIndexTest)\.'
fi

if [ "${INFRATRAIL_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "== ASan + UBSan build and tests"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DINFRATRAIL_SANITIZE=ON -DINFRATRAIL_WERROR=ON \
    -DINFRATRAIL_BENCHMARKS=OFF
  cmake --build build-asan --parallel "$jobs"
  # release_only: the deploy/ checks (tests/deploy), which inspect the
  # Release binaries' libraries and flags, the docs smoke test (tests/docs),
  # which runs the programs the end-to-end tests already run here, and the web
  # console's verifier tests (tests/console), which run no C++; none
  # exercises code paths of its own.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure --parallel "$jobs" -LE release_only
fi
