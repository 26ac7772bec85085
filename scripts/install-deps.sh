#!/usr/bin/env bash
# Installs the Debian packages sevemu builds and tests with. Idempotent: packages already
# present are skipped, so a second run costs one dpkg query and no network.
set -euo pipefail

# Boost 1.81 rather than Debian's default 1.74: MSM in 1.74 does not compile as C++20
# (see docs/toolchain.md). libboost1.81-dev and libboost1.74-dev conflict; we pick 1.81.
PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache
  clang-14 lld-14 libclang-rt-14-dev
  libssl-dev openssl
  libboost1.81-dev libboost-program-options1.81-dev
  nlohmann-json3-dev doctest-dev libbenchmark-dev
  linux-libc-dev ovmf
  libseccomp-dev golang-go
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
