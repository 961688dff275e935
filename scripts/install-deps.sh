#!/usr/bin/env bash
# Installs the Debian packages sieve builds with, when they are missing. Idempotent: with everything
# present it touches nothing (no apt-get update either). nvcc (CUDA toolkit) is optional: without it
# the build is grammar-only.
set -euo pipefail

need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in cmake g++ make rapidjson-dev libre2-dev googletest libgtest-dev libbenchmark-dev npm; do
  have "$pkg" || need+=("$pkg")
done
# npm may come from a non-Debian node install; only ask for the package when no npm is on the PATH.
if command -v npm >/dev/null 2>&1; then
  need=("${need[@]/npm/}")
fi
pkgs=()
for p in "${need[@]}"; do [ -n "$p" ] && pkgs+=("$p"); done
[ ${#pkgs[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${pkgs[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
