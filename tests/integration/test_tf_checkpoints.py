"""TensorFlow checkpoints and SavedModels (tests/data/tf, written by TensorFlow 2.21 / tf-keras
2.21 / Keras 3.15 through make_tf.py) through every command: inspect lists every bundle entry
once (as a tensor or as skipped), names and keys as TF recorded them, get_weights() order where
the file knows it; every output form holds TensorFlow's own values bit for bit (floats widened
to float64, integers and bool kept); diff and the Python module take these inputs too."""
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k64test import DATA, assert_bit_equal, load_classic, run  # noqa: E402

TF = DATA / "tf"
CASES = sorted(p.name for p in TF.iterdir() if (p / "expected.json").exists())
ST_DTYPES = {"F64": "<f8", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1",
             "BOOL": "?"}


def expected(case):
    doc = json.loads((TF / case / "expected.json").read_text())
    with np.load(TF / case / "expected.npz") as z:
        values = {e["key"]: z[e["npz"]] for e in doc["entries"] if "npz" in e}
    return doc, values


def inspect(case, *extra):
    doc = json.loads((TF / case / "expected.json").read_text())
    return json.loads(run("inspect", TF / case / doc["input"], "--json", *extra).stdout)


def read_safetensors(path):
    raw = Path(path).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    order = json.loads(header["__metadata__"]["keras64.order"])
    out = []
    for name in order:
        t = header[name]
        a, b = t["data_offsets"]
        out.append(np.frombuffer(raw[8 + n + a:8 + n + b], dtype=ST_DTYPES[t["dtype"]]).reshape(t["shape"]))
    return out


@pytest.mark.parametrize("case", CASES)
def test_inspect_lists_every_entry_once(case):
    doc, _ = expected(case)
    info = inspect(case, "--include-optimizer")
    listed = [t["key"] for t in info["tensors"]] + [s["key"] for s in info["source"]["skipped"]]
    assert len(listed) == len(set(listed))
    want = {e["key"] for e in doc["entries"] if e["key"] != "_CHECKPOINTABLE_OBJECT_GRAPH"}
    assert set(listed) == want
    by_key = {e["key"]: e for e in doc["entries"]}
    for t in info["tensors"]:
        e = by_key[t["key"]]
        assert t["shape"] == e["shape"], t["key"]
        tf_dtype = {"float32": "float32", "float64": "float64", "float16": "float16",
                    "bfloat16": "bfloat16", "int32": "int32", "int64": "int64", "bool": "bool"}
        assert tf_dtype[e["dtype"]] == t["dtype"], t["key"]
        assert t["name"] == e.get("full_name", t["key"]), t["key"]
    reasons = {"DT_STRING", "Keras metric state", "not in the root's variables list"}
    for s in info["source"]["skipped"]:
        e = by_key[s["key"]]
        assert s["why"] in reasons, s
        assert (e["dtype"] == "string") == (s["why"] == "DT_STRING"), s
        assert s["key"].startswith("keras_api/metrics/") == (s["why"] == "Keras metric state"), s


@pytest.mark.parametrize("case", CASES)
def test_order_and_roles(case):
    doc, _ = expected(case)
    info = inspect(case)
    src = info["source"]
    assert src["kind"] == ("tf-savedmodel" if doc["input"] in ("saved", "exported") else "tf-checkpoint")
    keys = [t["key"] for t in info["tensors"]]
    assert all(t["role"] == "model" for t in info["tensors"])
    if doc["input"] in ("saved", "exported") and "get_weights" in doc:
        assert src["order_exact"] is True
        assert keys == doc["get_weights"]
    else:
        assert src["order_exact"] is False and src["note"]
        if "get_weights" in doc:  # save_weights: best effort, right for these layers
            assert keys == doc["get_weights"]
        else:
            assert keys == sorted(keys)
    opt = doc.get("optimizer", [])
    skipped_opt = [s["key"] for s in src["skipped"] if s["why"].startswith("optimizer")]
    assert sorted(skipped_opt) == sorted(opt)
    with_opt = inspect(case, "--include-optimizer")["tensors"]
    assert [t["key"] for t in with_opt[:len(keys)]] == keys
    assert sorted(t["key"] for t in with_opt[len(keys):]) == sorted(opt)
    assert all(t["role"] == "optimizer" for t in with_opt[len(keys):])


@pytest.mark.parametrize("form", ["npz", "npz-deflate", "npy", "memmap", "safetensors"])
@pytest.mark.parametrize("case", CASES)
def test_convert_bit_exact(tmp_path, case, form):
    doc, values = expected(case)
    info = inspect(case, "--include-optimizer")
    out = tmp_path / ("out.npz" if form.startswith("npz") else "out.safetensors" if form == "safetensors" else "out")
    run("convert", TF / case / doc["input"], "-o", out, "--to", form, "--include-optimizer", "-q")
    got = read_safetensors(out) if form == "safetensors" else load_classic(form, out)
    assert len(got) == len(info["tensors"])
    for g, t in zip(got, info["tensors"]):
        assert_bit_equal(g, values[t["key"]], f"{case}/{form}/{t['key']}")


def test_checkpoint_folder_prefix_and_index_are_the_same_input():
    def listing(path):
        ts = json.loads(run("inspect", path, "--json").stdout)["tensors"]
        return [(t["name"], t["key"], t["dtype"], t["shape"]) for t in ts]

    prefix = listing(TF / "tf1_saver" / "model.ckpt-7")
    assert prefix == listing(TF / "tf1_saver") == listing(TF / "tf1_saver" / "model.ckpt-7.index")


def test_tf1_partitioned_variable_reassembled():
    _, values = expected("tf1_saver")
    info = inspect("tf1_saver")
    embed = [t for t in info["tensors"] if t["key"] == "dnn/embed"]
    assert len(embed) == 1 and embed[0]["shape"] == [5, 3]
    assert not any(t["key"].startswith("\x00") for t in info["tensors"])
    # read in chunks smaller than a slice row, so runs cross slices
    with_small_chunks = load_classic("npz", convert_npz("tf1_saver", "--chunk-size", "16"))
    idx = [t["key"] for t in info["tensors"]].index("dnn/embed")
    assert_bit_equal(with_small_chunks[idx], values["dnn/embed"], "dnn/embed")


def convert_npz(case, *extra):
    import tempfile
    d = Path(tempfile.mkdtemp())
    out = d / "o.npz"
    doc, _ = expected(case)
    run("convert", TF / case / doc["input"], "-o", out, "--to", "npz", "-q", *extra)
    return out


def test_diff_checkpoint_against_h5_and_npz(tmp_path):
    case = "tfkeras_ckpt"
    ckpt = TF / case / "ckpt"
    p = run("diff", ckpt, TF / case / "model.h5", check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    out = tmp_path / "w.npz"
    run("convert", ckpt, "-o", out, "--to", "npz", "-q")
    p = run("diff", ckpt, out, check=False)
    assert p.returncode == 0, p.stdout + p.stderr


def test_strings_listed_as_skipped():
    info = inspect("tf1_saver")
    assert {"key": "vocab", "why": "DT_STRING"} in info["source"]["skipped"]
    text = run("inspect", TF / "tf1_saver").stdout
    assert "vocab  (DT_STRING)" in text


# --- the tf-keras goldens of tests/data/interop/tfkeras (make_tfkeras.py): their TF checkpoint
# (save_weights) and SavedModel, against model.get_weights() as tf-keras returned it -------------

TFK = DATA / "interop" / "tfkeras"
TFK_MODELS = sorted(p.name for p in TFK.iterdir() if (p / "expected" / "manifest.json").exists()) \
    if TFK.exists() else []


@pytest.mark.parametrize("input_kind", ["tf_checkpoint", "savedmodel"])
@pytest.mark.parametrize("model", TFK_MODELS)
def test_tfkeras_goldens(tmp_path, model, input_kind):
    m = json.loads((TFK / model / "expected" / "manifest.json").read_text())
    path = TFK / model / m["files"][input_kind]
    info = json.loads(run("inspect", path, "--json").stdout)
    out = tmp_path / "w.npz"
    run("convert", path, "-o", out, "--to", "npz", "-q")
    got = load_classic("npz", out)
    with np.load(TFK / model / "expected" / "weights_f64.npz") as z:
        want = [z[v["npz_key"]] for v in m["variables"]]
    # every get_weights() tensor is there under its TF name, bit for bit, and nothing else
    names = [t["name"] for t in info["tensors"]]
    assert sorted(names) == sorted(v["path"] for v in m["variables"])
    for v, w in zip(m["variables"], want):
        assert_bit_equal(got[names.index(v["path"])], w, f"{model}/{input_kind}/{v['path']}")
    if info["source"]["order_exact"]:
        assert names == [v["path"] for v in m["variables"]]


# --- --model with a save_weights checkpoint: the order of another file of the same model ----------

MODEL_FILES = ["legacy_h5", "legacy_weights_h5", "keras", "savedmodel"]


@pytest.mark.parametrize("model_kind", MODEL_FILES)
@pytest.mark.parametrize("model", TFK_MODELS)
def test_tfkeras_checkpoint_with_model(tmp_path, model, model_kind):
    """Every golden checkpoint with each other file of its model: exactly get_weights() (names,
    order, values bit for bit) whenever the order is reported exact, and reported exact whenever the
    model file's own order is; otherwise a note naming the model file."""
    m = json.loads((TFK / model / "expected" / "manifest.json").read_text())
    ckpt = TFK / model / m["files"]["tf_checkpoint"]
    arch = TFK / model / m["files"][model_kind]
    arch_exact = json.loads(run("inspect", arch, "--json").stdout)["source"]["order_exact"]
    info = json.loads(run("inspect", ckpt, "--model", arch, "--json").stdout)
    src = info["source"]
    assert src["order_exact"] is arch_exact
    if not arch_exact:
        assert src["note"].startswith(f"order of the architecture {arch}: "), src["note"]
        return
    assert "note" not in src or not src["note"]
    assert [t["name"] for t in info["tensors"]] == [v["path"] for v in m["variables"]]
    out = tmp_path / "w.npz"
    run("convert", ckpt, "--model", arch, "-o", out, "--to", "npz", "-q")
    got = load_classic("npz", out)
    with np.load(TFK / model / "expected" / "weights_f64.npz") as z:
        want = [z[v["npz_key"]] for v in m["variables"]]
    assert len(got) == len(want)
    for g, w, v in zip(got, want, m["variables"]):
        assert_bit_equal(g, w, f"{model}/{model_kind}/{v['path']}")


def test_model_order_exact_for_h5_and_savedmodel():
    """The two model files that record trainability give the exact order for every golden model
    (the rnn SavedModel, saved without traces, by the order rebuilt from its object graph)."""
    for model in TFK_MODELS:
        m = json.loads((TFK / model / "expected" / "manifest.json").read_text())
        for kind in ("legacy_h5", "savedmodel"):
            info = json.loads(run("inspect", TFK / model / m["files"]["tf_checkpoint"], "--model",
                                  TFK / model / m["files"][kind], "--json").stdout)
            assert info["source"]["order_exact"] is True, (model, kind)


def test_model_of_another_model_is_a_mismatch(tmp_path):
    ckpt = TFK / "sequential" / "ckpt"
    p = run("inspect", ckpt, "--model", TFK / "batchnorm" / "model.h5", check=False)
    assert p.returncode == 6
    assert p.stderr.strip() == (f"keras64: error: {ckpt}: architecture {TFK / 'batchnorm' / 'model.h5'}: "
                                "bn/bn/gamma:0 has no variable in the checkpoint")


def test_model_shape_mismatch(tmp_path):
    import h5py
    arch = tmp_path / "w.h5"
    arch.write_bytes((TFK / "sequential" / "model_weights.h5").read_bytes())
    with h5py.File(arch, "r+") as f:
        g = f["dense_1/dense_1"]
        del g["bias:0"]
        g.create_dataset("bias:0", data=np.zeros(5, np.float32))
    ckpt = TFK / "sequential" / "ckpt"
    p = run("convert", ckpt, "--model", arch, "-o", tmp_path / "o.npz", "--to", "npz",
            check=False)
    assert p.returncode == 6
    assert p.stderr.strip() == (
        f"keras64: error: {ckpt}: architecture {arch}: shape mismatch: dense_1/dense_1/bias:0 is (5,), "
        "the checkpoint's layer_with_weights-1/bias/.ATTRIBUTES/VARIABLE_VALUE is (2,)")
    assert not (tmp_path / "o.npz").exists()


def test_model_must_be_a_keras_model_file():
    p = run("inspect", TFK / "sequential" / "ckpt", "--model",
            TFK / "sequential" / "expected" / "weights.npz", check=False)
    assert p.returncode == 2
    assert "a model architecture for a TensorFlow checkpoint must be a legacy .h5, a SavedModel or a " \
           "tf-keras .keras of the same model, not npz" in p.stderr


@pytest.mark.parametrize("form", ["safetensors", "npy", "memmap"])
@pytest.mark.parametrize("case", ["tfkeras_ckpt", "sm_functional", "tf1_saver"])
def test_checkpoint_keys_in_outputs(tmp_path, case, form):
    """Each tensor's checkpoint key is recorded by the outputs that carry metadata (safetensors
    __metadata__ keras64.keys; npy/memmap manifest.json "key") and read back from them."""
    doc, _ = expected(case)
    keys = [t["key"] for t in inspect(case, "--include-optimizer")["tensors"]]
    assert all(keys)
    out = tmp_path / ("o.safetensors" if form == "safetensors" else "o")
    run("convert", TF / case / doc["input"], "-o", out, "--to", form, "--include-optimizer", "-q")
    if form == "safetensors":
        raw = out.read_bytes()
        meta = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])["__metadata__"]
        assert json.loads(meta["keras64.keys"]) == keys
    else:
        manifest = json.loads((out / "manifest.json").read_text())
        assert [t["key"] for t in manifest["tensors"]] == keys
    back = json.loads(run("inspect", out, "--json").stdout)["tensors"]
    assert [t["key"] for t in back] == keys


def test_no_keys_without_a_tensorflow_input(tmp_path):
    out = tmp_path / "o.safetensors"
    run("convert", TFK / "sequential" / "model.h5", "-o", out, "--to", "safetensors", "-q")
    raw = out.read_bytes()
    meta = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])["__metadata__"]
    assert "keras64.keys" not in meta


def test_checkpoint_state_file_paths(tmp_path):
    """The `checkpoint` state file's model_checkpoint_path: relative to the folder (into a
    subfolder too), absolute, and absolute from the writer's machine (not there: the prefix of
    that name next to the state file is used, as for a copied training folder)."""
    want = [(t["name"], t["key"]) for t in inspect("tf2_module")["tensors"]]

    def listing(folder):
        return [(t["name"], t["key"])
                for t in json.loads(run("inspect", folder, "--json").stdout)["tensors"]]

    d = tmp_path / "train"
    (d / "sub").mkdir(parents=True)
    for f in (TF / "tf2_module").iterdir():
        if f.name.startswith("ckpt-1."):
            (d / "sub" / f.name).write_bytes(f.read_bytes())
    state = d / "checkpoint"
    state.write_text('model_checkpoint_path: "sub/ckpt-1"\nall_model_checkpoint_paths: "sub/ckpt-1"\n')
    assert listing(d) == want
    state.write_text(f'model_checkpoint_path: "{d / "sub" / "ckpt-1"}"\n')
    assert listing(d) == want
    for f in (d / "sub").iterdir():
        f.rename(d / f.name)
    state.write_text('model_checkpoint_path: "/home/someone/run7/ckpt-1"\n'
                     'all_model_checkpoint_paths: "/home/someone/run7/ckpt-1"\n')
    assert listing(d) == want
    state.write_text('model_checkpoint_path: "/home/someone/run7/ckpt-2"\n')  # not there at all
    p = run("inspect", d, check=False)
    assert p.returncode == 5 and "keras64: error: " in p.stderr


# --- out of a tf-keras SavedModel into a legacy .h5 (issue #15.3) --------------------------------

@pytest.mark.parametrize("model", TFK_MODELS)
def test_savedmodel_to_legacy_h5(tmp_path, model):
    """The structure tf-keras's own model.h5 of the same model has (layer_names, each layer's
    weight_names), its config with float64 policies, and the weights widened bit for bit in
    get_weights() order (tf-keras and Keras 3 load it: tests/interop/test_tfkeras_savedmodel_h5)."""
    import h5py
    m = json.loads((TFK / model / "expected" / "manifest.json").read_text())
    out = tmp_path / "m64.h5"
    run("convert", TFK / model / "savedmodel", "-o", out, "--to", "legacy-h5", "-q")

    def layout(path):
        with h5py.File(path, "r") as f:
            g = f["model_weights"]
            return [(n, [w.decode() if isinstance(w, bytes) else w for w in g[n].attrs["weight_names"]])
                    for n in g.attrs["layer_names"]]

    assert layout(out) == layout(TFK / model / "model.h5")
    with h5py.File(out, "r") as f:
        config = json.loads(f.attrs["model_config"])
        assert f.attrs["keras_version"] == "2.21.0" and f.attrs["backend"] == "tensorflow"
    with h5py.File(TFK / model / "model.h5", "r") as f:
        theirs = json.loads(f.attrs["model_config"])
    assert config["class_name"] == theirs["class_name"]
    assert [l["config"]["name"] for l in config["config"]["layers"]] == \
        [l["config"]["name"] for l in theirs["config"]["layers"]]
    text = json.dumps(config)
    assert '"float64"' in text and '"float32"' not in text and "mixed_float16" not in text
    info = json.loads(run("inspect", out, "--json").stdout)
    assert info["source"]["order_exact"] is True
    got = load_classic("npz", convert_from(out, tmp_path))
    with np.load(TFK / model / "expected" / "weights_f64.npz") as z:
        want = [z[v["npz_key"]] for v in m["variables"]]
    assert len(got) == len(want)
    for g, w, v in zip(got, want, m["variables"]):
        assert_bit_equal(g, w, f"{model}/{v['path']}")


def convert_from(path, tmp_path):
    out = tmp_path / "back.npz"
    run("convert", path, "-o", out, "--to", "npz", "-q")
    return out


def test_savedmodel_without_keras_metadata_has_no_h5_structure(tmp_path):
    """What tf.saved_model.save writes for a Keras model: no Keras metadata anywhere (no
    keras_metadata.pb, no SavedUserObject.metadata). The weights still read, in the root
    variables list's order; a legacy .h5 needs the config."""
    sm = tmp_path / "sm"
    shutil.copytree(TFK / "sequential" / "savedmodel", sm)
    (sm / "keras_metadata.pb").unlink()
    assert json.loads(run("inspect", sm, "--json").stdout)["source"]["order_exact"] is True
    p = run("convert", sm, "-o", tmp_path / "m.h5", "--to", "legacy-h5", check=False)
    assert p.returncode == 5
    assert p.stderr.strip() == (
        f"keras64: error: {sm}: the legacy-h5 format needs a tf-keras SavedModel whose Keras metadata "
        "(keras_metadata.pb, before TF 2.5 in saved_model.pb) gives the model config and places "
        "every weight in its layer")
    assert not (tmp_path / "m.h5").exists()


# --- SavedModels from before TF 2.5: the Keras metadata in saved_model.pb (make_pre_tf25.py) -----

PRE25 = TF / "pre_tf25"
PRE25_MODELS = sorted(p.name for p in PRE25.iterdir() if p.is_dir())


def test_pre_tf25_copies_are_here():
    assert PRE25_MODELS == ["functional", "sequential"]
    for m in PRE25_MODELS:
        assert sorted(p.name for p in (PRE25 / m).iterdir()) == ["saved_model.pb", "variables"]


def listing(path):
    info = json.loads(run("inspect", path, "--json").stdout)
    return info["source"]["order_exact"], [(t["name"], t["key"], t["dtype"], t["shape"])
                                           for t in info["tensors"]]


@pytest.mark.parametrize("model", PRE25_MODELS)
def test_pre_tf25_savedmodel_reads_as_the_modern_one(tmp_path, model):
    """The same tensors in the same, exact order, and `--to legacy-h5` gives byte for byte what
    the modern layout (keras_metadata.pb) of the same SavedModel gives (tf-keras loads both:
    tests/interop/test_tfkeras_pre_tf25.py)."""
    old = listing(PRE25 / model)
    assert old == listing(TFK / model / "savedmodel") and old[0] is True
    ours, modern = tmp_path / "old.h5", tmp_path / "new.h5"
    run("convert", PRE25 / model, "-o", ours, "--to", "legacy-h5", "-q")
    run("convert", TFK / model / "savedmodel", "-o", modern, "--to", "legacy-h5", "-q")
    assert ours.read_bytes() == modern.read_bytes()


# --- SavedModels saved with save_traces=False (make_no_traces.py) --------------------------------

NO_TRACES = TF / "no_traces"
NO_TRACES_CASES = sorted(p.name for p in NO_TRACES.iterdir() if (p / "expected.json").exists())


@pytest.mark.parametrize("case", NO_TRACES_CASES)
def test_savedmodel_without_traces(tmp_path, case):
    """No variables lists: the order is rebuilt from the object graph and keras_metadata.pb -
    exactly tf-keras's model.weights (a frozen custom layer lists its own weights, then its
    sublayers'), the values bit for bit; --to legacy-h5 keeps that order (tf-keras loads it:
    tests/interop/test_tfkeras_no_traces.py)."""
    doc = json.loads((NO_TRACES / case / "expected.json").read_text())
    sm = NO_TRACES / case / "saved"
    info = json.loads(run("inspect", sm, "--json").stdout)
    assert info["source"]["order_exact"] is True
    assert [t["name"] for t in info["tensors"]] == doc["weights"]
    m = json.loads((TFK / doc["model"] / "expected" / "manifest.json").read_text())
    with np.load(TFK / doc["model"] / "expected" / "weights_f64.npz") as z:
        by_name = {v["path"]: z[v["npz_key"]] for v in m["variables"]}
    h5 = tmp_path / "m64.h5"
    run("convert", sm, "-o", h5, "--to", "legacy-h5", "-q")
    for path in (sm, h5):
        d = tmp_path / f"from_{path.name}"
        d.mkdir()
        got = load_classic("npz", convert_from(path, d))
        assert len(got) == len(doc["weights"])
        for g, name in zip(got, doc["weights"]):
            assert_bit_equal(g, by_name[name], f"{case}/{path.name}/{name}")


def test_no_traces_cases_are_here():
    assert NO_TRACES_CASES == ["custom", "custom_frozen", "functional", "mha"]
    orders = {c: json.loads((NO_TRACES / c / "expected.json").read_text())["weights"]
              for c in NO_TRACES_CASES}
    assert orders["custom"] != orders["custom_frozen"]  # freezing reorders
