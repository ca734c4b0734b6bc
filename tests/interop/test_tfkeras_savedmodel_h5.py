"""Out of a tf-keras SavedModel (issue #15.3): `keras64 convert savedmodel/ --to legacy-h5` writes
a float64 full-model legacy .h5 from keras_metadata.pb's config and the SavedModel's variables.
tf-keras 2.21 opens it for every golden SavedModel (rnn's, saved without traces, by the order
keras64 rebuilds from its object graph), with every float variable float64, the weights the float32 model's widened bit
for bit, and predictions within 1e-6 of the float32 model's (mixed_float16: 2e-3, its float32
reference computes in float16). Keras 3.15 opens it wherever it opens tf-keras's own model.h5 of
the same model; where it does not (a nested model as a layer, MultiHeadAttention's Keras 2
config, a mixed_float16 Keras 2 policy, an unregistered custom layer), it fails on ours the same
way."""
import os
import subprocess
import sys

import numpy as np
import pytest

import interop_support as s
import tfkeras_support as t
from test_tfkeras_reload import check_float64_model

MODELS = t.MODELS
KERAS3_OPENS = ["sequential", "batchnorm", "embedding", "float64"]


def _convert(tmp, model):
    out = tmp / "model64.h5"
    s.run("convert", t.model_dir(model) / "savedmodel", "-o", out, "--to", "legacy-h5", "-q")
    return out


@pytest.fixture(scope="module")
def keras2():
    import make_tfkeras  # tf_keras, with the custom layer registered

    return make_tfkeras.keras


@pytest.mark.parametrize("model", MODELS)
def test_tfkeras_loads_savedmodel_as_float64_h5(keras2, tmp, model):
    check_float64_model(keras2.models.load_model(_convert(tmp, model), compile=False), model)


KERAS3 = r"""
import os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np, keras
path, x_path, out = sys.argv[1:4]
try:
    m = keras.models.load_model(path, compile=False)
except Exception as e:
    print("FAILED", type(e).__name__); sys.exit(0)
x = np.load(x_path)
np.save(out, np.asarray(m(x.astype(np.float64) if x.dtype.kind == "f" else x, training=False)))
print("OK", sorted({str(v.dtype) for v in m.weights}))
"""


def _keras3(tmp, h5, model):
    e = t.model_dir(model) / "expected"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    p = subprocess.run([sys.executable, "-c", KERAS3, str(h5), str(e / "input.npy"),
                        str(tmp / "pred.npy")], capture_output=True, text=True, env=env,
                       timeout=600)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("model", MODELS)
def test_keras3_opens_it_where_it_opens_tfkeras_own_h5(tmp, model):
    h5 = _convert(tmp, model)
    theirs = _keras3(tmp, t.model_dir(model) / "model.h5", model)
    ours = _keras3(tmp, h5, model)  # last, so pred.npy is ours
    assert ours.split()[0] == theirs.split()[0], (ours, theirs)
    assert (ours.startswith("OK")) == (model in KERAS3_OPENS), ours
    if model in KERAS3_OPENS:
        assert ours == "OK ['float64']", ours
        e = t.model_dir(model) / "expected"
        s.assert_close_f64(np.load(tmp / "pred.npy"),
                           np.load(e / "prediction.npy").astype(np.float64), model, rtol=1e-6)
