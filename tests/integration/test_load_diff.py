"""`keras64 load` and `keras64 diff` end to end.

- Every golden model, converted to every output form and loaded back into model.keras,
  model.weights.h5 (+ --model) and model_legacy.h5, gives a file whose every dataset is
  bit-identical to the original's (h5py), and the rounding account says exact; `diff` exits 0.
- Perturbed float64 weights: the account equals an independent numpy computation
  (tests/unit/narrow_oracle.py) field by field, and the written values equal numpy's casts.
- --on-overflow error refuses and leaves nothing; mismatches fail with exact messages.
- Files written by the classic numpy recipe itself load.
"""
import json
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1] / "support"))
sys.path.insert(0, str(HERE.parents[1] / "unit"))
from k64test import GOLDEN, MODELS, expected_f64, open_weights, run  # noqa: E402
import narrow_oracle  # noqa: E402

FORMS = ["npy", "npz", "npz-deflate", "memmap", "safetensors", "weights.h5", "keras"]
TARGETS = {
    "keras": (lambda m: ["model.keras"], "out.keras"),
    "weights_h5": (lambda m: ["model.weights.h5", "--model", GOLDEN / m / "model.keras"], "out.weights.h5"),
    "legacy": (lambda m: ["model_legacy.h5", "--model", GOLDEN / m / "model.keras"], "out.h5"),
}


def out_name(form):
    return {"npz": "w.npz", "npz-deflate": "w.npz", "safetensors": "w.safetensors",
            "weights.h5": "w.weights.h5", "keras": "w.keras"}.get(form, "w")


def datasets(path):
    """{dataset path: (dtype, shape, bytes)} of every dataset of an HDF5 file or .keras."""
    out = {}
    with open_weights(path) as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                a = obj[()]
                out[name] = (str(obj.dtype), obj.shape, np.asarray(a).tobytes())
        f.visititems(visit)
    return out


def keras_config(path):
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("config.json"))


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("model", MODELS)
def test_round_trip_is_bit_identical(tmp_path, model, form, target):
    w = tmp_path / out_name(form)
    run("convert", GOLDEN / model / "model.keras", "-o", w, "--to", form, "-q")
    args, out = TARGETS[target]
    a = args(model)
    into = GOLDEN / model / a[0]
    out = tmp_path / out
    r = json.loads(run("load", w, "--into", into, *a[1:], "-o", out, "--json").stdout)
    assert r["rounding"]["exact"] is True, r["rounding"]
    assert r["rounding"]["changed"] == 0
    want, got = datasets(into), datasets(out)
    assert sorted(got) == sorted(want)
    for k in want:
        assert got[k] == want[k], f"{model}/{form}/{target}: {k} differs"
    if target == "keras":
        assert keras_config(out) == keras_config(into)  # --dtype model keeps the policies
    d = run("diff", into, out, *a[1:], check=False)
    assert d.returncode == 0, d.stdout + d.stderr
    d = run("diff", w, out, *a[1:], check=False)
    assert d.returncode == 0, d.stdout + d.stderr


@pytest.mark.parametrize("model", ["mlp", "bfloat16", "mixed_float16"])
def test_dtype_float64_keeps_float64(tmp_path, model):
    w = tmp_path / "w.npz"
    run("convert", GOLDEN / model / "model.keras", "-o", w, "--to", "npz", "-q")
    out = tmp_path / "o.keras"
    r = json.loads(run("load", w, "--into", GOLDEN / model / "model.keras", "-o", out,
                       "--dtype", "float64", "--json").stdout)
    assert r["rounding"]["exact"] is True
    assert all(t["to"] in ("float64", "int32", "int64") for t in r["tensors"])
    got = datasets(out)
    # Optimizer state too: a float64 model file holds float64 optimizer state.
    assert all(v[0] == "float64" for k, v in got.items() if v[0].startswith(("float", "|V")))
    cfg = json.dumps(keras_config(out))
    for p in ("float32", "bfloat16", "mixed_float16", "float16"):
        assert f'"config": {{"name": "{p}"}}' not in cfg and f'"dtype": "{p}"' not in cfg
    assert run("diff", GOLDEN / model / "model.keras", out, check=False).returncode == 0


def perturbed(model):
    """float64 weights the model's dtypes cannot hold exactly: inexact, huge, tiny, NaN, inf."""
    rng = np.random.default_rng(7)
    arrays = []
    for a in expected_f64(model):
        a = a.astype(np.float64)
        if a.size:
            a = a + rng.standard_normal(a.shape) * 1e-9
            flat = a.reshape(-1)
            flat[0] = 1e39
            if flat.size > 2:
                flat[1] = -3.5e-41
                flat[2] = 1e-60
            if flat.size > 4:
                flat[3] = np.nan
                flat[4] = -np.inf
        arrays.append(a)
    return arrays


def model_dtypes(model):
    return [t["dtype"] for t in json.loads(run("inspect", GOLDEN / model / "model.keras", "--json").stdout)["tensors"]]


@pytest.mark.parametrize("model", ["mlp", "bfloat16", "cnn"])
def test_account_matches_numpy(tmp_path, model):
    arrays = perturbed(model)
    w = tmp_path / "p.npz"
    np.savez(w, *arrays)
    out = tmp_path / "o.keras"
    r = json.loads(run("load", w, "--into", GOLDEN / model / "model.keras", "-o", out,
                       "--on-overflow", "inf", "--json").stdout)
    got_ds = datasets(out)
    total = None
    for i, (t, a, dt) in enumerate(zip(r["tensors"], arrays, model_dtypes(model))):
        assert t["to"] == dt
        if dt not in narrow_oracle.FORMATS:
            continue
        x = np.ascontiguousarray(a.reshape(-1))
        bits = narrow_oracle.expected_bits(x, dt)
        want = narrow_oracle.account(x, bits, dt)
        acc = {k: v for k, v in t["rounding"].items() if k != "exact"}
        assert acc == want, f"tensor {i} {t['name']}"
        assert t["rounding"]["exact"] == (want["changed"] == 0)
        stored = got_ds[t["name"]]
        assert stored[2] == bits.tobytes(), f"tensor {i} {t['name']}: values differ from numpy's cast"
        if total is None:
            total = dict(want)
        else:
            for k in ("values", "changed", "overflows", "subnormal", "to_zero", "nans", "infs"):
                total[k] += want[k]
            for k in ("max_abs_error", "max_rel_error", "max_ulp_error"):
                total[k] = max(total[k], want[k])
    assert {k: v for k, v in r["rounding"].items() if k != "exact"} == total
    # Text mode names each changed tensor and the total.
    text = run("load", w, "--into", GOLDEN / model / "model.keras", "-o", tmp_path / "t.keras",
               "--on-overflow", "inf").stdout
    assert "overflowed to inf" in text and "rounding:" in text
    # diff sees the differences (exit 1) and a loose tolerance does not hide inf/NaN.
    assert run("diff", w, out, check=False).returncode == 1


def test_on_overflow_error_refuses(tmp_path):
    arrays = [a.astype(np.float64) for a in expected_f64("mlp")]
    arrays[2].reshape(-1)[3] = 4e38
    w = tmp_path / "p.npz"
    np.savez(w, *arrays)
    out = tmp_path / "o.keras"
    p = run("load", w, "--into", GOLDEN / "mlp" / "model.keras", "-o", out, check=False)
    assert p.returncode == 6
    assert p.stderr == ("keras64: error: tensor 2 (layers/dense_1/vars/0): value 3.9999999999999999e+38 "
                        "at element 3 overflows float32 (1 so far in this tensor); allow with "
                        "on-overflow inf\n")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["p.npz"]  # nothing, not even a temp


@pytest.mark.parametrize("how", ["save", "savez", "savez_compressed", "tofile"])
@pytest.mark.parametrize("model", ["mlp", "rnn", "nonfloat"])
def test_classic_recipe_files_load(tmp_path, model, how):
    arrays = [a.astype(np.float64) for a in expected_f64(model)]  # weights = [w.astype(float64) ...]
    if how in ("save", "tofile"):
        w = tmp_path / "w"
        w.mkdir()
        for i, a in enumerate(arrays):
            if how == "save":
                np.save(w / f"weight_{i}.npy", a)
            else:
                a.tofile(w / f"weight_{i}.dat")
    else:
        w = tmp_path / "w.npz"
        getattr(np, how)(w, *arrays)
    into = GOLDEN / model / "model.keras"
    out = tmp_path / "o.keras"
    r = json.loads(run("load", w, "--into", into, "-o", out, "--json").stdout)
    assert r["matched_by"] == "position"
    assert r["rounding"]["exact"] is True
    assert datasets(out) == datasets(into)


def test_mismatch_count(tmp_path):
    arrays = [a.astype(np.float64) for a in expected_f64("mlp")][:-1]
    w = tmp_path / "w.npz"
    np.savez(w, *arrays)
    m = GOLDEN / "mlp" / "model.keras"
    p = run("load", w, "--into", m, "-o", tmp_path / "o.keras", check=False)
    assert (p.returncode, p.stderr) == (6, f"keras64: error: {w}: 3 tensors, {m} has 4 (matched by "
                                           "position: first missing is tensor 3 'layers/dense_1/vars/1')\n")
    assert not (tmp_path / "o.keras").exists()


def test_mismatch_shape(tmp_path):
    arrays = [a.astype(np.float64) for a in expected_f64("mlp")]
    arrays[0] = arrays[0].T.copy()
    w = tmp_path / "w.npz"
    np.savez(w, *arrays)
    m = GOLDEN / "mlp" / "model.keras"
    p = run("load", w, "--into", m, "-o", tmp_path / "o.keras", check=False)
    assert (p.returncode, p.stderr) == (6, f"keras64: error: {w}: tensor 0 'arr_0': shape (10, 5), {m} "
                                           "has (5, 10) for its tensor 0 'layers/dense/vars/0'\n")


def _renamed_npy(tmp_path, old, new):
    w = tmp_path / "w"
    run("convert", GOLDEN / "mlp" / "model.keras", "-o", w, "--to", "npy", "-q")
    mf = w / "manifest.json"
    mf.write_text(mf.read_text().replace(f'"{old}"', f'"{new}"'))
    return w


def test_mismatch_unknown_and_missing_name(tmp_path):
    w = _renamed_npy(tmp_path, "layers/dense_1/vars/1", "layers/dense_9/vars/1")
    m = GOLDEN / "mlp" / "model.keras"
    p = run("load", w, "--into", m, "-o", tmp_path / "o.keras", check=False)
    assert (p.returncode, p.stderr) == (6, f"keras64: error: {m}: tensor 'layers/dense_1/vars/1' (1,) is "
                                           f"missing from {w} (1 missing)\n")
    # diff reports the same as only-in-A / only-in-B and exits 1.
    d = run("diff", w, m, check=False)
    assert d.returncode == 1
    assert "only in A: layers/dense_9/vars/1\nonly in B: layers/dense_1/vars/1\n" in d.stdout


def test_mismatch_unknown_name(tmp_path):
    # An extra tensor whose name the model does not have.
    w = tmp_path / "w.safetensors"
    run("convert", GOLDEN / "mlp" / "model.keras", "-o", w, "--to", "safetensors", "-q")
    raw = w.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    h = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    h["layers/extra/vars/0"] = {"dtype": "F64", "shape": [1], "data_offsets": [len(data), len(data) + 8]}
    order = json.loads(h["__metadata__"]["keras64.order"]) + ["layers/extra/vars/0"]
    h["__metadata__"]["keras64.order"] = json.dumps(order)
    # The per-tensor CRC list no longer matches the order; a file without one is valid too.
    del h["__metadata__"]["keras64.crc32c"]
    hb = json.dumps(h).encode()
    w.write_bytes(len(hb).to_bytes(8, "little") + hb + data + np.float64(1).tobytes())
    m = GOLDEN / "mlp" / "model.keras"
    p = run("load", w, "--into", m, "-o", tmp_path / "o.keras", check=False)
    assert (p.returncode, p.stderr) == (6, f"keras64: error: {w}: tensor 'layers/extra/vars/0' is not in "
                                           f"{m} (1 unknown)\n")


def test_diff_tolerances_and_errors(tmp_path):
    arrays = [a.astype(np.float64) for a in expected_f64("mlp")]
    arrays[0] = arrays[0] * (1 + 1e-12)
    w = tmp_path / "w.npz"
    np.savez(w, *arrays)
    m = GOLDEN / "mlp" / "model.keras"
    assert run("diff", m, w, check=False).returncode == 1
    assert run("diff", m, w, "--rtol", "1e-11").returncode == 0
    assert run("diff", m, w, "--ulp", "100000").returncode == 0
    j = json.loads(run("diff", m, w, "--json", check=False).stdout)
    assert j["equal"] is False and j["matched_by"] == "position"
    t0 = j["tensors"][0]
    assert t0["out_of_tolerance"] > 0 and t0["a"]["dtype"] == "float32" and t0["b"]["dtype"] == "float64"
    assert all(t["equal"] for t in j["tensors"][1:])
    p = run("diff", m, tmp_path / "missing.npz", check=False)
    assert p.returncode == 3
