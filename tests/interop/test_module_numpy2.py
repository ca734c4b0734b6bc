"""The Python module, built against Debian's numpy 1.x (pybind11 2.10), imported by the venv's
numpy 2.x: load, save and inspect give the same arrays as under numpy 1.x."""
import numpy as np
import pytest

import interop_support as s


def test_imports_under_numpy2():
    import keras64
    assert np.__version__.startswith("2.")
    assert "npz" in keras64.formats()


@pytest.mark.parametrize("model", s.MODELS)
def test_load_golden(model):
    import keras64
    got = keras64.load(s.model_dir(model) / "model.keras")
    want = s.expected_f64(model)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        s.assert_bit_equal(g, w, f"{model} tensor {i}")


@pytest.mark.parametrize("model", s.MODELS)
def test_inspect_golden(model):
    import keras64
    tensors = keras64.inspect(s.model_dir(model) / "model.keras")
    assert tensors.source.order_exact
    variables = s.manifest(model)["variables"]
    assert [t.shape for t in tensors] == [tuple(v["shape"]) for v in variables]
    assert [t.dtype for t in tensors] == [v["dtype"] for v in variables]


@pytest.mark.parametrize("form", ["npy", "npz", "memmap", "safetensors"])
def test_save_numpy2_arrays(form, tmp):
    """numpy 2 arrays of every layout keras64.save reads in place, through every array form."""
    import keras64
    rng = np.random.default_rng(7)
    base = rng.standard_normal((6, 5)).astype(np.float32)
    arrays = [base, base.T, base[::2, 1:], np.asfortranarray(base),
              base.astype(">f4"), base.astype(np.float16), np.arange(5, dtype=np.int64)]
    out = tmp / ("w." + form if form in ("npz", "safetensors") else "w")
    keras64.save(arrays, out, form)
    got = keras64.load(out)
    want = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in arrays]
    for i, (g, w) in enumerate(zip(got, want)):
        s.assert_bit_equal(g, np.ascontiguousarray(w).astype(w.dtype.newbyteorder("=")),
                           f"{form} tensor {i}")
