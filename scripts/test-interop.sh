#!/usr/bin/env bash
# The interop tier: keras64's outputs read by the real frameworks (numpy 1.x and 2.x,
# safetensors, Keras 3 on TensorFlow/JAX/torch, tf-keras), from PyPI. Builds keras64 (as
# scripts/test.sh does), creates or reuses a virtual environment from requirements-interop.txt
# (default .venv-interop in the repo root; KERAS64_INTEROP_VENV overrides), reinstalls only when
# the requirements changed, then runs pytest on tests/interop/. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
scripts/install-deps.sh
scripts/build.sh

venv=${KERAS64_INTEROP_VENV:-$repo/.venv-interop}
req=$repo/requirements-interop.txt
stamp=$venv/.keras64-requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [[ ! -x $venv/bin/python || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "test-interop: installing $req into $venv" >&2
  # Debian's interpreter: the module in build/python is built against it (same ABI).
  [[ -x $venv/bin/python ]] || /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  echo "$want" >"$stamp"
fi

export KERAS64_CLI=$repo/build/keras64
export KERAS64_TEST_DATA=$repo/tests/data
export PYTHONPATH=$repo/build/python${PYTHONPATH:+:$PYTHONPATH}
export TF_CPP_MIN_LOG_LEVEL=2
# pytest exits 5 when it collected nothing: that fails this script too (set -e).
exec "$venv/bin/python" -m pytest -p no:cacheprovider tests/interop/ "$@"
