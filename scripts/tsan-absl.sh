#!/usr/bin/env bash
# Builds Debian 12's own abseil (the exact source of the installed libabsl, with
# Debian's patches) as shared libraries instrumented for ThreadSanitizer, into
# PREFIX (default build-tsan/absl). Idempotent: a finished PREFIX is reused.
#
# Why: Debian's libabsl is not built with -fsanitize=thread, so TSan cannot see
# absl::Mutex lock and unlock (fast path is an atomic in uninstrumented code,
# slow path a raw futex) and reports every access guarded by one as a race.
# gRPC synchronises with absl::Mutex too. The TSan build links these libraries
# and its tests run with LD_LIBRARY_PATH=PREFIX/lib, so our code and gRPC both
# load the instrumented copies (same SONAMEs, same ABI, same options.h).
#
# Downloads three files from deb.debian.org, checked against the SHA-256 sums
# of the bookworm Sources index; nothing else leaves the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="$(realpath -m "${1:-build-tsan/absl}")"

version=20220623.1
debian_revision=1+deb12u2
base=https://deb.debian.org/debian/pool/main/a/abseil
orig="abseil_${version}.orig.tar.gz"
deb="abseil_${version}-${debian_revision}.debian.tar.xz"
declare -A sha256=(
  ["$orig"]=abfe2897f3a30edaa74bc34365afe3c2a3cd012091a97dc7e008f7016adcd5fe
  ["$deb"]=e08490fc7b6f3beca1925953b0c4fb92df2de5e2a01295e4641e2a3d4e528eeb
)

stamp="$prefix/.infratrail-tsan-absl-${version}-${debian_revision}"
if [ -f "$stamp" ]; then
  echo "tsan-absl: reusing $prefix"
  exit 0
fi

installed="$(dpkg-query -W -f='${Version}' libabsl-dev 2>/dev/null || true)"
if [ "$installed" != "${version}-${debian_revision}" ]; then
  echo "tsan-absl: libabsl-dev is '${installed}', this script builds ${version}-${debian_revision};" \
       "update the pinned version and sums from the bookworm Sources index" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for f in "$orig" "$deb"; do
  curl --fail --silent --show-error --location --retry 3 -o "$work/$f" "$base/$f"
  echo "${sha256[$f]}  $work/$f" | sha256sum --check --quiet
done
tar -C "$work" -xzf "$work/$orig"
tar -C "$work" -xJf "$work/$deb"
src="$work/abseil-${version}"
while read -r patch; do
  [ -z "$patch" ] || patch -d "$src" -p1 --quiet < "$work/debian/patches/$patch"
done < "$work/debian/patches/series"

# The installed headers are what everything else was compiled against; the
# instrumented libraries must agree with them on every ABI option.
cmp "$src/absl/base/options.h" /usr/include/absl/base/options.h

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
# Debian's own configuration (debian/rules), plus the sanitizer.
cmake -S "$src" -B "$work/build" -G Ninja "${launcher[@]}" \
  -DCMAKE_CXX_STANDARD=17 -DBUILD_SHARED_LIBS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" \
  -DCMAKE_INSTALL_PREFIX="$prefix" > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" --parallel "$(nproc)" > "$work/build.log" || { tail -50 "$work/build.log"; exit 1; }
cmake --install "$work/build" > /dev/null
touch "$stamp"
echo "tsan-absl: installed in $prefix"
