#!/usr/bin/env bash
# Installs everything keras64 needs to build and test, from Debian 12's packages only.
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev clang-format clang-tidy
      libhdf5-dev libzip-dev zlib1g-dev libdeflate-dev libisal-dev nlohmann-json3-dev libcli11-dev
      libprotobuf-dev protobuf-compiler libsnappy-dev
      googletest libgtest-dev pybind11-dev python3-dev python3-numpy python3-h5py python3-pytest
      python3-pip python3-setuptools python3-wheel python3-venv)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
