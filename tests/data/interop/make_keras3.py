#!/usr/bin/env python3
"""Generates the Keras 3 golden models of tests/data/interop/keras3/<backend>/<model>/, made by
real Keras 3.15.1 on the TensorFlow backend (the full set) and on JAX and torch (one model
each), with their float64 references computed on the TensorFlow backend. Deterministic: fixed
seeds, fixed inputs. Run in the interop venv (requirements-interop.txt) from the repo root:

    .venv-interop/bin/python tests/data/interop/make_keras3.py

which runs itself once per backend (`--backend B`, KERAS_BACKEND is fixed per process) and then
once more on TensorFlow (`--reference`) for the float64 references.

Each model directory holds model.keras, model.weights.h5, model_sharded.weights.json (+ shards),
model_legacy.h5 (full legacy HDF5) and model_legacy_weights.h5 (legacy weights-only HDF5, as
Keras 3's legacy writer lays it out), and expected/:
  manifest.json     model, backend, policy, and per variable: path, name, shape, dtype, trainable
  weights.npz       get_weights() as stored (w000, w001, ...; bfloat16 as its uint16 bits)
  weights_f64.npz   the same widened to float64 (integers kept)
  input.npy, prediction.npy    an input and the model's own prediction on its backend
  prediction_f64.npy  the float64 reference: the model's config with every float dtype policy
                    float64, rebuilt on the TensorFlow backend (which computes float64; the
                    other backends demote float64 to float32 in result_type), weights_f64 set,
                    the input cast to float64, predicted.
"""
import argparse
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "keras3"
SEED = 1234
# The full set on TensorFlow; one model on each other backend.
PLAN = {"tensorflow": ["mlp", "functional", "cnn", "rnn", "custom", "adam", "mixed_float16",
                       "float64", "bfloat16"],
        "jax": ["adam"], "torch": ["adam"]}
FLOAT_POLICIES = {"float16", "float32", "bfloat16", "float64", "mixed_float16", "mixed_bfloat16"}


def build(name, keras):
    """The model `name`, built (and for the trained ones compiled and fitted one step)."""
    import numpy as np
    L = keras.layers
    sys.path.insert(0, str(HERE))
    import interop_custom_layers  # noqa: F401  (registers interop>GatedResidual)

    rng = np.random.default_rng(SEED)
    keras.utils.set_random_seed(SEED)
    policy = {"mixed_float16": "mixed_float16", "float64": "float64",
              "bfloat16": "bfloat16"}.get(name, "float32")
    keras.config.set_dtype_policy(policy)
    x = rng.standard_normal((4, 5)).astype("float32")
    train = False
    if name == "mlp":
        m = keras.Sequential([keras.Input((5,)), L.Dense(8, activation="relu"), L.Dense(1)],
                             name=name)
        desc = "Sequential: Dense(8, relu, input 5) -> Dense(1)"
    elif name == "functional":
        inp = keras.Input((5, 6), name="tokens")
        att = L.MultiHeadAttention(num_heads=2, key_dim=3, name="mha")(inp, inp)
        h = L.LayerNormalization(name="norm")(L.Add()([inp, att]))
        ffn = keras.Sequential([keras.Input((5, 6)), L.Dense(8, activation="relu"), L.Dense(6)],
                               name="ffn")
        inner_in = keras.Input((5, 6))
        inner = keras.Model(inner_in, L.Dense(6, activation="tanh", name="inner_dense")(inner_in),
                            name="inner")
        h = inner(ffn(h))
        shared = L.Dense(4, name="shared")
        c = L.Concatenate()([shared(h), shared(inp)])
        out = L.Dense(1, name="head")(L.GlobalAveragePooling1D()(c))
        m = keras.Model(inp, out, name=name)
        x = rng.standard_normal((3, 5, 6)).astype("float32")
        desc = ("Functional: MultiHeadAttention, Add, LayerNormalization, nested Sequential 'ffn' "
                "and nested Functional 'inner', Dense 'shared' applied twice, Concatenate, "
                "GlobalAveragePooling1D, Dense")
    elif name == "cnn":
        m = keras.Sequential([keras.Input((6, 6, 2)), L.Conv2D(3, 3), L.BatchNormalization(),
                              L.MaxPooling2D(), L.Conv2D(4, 2, padding="same"), L.Flatten(),
                              L.Dense(4, activation="relu"), L.Dropout(0.5),
                              L.Dense(3, activation="softmax")], name=name)
        x = rng.standard_normal((2, 6, 6, 2)).astype("float32")
        desc = ("Conv2D + BatchNormalization + MaxPooling2D + Conv2D + Flatten + Dense + "
                "Dropout + Dense(softmax)")
    elif name == "rnn":
        m = keras.Sequential([keras.Input((6,), dtype="int32"), L.Embedding(20, 4),
                              L.LSTM(5, return_sequences=True), L.Bidirectional(L.GRU(3)),
                              L.Dense(2)], name=name)
        x = rng.integers(0, 20, (3, 6)).astype("int32")
        desc = "Embedding + LSTM + Bidirectional(GRU) + Dense; int32 input"
    elif name == "custom":
        m = keras.Sequential([keras.Input((5,)),
                              interop_custom_layers.GatedResidual(5, name="gated"),
                              L.Dense(2)], name=name)
        desc = ("registered custom layer interop>GatedResidual: own float vars scale/offset, "
                "int32 var 'steps' created between them, Dense sublayer 'proj'")
    elif name in ("adam", "mixed_float16", "float64", "bfloat16"):
        m = keras.Sequential([keras.Input((5,)), L.Dense(6, activation="relu"),
                              L.BatchNormalization(),
                              L.Dense(1, dtype="float32" if name == "mixed_float16" else None)],
                             name=name)
        train = name in ("adam", "mixed_float16")
        desc = {"adam": "Dense + BatchNormalization + Dense, compiled with Adam and metrics, "
                        "fitted one step (optimizer and metric state exist)",
                "mixed_float16": "mixed_float16 policy (float32 variables, float16 compute), "
                                 "last layer float32; Adam (a LossScaleOptimizer), fitted one step",
                "float64": "float64 policy everywhere",
                "bfloat16": "bfloat16 policy: variables and compute in bfloat16"}[name]
    else:
        raise ValueError(name)
    # Perturb every float variable so no bias is zero and no scale one; variances stay > 0.
    ws = []
    for v, w in zip(m.weights, m.get_weights()):
        if w.dtype.kind == "f" or w.dtype.name == "bfloat16":
            p = w.astype("float64") + 0.25 * rng.standard_normal(w.shape)
            w = (abs(p) + 0.5 if v.name == "moving_variance" else p).astype(w.dtype)
        ws.append(w)
    m.set_weights(ws)
    if train:
        m.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse",
                  metrics=["mae"])
        y = rng.standard_normal((8, 1)).astype("float32")
        xt = rng.standard_normal((8, 5)).astype("float32")
        m.fit(xt, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    keras.config.set_dtype_policy("float32")
    return m, x, desc, policy


def save_model(backend, name):
    import h5py
    import keras
    import numpy as np
    from keras.src.legacy.saving import legacy_h5_format

    if backend == "tensorflow":
        import tensorflow as tf
        tf.config.experimental.enable_op_determinism()
    m, x, desc, policy = build(name, keras)
    d = OUT / backend / name
    (d / "expected").mkdir(parents=True, exist_ok=True)
    for old in d.glob("*.h5"):
        old.unlink()
    m.save(d / "model.keras")
    m.save_weights(d / "model.weights.h5")
    # Shards of about 256 bytes (the unit is GiB), at least the largest tensor: several shards.
    biggest = max(w.size * w.dtype.itemsize for w in m.get_weights())
    m.save_weights(d / "model_sharded.weights.json", max_shard_size=max(biggest, 256) / 2**30)
    m.save(d / "model_legacy.h5")
    with h5py.File(d / "model_legacy_weights.h5", "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, m)

    weights = m.get_weights()
    raw, f64, variables = {}, {}, []
    for i, (v, w) in enumerate(zip(m.weights, weights)):
        key = f"w{i:03d}"
        dtype = w.dtype.name
        raw[key] = w.view(np.uint16) if dtype == "bfloat16" else w
        f64[key] = w.astype(np.float64) if (w.dtype.kind == "f" or dtype == "bfloat16") else w
        variables.append({"index": i, "npz_key": key, "path": v.path, "name": v.name,
                          "shape": list(w.shape), "dtype": dtype, "trainable": v.trainable})
    np.savez(d / "expected" / "weights.npz", **raw)
    np.savez(d / "expected" / "weights_f64.npz", **f64)
    np.save(d / "expected" / "input.npy", x)
    pred = np.asarray(m.predict(x, verbose=0))
    pred_dtype = pred.dtype.name
    if pred_dtype == "bfloat16":  # stored as float32 (exact), so every numpy reads it
        pred = pred.astype(np.float32)
    np.save(d / "expected" / "prediction.npy", pred)
    shards = sorted(p.name for p in d.glob("model_sharded_*.weights.h5"))
    manifest = {
        "model": name, "description": desc, "keras_version": keras.__version__,
        "backend": backend, "model_class": type(m).__name__, "model_name": m.name,
        "dtype_policy": policy,
        "custom_objects_module": "interop_custom_layers" if name == "custom" else None,
        "files": {"keras": "model.keras", "weights_h5": "model.weights.h5",
                  "sharded": "model_sharded.weights.json", "sharded_shards": shards,
                  "legacy_h5": "model_legacy.h5", "legacy_weights_h5": "model_legacy_weights.h5"},
        "input": {"file": "input.npy", "shape": list(x.shape), "dtype": x.dtype.name},
        "prediction": {"file": "prediction.npy", "shape": list(pred.shape),
                       "dtype": pred.dtype.name, "computed_as": pred_dtype},
        "optimizer_variables": len(m.optimizer.variables) if getattr(m, "optimizer", None) else 0,
        "variables": variables,
    }
    (d / "expected" / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{backend}/{name}: {len(variables)} variables, "
          f"{sum(p.stat().st_size for p in d.rglob('*') if p.is_file())} bytes")


def float64_config(cfg):
    """The model config with every float dtype policy and float dtype string made float64."""
    if isinstance(cfg, dict):
        out = {}
        for k, v in cfg.items():
            if k == "dtype" and isinstance(v, str) and v in FLOAT_POLICIES:
                v = "float64"
            elif (k == "config" and cfg.get("class_name") == "DTypePolicy"
                  and v.get("name") in FLOAT_POLICIES):
                v = {**v, "name": "float64"}
            out[k] = float64_config(v)
        return out
    if isinstance(cfg, list):
        return [float64_config(v) for v in cfg]
    return cfg


def reference(d):
    """Writes expected/prediction_f64.npy of model directory d (TensorFlow backend)."""
    import keras
    import numpy as np

    sys.path.insert(0, str(HERE))
    import interop_custom_layers  # noqa: F401

    with zipfile.ZipFile(d / "model.keras") as z:
        cfg = json.loads(z.read("config.json"))
    cfg.pop("compile_config", None)
    keras.config.set_dtype_policy("float64")
    try:
        m = keras.saving.deserialize_keras_object(float64_config(cfg))
    finally:
        keras.config.set_dtype_policy("float32")
    with np.load(d / "expected" / "weights_f64.npz") as f:
        m.set_weights([f[k] for k in f.files])
    dtypes = {v.dtype for v in m.weights if "int" not in v.dtype}
    assert dtypes == {"float64"}, (d, dtypes)
    x = np.load(d / "expected" / "input.npy")
    if x.dtype.kind == "f":
        x = x.astype(np.float64)
    y = np.asarray(m.predict(x, verbose=0))
    assert y.dtype == np.float64, (d, y.dtype)
    np.save(d / "expected" / "prediction_f64.npy", y)
    p = np.load(d / "expected" / "prediction.npy").astype(np.float64)
    manifest_path = d / "expected" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["prediction_f64"] = {
        "file": "prediction_f64.npy", "dtype": "float64", "backend": "tensorflow",
        "max_abs_diff_vs_prediction": float(np.max(np.abs(y - p))),
        "how": "config.json with every float dtype policy/dtype float64, rebuilt on the "
               "TensorFlow backend under the float64 global policy, weights_f64.npz set, input "
               "cast to float64, predicted (TensorFlow computes float64)"}
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"reference {d.relative_to(OUT)}: max |f64 - own prediction| = "
          f"{manifest['prediction_f64']['max_abs_diff_vs_prediction']:.3g}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=sorted(PLAN))
    ap.add_argument("--reference", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.backend:
        assert os.environ.get("KERAS_BACKEND") == args.backend
        for name in PLAN[args.backend]:
            save_model(args.backend, name)
    elif args.reference:
        assert os.environ.get("KERAS_BACKEND") == "tensorflow"
        for backend, names in PLAN.items():
            for name in names:
                reference(OUT / backend / name)
    else:
        for backend in PLAN:
            env = {**os.environ, "KERAS_BACKEND": backend, "JAX_ENABLE_X64": "0"}
            subprocess.run([sys.executable, __file__, "--backend", backend], env=env, check=True)
        env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
        subprocess.run([sys.executable, __file__, "--reference"], env=env, check=True)


if __name__ == "__main__":
    main()
