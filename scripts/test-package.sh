#!/usr/bin/env bash
# keras64 as users get it, on this machine (CI runs it as root on a throwaway machine, after the
# main suite; it leaves the system's packages as it found them):
#   1. add_subdirectory: keras64's source tree inside another project builds (as a library only,
#      the parent's build type left alone) and converts the example model
#   2. cpack -G DEB builds keras64_<v>_<arch>.deb (tool, man page, bash completion; run-time
#      dependencies from dpkg-shlibdeps) and keras64-dev_<v>_<arch>.deb (library, headers, CMake
#      package); apt-get installs both; the installed tool converts the example model, the
#      completion loads, and a find_package(keras64) project builds against /usr; apt-get removes them
#   3. Python: `pip wheel ./python` offline (Debian's setuptools, --no-build-isolation); the wheel
#      installs into a fresh venv, imports with the project's version, `python -m keras64` and the
#      `keras64` script it installs run the tool
# KERAS64_TEST_ISOLATED=1 also builds the wheel the standard way (an isolated build that fetches
# setuptools, cmake, ninja and pybind11 from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/install-deps.sh
scripts/build.sh
version=$(build/keras64 --version | cut -d' ' -f2)
model=$root/examples/cnn.keras
work=$(mktemp -d /tmp/keras64-package.XXXXXX)
installed=()
cleanup() {
  if ((${#installed[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "${installed[@]}" >/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { echo "== $*"; }

step "add_subdirectory consumer"
cmake -DMODE=add_subdirectory -DSOURCE_DIR="$root" -DWORK="$work/subdir" -DMODEL="$model" \
  -DVERSION="$version" -DCLI="$root/build/keras64" -DGENERATOR=Ninja \
  -P tests/package/consumer.cmake

step "cpack -G DEB"
for p in keras64 keras64-dev; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    echo "$p is already installed on this machine: not replacing it" >&2
    exit 1
  fi
done
rm -rf build/packages
(cd build && cpack -G DEB >/dev/null)
arch=$(dpkg --print-architecture)
deb=build/packages/keras64_${version}_${arch}.deb
dev=build/packages/keras64-dev_${version}_${arch}.deb
ls -l "$deb" "$dev"
depends=$(dpkg-deb -f "$deb" Depends)
echo "keras64 Depends: $depends"
for lib in libhdf5 libisal zlib1g libc6 libstdc++6; do
  [[ $depends == *"$lib"* ]] || { echo "keras64.deb does not depend on $lib" >&2; exit 1; }
done

step "apt-get install ./$deb ./$dev"
installed=(keras64 keras64-dev)
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "./$deb" "./$dev" \
  >/dev/null
[[ $(command -v keras64) == /usr/bin/keras64 ]]
[[ $(keras64 --version) == "keras64 $version" ]]
keras64 convert "$model" -o "$work/w.npz" --to npz
keras64 diff "$model" "$work/w.npz"
test -s /usr/share/man/man1/keras64.1
bash --norc --noprofile tests/package/completion_test.sh /usr/share/bash-completion/completions/keras64
cmake -DMODE=find_package -DPREFIX=/usr -DWORK="$work/find_package" -DMODEL="$model" \
  -DVERSION="$version" -DCLI=/usr/bin/keras64 -DGENERATOR=Ninja -P tests/package/consumer.cmake
DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq keras64 keras64-dev >/dev/null
installed=()
if [[ -e /usr/bin/keras64 ]]; then echo "apt-get remove left /usr/bin/keras64" >&2; exit 1; fi

step "Python wheel (offline, Debian's setuptools)"
/usr/bin/python3 -m venv --system-site-packages "$work/build-venv"
"$work/build-venv/bin/pip" wheel -q --no-build-isolation --no-deps -w "$work/wheels" ./python
check_wheel() {  # check_wheel WHEEL: installs it into a fresh venv (numpy from Debian) and runs it
  rm -rf "$work/venv"
  /usr/bin/python3 -m venv --system-site-packages "$work/venv"
  "$work/venv/bin/pip" install -q --no-index --no-deps "$1"
  (cd "$work" && venv/bin/python -c "
import keras64, sys
assert keras64.__version__ == '$version', keras64.__version__
ws = keras64.load('$model')
print('import keras64', keras64.__version__, 'from', keras64.__file__, ':', len(ws), 'tensors')")
  [[ $("$work/venv/bin/python" -m keras64 --version) == "keras64 $version" ]]
  "$work/venv/bin/keras64" convert "$model" -o "$work/py.npz" --to npz -f
  "$work/venv/bin/python" -m keras64 diff "$model" "$work/py.npz"
}
wheel=$(ls "$work"/wheels/keras64-"$version"-*.whl)
echo "$wheel: $(du -h "$wheel" | cut -f1)"
check_wheel "$wheel"

if [[ ${KERAS64_TEST_ISOLATED:-0} == 1 ]]; then
  step "Python wheel (isolated build, requirements from PyPI)"
  rm -rf "$work/wheels"
  "$work/build-venv/bin/pip" wheel -q --no-deps -w "$work/wheels" ./python
  check_wheel "$(ls "$work"/wheels/keras64-"$version"-*.whl)"
fi
echo "package tests: all passed"
