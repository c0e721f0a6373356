#!/usr/bin/env bash
# clang-format check over every C++ file of the project, and clang-tidy
# (.clang-tidy's small strict set) over the programs' and libraries' sources:
# tests are formatted but not tidied, which halves the run. Needs a configured
# build/ (compile_commands.json) and its generated protobuf headers.
#
# clang-tidy runs through scripts/tidy_cached.py, which skips a unit whose
# clean result is already known (clang-tidy over every unit takes ~22 minutes
# on 2 cores; a run after a small change checks only the units it touches).
# A unit's cache key covers the clang-tidy version, .clang-tidy, the unit's
# compile commands and its whole preprocessed text (every header it includes,
# comments and macros too), with the clone's path taken out, so a clean clone
# anywhere reuses an earlier run's results. Only clean units are cached; a
# failing one is checked, and reported, on every run. The cache is
# $INFRATRAIL_TIDY_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/infratrail/clang-tidy;
# INFRATRAIL_TIDY_CACHE=off checks every unit.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cc' '*.h' | grep -v '^tests/testdata/')
clang-format --dry-run --Werror "${files[@]}"
mapfile -t units < <(printf '%s\n' "${files[@]}" | grep '\.cc$' |
  grep -v -e '^fuzz/' -e '^tests/' -e '_test\.cc$' -e '/testing/')
# The build's GCC-only flags (-Wno-error=restrict) are not clang's business.
# The diagnostics of failing units go to the log, the summary to stderr.
scripts/tidy_cached.py -p build -quiet -j "$(nproc)" -extra-arg=-Wno-unknown-warning-option \
  "${units[@]}" > build/clang-tidy.log ||
  { echo "clang-tidy failed (full output: build/clang-tidy.log):"
    grep -E "(warning|error):" build/clang-tidy.log | sort -u; exit 1; }
