#!/usr/bin/env bash
# Fresh machine -> every test: installs dependencies, builds, runs the whole ctest suite
# (unit, integration, cli, python). Pass ctest arguments to narrow it, e.g. `-L "unit|cli"`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" "$@" 2>&1 | tee ctest.log
# HDF5 must never print its own diagnostics (they are turned into keras64 errors).
if grep -q "HDF5-DIAG" ctest.log; then echo "HDF5-DIAG output found in test log" >&2; exit 1; fi
