#!/usr/bin/env python3
"""Writes the small real-framework files of tests/data/fidelity/ (issue #13, points 1-3).

Run in the interop venv (tf-keras 2.21, keras 3.15, TensorFlow 2.21):

    TF_CPP_MIN_LOG_LEVEL=2 .venv-interop/bin/python tests/data/fidelity/make_fidelity.py [--only tfkeras|keras3]

Two child processes, one per framework (tf-keras and Keras 3 cannot share one process):

tfkeras (tf-keras 2.21, what tf.keras 2.13-2.15 wrote):
  tfk_metrics.keras         Sequential compiled with Adam and metrics ["mae", "mse"], fitted one
                            step: model.weights.h5 holds metrics/ state next to the layers
  tfk_gated.h5              full legacy .h5 of a model with a custom layer that owns variables
  tfk_gated_weights.h5      (trainable `gate`, non-trainable `steps`) and has sublayers, one of
                            them a custom layer with its own variable and sublayer
                            (save_weights, legacy format)
keras3 (Keras 3.15, TensorFlow backend):
  k3_metrics.keras          the tfk_metrics model in Keras 3 (compile(metrics) + fit)
  k3_gated.h5               the gated model through Keras 3's legacy h5 writer
  k3_gated_weights.h5       (legacy_h5_format.save_weights_to_hdf5_group)
  k3_lso.keras              mixed_float16 model compiled with Adam (a LossScaleOptimizer),
                            fitted one step: optimizer/vars and optimizer/inner_optimizer/vars
  k3_lso_reference_f64.keras  the same model built at float64 (dtype policy and floatx) with
                            LossScaleOptimizer(Adam), fitted: what Keras itself writes for the
                            float64 model
expected.json               per file: model.get_weights() names (variable paths), dtypes and
                            shapes in order, the npz holding the arrays, the writer's version
<name>.npz                  the get_weights() arrays, w000, w001, ... in order
Values are from fixed seeds and constant data; arrays are reproduced by a second run.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 1313


def record(expected, name, model, version):
    import numpy as np
    ws = model.get_weights()
    names = [getattr(w, "path", None) or w.name for w in model.weights]
    np.savez(HERE / f"{Path(name).stem}.npz", **{f"w{i:03d}": w for i, w in enumerate(ws)})
    expected[name] = {
        "writer": version,
        "names": names,
        "dtypes": [str(w.dtype) for w in ws],
        "shapes": [list(w.shape) for w in ws],
        "npz": f"{Path(name).stem}.npz",
    }


def data():
    import numpy as np
    x = (np.arange(24, dtype="float32").reshape(8, 3) / 10.0) - 1.0
    y = np.stack([x.sum(1), x[:, 0] * 2], 1).astype("float32")
    return x, y


def gated_classes(keras, ops, register):
    @register(package="fidelity")
    class Inner(keras.layers.Layer):
        """Own trainable `scale` and a Dense sublayer `proj`."""

        def __init__(self, units=3, **kw):
            super().__init__(**kw)
            self.units = units
            self.proj = keras.layers.Dense(units, name="proj")

        def build(self, shape):
            # Sublayers are built by their first call, inside this layer's name scope (tf-keras
            # names variables by scope: built here they would be plain "kernel:0").
            self.scale = self.add_weight(name="scale", shape=(self.units,), initializer="ones")
            super().build(shape)

        def call(self, x):
            return self.proj(x) * self.scale

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    @register(package="fidelity")
    class Gated(keras.layers.Layer):
        """Own trainable `gate`, own non-trainable `steps`, sublayers block0 (Dense), inner (a
        custom layer with a variable and a sublayer), block1 (Dense)."""

        def __init__(self, units=3, **kw):
            super().__init__(**kw)
            self.units = units
            self.block0 = keras.layers.Dense(units, activation="tanh", name="block0")
            self.inner = Inner(units, name="inner")
            self.block1 = keras.layers.Dense(units, name="block1")

        def build(self, shape):
            self.gate = self.add_weight(name="gate", shape=(self.units,), initializer="random_normal")
            self.steps = self.add_weight(name="steps", shape=(), initializer="zeros", trainable=False)
            super().build(shape)

        def call(self, x):
            h = self.inner(self.block0(x))
            return self.block1(h) * ops.sigmoid(self.gate) + ops.cast(self.steps, h.dtype)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return Gated


def assign_steps(model, value):
    for w in model.weights:
        if (getattr(w, "path", None) or w.name).split("/")[-1].startswith("steps"):
            w.assign(value)


def tfkeras():
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras
    tf.keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    expected = {}
    x, y = data()

    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu", name="dense"),
                          keras.layers.Dense(2, name="dense_1")], name="metrics_model")
    m.compile(optimizer="adam", loss="mse", metrics=["mae", "mse"])
    m.fit(x, y, batch_size=8, epochs=1, verbose=0)
    m.save(HERE / "tfk_metrics.keras")
    record(expected, "tfk_metrics.keras", m, keras.__version__)

    ops = type("ops", (), {"sigmoid": staticmethod(tf.sigmoid), "cast": staticmethod(tf.cast)})
    Gated = gated_classes(keras, ops, keras.saving.register_keras_serializable)
    g = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, name="pre"), Gated(3, name="gated"),
                          keras.layers.Dense(2, name="post")], name="gated_model")
    assign_steps(g, 7.0)
    g.save(HERE / "tfk_gated.h5")
    g.save_weights(HERE / "tfk_gated_weights.h5")
    record(expected, "tfk_gated.h5", g, keras.__version__)
    record(expected, "tfk_gated_weights.h5", g, keras.__version__)
    return expected


def keras3():
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format
    keras.utils.set_random_seed(SEED)
    expected = {}
    x, y = data()

    def mlp(name, dtype=None):
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu", name="dense", dtype=dtype),
                                 keras.layers.Dense(2, name="dense_1", dtype=dtype)], name=name)

    m = mlp("metrics_model")
    m.compile(optimizer="adam", loss="mse", metrics=["mae", "mse"])
    m.fit(x, y, batch_size=8, epochs=1, verbose=0)
    m.save(HERE / "k3_metrics.keras")
    record(expected, "k3_metrics.keras", m, keras.__version__)

    Gated = gated_classes(keras, keras.ops, keras.saving.register_keras_serializable)
    g = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, name="pre"), Gated(3, name="gated"),
                          keras.layers.Dense(2, name="post")], name="gated_model")
    assign_steps(g, 7.0)
    legacy_h5_format.save_model_to_hdf5(g, str(HERE / "k3_gated.h5"))
    with h5py.File(HERE / "k3_gated_weights.h5", "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, g)
    record(expected, "k3_gated.h5", g, keras.__version__)
    record(expected, "k3_gated_weights.h5", g, keras.__version__)

    keras.config.set_dtype_policy("mixed_float16")
    lso = mlp("lso_model")
    lso.compile(optimizer="adam", loss="mse")  # Keras wraps Adam in a LossScaleOptimizer
    lso.fit(x, y, batch_size=8, epochs=1, verbose=0)
    lso.save(HERE / "k3_lso.keras")
    record(expected, "k3_lso.keras", lso, keras.__version__)
    # "Built at float64": floatx too, as the golden references were (float64 InputLayer, and
    # the optimizers' scalar variables, which Keras makes at floatx).
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    ref = mlp("lso_model")
    ref.compile(optimizer=keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam()), loss="mse")
    ref.fit(x.astype("float64"), y.astype("float64"), batch_size=8, epochs=1, verbose=0)
    ref.save(HERE / "k3_lso_reference_f64.keras")
    return expected


def main():
    parts = ("tfkeras", "keras3")
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        expected = {"tfkeras": tfkeras, "keras3": keras3}[sys.argv[2]]()
        print(json.dumps(expected))
        return
    if len(sys.argv) > 2 and sys.argv[1] == "--only":  # regenerate one part, keep the other's
        parts = (sys.argv[2],)
    path = HERE / "expected.json"
    expected = json.loads(path.read_text()) if len(parts) == 1 and path.exists() else {}
    for part in parts:
        out = subprocess.run([sys.executable, __file__, "--child", part], check=True, stdout=subprocess.PIPE,
                             text=True).stdout
        expected.update(json.loads(out.strip().splitlines()[-1]))
    path.write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
