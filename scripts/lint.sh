#!/usr/bin/env bash
# Style and static checks, as CI runs them (.ci/run); fails on any finding:
#   1. every C++ file in git is formatted as .clang-format says (clang-format --dry-run --Werror;
#      fix with `clang-format -i FILE`)
#   2. clang-tidy, with the checks chosen in .clang-tidy, finds nothing in the library (src/)
# Debian 12's clang-format and clang-tidy (14); scripts/install-deps.sh installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h' '*.cc')
echo "clang-format: ${#files[@]} files"
clang-format --dry-run --Werror "${files[@]}"

# clang-tidy reads the compile commands of a configure-only tree of the library (built by clang,
# so every flag is one clang-tidy knows).
CC=clang CXX=clang++ cmake -S . -B build-lint -G Ninja -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
  -DKERAS64_BUILD_TESTS=OFF -DKERAS64_BUILD_PYTHON=OFF -DKERAS64_BUILD_CLI=OFF \
  -DKERAS64_INSTALL=OFF >/dev/null
# The TensorFlow readers include headers protoc generates at build time.
cmake --build build-lint --target keras64_proto >/dev/null
mapfile -t sources < <(git ls-files 'src/*.cpp')
echo "clang-tidy: ${#sources[@]} files"
log=build-lint/clang-tidy.log
# .clang-tidy makes every finding an error, so it fails its file; run-clang-tidy then exits 1.
if ! run-clang-tidy -p build-lint -quiet -j "$(nproc)" "${sources[@]}" >"$log" 2>&1; then
  grep -E "(warning|error):" "$log" >&2 || cat "$log" >&2
  echo "clang-tidy: findings above (full log: $log)" >&2
  exit 1
fi
echo "lint: clang-format and clang-tidy clean"
