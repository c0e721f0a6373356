#!/usr/bin/env bash
# clang-format check over every C++ file of the project, and clang-tidy
# (.clang-tidy's small strict set) over the programs' and libraries' sources:
# tests are formatted but not tidied, which halves the run (clang-tidy over
# everything takes ~12 minutes on 2 cores). Needs a configured build/
# (compile_commands.json).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cc' '*.h' | grep -v '^tests/testdata/')
clang-format --dry-run --Werror "${files[@]}"
mapfile -t units < <(printf '%s\n' "${files[@]}" | grep '\.cc$' |
  grep -v -e '^fuzz/' -e '^tests/' -e '_test\.cc$' -e '/testing/')
# run-clang-tidy runs one clang-tidy per core; it takes regexes, so anchor
# each path.
# The build's GCC-only flags (-Wno-error=restrict) are not clang's business.
run-clang-tidy -p build -quiet -j "$(nproc)" -extra-arg=-Wno-unknown-warning-option \
  "${units[@]/#/^$PWD/}" > build/clang-tidy.log 2>&1 ||
  { grep -E "(warning|error):" build/clang-tidy.log | sort -u; exit 1; }
