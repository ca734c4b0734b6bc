"""Issue #13 points 1-3, against files the real frameworks wrote (tests/data/fidelity/,
make_fidelity.py: tf-keras 2.21 and Keras 3.15), checked with numpy, h5py and zipfile:

* metric state (tf.keras `metrics/` group after compile(metrics) + fit) is no model weight:
  inspect, the array outputs, diff and load leave it out; --to keras / weights.h5 carry it as
  float64;
* a Keras 3 mixed_float16 model with a LossScaleOptimizer: --to keras is what Keras saves for the
  model built at float64 (same tree, every float dataset float64, same config float dtypes);
* legacy .h5 with a custom layer that owns variables and has sublayers: exact get_weights()
  order of the framework that wrote the file, full and weights-only."""
import json
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k64test import DATA, assert_bit_equal, config_dtypes, open_weights, run  # noqa: E402

FID = DATA / "fidelity"
EXPECTED = json.loads((FID / "expected.json").read_text())


def expected_arrays(name):
    with np.load(FID / EXPECTED[name]["npz"]) as d:
        return [d[k] for k in sorted(d.files)]


def inspect(*args):
    return json.loads(run("inspect", *args, "--json").stdout)


def datasets(f):
    out = {}
    f.visititems(lambda n, o: out.__setitem__(n, o) if isinstance(o, h5py.Dataset) else None)
    return out


def groups(f):
    out = set()
    f.visititems(lambda n, o: out.add(n) if isinstance(o, h5py.Group) else None)
    return out


# --- 1. metric state -------------------------------------------------------------------------

METRIC_FILES = ["tfk_metrics.keras", "k3_metrics.keras"]


@pytest.mark.parametrize("name", METRIC_FILES)
def test_metric_state_is_no_weight(tmp_path, name):
    want = EXPECTED[name]
    info = inspect(FID / name)
    assert info["source"]["order_exact"], info["source"]["note"]
    assert [t["shape"] for t in info["tensors"]] == want["shapes"]
    assert not any("metric" in t["name"] for t in info["tensors"])
    arrays = expected_arrays(name)
    out = tmp_path / "w.npz"
    run("convert", FID / name, "-o", out, "--to", "npz", "-q", "--include-optimizer")
    with np.load(out) as d:
        got = [d[k] for k in d.files]
    assert len(got) == len(inspect(FID / name, "--include-optimizer")["tensors"]) > len(arrays)
    for i, w in enumerate(arrays):
        assert_bit_equal(got[i], w.astype(np.float64), f"{name} tensor {i}")
    # diff and load pair the model's weights only.
    ref = tmp_path / "ref.npz"
    np.savez(ref, *[w.astype(np.float64) for w in arrays])
    assert run("diff", FID / name, ref, check=False).returncode == 0
    back = tmp_path / "back.keras"
    run("load", ref, "--into", FID / name, "-o", back, "-q")
    with open_weights(FID / name) as a, open_weights(back) as b:
        for path, d in datasets(a).items():
            assert b[path].dtype == d.dtype, path
            assert np.asarray(b[path][()]).tobytes() == np.asarray(d[()]).tobytes(), path


@pytest.mark.parametrize("name", METRIC_FILES)
@pytest.mark.parametrize("to,out_name", [("keras", "o.keras"), ("weights.h5", "o.weights.h5")])
def test_metric_state_carried_widened(tmp_path, name, to, out_name):
    out = tmp_path / out_name
    run("convert", FID / name, "-o", out, "--to", to, "-q")
    with open_weights(FID / name) as a, open_weights(out) as b:
        da, db = datasets(a), datasets(b)
        assert sorted(da) == sorted(db) and groups(a) == groups(b)
        for path, d in da.items():
            g = db[path]
            if d.dtype.kind == "f":
                assert g.dtype == np.float64, path
                assert_bit_equal(g[()], np.asarray(d[()]).astype(np.float64), path)
            else:
                assert g.dtype == d.dtype and g[()] == d[()], path
    if to == "keras":
        with zipfile.ZipFile(out) as z:
            dtypes = config_dtypes(json.loads(z.read("config.json")))
        assert dtypes and all(v == "float64" for v in dtypes.values()), dtypes


# --- 2. float64 structure of a LossScaleOptimizer model ----------------------------------------

LSO_DYNAMIC_SCALE = "optimizer/vars/3"  # LossScaleOptimizer: iteration, learning_rate, step_counter, dynamic_scale


def test_loss_scale_optimizer_model_is_keras_float64_save(tmp_path):
    """k3_lso.keras (mixed_float16, Adam in a LossScaleOptimizer, fitted) against Keras's own save
    of the model built at float64 (policy and floatx) with LossScaleOptimizer(Adam), fitted: same
    tree, same dtypes (every float float64: optimizer/vars and optimizer/inner_optimizer/vars
    too, learning_rate included; one allowance below), same config dtypes."""
    ref = FID / "k3_lso_reference_f64.keras"
    for extra in ([], ["--include-optimizer"]):
        out = tmp_path / f"o{len(extra)}.keras"
        run("convert", FID / "k3_lso.keras", "-o", out, "--to", "keras", "-q", *extra)
        with open_weights(ref) as r, open_weights(out) as o:
            dr, do = datasets(r), datasets(o)
            assert groups(r) == groups(o)
            assert sorted(dr) == sorted(do)
            for path, d in dr.items():
                g = do[path]
                assert g.shape == d.shape, path
                if path == LSO_DYNAMIC_SCALE:
                    # Keras's LossScaleOptimizer.build makes it dtype="float32" whatever the
                    # model's dtypes; keras64 widens every float (Keras casts it back on load).
                    assert (d.dtype, g.dtype) == (np.float32, np.float64), path
                    continue
                assert g.dtype == d.dtype, f"{path}: {g.dtype} vs Keras {d.dtype}"
            assert any(p.startswith("optimizer/inner_optimizer/vars/") for p in do)
            assert all(d.dtype == np.float64 for d in do.values() if d.dtype.kind == "f")
        with zipfile.ZipFile(out) as zo, zipfile.ZipFile(ref) as zr:
            assert config_dtypes(json.loads(zo.read("config.json"))) == \
                config_dtypes(json.loads(zr.read("config.json")))


# --- 3. legacy custom layers with own variables and sublayers ----------------------------------

LEGACY = ["tfk_gated.h5", "tfk_gated_weights.h5", "k3_gated.h5", "k3_gated_weights.h5"]


@pytest.mark.parametrize("name", LEGACY)
def test_legacy_custom_layer_order(tmp_path, name):
    want = EXPECTED[name]
    info = inspect(FID / name)
    assert info["source"]["order_exact"], info["source"]["note"]
    got_paths = [t["keras_path"] for t in info["tensors"]]
    assert got_paths == [n.split(":")[0] for n in want["names"]]
    out = tmp_path / "w.npz"
    run("convert", FID / name, "-o", out, "--to", "npz", "-q")
    with np.load(out) as d:
        got = [d[k] for k in d.files]
    arrays = expected_arrays(name)
    assert len(got) == len(arrays)
    for i, (g, w) in enumerate(zip(got, arrays)):
        assert_bit_equal(g, w.astype(np.float64) if w.dtype.kind == "f" else w, f"{name} tensor {i}")
