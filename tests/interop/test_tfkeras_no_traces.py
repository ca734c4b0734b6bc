"""tf-keras SavedModels saved with save_traces=False (issue #15): no `variables` lists, so keras64
rebuilds get_weights() order from the object graph and keras_metadata.pb. Every golden model,
as saved and with every other weighted layer frozen (a frozen layer lists all its weights as
non-trainable, own before its sublayers'), is loaded by tf-keras 2.21 and saved without traces
(tests/data/tf/make_no_traces.py, into a scratch folder): keras64 lists exactly model.weights in
order, reports it exact, converts the values bit for bit, and its `--to legacy-h5` loads in
tf-keras at float64 with the same weights in the same order and predictions within 1e-6."""
import json
import sys

import numpy as np
import pytest

import interop_support as s
import tfkeras_support as t
from test_tfkeras_reload import _tolerance

sys.path.insert(0, str(s.DATA / "tf"))
import make_no_traces  # noqa: E402  (imports make_tfkeras: the custom layer is registered)

keras2 = make_no_traces.keras
CASES = [(m, f) for m in t.MODELS for f in (False, True)]


def golden_by_name(model):
    with np.load(t.model_dir(model) / "expected" / "weights_f64.npz") as z:
        return {v["path"]: z[v["npz_key"]] for v in t.manifest(model)["variables"]}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("no_traces")
    out = {}
    for model, freeze in CASES:
        frozen = []
        if freeze:
            m = keras2.models.load_model(t.model_dir(model) / "model.h5", compile=False)
            frozen = [layer.name for layer in m.layers if layer.weights][::2]
        case = f"{model}{'_frozen' if freeze else ''}"
        out[(model, freeze)] = (d / case, make_no_traces.make(model, frozen, d / case))
    return out


def test_committed_cases_are_the_generators(saved):
    for case, (model, frozen) in make_no_traces.CASES.items():
        committed = json.loads((s.DATA / "tf" / "no_traces" / case / "expected.json").read_text())
        assert committed == saved[(model, bool(frozen))][1], case


@pytest.mark.parametrize("model,freeze", CASES)
def test_order_values_and_legacy_h5(saved, tmp, model, freeze):
    folder, doc = saved[(model, freeze)]
    info = json.loads(s.run("inspect", folder / "saved", "--json").stdout)
    assert info["source"]["order_exact"] is True, info["source"]
    assert [x["name"] for x in info["tensors"]] == doc["weights"]
    want = [golden_by_name(model)[n] for n in doc["weights"]]
    s.run("convert", folder / "saved", "-o", tmp / "w.npz", "--to", "npz", "-q")
    with np.load(tmp / "w.npz") as z:
        for i, (g, w) in enumerate(zip([z[k] for k in z.files], want, strict=True)):
            s.assert_bit_equal(g, w, f"{model} weight {i}")
    s.run("convert", folder / "saved", "-o", tmp / "m64.h5", "--to", "legacy-h5", "-q")
    m = keras2.models.load_model(tmp / "m64.h5", compile=False)
    assert [w.name[:-2] for w in m.weights] == doc["weights"]
    for i, (g, w) in enumerate(zip(m.get_weights(), want, strict=True)):
        s.assert_bit_equal(g, w, f"{model} weight {i}")
    e = t.model_dir(model) / "expected"
    x = np.load(e / "input.npy")
    pred = np.asarray(m(x.astype(np.float64) if x.dtype.kind == "f" else x, training=False))
    assert pred.dtype == np.float64
    s.assert_close_f64(pred, np.load(e / "prediction.npy").astype(np.float64), model,
                       rtol=_tolerance(model))
