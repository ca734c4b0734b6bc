"""tf-keras 2.21 opens keras64's float64 legacy .h5 of every Keras 2 golden (`keras64 convert
model.h5 --to legacy-h5`): every float variable float64, the weights the float32 model's widened
bit for bit, and predictions within 1e-6 of the float32 model's."""
import numpy as np
import pytest

import interop_support as s
import tfkeras_support as t


@pytest.fixture(scope="module")
def keras2():
    import make_tfkeras  # tf_keras, with the custom layer registered

    return make_tfkeras.keras


def _tolerance(model):
    # mixed_float16 computes in float16: its float32-model prediction is itself ~1e-3 off.
    return 2e-3 if t.manifest(model)["dtype_policy"] == "mixed_float16" else 1e-6


def _load64(keras2, tmp, model, compile):
    out = tmp / "model64.h5"
    s.run("convert", t.model_dir(model) / "model.h5", "-o", out, "--to", "legacy-h5", "-q")
    return keras2.models.load_model(out, compile=compile)


@pytest.mark.parametrize("model", t.MODELS)
def test_tfkeras_loads_float64_legacy_h5(keras2, tmp, model):
    check_float64_model(_load64(keras2, tmp, model, compile=False), model)


def check_float64_model(m, model):
    """A loaded tf-keras model of golden `model` at float64: every float variable float64, the
    weights the float32 model's widened bit for bit, predictions close to the float32 model's."""
    dtypes = {v.name: v.dtype.name for v in m.weights}
    assert all(d == "float64" for d in dtypes.values() if d.startswith(("float", "bfloat"))), dtypes
    for i, (g, w) in enumerate(zip(m.get_weights(), t.expected_f64(model), strict=True)):
        s.assert_bit_equal(g, w, f"{model} weight {i}")
    e = t.model_dir(model) / "expected"
    x = np.load(e / "input.npy")
    pred = m(x.astype(np.float64) if x.dtype.kind == "f" else x, training=False).numpy()
    assert pred.dtype == np.float64
    s.assert_close_f64(pred, np.load(e / "prediction.npy").astype(np.float64), model,
                       rtol=_tolerance(model))
