#!/usr/bin/env bash
# clang-format check and clang-tidy (.clang-tidy's small strict set) over the
# project's own C++ sources. Needs a configured build/ (compile_commands.json).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cc' '*.h' | grep -v '^tests/testdata/')
clang-format --dry-run --Werror "${files[@]}"
mapfile -t units < <(printf '%s\n' "${files[@]}" | grep '\.cc$' | grep -v '^fuzz/')
clang-tidy -p build --quiet "${units[@]}"
