"""keras64.save(model) from live models - tf-keras in this process, Keras 3 on TensorFlow, JAX and
torch in one subprocess each - and keras64.load_into(model) back; bfloat16 arrays (ml_dtypes)
through keras64.save / keras64.load, bit-exact."""
import ml_dtypes
import numpy as np
import pytest

import interop_support as s
import keras64
import tfkeras_support as t


@pytest.fixture(scope="module")
def keras2():
    import make_tfkeras  # tf_keras, with the custom layer registered

    return make_tfkeras.keras


@pytest.mark.parametrize("model", t.MODELS)
def test_tfkeras_model_save_and_load_into(keras2, tmp, model):
    m = keras2.models.load_model(t.model_dir(model) / "model.h5", compile=False)
    keras64.save(m, tmp / "w.npz")
    keras64.save(m.weights, tmp / "v.npz")  # the tf.Variables themselves
    want = t.expected_f64(model)
    for f in ("w.npz", "v.npz"):
        with np.load(tmp / f) as d:
            got = [d[k] for k in d.files]
        assert len(got) == len(want)
        for i, (g, w) in enumerate(zip(got, want)):
            s.assert_bit_equal(g, w, f"{model} {f} tensor {i}")
    fresh = keras2.models.clone_model(m)  # same architecture, new initial values
    report = keras64.load_into(fresh, tmp / "w.npz")
    assert report["exact"]
    for i, (g, w) in enumerate(zip(fresh.get_weights(), t.expected(model), strict=True)):
        s.assert_bit_equal(g, w, f"{model} loaded tensor {i}")


@pytest.mark.parametrize("backend", s.BACKENDS)
def test_keras3_live_model_save_and_load_into(tmp, backend):
    r = s.python_json(s.VENV_PYTHON, s.HERE / "keras3_live_worker.py", tmp,
                      env=s.backend_env(backend))
    assert r["backend"] == backend
    assert "bfloat16" in r["dtypes"] and "float32" in r["dtypes"], r["dtypes"]
    assert r["model"] == r["want"], "keras64.save(model) differs from get_weights() widened"
    assert r["native"] == r["want"], f"keras64.save of {r['native_types']} differs"
    assert r["model_names"] == r["paths"]
    assert r["load_into_exact"]
    assert r["loaded"] == r["want_original"]
    assert r["prediction_equal"]


def _bf16_patterns():
    return np.arange(1 << 16, dtype=np.uint16).view(ml_dtypes.bfloat16)


def _signalling_nan(a):
    bits = a.view(np.uint16)
    return ((bits & 0x7F80) == 0x7F80) & ((bits & 0x7F) != 0) & ((bits & 0x40) == 0)


@pytest.mark.parametrize("form", ["npz", "npy", "memmap", "safetensors"])
def test_every_bfloat16_pattern_through_save_and_load(tmp, form):
    """All 65,536 patterns, and a strided view of them: bit-equal to ml_dtypes' astype(float64),
    except the 126 signalling NaNs, whose payload keras64 keeps (ml_dtypes widens through a
    float32 conversion that sets the quiet bit; numpy's own float16 -> float64 keeps it)."""
    a = _bf16_patterns()
    b = a.reshape(256, 256)[:, ::3]  # strided view, read in place
    out = tmp / ("w." + form if form in ("npz", "safetensors") else "w")
    keras64.save([a, b], out, form)
    got = keras64.load(out)
    for g, src in zip(got, (a, b), strict=True):
        snan = _signalling_nan(src)
        with np.errstate(invalid="ignore"):  # ml_dtypes warns on the signalling NaNs
            want = src.astype(np.float64)
        bits = src.view(np.uint16).astype(np.uint64)
        want.view(np.uint64)[snan] = ((bits & 0x8000) << 48 | 0x7FF << 52 | (bits & 0x7F) << 45)[snan]
        s.assert_bit_equal(g, want, form)
    assert int(_signalling_nan(a).sum()) == 126
    assert [x.dtype for x in keras64.inspect(out)] == ["float64", "float64"]


def test_bfloat16_model_weights_load_into_bfloat16(keras2, tmp):
    """A tf-keras model with bfloat16 variables: saved as float64, loaded back exactly."""
    keras2.utils.set_random_seed(3)
    m = keras2.Sequential([keras2.Input((3,)), keras2.layers.Dense(4, dtype="bfloat16")])
    keras64.save(m, tmp / "w.npz")
    ws = m.get_weights()
    assert ws[0].dtype == ml_dtypes.bfloat16
    fresh = keras2.models.clone_model(m)
    assert keras64.load_into(fresh, tmp / "w.npz")["exact"]
    for g, w in zip(fresh.get_weights(), ws, strict=True):
        s.assert_bit_equal(g, w, "bfloat16 Dense")
