"""The Python module on TensorFlow checkpoints and SavedModels (tests/data/tf): inspect() shows
keys and skipped entries, load() returns TensorFlow's own values bit for bit (floats widened to
float64), convert() and diff() take the same inputs."""
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k64test import DATA, assert_bit_equal, load_classic  # noqa: E402

if not any((Path(p) / "keras64" / "__init__.py").exists()
           for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p):
    pytest.skip("the keras64 Python module is not built", allow_module_level=True)

import keras64  # noqa: E402

TF = DATA / "tf"
CASES = sorted(p.name for p in TF.iterdir() if (p / "expected.json").exists())


def expected(case):
    doc = json.loads((TF / case / "expected.json").read_text())
    with np.load(TF / case / "expected.npz") as z:
        values = {e["key"]: z[e["npz"]] for e in doc["entries"] if "npz" in e}
    return doc, values


@pytest.mark.parametrize("case", CASES)
def test_load_bit_exact(case):
    doc, values = expected(case)
    path = TF / case / doc["input"]
    ts = keras64.inspect(path, include_optimizer=True)
    assert ts.source.kind in ("tf-checkpoint", "tf-savedmodel")
    arrays = keras64.load(path, include_optimizer=True)
    assert len(arrays) == len(ts)
    for a, t in zip(arrays, ts):
        assert t.key
        assert_bit_equal(a, values[t.key], f"{case}:{t.key}")


def test_skipped_and_convert_and_diff(tmp_path):
    ts = keras64.inspect(TF / "tf1_saver" / "model.ckpt-7")
    assert ("vocab", "DT_STRING") in ts.source.skipped
    out = tmp_path / "w.npz"
    keras64.convert(TF / "tf1_saver", out, to="npz")
    _, values = expected("tf1_saver")
    for a, t in zip(load_classic("npz", out), ts):
        assert_bit_equal(a, values[t.key], t.key)
    assert keras64.diff(TF / "tf1_saver", out)["equal"]


def test_checkpoint_with_model_file():
    """load()/inspect() with model=: a save_weights checkpoint in get_weights() order, bit for
    bit against tf-keras's model.get_weights() (tests/data/interop/tfkeras/functional)."""
    d = DATA / "interop" / "tfkeras" / "functional"
    m = json.loads((d / "expected" / "manifest.json").read_text())
    ts = keras64.inspect(d / "ckpt", model=d / "model.h5")
    assert ts.source.order_exact
    assert [t.name for t in ts] == [v["path"] for v in m["variables"]]
    arrays = keras64.load(d / "ckpt", model=d / "model.h5")
    with np.load(d / "expected" / "weights_f64.npz") as z:
        for a, v in zip(arrays, m["variables"]):
            assert_bit_equal(a, z[v["npz_key"]], v["path"])
    assert len(arrays) == len(m["variables"])


@pytest.mark.parametrize("case", ["tf2_module", "sm_mixed"])
def test_convert_to_tf_checkpoint(tmp_path, case):
    """keras64.convert(..., to="tf-checkpoint") is the CLI's --to tf-checkpoint: a float64
    TensorBundle that keras64.load reads back as the input's values widened."""
    assert "tf-checkpoint" in keras64.formats()
    doc, values = expected(case)
    path = TF / case / doc["input"]
    r = keras64.convert(path, tmp_path / "ck", to="tf-checkpoint")
    assert r["output"]["format"] == "tf-checkpoint"
    assert (tmp_path / "ck.index").is_file() and (tmp_path / "ck.data-00000-of-00001").is_file()
    back = keras64.inspect(tmp_path / "ck", include_optimizer=True)
    arrays = keras64.load(tmp_path / "ck", include_optimizer=True)
    for a, t in zip(arrays, back):
        assert a.dtype == (np.float64 if t.dtype.startswith("float") else values[t.key].dtype)
        assert_bit_equal(a, values[t.key].astype(a.dtype), t.key)
    with pytest.raises(ValueError, match="output exists"):
        keras64.convert(path, tmp_path / "ck", to="tf-checkpoint")
