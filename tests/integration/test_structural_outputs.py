"""The Keras-loadable outputs (--to weights.h5, keras, legacy-h5) and safetensors, checked with
h5py, zipfile and a small safetensors reader written here (independent of keras64):

* values equal expected/weights_f64.npz (what real Keras gives) bit for bit;
* every float dataset is float64, every float dtype policy in config.json / model_config is
  float64, integers untouched;
* the HDF5 tree equals the input's except for dtypes (groups, datasets, attributes and their
  string types), and agrees with Keras's own expected/reference_f64 files;
* --compress gives identical values, chunked + shuffle + deflate, and smaller files."""
import json
import struct
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k64test import (GOLDEN, MODELS, assert_bit_equal, config_dtypes, crc32c, expected_f64,  # noqa: E402
                     manifest, open_weights, run)

FLOAT_POLICIES = {"float16", "bfloat16", "float32", "float64", "mixed_float16", "mixed_bfloat16"}

# input kind -> (file, extra args, manifest location key)
KINDS = {
    "keras": ("model.keras", [], "keras"),
    "weights_h5": ("model.weights.h5", [], "weights_h5"),
    "sharded": ("model_sharded.weights.json", [], "sharded"),
}


def widened_floats(path, dtype):
    """What convert widens: every float dataset, listed or not (optimizer state with or without
    --include-optimizer, the LossScaleOptimizer's inner optimizer, metric state)."""
    return is_float(dtype)


def has_optimizer(model):
    return bool(manifest(model).get("optimizer_variables"))


def input_files(model, kind):
    """h5py files holding the input's tree (all shards for a sharded input)."""
    d = GOLDEN / model
    if kind == "sharded":
        index = json.loads((d / "model_sharded.weights.json").read_text())
        names = set()
        for v in index["weight_map"].values():
            names.update(v if isinstance(v, list) else [v])
        names.update(p.name for p in d.glob("model_sharded_*.weights.h5"))
        return [h5py.File(d / n, "r") for n in sorted(names)]
    return [open_weights(d / KINDS[kind][0])] if kind in KINDS else [h5py.File(d / kind, "r")]


def as_f64(ds):
    """A dataset's values as float64 (bfloat16 = 2-byte opaque read as bit patterns)."""
    a = ds[()]
    if ds.dtype.kind == "V" and ds.dtype.itemsize == 2:
        return (np.asarray(a).view(np.uint16).astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return np.asarray(a).astype(np.float64)


def attr_desc(obj):
    out = {}
    for k in obj.attrs:
        t = obj.attrs.get_id(k).get_type()
        kind = type(t).__name__
        if isinstance(t, h5py.h5t.TypeStringID):
            kind += f"/vlen={t.is_variable_str()}/cset={t.get_cset()}"
        v = obj.attrs[k]
        v = (v.dtype.str, v.shape, v.tolist()) if isinstance(v, np.ndarray) else v
        out[k] = (kind, v)
    return out


def tree(files):
    """{path: description} of every group and dataset of the merged files."""
    out = {}
    for f in files:
        out.setdefault("/", ("group", attr_desc(f)))

        def visit(name, obj):
            if isinstance(obj, h5py.Group):
                prev = out.get(name, ("group", {}))[1]
                out[name] = ("group", {**prev, **attr_desc(obj)})
            else:
                out[name] = ("dataset", obj.shape, obj.dtype, attr_desc(obj), obj)

        f.visititems(visit)
    return out


def is_float(dt):
    return dt.kind == "f" or (dt.kind == "V" and dt.itemsize == 2)


def check_tree(before, after, widened):
    """after == before except that the datasets `widened(path, dtype)` says are now float64."""
    assert sorted(before) == sorted(after)
    for path, b in before.items():
        a = after[path]
        assert a[0] == b[0], path
        if b[0] == "group":
            assert a[1] == b[1], f"{path}: attributes differ"
            continue
        _, shape, dtype, attrs, ds = b
        _, ashape, adtype, aattrs, ads = a
        assert ashape == shape, path
        if widened(path, dtype):
            assert adtype == np.float64, f"{path}: {adtype}"
            attrs = {k: v for k, v in attrs.items() if k != "dtype"}  # bfloat16 tag goes
            got, want = as_f64(ads), as_f64(ds)
            assert got.tobytes() == want.tobytes(), path
        else:
            assert adtype == dtype, f"{path}: {adtype} != {dtype}"
            assert np.asarray(ads[()]).tobytes() == np.asarray(ds[()]).tobytes(), path
        if "keras64.crc32c" in aattrs and "keras64.crc32c" not in attrs:
            # keras64's checksum of each dataset it wrote: the CRC32C of its little-endian bytes.
            kind, v = aattrs.pop("keras64.crc32c")
            assert kind == "TypeIntegerID" and v.dtype == np.uint32, path
            raw = np.asarray(ads[()])
            raw = raw.astype(raw.dtype.newbyteorder("<")) if raw.dtype.kind in "fiub" else raw
            assert int(v) == crc32c(raw.tobytes()), f"{path}: keras64.crc32c"
        assert aattrs == attrs, f"{path}: attributes differ"


def walk_policies(node, path="", out=None):
    """Every (path, dtype value) of a config: DTypePolicy names and plain 'dtype' strings."""
    out = [] if out is None else out
    if isinstance(node, list):
        for i, v in enumerate(node):
            walk_policies(v, f"{path}/{i}", out)
    elif isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__":
            return out
        if node.get("class_name") in ("DTypePolicy", "FloatDTypePolicy", "Policy"):
            out.append((path, node["config"]["name"]))
            return out
        for k, v in node.items():
            if k == "dtype" and isinstance(v, str):
                out.append((f"{path}/{k}", v))
            else:
                walk_policies(v, f"{path}/{k}", out)
    return out


def check_config_f64(before, after):
    b, a = walk_policies(before), walk_policies(after)
    assert [p for p, _ in a] == [p for p, _ in b]
    assert a, "no dtype policy found"
    for (path, old), (_, new) in zip(b, a):
        assert new == ("float64" if old in FLOAT_POLICIES else old), f"{path}: {old} -> {new}"


def convert(model, kind, to, out, *extra):
    src, args, _ = KINDS[kind]
    opt = ["--include-optimizer"] if has_optimizer(model) else []
    run("convert", GOLDEN / model / src, *args, "-o", out, "--to", to, "-q", *opt, *extra)


def check_values(model, out_h5, loc_key):
    want = expected_f64(model)
    for var, w in zip(manifest(model)["variables"], want):
        loc = var["locations"][loc_key]
        path = loc["dataset"] if isinstance(loc, dict) else loc
        assert_bit_equal(np.asarray(out_h5[path][()]), w, f"{model}:{path}")


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("model", MODELS)
def test_weights_h5(tmp_path, model, kind):
    out = tmp_path / "out.weights.h5"
    convert(model, kind, "weights.h5", out)
    with h5py.File(out, "r") as f:
        check_values(model, f, KINDS[kind][2])
        check_tree(tree(input_files(model, kind)), tree([f]), widened_floats)


@pytest.mark.parametrize("model", MODELS)
def test_keras(tmp_path, model):
    out = tmp_path / "out.keras"
    convert(model, "keras", "keras", out)
    src = GOLDEN / model / "model.keras"
    with zipfile.ZipFile(out) as z, zipfile.ZipFile(src) as zs:
        names = [i.filename for i in z.infolist()]
        assert names == [i.filename for i in zs.infolist()]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
        assert z.read("metadata.json") == zs.read("metadata.json")
        check_config_f64(json.loads(zs.read("config.json")), json.loads(z.read("config.json")))
    with open_weights(out) as f:
        check_values(model, f, "keras")
        check_tree(tree(input_files(model, "keras")), tree([f]), widened_floats)


def reference_allowance(model, path, ref_tree):
    """Why Keras's float64 reference of a golden model may lack something our output has, for a
    reason that is the reference's, not ours: the golden generator saved it from the float64
    model uncompiled (manifest reference_f64.note "saved without compile/optimizer state"), so it
    has no optimizer/ group at all, while model.keras has the optimizer's state (kept, as
    float64). The optimizer tree against a float64 save WITH optimizer state is checked in
    test_fidelity.py (k3_lso_reference_f64.keras)."""
    note = manifest(model)["reference_f64"].get("note", "")
    if (path == "optimizer" or path.startswith("optimizer/")) and "without compile/optimizer" in note \
            and not any(p == "optimizer" or p.startswith("optimizer/") for p in ref_tree):
        return "reference saved without optimizer state"
    return None


@pytest.mark.parametrize("include_optimizer", [False, True])
@pytest.mark.parametrize("model", MODELS)
def test_agrees_with_keras_reference(tmp_path, model, include_optimizer):
    """--to keras and --to weights.h5 are what Keras saves for the same model built at float64
    (expected/reference_f64.*): the same HDF5 tree (groups, datasets, shapes), every float dataset
    float64 (optimizer state whether --include-optimizer lists it or not), and every float dtype
    in config.json equal to the reference's, keras tensors included."""
    ref_dir = GOLDEN / model / "expected"
    opt = ["--include-optimizer"] if include_optimizer else []
    outs = {"keras": tmp_path / "out.keras", "weights.h5": tmp_path / "out.weights.h5"}
    for to, out in outs.items():
        run("convert", GOLDEN / model / "model.keras", "-o", out, "--to", to, "-q", *opt)
    for to, ref_file in (("keras", "reference_f64.keras"), ("weights.h5", "reference_f64.weights.h5")):
        with open_weights(ref_dir / ref_file) as ref, open_weights(outs[to]) as got:
            t_ref, t_got = tree([ref]), tree([got])
            for path in sorted(set(t_ref) | set(t_got)):
                if path not in t_ref:
                    assert reference_allowance(model, path, t_ref), f"{model}: {path} is not in Keras's save"
                    continue
                assert path in t_got, f"{model}: Keras's save has {path}, ours not"
                r, g = t_ref[path], t_got[path]
                assert g[0] == r[0], path
                if r[0] == "group":
                    continue
                assert g[1] == r[1], f"{path}: shape {g[1]} vs Keras {r[1]}"
                assert g[2] == r[2], f"{path}: dtype {g[2]} vs Keras {r[2]}"
            for path, d in t_got.items():
                if d[0] == "dataset" and is_float(d[2]):
                    assert d[2] == np.float64, f"{model}: {path} is {d[2]}"
    with zipfile.ZipFile(outs["keras"]) as z, zipfile.ZipFile(ref_dir / "reference_f64.keras") as zr:
        mine = config_dtypes(json.loads(z.read("config.json")))
        theirs = config_dtypes(json.loads(zr.read("config.json")))
    assert mine and sorted(mine) == sorted(theirs)
    for path in mine:
        assert mine[path] == theirs[path], f"{model}: config {path}: {mine[path]} vs Keras {theirs[path]}"


@pytest.mark.parametrize("model", ["adam", "mixed_float16"])
def test_optimizer_widened_when_not_planned(tmp_path, model):
    """Without --include-optimizer the optimizer state is not listed, yet written as float64
    (the LossScaleOptimizer's inner optimizer too), values exact, integers kept."""
    out = tmp_path / "out.weights.h5"
    run("convert", GOLDEN / model / "model.weights.h5", "-o", out, "--to", "weights.h5", "-q")
    with h5py.File(out, "r") as f:
        assert any(p.startswith("optimizer/") for p in tree([f]))
        check_tree(tree(input_files(model, "weights_h5")), tree([f]), lambda p, dt: is_float(dt))


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("src", ["model_legacy.h5", "model_legacy_weights.h5"])
def test_legacy_to_legacy(tmp_path, model, src):
    out = tmp_path / "out.h5"
    opt = ["--include-optimizer"] if src == "model_legacy.h5" and has_optimizer(model) else []
    run("convert", GOLDEN / model / src, "-o", out, "--to", "legacy-h5", "-q", *opt)
    loc = "legacy_h5" if src == "model_legacy.h5" else "legacy_weights_h5"
    with h5py.File(GOLDEN / model / src, "r") as fin, h5py.File(out, "r") as f:
        check_values(model, f, loc)
        before, after = tree([fin]), tree([f])
        if "model_config" in fin.attrs:
            check_config_f64(json.loads(fin.attrs["model_config"]), json.loads(f.attrs["model_config"]))
            t = f.attrs.get_id("model_config").get_type()
            assert t.is_variable_str() and t.get_cset() == h5py.h5t.CSET_ASCII
            for t_ in (before, after):
                t_["/"][1].pop("model_config")
        check_tree(before, after, lambda p, dt: is_float(dt))  # optimizer_weights too


def read_safetensors(path):
    """A minimal safetensors reader: (metadata, {name: array}) with every header rule checked."""
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0 and (8 + n) % 8 == 0
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    assert raw[8:8 + n].decode("utf-8").rstrip(" ") == raw[8:8 + n].decode("utf-8").strip()
    meta = header.pop("__metadata__")
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
    data = raw[8 + n:]
    dtypes = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
              "I8": "i1", "U8": "u1", "BOOL": "?"}
    arrays, pos = {}, 0
    for name, t in header.items():  # json keeps the file's key order
        b, e = t["data_offsets"]
        assert b == pos, f"{name}: offsets not contiguous"
        dt = np.dtype(dtypes[t["dtype"]])
        assert e - b == int(np.prod(t["shape"], dtype=np.int64)) * dt.itemsize
        arrays[name] = np.frombuffer(data[b:e], dtype=dt).reshape(t["shape"])
        pos = e
    assert pos == len(data), "trailing bytes after the last tensor"
    return meta, arrays


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("model", MODELS)
def test_safetensors(tmp_path, model, kind):
    out = tmp_path / "out.safetensors"
    src, _, _ = KINDS[kind]
    extra = [] if kind == "keras" else ["--model", GOLDEN / model / "model.keras"]
    run("convert", GOLDEN / model / src, *extra, "-o", out, "--to", "safetensors", "-q", "--chunk-size", 24)
    meta, arrays = read_safetensors(out)
    order = json.loads(meta["keras64.order"])
    assert order == list(arrays)
    assert meta["keras64.source_file"].endswith(src)
    assert len(json.loads(meta["keras64.source_dtypes"])) == len(order)
    want = expected_f64(model)
    assert len(order) == len(want)
    for i, (name, w) in enumerate(zip(order, want)):
        assert_bit_equal(arrays[name], w, f"{model} tensor {i} ({name})")


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("to,name", [("weights.h5", "o.weights.h5"), ("keras", "o.keras")])
def test_compressed_golden(tmp_path, model, to, name):
    plain, packed = tmp_path / "plain" / name, tmp_path / "packed" / name
    plain.parent.mkdir()
    packed.parent.mkdir()
    convert(model, "keras", to, plain)
    convert(model, "keras", to, packed, "--compress")
    assert packed.stat().st_size <= plain.stat().st_size
    with open_weights(plain) as a, open_weights(packed) as b:
        ta, tb = tree([a]), tree([b])
        check_tree(ta, tb, lambda p, dt: False)


def test_compressed_large(tmp_path):
    """A 1 MiB float32 tensor: compressed float64 lands near the float32 size, values identical."""
    src = tmp_path / "big.weights.h5"
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((512, 512)).astype(np.float32)
    with h5py.File(src, "w") as f:
        g = f.create_group("layers/dense/vars")
        g.attrs["name"] = "dense"
        g["0"] = kernel
        g["1"] = np.zeros(256, np.float32)
        f.create_group("vars").attrs["name"] = "model"
    plain, packed = tmp_path / "p.weights.h5", tmp_path / "c.weights.h5"
    run("convert", src, "-o", plain, "--to", "weights.h5", "-q")
    r = run("convert", src, "-o", packed, "--to", "weights.h5", "--compress", "--json")
    report = json.loads(r.stdout)
    assert report["raw_bytes"] == (512 * 512 + 256) * 8
    assert abs(report["ratio"] - packed.stat().st_size / report["raw_bytes"]) < 1e-9
    assert packed.stat().st_size < 0.6 * plain.stat().st_size
    with h5py.File(packed, "r") as f:
        d = f["layers/dense/vars/0"]
        assert d.dtype == np.float64 and d.chunks and d.compression == "gzip" and d.shuffle
        assert np.array_equal(d[()], kernel.astype(np.float64))
        assert f["layers/dense/vars/1"].chunks is None  # 2 KiB: not worth a chunk index
    summary = run("convert", src, "-o", tmp_path / "d.weights.h5", "--to", "weights.h5", "--compress").stdout
    assert "compressed to" in summary


@pytest.mark.parametrize("level", [None, "3", "6"])
@pytest.mark.parametrize("chunk", [None, "7777"])
def test_compressed_chunk_shapes(tmp_path, level, chunk):
    """Chunks are cut from the stream (one flat range each, edge chunks padded), shuffled and
    deflated by keras64: h5py reads back every value, for rows longer than a chunk, rows that
    do not divide, float16 input, any level, odd stream pieces."""
    rng = np.random.default_rng(3)
    values = {
        "layers/a/vars/0": rng.standard_normal((300, 70)).astype(np.float32),    # one chunk
        "layers/a/vars/1": rng.standard_normal((2, 140001)).astype(np.float32),  # row > 1 MiB
        "layers/b/vars/0": rng.standard_normal((3, 5, 30001)).astype(np.float16),  # [1, 4, 30001]
        "layers/b/vars/1": rng.standard_normal((140001,)).astype(np.float32),
        "layers/c/vars/0": rng.standard_normal((2, 1, 2, 140001)).astype(np.float32),
        "layers/c/vars/1": rng.standard_normal((1000, 3)).astype(np.float32),  # edge chunk: no
    }
    src = tmp_path / "in.weights.h5"
    with h5py.File(src, "w") as f:
        for k, v in values.items():
            f[k] = v
    out = tmp_path / "o.weights.h5"
    args = ["--level", level] if level else []
    args += ["--chunk-size", chunk] if chunk else []
    run("convert", src, "-o", out, "--to", "weights.h5", "--compress", "-q", *args)
    with h5py.File(out, "r") as f:
        for k, v in values.items():
            d = f[k]
            assert d.compression == "gzip" and d.shuffle, k
            assert np.prod(d.chunks) * 8 <= 1 << 20, k
            assert_bit_equal(d[()], v.astype(np.float64), k)
        assert f["layers/a/vars/1"].chunks == (1, 131072)
        assert f["layers/b/vars/0"].chunks == (1, 4, 30001)


def _keras_with_config(tmp_path, mutate):
    src = GOLDEN / "mlp" / "model.keras"
    out = tmp_path / "in.keras"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for i in zin.infolist():
            data = zin.read(i.filename)
            if i.filename == "config.json":
                cfg = json.loads(data)
                mutate(cfg)
                data = json.dumps(cfg).encode()
            zout.writestr(i, data)
    return out


def test_quantized_policy_refused(tmp_path):
    def quantize(cfg):
        layer = cfg["config"]["layers"][1]
        layer["config"]["dtype"] = {"module": "keras", "class_name": "QuantizedDTypePolicy",
                                    "config": {"name": "int8_from_float32", "source_name": "float32"},
                                    "registered_name": None}
    src = _keras_with_config(tmp_path, quantize)
    out = tmp_path / "out.keras"
    p = run("convert", src, "-o", out, "--to", "keras", check=False)
    assert p.returncode == 5, p.stderr
    assert "QuantizedDTypePolicy" in p.stderr and "quantized" in p.stderr
    assert not out.exists() and not list(tmp_path.glob(".out.keras*"))


def test_wrong_names_and_kinds(tmp_path):
    p = run("convert", GOLDEN / "mlp" / "model.keras", "-o", tmp_path / "x.h5", "--to", "weights.h5", check=False)
    assert p.returncode == 2 and "*.weights.h5" in p.stderr
    p = run("convert", GOLDEN / "mlp" / "model.keras", "-o", tmp_path / "x.zip", "--to", "keras", check=False)
    assert p.returncode == 2 and "*.keras" in p.stderr
    p = run("convert", GOLDEN / "mlp" / "model_legacy.h5", "-o", tmp_path / "x.weights.h5", "--to", "weights.h5",
            check=False)
    assert p.returncode == 5 and "legacy-h5" in p.stderr
    p = run("convert", GOLDEN / "mlp" / "model.keras", "-o", tmp_path / "x.h5", "--to", "legacy-h5", check=False)
    assert p.returncode == 5
    p = run("convert", GOLDEN / "mlp" / "model.weights.h5", "-o", tmp_path / "x.keras", "--to", "keras", check=False)
    assert p.returncode == 2 and "--model" in p.stderr
    assert list(tmp_path.iterdir()) == []


def test_bare_weights_with_model_to_keras(tmp_path):
    out = tmp_path / "o.keras"
    run("convert", GOLDEN / "cnn" / "model.weights.h5", "--model", GOLDEN / "cnn" / "model.keras", "-o", out,
        "--to", "keras", "-q")
    with zipfile.ZipFile(out) as z:
        assert [i.filename for i in z.infolist()] == ["metadata.json", "config.json", "model.weights.h5"]
        check_config_f64(json.loads(zipfile.ZipFile(GOLDEN / "cnn" / "model.keras").read("config.json")),
                         json.loads(z.read("config.json")))
    with open_weights(out) as f:
        check_values("cnn", f, "keras")


@pytest.mark.parametrize("to,name", [("weights.h5", "o.weights.h5"), ("keras", "o.keras"), ("safetensors", "o.st")])
def test_tiny_chunks_same_values(tmp_path, to, name):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    run("convert", GOLDEN / "rnn" / "model.keras", "-o", a / name, "--to", to, "-q")
    run("convert", GOLDEN / "rnn" / "model.keras", "-o", b / name, "--to", to, "-q", "--chunk-size", 7)
    # Byte-identical: the HDF5 sinks write the data themselves at the datasets' offsets.
    assert (a / name).read_bytes() == (b / name).read_bytes()
    if to != "safetensors":
        with open_weights(a / name) as x, open_weights(b / name) as y:
            check_tree(tree([x]), tree([y]), lambda p, dt: False)


def test_edge_shapes_contiguous(tmp_path):
    """Empty, scalar and tiny tensors next to a bigger one, written by keras64 at the datasets'
    own offsets (uncompressed outputs are contiguous, allocated at creation): values exact,
    layout what h5py writes, integers kept."""
    src = tmp_path / "in.weights.h5"
    values = {
        "layers/a/vars/0": np.zeros((0, 3), np.float32),
        "layers/a/vars/1": np.float32(2.5),
        "layers/b/vars/0": np.arange(5, dtype=np.float16),
        "layers/b/vars/1": np.random.default_rng(1).standard_normal((300, 70)).astype(np.float32),
        "layers/c/vars/0": np.arange(6, dtype=np.int32).reshape(2, 3),
    }
    with h5py.File(src, "w") as f:
        for k, v in values.items():
            f[k] = v
        f.create_group("optimizer/vars")
    out = tmp_path / "o.weights.h5"
    run("convert", src, "-o", out, "--to", "weights.h5", "-q")
    with open_weights(out) as f:
        for k, v in values.items():
            d = f[k]
            want = v.astype(np.float64) if v.dtype.kind == "f" else v
            assert d.dtype == want.dtype and d.shape == want.shape, k
            assert d.chunks is None and d.compression is None, k
            assert_bit_equal(d[()], want)
            if want.size:
                assert d.id.get_offset() is not None, k
