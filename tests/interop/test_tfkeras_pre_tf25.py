"""tf-keras SavedModels as TensorFlow 2.0-2.4 laid them out (issue #15): the Keras metadata in each
Keras object's SavedUserObject.metadata in saved_model.pb, no keras_metadata.pb. TF 2.21 cannot
write one, so tests/data/tf/make_pre_tf25.py rewrites every golden SavedModel that way (here, into
a scratch folder; the main suite reads the committed copies). tf-keras 2.21 itself still loads each
rewrite - through its pre-2.5 path, the only one left without keras_metadata.pb - with the same
weights bit for bit and the same predictions: the rewrite is what tf-keras takes for an old
SavedModel. keras64's `--to legacy-h5` from the rewrite is byte for byte what it writes from the
modern layout, and tf-keras loads that .h5 at float64 (weights widened bit for bit, predictions
within 1e-6 of the float32 model's)."""
import sys

import numpy as np
import pytest

import interop_support as s
import tfkeras_support as t
from test_tfkeras_reload import check_float64_model

sys.path.insert(0, str(s.DATA / "tf"))
import make_pre_tf25  # noqa: E402


@pytest.fixture(scope="module")
def keras2():
    import make_tfkeras  # tf_keras, with the custom layer registered

    return make_tfkeras.keras


@pytest.fixture(scope="module")
def rewritten(tmp_path_factory):
    d = tmp_path_factory.mktemp("pre_tf25")
    return {m: make_pre_tf25.rewrite(t.model_dir(m) / "savedmodel", d / m) for m in t.MODELS}


def files(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_committed_copies_are_the_generators_output(rewritten):
    for m in make_pre_tf25.COMMITTED:
        assert files(s.DATA / "tf" / "pre_tf25" / m) == files(rewritten[m]), m


@pytest.mark.parametrize("model", t.MODELS)
def test_tfkeras_loads_the_rewrite(keras2, rewritten, model):
    d = rewritten[model]
    assert sorted(p.name for p in d.iterdir()) == ["saved_model.pb", "variables"]
    m = keras2.models.load_model(d, compile=False)
    for i, (g, w) in enumerate(zip(m.get_weights(), t.expected(model), strict=True)):
        s.assert_bit_equal(g, w, f"{model} weight {i}")
    e = t.model_dir(model) / "expected"
    pred = np.asarray(m(np.load(e / "input.npy"), training=False))
    s.assert_close_f64(pred.astype(np.float64), np.load(e / "prediction.npy").astype(np.float64),
                       model, rtol=1e-6)


@pytest.mark.parametrize("model", t.MODELS)
def test_legacy_h5_from_the_rewrite(keras2, rewritten, tmp, model):
    old, new = tmp / "old.h5", tmp / "new.h5"
    s.run("convert", rewritten[model], "-o", old, "--to", "legacy-h5", "-q")
    s.run("convert", t.model_dir(model) / "savedmodel", "-o", new, "--to", "legacy-h5", "-q")
    assert old.read_bytes() == new.read_bytes()
    check_float64_model(keras2.models.load_model(old, compile=False), model)
