#!/usr/bin/env bash
# deploy/Dockerfile, without a container runtime (none is installable here):
#  - two linters from npm, dockerfilelint and dockerfile-utils, report nothing;
#  - every shared library the built binaries load (ldd) belongs to a Debian
#    package (dpkg -S) that the runtime stage installs, or that one of those
#    depends on (dpkg's Depends/Pre-Depends, followed); and every package
#    listed there provides a library a binary links directly (only runtime
#    libraries), ca-certificates apart;
#  - the build stage installs every -dev package of scripts/install-deps.sh
#    that a Release build of the programs needs;
#  - the image runs as a non-root user, has a volume, exposes the gRPC
#    port, and its HEALTHCHECK is an `infratrail health` command whose
#    flags exist; the binaries it copies are the ones CMake builds.
#   check_dockerfile.sh SOURCE_DIR NODE_DIR SERVER_BIN CLI_BIN VERIFIER_BIN
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/deploy/lib.sh
. "$here/lib.sh"
src="$1"
use_node_modules "$2"
bins=("$3" "$4" "$5")
dockerfile="$src/deploy/Dockerfile"
require_tool ldd libc-bin
require_tool dpkg-query dpkg
require_tool readelf binutils
problems=0
problem() {
  echo "FAIL: $*" >&2
  problems=$((problems + 1))
}

# --- linters
out="$("$NODE_PATH/.bin/dockerfilelint" "$dockerfile" 2>&1)" || problem "dockerfilelint: $out"
out="$("$NODE_PATH/.bin/dockerfile-utils" lint "$dockerfile" 2>&1)" || problem "dockerfile-utils lint: $out"
[ -z "$out" ] || problem "dockerfile-utils lint: $out"

# --- the Dockerfile's instructions: comments dropped, continuations joined,
# each prefixed with its stage number (1 = first FROM).
instructions="$(grep -v '^[[:space:]]*#' "$dockerfile" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta' |
  awk '/^FROM[[:space:]]/ { stage++ } NF { print stage "\t" $0 }')"
stages="$(awk -F'\t' '{ print $1 }' <<< "$instructions" | sort -n | tail -n 1)"
[ "$stages" = 2 ] || problem "expected 2 stages (build, runtime), found $stages"
grep -qP '^1\tFROM debian:bookworm AS build$' <<< "$instructions" ||
  problem "the build stage must be FROM debian:bookworm AS build"
grep -qP '^2\tFROM debian:bookworm-slim$' <<< "$instructions" ||
  problem "the runtime stage must be FROM debian:bookworm-slim"
# The packages `apt-get install` installs in stage $1, one per line.
apt_packages() {
  awk -F'\t' -v s="$1" '$1 == s && $2 ~ /^RUN / { print $2 }' <<< "$instructions" |
    grep -oP 'apt-get install\K[^&;]*' | tr ' ' '\n' | grep -v -e '^-' -e '^$' | sort -u
}
mapfile -t build_pkgs < <(apt_packages 1)
mapfile -t runtime_pkgs < <(apt_packages 2)
[ "${#runtime_pkgs[@]}" -gt 0 ] || problem "the runtime stage installs no packages"

# --- build stage: the -dev packages of install-deps.sh, but those of the
# benchmarks, the sanitizers' runtime and the Go interop tests, which the
# image does not build.
mapfile -t dev_pkgs < <(sed -n '/^PACKAGES=(/,/^)/p' "$src/scripts/install-deps.sh" |
  grep -v '^[[:space:]]*#' | tr ' ' '\n' | grep -- '-dev$' |
  grep -v -x -e libbenchmark-dev -e 'libclang-rt-.*-dev' -e 'golang-.*-dev' | sort -u)
[ "${#dev_pkgs[@]}" -gt 10 ] || problem "found only ${#dev_pkgs[@]} -dev packages in install-deps.sh"
for p in "${dev_pkgs[@]}"; do
  printf '%s\n' "${build_pkgs[@]}" | grep -qx -- "$p" ||
    problem "the build stage does not install $p (scripts/install-deps.sh has it)"
done

# --- runtime stage against the binaries' libraries.
# Which package owns each library the binaries load: one dpkg-query for
# all of them (it reads every file list per call), under both usrmerge names.
declare -A owner=()
mapfile -t libs < <(for bin in "${bins[@]}"; do [ -x "$bin" ] && ldd "$bin"; done |
  awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u)
candidates=()
for lib in "${libs[@]}"; do
  real="$(readlink -f "$lib")"
  candidates+=("$lib" "$real" "${lib#/usr}" "/usr$lib" "${real#/usr}" "/usr$real")
done
while IFS= read -r line; do
  owner["${line#*: }"]="${line%%:*}"
done < <(dpkg-query -S "${candidates[@]}" 2> /dev/null || true)
package_of() {  # the package owning library path $1
  local lib="$1" real p
  real="$(readlink -f "$lib")"
  for p in "$lib" "$real" "${lib#/usr}" "/usr$lib" "${real#/usr}" "/usr$real"; do
    [ -n "${owner[$p]:-}" ] && { echo "${owner[$p]}"; return 0; }
  done
  return 1
}
declare -A closure=()
queue=("${runtime_pkgs[@]}")
while [ "${#queue[@]}" -gt 0 ]; do
  p="${queue[0]}"
  queue=("${queue[@]:1}")
  [ -z "${closure[$p]:-}" ] || continue
  closure[$p]=1
  deps="$(dpkg-query -W -f='${Depends}, ${Pre-Depends}' "$p" 2> /dev/null)" || continue
  while IFS= read -r d; do
    # First alternative, without version or architecture qualifiers.
    d="$(sed -e 's/|.*//' -e 's/(.*)//' -e 's/:.*//' -e 's/[[:space:]]//g' <<< "$d")"
    [ -n "$d" ] && queue+=("$d")
  done < <(tr ',' '\n' <<< "$deps")
done
declare -A direct=()
for bin in "${bins[@]}"; do
  [ -x "$bin" ] || { problem "$bin: not built"; continue; }
  mapfile -t needed < <(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  while read -r name arrow path _; do
    [ "$arrow" = "=>" ] || continue
    if [ "$path" = "not" ]; then problem "$bin: $name not found by ldd"; continue; fi
    if ! pkg="$(package_of "$path")"; then problem "$bin: no Debian package owns $path"; continue; fi
    [ -n "${closure[$pkg]:-}" ] ||
      problem "$(basename "$bin") loads $name ($path) from package $pkg, which the runtime stage neither installs nor gets as a dependency of what it installs"
    if printf '%s\n' "${needed[@]}" | grep -qx -- "$name"; then direct[$pkg]=1; fi
  done < <(ldd "$bin")
done
for p in "${runtime_pkgs[@]}"; do
  [ "$p" = ca-certificates ] || [ -n "${direct[$p]:-}" ] ||
    problem "the runtime stage installs $p, which no binary links directly"
done

# --- the image itself.
grep -qP '^2\tUSER (?!0\b|root\b)\S+' <<< "$instructions" || problem "the runtime stage must set a non-root USER"
grep -qP '^2\tVOLUME ' <<< "$instructions" || problem "no VOLUME for the data"
grep -qP '^2\tEXPOSE .*\b7400\b' <<< "$instructions" || problem "EXPOSE does not include 7400 (gRPC)"
for bin in "${bins[@]}"; do
  rel="$(basename "$(dirname "$bin")")/$(basename "$bin")"
  grep -qF "/build/$rel" "$dockerfile" || problem "the build stage does not copy /build/$rel"
done
health="$(grep -oP '^2\tHEALTHCHECK .*\bCMD \K.*' <<< "$instructions" || true)"
if [ -z "$health" ]; then
  problem "no HEALTHCHECK ... CMD in the runtime stage"
else
  # Environment variables stand for one value each; the optional flags
  # variable is empty by default.
  # shellcheck disable=SC2016 # the sed patterns match a literal $NAME
  read -r -a argv <<< "$(sed -e 's/\$INFRATRAIL_HEALTH_FLAGS//' -e 's/"\$[A-Z_]*"/VALUE/g' <<< "$health")"
  [ "${argv[0]} ${argv[1]:-}" = "infratrail health" ] || problem "HEALTHCHECK is not \`infratrail health\`: $health"
  bindir="$(bin_dir "$3" "$4" "$5")"
  trap 'rm -rf "$bindir"' EXIT
  node "$here/check_flags.js" "$bindir" -- "${argv[@]}" || problem "HEALTHCHECK uses a flag infratrail health lacks"
fi

[ "$problems" -eq 0 ] || fail "$problems problem(s) in deploy/Dockerfile"
echo "PASS: deploy/Dockerfile (${#runtime_pkgs[@]} runtime packages cover the libraries of ${#bins[@]} binaries)"
