"""Helpers shared by the Python-side tests: where the CLI and the golden data are, running it."""
import json
import os
import subprocess
from pathlib import Path

import numpy as np

CLI = os.environ.get("KERAS64_CLI", "keras64")
DATA = Path(os.environ.get("KERAS64_TEST_DATA", Path(__file__).resolve().parents[1] / "data"))
GOLDEN = DATA / "golden"
MODELS = sorted(p.name for p in GOLDEN.iterdir() if (p / "expected" / "manifest.json").exists())


def run(*args, check=True):
    """Runs the keras64 CLI; returns the CompletedProcess (text mode)."""
    p = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise AssertionError(f"keras64 {' '.join(map(str, args))} exited {p.returncode}:\n{p.stderr}")
    return p


def manifest(model):
    return json.loads((GOLDEN / model / "expected" / "manifest.json").read_text())


def expected_f64(model):
    """The golden get_weights() arrays as float64 (integers kept), in order."""
    with np.load(GOLDEN / model / "expected" / "weights_f64.npz") as d:
        return [d[k] for k in d.files]


def assert_bit_equal(got, want, what=""):
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    g = np.ascontiguousarray(got).view(np.uint8)
    w = np.ascontiguousarray(want).view(np.uint8)
    assert np.array_equal(g, w), f"{what}: values differ"


def load_output(form, out):
    """Reads any keras64 output with numpy/h5py/zipfile alone, tensors in get_weights() order.
    The HDF5 forms list layers/*/vars/<i> in layer-name order, which is get_weights() order for
    make_weights_h5's models (dense, dense_1, ...: fewer than 10 layers)."""
    import io
    import zipfile

    out = Path(out)
    if form == "safetensors":
        raw = out.read_bytes()
        n = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8:8 + n])
        order = json.loads(header["__metadata__"]["keras64.order"])
        data = raw[8 + n:]
        arrays = []
        for name in order:
            t = header[name]
            a, b = t["data_offsets"]
            assert t["dtype"] == "F64"
            arrays.append(np.frombuffer(data[a:b], dtype="<f8").reshape(t["shape"]))
        return arrays
    if form in ("weights.h5", "keras"):
        import h5py

        src = io.BytesIO(zipfile.ZipFile(out).read("model.weights.h5")) if form == "keras" else out
        with h5py.File(src, "r") as f:
            return [f[f"layers/{layer}/vars/{v}"][()] for layer in sorted(f["layers"])
                    for v in sorted(f[f"layers/{layer}/vars"], key=int)]
    if form == "tf-checkpoint":  # entries in key order (get_weights() order for make_weights_h5)
        import tfbundle

        _, entries, _ = tfbundle.read(out, check_crc=False)
        return [tfbundle.values(e) for e in entries]
    return load_classic(form, out)


def make_keras(path, weights_h5, arrays):
    """Wraps a make_weights_h5 file into a .keras: a Sequential of the Dense layers it holds."""
    import zipfile

    layers = [{"module": "keras.layers", "class_name": "InputLayer",
               "config": {"batch_shape": [None, int(arrays[0].shape[0])], "dtype": "float32",
                          "name": "input_layer"}, "registered_name": None}]
    for i in range(len(arrays) // 2):
        k = arrays[2 * i]
        layers.append({"module": "keras.layers", "class_name": "Dense", "registered_name": None,
                       "config": {"name": "dense" if i == 0 else f"dense_{i}",
                                  "units": int(k.shape[1]), "use_bias": True,
                                  "dtype": {"module": "keras", "class_name": "DTypePolicy",
                                            "config": {"name": "float32"}, "registered_name": None}},
                       "build_config": {"input_shape": [None, int(k.shape[0])]}})
    config = {"module": "keras", "class_name": "Sequential", "registered_name": None,
              "config": {"name": "sequential", "trainable": True, "layers": layers}}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.15.0"}))
        z.writestr("config.json", json.dumps(config))
        z.write(weights_h5, "model.weights.h5")


def load_classic(form, out):
    """Reads an output the way the numpy recipe's users do, with no help from keras64."""
    out = Path(out)
    if form == "npy":
        n = len(list(out.glob("weight_*.npy")))
        return [np.load(f"{out}/weight_{i}.npy") for i in range(n)]
    if form in ("npz", "npz-deflate"):
        data = np.load(out)
        return [data[k] for k in data.files]
    if form == "memmap":
        m = json.loads((out / "manifest.json").read_text())
        return [np.array(np.memmap(out / t["file"], dtype=t["dtype"], mode="r", shape=tuple(t["shape"])))
                if t["nbytes"] else np.zeros(t["shape"], dtype=t["dtype"]) for t in m["tensors"]]
    raise ValueError(form)


def make_weights_h5(path, total_bytes, n_layers=4, seed=0):
    """Writes a synthetic Keras-3-layout .weights.h5 of about total_bytes of float32 (Dense
    layers layers/dense, layers/dense_1, ...), returns the list of arrays in file order."""
    import h5py

    rng = np.random.default_rng(seed)
    per = max(1, total_bytes // 4 // n_layers)
    rows = max(1, int(per ** 0.5))
    arrays = []
    with h5py.File(path, "w") as f:
        f.create_group("vars")
        for i in range(n_layers):
            g = f.create_group(f"layers/dense{'' if i == 0 else '_' + str(i)}/vars")
            k = rng.standard_normal((rows, max(1, per // rows)), dtype=np.float32)
            b = rng.standard_normal((k.shape[1],), dtype=np.float32)
            g["0"], g["1"] = k, b
            arrays += [k, b]
    return arrays


def temp_leftovers(folder):
    """keras64's temporary outputs (".<name>.keras64-tmp-<pid>-<n>") in a folder."""
    return [p for p in Path(folder).iterdir() if ".keras64-tmp-" in p.name]


def zip_member_offset(archive, name):
    """Where member `name`'s (compressed) bytes start in the archive file (past its local
    header), for tests that damage a member's data."""
    import zipfile

    with zipfile.ZipFile(archive) as z:
        info = z.getinfo(name)
    raw = Path(archive).read_bytes()
    h = info.header_offset
    assert raw[h:h + 4] == b"PK\x03\x04"
    return h + 30 + int.from_bytes(raw[h + 26:h + 28], "little") + int.from_bytes(raw[h + 28:h + 30], "little")


def flip_bit(path, offset, bit=2):
    """Flips one bit of a file in place."""
    raw = bytearray(Path(path).read_bytes())
    raw[offset] ^= 1 << bit
    Path(path).write_bytes(bytes(raw))


def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC32C (Castagnoli), computed here independently of keras64 (slow: small tensors only)."""
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def open_weights(path):
    """The HDF5 weights of a file (h5py, read-only): the file itself, or model.weights.h5 inside
    a .keras."""
    import io
    import zipfile

    import h5py

    path = Path(path)
    if path.suffix == ".keras":
        with zipfile.ZipFile(path) as z:
            return h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
    return h5py.File(path, "r")


def config_dtypes(node, path="", out=None):
    """{json path: value} of every dtype in a Keras config: DTypePolicy / tf.keras Policy names
    and every plain "dtype" string, those of __keras_tensor__ entries included."""
    out = {} if out is None else out
    if isinstance(node, list):
        for i, v in enumerate(node):
            config_dtypes(v, f"{path}/{i}", out)
    elif isinstance(node, dict):
        if node.get("class_name") in ("DTypePolicy", "FloatDTypePolicy", "Policy"):
            out[path] = node["config"]["name"]
            return out
        for k, v in node.items():
            if k == "dtype" and isinstance(v, str):
                out[f"{path}/{k}"] = v
            else:
                config_dtypes(v, f"{path}/{k}", out)
    return out
