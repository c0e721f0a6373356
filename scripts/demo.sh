#!/usr/bin/env bash
# The main job: install dependencies, build, and run it.
# Today (before the server lands) that is the verifier's self-check of the
# transparency-log core against known answers.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build --parallel "$(nproc)"
./build/verifier/infratrail-verifier selfcheck
