#!/usr/bin/env bash
# Fresh machine -> working keras64: installs dependencies, builds, converts the example Keras
# model in examples/ to float64 (.npy directory and .npz), and reads the result back with numpy.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== keras64 inspect examples/cnn.keras"
build/keras64 inspect examples/cnn.keras
echo
echo "== keras64 convert examples/cnn.keras -o $out/cnn_f64 --to npy"
build/keras64 convert examples/cnn.keras -o "$out/cnn_f64" --to npy
build/keras64 convert examples/cnn.keras -o "$out/cnn_f64.npz" --to npz
build/keras64 convert examples/cnn.keras -o "$out/cnn_f64.keras" --to keras  # Keras loads it as float64
echo
echo "== read back with plain numpy"
/usr/bin/python3 - "$out" <<'PY'
import sys, numpy as np
d = sys.argv[1]
ws = [np.load(f"{d}/cnn_f64/weight_{i}.npy") for i in range(12)]
z = np.load(f"{d}/cnn_f64.npz")
print(f"{len(ws)} arrays, dtypes {sorted({w.dtype.name for w in ws})}, first kernel shape {ws[0].shape}")
print("npz members in get_weights() order:", z.files[:4], "...")
assert all(np.array_equal(a, z[k]) for a, k in zip(ws, z.files))
ref = np.load("tests/data/golden/cnn/expected/weights_f64.npz")  # what real Keras 3.15 produced
assert all(a.tobytes() == ref[k].tobytes() for a, k in zip(ws, ref.files))
print("ok: .npy directory and .npz agree, bit for bit equal to Keras's own float64 weights")
PY
