"""Writes small legacy Keras HDF5 files, one per quirk of the writers of the last ten years.

Usage: /usr/bin/python3 make_quirks.py OUTDIR   (Debian's python3 with numpy and h5py)

The layouts follow docs/keras-formats.md §6-§7 and what Keras 1.x, Keras 2.x / tf.keras and the
Keras 3 legacy writer put in their files; tests/unit/legacy_quirks_test.cpp checks how keras64
reads each one. Values are arange-based so a reader can check them too: tensor k of a file holds
k * 100 + arange(n).
"""
import json
import os
import sys
import zipfile

import h5py
import numpy as np

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)

VLEN_ASCII = h5py.string_dtype("ascii")
VLEN_UTF8 = h5py.string_dtype("utf-8")


def fixed(strings):
    """Fixed-length |S array, as older h5py/Keras 2 wrote them."""
    enc = [s.encode("utf-8") for s in strings]
    n = max([len(s) for s in enc] + [1])
    return np.array(enc, dtype="S%d" % n)


def names_attr(obj, name, strings, kind="vlen"):
    if not strings:
        obj.attrs[name] = np.array([], dtype=np.float64)  # how Keras writes an empty list
    elif kind == "vlen":
        obj.attrs.create(name, np.array(strings, dtype=object), dtype=VLEN_ASCII)
    elif kind == "vlen-utf8":
        obj.attrs.create(name, np.array(strings, dtype=object), dtype=VLEN_UTF8)
    elif kind == "fixed":
        obj.attrs[name] = fixed(strings)
    elif kind == "fixed-utf8":
        data = fixed(strings)
        obj.attrs.create(name, data, dtype=h5py.string_dtype("utf-8", data.dtype.itemsize))
    else:
        raise ValueError(kind)


class Counter:
    def __init__(self):
        self.k = 0

    def values(self, shape, dtype=np.float32):
        n = int(np.prod(shape)) if shape else 1
        v = (self.k * 100 + np.arange(n)).astype(dtype).reshape(shape)
        self.k += 1
        return v


def write_layers(root, layers, kind="vlen", chunk_layer_names=None):
    """layers: list of (group name, [(weight name, shape[, dtype])]) in layer_names order.
    Datasets are created in the order given; groups in reversed order so that HDF5's creation
    order never happens to equal layer_names order."""
    c = Counter()
    for name, weights in reversed(layers):
        root.require_group(name)
    for name, weights in layers:
        g = root[name]
        names_attr(g, "weight_names", [w[0] for w in weights], kind)
        for w in weights:
            shape = w[1]
            dtype = w[2] if len(w) > 2 else np.float32
            g.create_dataset(w[0], data=c.values(shape, dtype))
    names = [l[0] for l in layers]
    if chunk_layer_names:
        for i in range(0, len(names), chunk_layer_names):
            names_attr(root, "layer_names%d" % (i // chunk_layer_names), names[i:i + chunk_layer_names], kind)
    else:
        names_attr(root, "layer_names", names, kind)


def full_model(path, model_config, layers, keras_version="2.15.0", kind="vlen", **kw):
    with h5py.File(path, "w") as f:
        if model_config is not None:
            f.attrs["model_config"] = json.dumps(model_config).encode("ascii") if kind.startswith("fixed") else json.dumps(model_config)
        f.attrs["keras_version"] = keras_version.encode() if kind.startswith("fixed") else keras_version
        f.attrs["backend"] = "tensorflow"
        mw = f.create_group("model_weights")
        write_layers(mw, layers, kind, **kw)
        mw.attrs["keras_version"] = keras_version
        mw.attrs["backend"] = "tensorflow"
        return path


def weights_only(path, layers, keras_version="2.15.0", kind="vlen", **kw):
    with h5py.File(path, "w") as f:
        write_layers(f, layers, kind, **kw)
        f.attrs["keras_version"] = keras_version
        f.attrs["backend"] = "tensorflow"


def layer(cls, name, **config):
    return {"class_name": cls, "config": dict(name=name, trainable=True, **config)}


def functional(name, layers):
    for l in layers:
        l["name"] = l["config"]["name"]
        l["inbound_nodes"] = []
    return {"class_name": "Functional", "config": {"name": name, "layers": layers, "input_layers": [], "output_layers": []}}


def sequential(name, layers):
    return {"class_name": "Sequential", "config": {"name": name, "layers": layers}}


# Keras 1.x: Sequential config is a bare list; names like dense_1_W; a 12-array LSTM; fixed strings.
lstm12 = [("lstm_1_%s_%s" % (m, g), s) for g in "icfo" for m, s in (("W", (3, 4)), ("U", (4, 4)), ("b", (4,)))]
full_model(f"{OUT}/keras1.h5",
           {"class_name": "Sequential", "config": [layer("LSTM", "lstm_1"), layer("Dense", "dense_1")]},
           [("lstm_1", lstm12), ("dense_1", [("dense_1_W", (4, 2)), ("dense_1_b", (2,))])],
           keras_version="1.2.2", kind="fixed")

# tf.keras 2: names with ":0" (and one layer without, as some writers did), fixed-length strings.
weights_only(f"{OUT}/tf2_colon.h5",
             [("dense", [("dense/kernel:0", (3, 2)), ("dense/bias:0", (2,))]),
              ("dense_1", [("dense_1/kernel", (2, 1)), ("dense_1/bias", (1,))])],
             kind="fixed")

# Deeply nested names: a nested Functional 'model' holding an LSTM, as tf.keras names them.
full_model(f"{OUT}/nested_lstm.h5",
           functional("outer", [layer("InputLayer", "input_1"),
                                functional("model", [layer("InputLayer", "input_2"), layer("LSTM", "lstm")]),
                                layer("Dense", "dense")]),
           [("input_1", []),
            ("model", [("model/lstm/lstm_cell/kernel:0", (3, 8)), ("model/lstm/lstm_cell/recurrent_kernel:0", (2, 8)),
                       ("model/lstm/lstm_cell/bias:0", (8,))]),
            ("dense", [("dense/kernel:0", (2, 1)), ("dense/bias:0", (1,))])])

# Weight names whose prefix is not the layer's group (a layer renamed after its weights were made).
weights_only(f"{OUT}/renamed.h5",
             [("head", [("dense_7/kernel:0", (3, 2)), ("dense_7/bias:0", (2,))])])

# String attributes: variable-length UTF-8 with a non-ASCII layer name, and fixed-length UTF-8.
weights_only(f"{OUT}/utf8_vlen.h5", [("dénse", [("dénse/kernel:0", (2, 2))])], kind="vlen-utf8")
weights_only(f"{OUT}/utf8_fixed.h5", [("dénse", [("dénse/kernel:0", (2, 2))])], kind="fixed-utf8")
weights_only(f"{OUT}/ascii_vlen.h5", [("dense", [("dense/kernel:0", (2, 2))])], kind="vlen")

# layer_names split over layer_names0, layer_names1, ... (Keras 2 does it above 64512 bytes): 1500
# layers with 60-character names, split as Keras would; weight_names of one layer split too.
many = [("layer_%054d" % i, [("layer_%054d/w:0" % i, (1,))]) for i in range(1500)]
with h5py.File(f"{OUT}/chunked.h5", "w") as f:
    write_layers(f, many, chunk_layer_names=1000)
    g = f[many[0][0]]
    del g.attrs["weight_names"]
    names_attr(g, "weight_names0", [many[0][1][0][0]])
    f.attrs["keras_version"] = "2.4.0"

# Layers without weights: weight_names is an empty float64 array; Keras 3's top_level_model_weights.
full_model(f"{OUT}/weightless.h5",
           sequential("seq", [layer("Dense", "dense"), layer("Dropout", "dropout"), layer("Flatten", "flatten"),
                              layer("Dense", "dense_1")]),
           [("dense", [("seq/dense/kernel", (2, 2)), ("seq/dense/bias", (2,))]), ("dropout", []), ("flatten", []),
            ("dense_1", [("seq/dense_1/kernel", (2, 1)), ("seq/dense_1/bias", (1,))])],
           keras_version="3.15.1")
with h5py.File(f"{OUT}/weightless.h5", "a") as f:
    names_attr(f["model_weights"].create_group("top_level_model_weights"), "weight_names", [])

# layer_names order differs from HDF5's (alphabetical) iteration order.
weights_only(f"{OUT}/order.h5",
             [("zeta", [("zeta/kernel:0", (2,))]), ("alpha", [("alpha/kernel:0", (3,))]),
              ("mid", [("mid/kernel:0", (4,))])])

# bfloat16 as 2-byte OPAQUE without the dtype attribute (Keras 3 legacy writer).
with h5py.File(f"{OUT}/bf16.h5", "w") as f:
    g = f.create_group("dense")
    names_attr(g, "weight_names", ["bf/dense/kernel"])
    bits = np.array([0x3F80, 0x4000, 0xBF80], dtype="<u2")  # 1.0, 2.0, -1.0
    g.create_dataset("bf/dense/kernel", data=bits.view("V2"))
    names_attr(f, "layer_names", ["dense"])

# Nested models whose legacy order is trainable-first: a nested Sequential with a BatchNorm in
# the middle (reorderable from the file alone), and one with a Normalization (no trainable
# variable at all) in the middle, which needs the config to place.
inner_bn = sequential("block", [layer("Dense", "d1"), layer("BatchNormalization", "bn"), layer("Dense", "d2")])
inner_norm = sequential("prep", [layer("Dense", "e1"), layer("Normalization", "norm"), layer("Dense", "e2")])
nested_layers = [
    ("block", [("block/d1/kernel", (2, 3)), ("block/d1/bias", (3,)), ("block/bn/gamma", (3,)), ("block/bn/beta", (3,)),
               ("block/d2/kernel", (3, 2)), ("block/d2/bias", (2,)),
               ("block/bn/moving_mean", (3,)), ("block/bn/moving_variance", (3,))]),
    ("prep", [("prep/e1/kernel", (2, 2)), ("prep/e1/bias", (2,)), ("prep/e2/kernel", (2, 2)), ("prep/e2/bias", (2,)),
              ("prep/norm/mean", (2,)), ("prep/norm/variance", (2,)), ("prep/norm/count", (), np.int64)]),
]
full_model(f"{OUT}/nested_models.h5", sequential("top", [inner_bn, inner_norm]), nested_layers, keras_version="3.15.1")
weights_only(f"{OUT}/nested_models_weights.h5", nested_layers, keras_version="3.15.1")

# A custom layer with own non-trainable variable and a sublayer (tf.keras names): tf.keras's
# get_weights() is the file's order; the same layer written by Keras 3 is reordered.
weights_only(f"{OUT}/custom.h5",
             [("resid", [("resid/scale:0", (2,)), ("resid/offset:0", (2,)), ("resid/proj/kernel:0", (2, 2)),
                         ("resid/proj/bias:0", (2,)), ("resid/calls:0", (), np.int32)])])
weights_only(f"{OUT}/custom3.h5",
             [("resid", [("resid/scale", (2,)), ("resid/offset", (2,)), ("resid/proj/kernel", (2, 2)),
                         ("resid/proj/bias", (2,)), ("resid/calls", (), np.int32)])], keras_version="3.15.1")

# Sibling sublayers of an unknown class with a non-trainable one: order cannot be known (b may
# hold only non-trainable variables and come before a).
full_model(f"{OUT}/unknown_siblings.h5",
           sequential("m", [layer("MyBlock", "blk")]),
           [("blk", [("blk/a/kernel", (2,)), ("blk/b/kernel", (2,)), ("blk/a/moving_mean", (2,))])],
           keras_version="3.15.1")
# Keras 2 without a config: sublayer variables only, in an order a nested model would list
# differently - the architecture decides.
weights_only(f"{OUT}/keras2_sublayers_only.h5",
             [("blk", [("blk/a/kernel:0", (2,)), ("blk/b/kernel:0", (2,)), ("blk/a/moving_mean:0", (2,))])])

# Optimizer weights (tf.keras 2 names).
full_model(f"{OUT}/optimizer.h5", sequential("m", [layer("Dense", "dense")]),
           [("dense", [("dense/kernel:0", (2, 2)), ("dense/bias:0", (2,))])])
with h5py.File(f"{OUT}/optimizer.h5", "a") as f:
    g = f.create_group("optimizer_weights")
    names_attr(g, "weight_names", ["Adam/iter:0", "Adam/dense/kernel/m:0", "Adam/dense/bias/m:0"])
    g.create_dataset("Adam/iter:0", data=np.int64(3))
    g.create_dataset("Adam/dense/kernel/m:0", data=np.zeros((2, 2), np.float32))
    g.create_dataset("Adam/dense/bias/m:0", data=np.zeros((2,), np.float32))
    f.attrs["training_config"] = json.dumps({"optimizer_config": {"class_name": "Adam", "config": {}}})

# A legacy file whose name says .keras.
weights_only(f"{OUT}/legacy_named.keras", [("dense", [("dense/kernel:0", (2, 2))])])

# --- inconsistent files ---
weights_only(f"{OUT}/bad_missing_dataset.h5", [("dense", [("dense/kernel:0", (2, 2))])])
with h5py.File(f"{OUT}/bad_missing_dataset.h5", "a") as f:
    names_attr(f["dense"], "weight_names", ["dense/kernel:0", "dense/bias:0"])

weights_only(f"{OUT}/bad_missing_group.h5", [("dense", [("dense/kernel:0", (2, 2))])])
with h5py.File(f"{OUT}/bad_missing_group.h5", "a") as f:
    names_attr(f, "layer_names", ["dense", "dense_1"])

full_model(f"{OUT}/bad_layer_count.h5", sequential("m", [layer("Dense", "dense"), layer("Dense", "dense_1")]),
           [("dense", [("dense/kernel:0", (2, 2))])])

with h5py.File(f"{OUT}/bad_no_layer_names.h5", "w") as f:
    f.attrs["model_config"] = json.dumps(sequential("m", []))
    f.create_group("model_weights")

# An architecture for weights-only files: a .keras with a config.json only.
with zipfile.ZipFile(f"{OUT}/nested_models_arch.keras", "w") as z:
    z.writestr("config.json", json.dumps(sequential("top", [inner_bn, inner_norm])))


# --- tf.keras 2.13-2.15 .keras archives ---
def tfkeras_zip(path, version, config, datasets, sep="/"):
    """datasets: list of (layout path with '/', shape); groups are joined with `sep` as tf.keras
    did on that OS (os.path.join), "vars" always a real child group."""
    h5path = path + ".weights.h5"
    c = Counter()
    with h5py.File(h5path, "w") as f:
        for p, shape in datasets:
            parts = p.split("/")
            if parts[-1] == "vars":  # an empty vars group
                f.require_group(sep.join(parts[:-1])).require_group("vars") if len(parts) > 1 else f.require_group("vars")
                continue
            obj, index = parts[:-2], parts[-1]
            g = f.require_group(sep.join(obj)) if obj else f
            g.require_group("vars").create_dataset(index, data=c.values(shape))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": version, "date_saved": "2023-09-01@10:00:00"}))
        z.writestr("config.json", json.dumps(config))
        z.write(h5path, "model.weights.h5")
    os.remove(h5path)


tf_config = {"module": "keras", "class_name": "Sequential", "config": {"name": "seq", "layers": [
    {"module": "keras.layers", "class_name": "InputLayer", "config": {"name": "input_1"}},
    {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense"}},
    {"module": "keras.layers", "class_name": "Dropout", "config": {"name": "dropout"}},
    {"module": "keras.layers", "class_name": "BatchNormalization", "config": {"name": "bn"}},
    {"module": "keras.layers", "class_name": "LSTM", "config": {"name": "lstm"}},
    {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense_1"}}]}}
# _layer_checkpoint_dependencies holds every weighted layer twice, so weighted keys skip numbers.
tf_datasets = [
    ("_layer_checkpoint_dependencies/dense/vars/0", (3, 4)), ("_layer_checkpoint_dependencies/dense/vars/1", (4,)),
    ("_layer_checkpoint_dependencies/dropout/vars", None),
    ("_layer_checkpoint_dependencies/batch_normalization/vars/0", (4,)),
    ("_layer_checkpoint_dependencies/batch_normalization/vars/1", (4,)),
    ("_layer_checkpoint_dependencies/batch_normalization/vars/2", (4,)),
    ("_layer_checkpoint_dependencies/batch_normalization/vars/3", (4,)),
    ("_layer_checkpoint_dependencies/lstm/vars", None),
    ("_layer_checkpoint_dependencies/lstm/cell/vars/0", (4, 8)),
    ("_layer_checkpoint_dependencies/lstm/cell/vars/1", (2, 8)),
    ("_layer_checkpoint_dependencies/lstm/cell/vars/2", (8,)),
    ("_layer_checkpoint_dependencies/dense_2/vars/0", (2, 1)), ("_layer_checkpoint_dependencies/dense_2/vars/1", (1,)),
    ("optimizer/vars/0", ()), ("optimizer/vars/1", (3, 4)),
]
tfkeras_zip(f"{OUT}/tfkeras_ckpt_deps.keras", "2.13.1", tf_config, tf_datasets)
tfkeras_zip(f"{OUT}/tfkeras_windows.keras", "2.15.0", tf_config, tf_datasets, sep="\\")
