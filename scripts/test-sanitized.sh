#!/usr/bin/env bash
# The whole C++ and CLI test suite again, built by clang with AddressSanitizer +
# UndefinedBehaviorSanitizer (any report fails the run); with gcc in scripts/test.sh, both
# compilers build every commit. The Python module is left out: loading an ASan library into an
# uninstrumented interpreter needs LD_PRELOAD tricks that prove nothing about keras64; so are the
# package tests (an install tree and consumer builds: scripts/test.sh's gcc build covers them,
# and they hold no keras64 code of their own to instrument).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
CC=clang CXX=clang++ cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKERAS64_SANITIZER="address;undefined" \
  -DKERAS64_BUILD_PYTHON=OFF >/dev/null
cmake --build build-asan -j"$(nproc)"
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:strict_string_checks=1"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd build-asan
ctest --output-on-failure -j"$(nproc)" -LE "python|package" "$@"
