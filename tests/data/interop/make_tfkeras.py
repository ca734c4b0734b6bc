#!/usr/bin/env python3
"""Writes the Keras 2 golden files under tests/data/interop/tfkeras/ with real tf-keras 2.21.

Run in the interop venv (TensorFlow 2.21, tf-keras 2.21):

    .venv-interop/bin/python tests/data/interop/make_tfkeras.py [OUT_DIR] [--only NAME ...]

Every model is built under fixed seeds with TensorFlow's op determinism on, compiled with Adam
and metrics, and fitted for one step (one batch), so optimizer and metric state exist. Each one is
then saved in every form tf-keras writes (see README.md, which this script also writes). A second
run reproduces the same arrays (weights, input, prediction); the files may differ in timestamps.

The registered custom layer lives here too: tests import this module (importing runs nothing)
for `GatedBlock` before they ask tf-keras to load a file that names it.
"""
import argparse
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

HERE = Path(__file__).resolve().parent
SEED = 20261202
PACKAGE = "tfk_golden"


@keras.saving.register_keras_serializable(package=PACKAGE)
class GatedBlock(keras.layers.Layer):
    """A layer that owns variables (trainable `gate`, non-trainable `steps`, a training-step
    counter) AND has sublayers (`block0`, `block1`): the case where a weight list's order depends
    on how the framework walks a layer (tf-keras: own trainable, sublayers' trainable, own
    non-trainable, sublayers' non-trainable)."""

    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        # Sublayers made here do not inherit this layer's dtype policy unless given it: without
        # it, a float64 config would still build them at the global policy (float32).
        self.block0 = keras.layers.Dense(units, activation="tanh", name="block0",
                                         dtype=self.dtype_policy)
        self.block1 = keras.layers.Dense(units, name="block1", dtype=self.dtype_policy)

    def build(self, input_shape):
        self.gate = self.add_weight(name="gate", shape=(self.units,), initializer="random_normal",
                                    trainable=True)
        self.steps = self.add_weight(name="steps", shape=(), initializer="zeros", trainable=False)
        super().build(input_shape)  # the sublayers build on first call, under this layer's scope

    def call(self, x, training=None):
        if training:
            self.steps.assign_add(tf.constant(1.0, self.steps.dtype))
        h = self.block0(x)
        return self.block1(h) * tf.sigmoid(tf.cast(self.gate, h.dtype))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


L = keras.layers


def sequential():
    return keras.Sequential([keras.Input((3,)), L.Dense(4, activation="relu"), L.Dense(2)],
                            name="sequential")


def functional():
    inner = keras.Sequential([keras.Input((4,)), L.Dense(4, activation="tanh", name="inner_dense"),
                              L.Dense(3, name="inner_out")], name="inner")
    x = keras.Input((3,), name="x")
    pre = L.Dense(3, name="pre")(x)
    shared = L.Dense(4, name="shared")
    h = L.Add(name="add")([shared(x), shared(pre)])
    y = L.Dense(2, name="head")(inner(h))
    return keras.Model(x, y, name="functional")


def rnn():
    x = keras.Input((5, 3), name="seq")
    h = L.LSTM(4, return_sequences=True, name="lstm")(x)
    h = L.Bidirectional(L.GRU(3, name="gru"), name="bidi")(h)
    return keras.Model(x, L.Dense(2, name="head")(h), name="rnn")


def batchnorm():
    return keras.Sequential([keras.Input((3,)), L.Dense(4, name="dense"),
                             L.BatchNormalization(name="bn"), L.Activation("relu"),
                             L.Dense(2, name="head")], name="batchnorm")


def embedding():
    return keras.Sequential([keras.Input((6,), dtype="int32"), L.Embedding(10, 4, name="embed"),
                             L.GlobalAveragePooling1D(), L.Dense(3, name="head")],
                            name="embedding")


def mha():
    x = keras.Input((4, 6), name="tokens")
    a = L.MultiHeadAttention(num_heads=2, key_dim=3, name="mha")(x, x)
    h = L.LayerNormalization(name="norm")(L.Add()([x, a]))
    y = L.Dense(1, name="head")(L.GlobalAveragePooling1D()(h))
    return keras.Model(x, y, name="attention")


def custom():
    return keras.Sequential([keras.Input((3,)), GatedBlock(3, name="gated"),
                             L.Dense(2, name="head")], name="custom")


def mixed_float16():
    return keras.Sequential([keras.Input((3,)), L.Dense(4, activation="relu", name="dense"),
                             L.Dense(2, name="head", dtype="float32")], name="mixed")


def float64():
    return keras.Sequential([keras.Input((3,)), L.Dense(4, activation="relu", name="dense"),
                             L.BatchNormalization(name="bn"), L.Dense(2, name="head")],
                            name="float64")


def _regression(n_out):
    return "mse", ["mae", keras.metrics.RootMeanSquaredError(name="rmse")], n_out


# name: (builder, global policy while building, loss, metrics, output units, input kind,
#        description)
MODELS = {
    "sequential": (sequential, "float32", *_regression(2), "float",
                   "Sequential: Dense(4, relu, input 3) -> Dense(2)"),
    "functional": (functional, "float32", *_regression(2), "float",
                   "Functional: Dense 'pre', Dense 'shared' applied to the input and to pre's "
                   "output, Add, nested Sequential 'inner' (2 Dense), Dense 'head'"),
    "rnn": (rnn, "float32", *_regression(2), "seq",
            "Functional: LSTM(4, return_sequences) -> Bidirectional(GRU(3)) -> Dense(2)"),
    "batchnorm": (batchnorm, "float32", *_regression(2), "float",
                  "Sequential: Dense -> BatchNormalization (moving stats updated by the fit "
                  "step) -> relu -> Dense"),
    "embedding": (embedding, "float32", "sparse_categorical_crossentropy", ["accuracy"], 3,
                  "int", "Sequential: int32 input -> Embedding(10, 4) -> GlobalAveragePooling1D "
                  "-> Dense(3)"),
    "mha": (mha, "float32", *_regression(1), "tokens",
            "Functional: MultiHeadAttention(2 heads, key_dim 3) self-attention, Add, "
            "LayerNormalization, GlobalAveragePooling1D, Dense(1)"),
    "custom": (custom, "float32", *_regression(2), "float",
               f"Sequential: registered custom layer {PACKAGE}>GatedBlock (own trainable 'gate', "
               "own non-trainable 'steps', Dense sublayers 'block0' and 'block1') -> Dense"),
    "mixed_float16": (mixed_float16, "mixed_float16", *_regression(2), "float",
                      "mixed_float16 policy (float32 variables, float16 compute), last layer "
                      "float32; Adam wrapped in LossScaleOptimizer"),
    "float64": (float64, "float64", *_regression(2), "float",
                "float64 policy everywhere: Dense -> BatchNormalization -> Dense"),
}

#: Models whose SavedModel is written with save_traces=False (size).
LIGHT_SAVEDMODEL = {"rnn"}

FILES = {
    "legacy_h5": "model.h5",
    "legacy_weights_h5": "model_weights.h5",
    "keras": "model.keras",
    "tf_checkpoint": "ckpt/ckpt",
    "savedmodel": "savedmodel",
}


def _data(kind, n_out, loss, rng, n=4):
    """Input, training input and training target for one model."""
    if kind == "int":
        x = rng.integers(0, 10, size=(n, 6), dtype=np.int32)
        xt = rng.integers(0, 10, size=(8, 6), dtype=np.int32)
    else:
        shape = {"float": (3,), "seq": (5, 3), "tokens": (4, 6)}[kind]
        x = rng.standard_normal((n, *shape)).astype(np.float32)
        xt = rng.standard_normal((8, *shape)).astype(np.float32)
    if loss == "sparse_categorical_crossentropy":
        yt = rng.integers(0, n_out, size=(8,), dtype=np.int32)
    else:
        yt = rng.standard_normal((8, n_out)).astype(np.float32)
    return x, xt, yt


def _widen(a):
    return a.astype(np.float64) if np.issubdtype(a.dtype, np.floating) else a


def _var_entry(i, v, a):
    return {"index": i, "npz_key": f"w{i:03d}", "name": v.name, "path": v.name.split(":")[0],
            "shape": list(a.shape), "dtype": str(a.dtype), "trainable": bool(v.trainable)}


def _optimizer_vars(model):
    opt = model.optimizer
    return list(opt.variables)


def make_model(name, out_root):
    builder, policy, loss, metrics, n_out, kind, description = MODELS[name]
    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = builder()
        opt = keras.optimizers.Adam(learning_rate=0.01)
        if policy == "mixed_float16":
            opt = keras.mixed_precision.LossScaleOptimizer(opt)
        model.compile(optimizer=opt, loss=loss, metrics=metrics)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    rng = np.random.default_rng(SEED)
    x, xt, yt = _data(kind, n_out, loss, rng)
    if policy == "float64" and kind != "int":
        x, xt, yt = x.astype(np.float64), xt.astype(np.float64), yt.astype(np.float64)
    model.fit(xt, yt, batch_size=len(xt), epochs=1, shuffle=False, verbose=0)
    prediction = model(x, training=False).numpy()

    weights = model.get_weights()
    assert len(weights) == len(model.weights)
    for w, v in zip(weights, model.weights):  # get_weights() follows model.weights
        assert w.shape == tuple(v.shape) and w.dtype == v.dtype.as_numpy_dtype
    opt_vars = _optimizer_vars(model)
    opt_arrays = [v.numpy() for v in opt_vars]
    metric_vars = [(m.name, v) for m in model.metrics for v in m.variables]

    d = out_root / name
    if d.exists():
        shutil.rmtree(d)
    (d / "expected").mkdir(parents=True)
    model.save(d / FILES["legacy_h5"])  # legacy HDF5: by the .h5 suffix
    model.save_weights(d / FILES["legacy_weights_h5"])
    model.save(d / FILES["keras"])
    model.save_weights(str(d / FILES["tf_checkpoint"]))  # no .h5 suffix: TF checkpoint format
    # The traced call functions of LSTM/GRU alone make a 2.4 MB saved_model.pb; without traces
    # the SavedModel keeps its variables, object graph and keras_metadata.pb (and a serving
    # signature), which is what a reader of the weights needs.
    model.save(d / FILES["savedmodel"], save_format="tf",
               save_traces=name not in LIGHT_SAVEDMODEL)
    for w, v in zip(weights, model.get_weights()):
        assert np.array_equal(w, v), "saving changed a weight"

    e = d / "expected"
    np.savez(e / "weights.npz", **{f"w{i:03d}": w for i, w in enumerate(weights)})
    np.savez(e / "weights_f64.npz", **{f"w{i:03d}": _widen(w) for i, w in enumerate(weights)})
    np.savez(e / "optimizer.npz", **{f"o{i:03d}": a for i, a in enumerate(opt_arrays)})
    np.save(e / "input.npy", x)
    np.save(e / "prediction.npy", prediction)
    manifest = {
        "model": name,
        "description": description,
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "framework": "tf_keras",
        "backend": "tensorflow",
        "model_class": type(model).__name__,
        "model_name": model.name,
        "dtype_policy": policy,
        "variable_dtypes": sorted({str(w.dtype) for w in weights}),
        "custom_objects_module": "make_tfkeras" if name == "custom" else None,
        "files": FILES,
        "compile": {"optimizer": type(model.optimizer).__name__, "loss": loss,
                    "metrics": [m if isinstance(m, str) else m.name for m in metrics],
                    "fit": "one step: one batch of 8 samples, shuffle off"},
        "input": {"file": "input.npy", "shape": list(x.shape), "dtype": str(x.dtype)},
        "prediction": {"file": "prediction.npy", "shape": list(prediction.shape),
                       "dtype": str(prediction.dtype), "how": "model(input, training=False)"},
        "variables": [_var_entry(i, v, w) for i, (v, w) in enumerate(zip(model.weights, weights))],
        "optimizer_variables": [
            {"index": i, "npz_key": f"o{i:03d}", "name": v.name, "shape": list(a.shape),
             "dtype": str(a.dtype)} for i, (v, a) in enumerate(zip(opt_vars, opt_arrays))],
        # LossScaleOptimizer: its own state (checkpointed, not in .variables or .h5 files)
        "loss_scale": ({"current": float(model.optimizer.loss_scale),
                        "dynamic_counter": int(model.optimizer.dynamic_counter)}
                       if policy == "mixed_float16" else None),
        "metric_variables": [{"metric": m, "name": v.name, "shape": list(v.shape),
                              "dtype": v.dtype.name} for m, v in metric_vars],
        "notes": {
            "weights.npz": "model.get_weights() in order, original dtypes, keys w000...",
            "weights_f64.npz": "the same, every float array .astype(np.float64), others kept",
            "optimizer.npz": "model.optimizer.variables in order, keys o000... (not in "
                             "get_weights())",
            "metric_variables": "metric state (totals/counts): never part of get_weights()",
        },
    }
    (e / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


README = """# Keras 2 golden files (tf-keras {keras_version}, TensorFlow {tf_version})

Made by `../make_tfkeras.py` in the interop venv (`.venv-interop/bin/python
tests/data/interop/make_tfkeras.py`; `scripts/test-interop.sh` sets the venv up from
`requirements-interop.txt`). Every model is built with `tf_keras.utils.set_random_seed({seed})`
and `tf.config.experimental.enable_op_determinism()`, compiled with Adam(0.01) and metrics, and
fitted for one step on one batch, so optimizer and metric state exist in the files. Running the
generator again reproduces the same arrays (weights, input, prediction); the files differ only in
timestamps (zip dates, `metadata.json` `date_saved`, SavedModel fingerprints).

Each `<model>/` holds:

| file | written by |
|---|---|
| `model.h5` | `model.save("model.h5")`: full-model legacy HDF5 (config, weights, optimizer) |
| `model_weights.h5` | `model.save_weights("model_weights.h5")`: weights-only legacy HDF5 |
| `model.keras` | `model.save("model.keras")`: tf-keras's own zip (`config.json`, `model.weights.h5` with optimizer and metric state) |
| `ckpt/ckpt.index`, `ckpt/ckpt.data-00000-of-00001`, `ckpt/checkpoint` | `model.save_weights("ckpt/ckpt")`: TF object checkpoint (TensorBundle) |
| `savedmodel/` | `model.save("savedmodel", save_format="tf")`: SavedModel with `keras_metadata.pb` (`rnn`: with `save_traces=False`, as the LSTM/GRU traces alone take 2.4 MB) |

and `expected/`: `weights.npz` (`model.get_weights()` in order, original dtypes, keys `w000`...),
`weights_f64.npz` (each float array `.astype(np.float64)`, others kept), `optimizer.npz`
(`model.optimizer.variables`), `input.npy`, `prediction.npy` (`model(input, training=False)`)
and `manifest.json` (names `[w.name for w in model.weights]`, dtypes, shapes, trainable; the
optimizer's and the metrics' variable names; versions).

| model | policy | #weights | #optimizer vars | #metric vars | description |
|---|---|---|---|---|---|
{rows}

The custom layer `{package}>GatedBlock` is defined in `make_tfkeras.py`; import that module
(it runs nothing on import) before loading `custom/` files with tf-keras.
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", default=str(HERE / "tfkeras"))
    ap.add_argument("--only", nargs="*", choices=sorted(MODELS), default=None)
    args = ap.parse_args(argv)
    tf.config.experimental.enable_op_determinism()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.only or MODELS:
        m = make_model(name, out)
        print(f"{name}: {len(m['variables'])} weights, {len(m['optimizer_variables'])} optimizer "
              f"vars, {len(m['metric_variables'])} metric vars", file=sys.stderr)
    rows = []
    for name in MODELS:
        mf = out / name / "expected" / "manifest.json"
        if not mf.exists():
            continue
        m = json.loads(mf.read_text())
        rows.append(f"| {name} | {m['dtype_policy']} | {len(m['variables'])} | "
                    f"{len(m['optimizer_variables'])} | {len(m['metric_variables'])} | "
                    f"{m['description']} |")
    (out / "README.md").write_text(README.format(
        keras_version=keras.__version__, tf_version=tf.__version__, seed=SEED, package=PACKAGE,
        rows="\n".join(rows)))


if __name__ == "__main__":
    main()
