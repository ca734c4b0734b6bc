"""Keras 2 files written by tf-keras 2.21 (tests/data/interop/tfkeras): `keras64 inspect` lists
exactly model.get_weights() - count, order, names, dtypes, shapes - with the order reported
exact, and `convert` to every array form gives get_weights() widened to float64, bit for bit."""
import json

import numpy as np
import pytest

import interop_support as s
import numpy_recipe
import tfkeras_support as t

CASES = [t.case(m, k) for m in t.MODELS for k in t.KINDS]


def _inspect(model, kind):
    p = s.run("inspect", *t.args(model, kind), "--json")
    return json.loads(p.stdout)


def _key(shape_dtype):
    return json.dumps(shape_dtype)


@pytest.mark.parametrize("model,kind", CASES)
def test_inspect_lists_get_weights(model, kind):
    got = _inspect(model, kind)
    want = t.manifest(model)["variables"]
    listed = [(x["dtype"], x["shape"]) for x in got["tensors"] if x["role"] == "model"]
    expected = [(v["dtype"], v["shape"]) for v in want]
    if not t.order_decidable(model, kind):
        listed, expected = sorted(listed, key=_key), sorted(expected, key=_key)
    assert listed == expected, (
        f"{model}/{kind}: inspect lists {len(listed)} tensors, get_weights() has {len(want)}")
    if kind != "keras":
        # Legacy files name each dataset by the variable's tf-keras name: model_weights/<layer>/
        # <w.name>; this pins the order to the variables, not just to matching shapes.
        names = [x["dataset"] for x in got["tensors"]]
        for n, v in zip(names, want):
            assert n.endswith("/" + v["name"]), f"{model}/{kind}: {n} holds {v['name']}?"


@pytest.mark.parametrize("model,kind", [t.case(m, k, "order_exact") for m in t.MODELS
                                        for k in t.KINDS])
def test_inspect_says_order_exact(model, kind):
    got = _inspect(model, kind)["source"]
    assert got["order_exact"] == t.order_decidable(model, kind), got["note"]


def _read_array_form(form, out):
    if form == "safetensors":
        from safetensors import safe_open
        from safetensors.numpy import load_file

        with safe_open(str(out), framework="np") as f:
            order = json.loads(f.metadata()["keras64.order"])
        data = load_file(str(out))
        return [data[n] for n in order]
    return numpy_recipe.read(form, out)  # the classic recipe's loading loops


@pytest.mark.parametrize("form", t.ARRAY_FORMS)
@pytest.mark.parametrize("model,kind", CASES)
def test_convert_gives_widened_get_weights(tmp, model, kind, form):
    out = tmp / ("w.npz" if form.startswith("npz") else "w.safetensors" if form == "safetensors"
                 else "w")
    s.run("convert", *t.args(model, kind), "-o", out, "--to", form, "-q")
    got = _read_array_form(form, out)
    want = t.expected_f64(model)
    assert len(got) == len(want), f"{len(got)} tensors, get_weights() has {len(want)}"
    if not t.order_decidable(model, kind):  # the same arrays, in some order
        got, want = sorted(got, key=s.digest), sorted(want, key=s.digest)
    for i, (g, w) in enumerate(zip(got, want)):
        s.assert_bit_equal(g, w, f"{model}/{kind}/{form} tensor {i}")


@pytest.mark.parametrize("model", t.MODELS)
def test_weights_f64_is_get_weights_widened(model):
    """The goldens' own consistency: weights_f64.npz is weights.npz with floats widened."""
    for a, b in zip(t.expected(model), t.expected_f64(model), strict=True):
        want = a.astype(np.float64) if a.dtype.kind == "f" else a
        s.assert_bit_equal(b, want, model)
