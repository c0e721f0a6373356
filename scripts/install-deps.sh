#!/usr/bin/env bash
# Installs everything infratrail needs to build and test on Debian 12, from Debian's
# packages only. Idempotent: packages already present are left alone, and apt is not
# touched at all when nothing is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git curl xz-utils
  libssl-dev openssl libabsl-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  librocksdb-dev prometheus-cpp-dev nlohmann-json3-dev libcli11-dev libgoogle-perftools-dev
  libsimdjson-dev libmicrohttpd-dev libcurl4-openssl-dev libtomlplusplus-dev libyaml-cpp-dev libgit2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  golang-go golang-golang-x-mod-dev nginx-light wrk
  clang libclang-rt-14-dev clang-format clang-tidy
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
