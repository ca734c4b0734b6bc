"""Issue #13 in the interop tier: the real frameworks load keras64's float64 structure-preserving
outputs of the fidelity files (tests/data/fidelity, make_fidelity.py) and hold float64 weights
equal to the widened originals; tf-keras's and Keras 3's own get_weights() order is the order
keras64 lists. Each framework runs in its own subprocess (tf-keras and Keras 3 do not share one)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(os.environ.get("KERAS64_TEST_DATA", Path(__file__).resolve().parents[1] / "data"))
FID = DATA / "fidelity"
CLI = os.environ.get("KERAS64_CLI", str(Path(__file__).resolve().parents[2] / "build" / "tools" / "keras64" / "keras64"))

TFKERAS_LOAD = r"""
import json, sys
import numpy as np
import tf_keras as keras
m = keras.models.load_model(sys.argv[1])
print(json.dumps({"dtypes": sorted({str(w.dtype.name) for w in m.weights}),
                  "weights": [w.tolist() for w in m.get_weights()]}))
"""

KERAS3_LOAD = r"""
import json, os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np
import keras
m = keras.saving.load_model(sys.argv[1])
opt = [str(v.dtype) for v in m.optimizer.variables] if m.optimizer else []
print(json.dumps({"dtypes": sorted({str(w.dtype) for w in m.weights}), "optimizer": opt,
                  "weights": [w.tolist() for w in m.get_weights()],
                  "predict": m.predict(np.ones((2, 3)), verbose=0).dtype.name}))
"""


def run_python(code, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    p = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def expected(name):
    import numpy as np
    info = json.loads((FID / "expected.json").read_text())[name]
    with np.load(FID / info["npz"]) as d:
        return [d[k].astype("float64").tolist() for k in sorted(d.files)]


def convert(src, out, to):
    subprocess.run([CLI, "convert", src, "-o", out, "--to", to, "-q"], check=True)


def test_tfkeras_loads_float64_keras_with_metric_state(tmp_path):
    out = tmp_path / "tfk64.keras"
    convert(FID / "tfk_metrics.keras", out, "keras")
    got = run_python(TFKERAS_LOAD, out)
    assert got["dtypes"] == ["float64"]
    assert got["weights"] == expected("tfk_metrics.keras")


def test_keras3_loads_float64_loss_scale_optimizer_model(tmp_path):
    out = tmp_path / "lso64.keras"
    convert(FID / "k3_lso.keras", out, "keras")
    got = run_python(KERAS3_LOAD, out)
    assert got["dtypes"] == ["float64"] and got["predict"] == "float64"
    assert got["weights"] == expected("k3_lso.keras")
    assert "float64" in got["optimizer"]
