#!/usr/bin/env bash
# Installs everything infratrail needs to build and test on Debian 12, from Debian's
# packages only. Idempotent: packages already present are left alone, and apt is not
# touched at all when nothing is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git curl xz-utils ccache python3
  libssl-dev openssl libabsl-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  librocksdb-dev prometheus-cpp-dev nlohmann-json3-dev libcli11-dev libgoogle-perftools-dev
  libsimdjson-dev libmicrohttpd-dev libpq-dev postgresql libcurl4-openssl-dev libtomlplusplus-dev libyaml-cpp-dev libgit2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  golang-go golang-golang-x-mod-dev nginx-light wrk
  clang libclang-rt-14-dev clang-format clang-tidy
  # The deploy/ checks (tests/deploy): systemd-analyze, promtool (the
  # prometheus package also installs, and on systemd hosts starts, a
  # Prometheus server), node and npm for the Kubernetes and Dockerfile checks.
  systemd prometheus nodejs npm
  # The console's browser test (tests/console): headless Chromium driven
  # through ChromeDriver.
  chromium chromium-driver
)

missing=()
for p in "${PACKAGES[@]}"; do
  # NodeSource's nodejs package (instead of Debian's) bundles npm and
  # conflicts with Debian's npm package: an npm on PATH is enough.
  if [ "$p" = npm ] && command -v npm > /dev/null; then continue; fi
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
