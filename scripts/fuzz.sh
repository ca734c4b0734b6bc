#!/usr/bin/env bash
# Runs each libFuzzer harness for SECONDS (default 60) with clang, ASan and UBSan; new crashes
# are written to tests/data/fuzz-regressions/<name>/ so they replay under ctest from then on.
#   scripts/fuzz.sh [SECONDS] [harness ...]        e.g. scripts/fuzz.sh 300 zip
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}; shift || true
scripts/install-deps.sh
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKERAS64_BUILD_FUZZERS=ON -DKERAS64_BUILD_TESTS=OFF -DKERAS64_BUILD_CLI=OFF \
  -DKERAS64_BUILD_PYTHON=OFF -DKERAS64_SANITIZER="address;undefined" >/dev/null
cmake --build build-fuzz -j"$(nproc)"
targets=("$@"); ((${#targets[@]})) || targets=($(ls build-fuzz/fuzz | sed -n 's/^fuzz_\([a-z_0-9]*\)$/\1/p' | grep -v '^replay_'))
status=0
for t in "${targets[@]}"; do
  work=$(mktemp -d); cp -r "fuzz/corpus/$t/." "$work/"
  mkdir -p "tests/data/fuzz-regressions/$t"
  echo "== fuzz_$t for ${secs}s"
  build-fuzz/fuzz/fuzz_$t "$work" -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 \
    -artifact_prefix="tests/data/fuzz-regressions/$t/" -print_final_stats=1 2>&1 | tail -n 4 ||
    { echo "== fuzz_$t found a crash: see tests/data/fuzz-regressions/$t/"; status=1; }
  rm -rf "$work"
done
exit $status
