"""The Keras 2 goldens of tests/data/interop/tfkeras (made by tf-keras 2.21 through
tests/data/interop/make_tfkeras.py): where they are, what they hold, which file kinds keras64
reads, and the cases known to fail until other issues land."""
import json
import sys

import numpy as np
import pytest

import interop_support as s

TFKERAS = s.DATA / "interop" / "tfkeras"
MODELS = sorted(p.parent.parent.name for p in TFKERAS.glob("*/expected/manifest.json"))

# The generator holds the registered custom layer (tfk_golden>GatedBlock); importing it runs
# nothing but registers the class with tf-keras.
sys.path.insert(0, str(TFKERAS.parent))

#: File kinds keras64 reads today, as CLI arguments relative to the model's folder (TF
#: checkpoints and SavedModels are issue #14).
KINDS = {
    "legacy_h5": ["model.h5"],
    "legacy_weights_h5": ["model_weights.h5", "--model", "model.h5"],
    "keras": ["model.keras"],
}

#: Forms of `convert` that hold arrays only.
ARRAY_FORMS = ("npy", "npz", "npz-deflate", "memmap", "safetensors")


def model_dir(model):
    return TFKERAS / model


def args(model, kind):
    """CLI arguments naming the golden file of `kind` (and its --model where needed)."""
    return [model_dir(model) / a if a.startswith("model") else a for a in KINDS[kind]]


def manifest(model):
    return json.loads((model_dir(model) / "expected" / "manifest.json").read_text())


def _npz(model, name):
    with np.load(model_dir(model) / "expected" / name) as d:
        return [d[k] for k in d.files]


def expected(model):
    """model.get_weights() as tf-keras returned it (original dtypes)."""
    return _npz(model, "weights.npz")


def expected_f64(model):
    """model.get_weights(), each float array .astype(np.float64)."""
    return _npz(model, "weights_f64.npz")


def order_decidable(model, kind):
    """False where the file cannot give get_weights() order: a tf-keras `.keras` stores a custom
    layer's own variables and its sublayers' in save order (own first) without saying which are
    trainable, while tf-keras's get_weights() lists trainable (own, then sublayers') before
    non-trainable. keras64 must then list the right tensors and say the order is inexact."""
    return not (model == "custom" and kind == "keras")


def known_failure(model, kind, aspect="tensors"):
    """The reason a (model, kind) case fails today because of an issue another helper owns, or
    None. `aspect`: "tensors" (what is listed and converted) or "order_exact" (the flag). Tests
    mark such cases xfail(strict=True): they turn into failures once fixed."""
    # Issue #13.1 (metric state listed as model tensors) and #13.3 (legacy custom-layer order)
    # are fixed: no case is expected to fail today.
    return None


def case(model, kind, aspect="tensors"):
    """pytest.param for (model, kind), marked xfail(strict) when known_failure says so."""
    reason = known_failure(model, kind, aspect)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(model, kind, marks=marks, id=f"{model}-{kind}")
