#!/usr/bin/env bash
# Configures and builds keras64 (Release with debug info) into ./build. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build build -j"$(nproc)"
