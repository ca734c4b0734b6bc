"""keras64.save / keras64.load_into on a live Keras 3 model, on the backend KERAS_BACKEND names
(run by test_tfkeras_live.py, one process per backend: a Keras backend is fixed per process):

    python keras3_live_worker.py OUT_DIR

The model (LSTM, BatchNormalization, a bfloat16 Dense, a float32 Dense) gets random values in
every variable, then is saved through keras64 twice: as the model (`keras64.save(model)`) and as
the backend's own arrays (`[v.value for v in model.weights]`: tf.Variable, jax.Array,
torch.nn.Parameter). Prints JSON with digests of what Keras holds and of what keras64 wrote and
loaded back, for the test to compare."""
import json
import sys
from pathlib import Path

import keras
import numpy as np

import interop_support as s
import keras64

out = Path(sys.argv[1])


def build():
    x = keras.Input((5, 3))
    h = keras.layers.LSTM(4, return_sequences=True, name="lstm")(x)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.GlobalAveragePooling1D()(h)
    h = keras.layers.Dense(3, dtype="bfloat16", name="bf16")(h)
    return keras.Model(x, keras.layers.Dense(2, name="head")(h))


def numpy_of(model):
    return [keras.ops.convert_to_numpy(v.value) for v in model.weights]


def widened(arrays):
    return [s.digest(a.astype(np.float64)) for a in arrays]


keras.utils.set_random_seed(5)
model = build()
rng = np.random.default_rng(5)
for v in model.weights:  # non-default values everywhere (BN statistics included)
    a = rng.standard_normal(tuple(v.shape))
    v.assign((np.abs(a) if "variance" in v.path else a).astype(v.dtype))
want = numpy_of(model)
x = rng.standard_normal((2, 5, 3)).astype("float32")
pred = keras.ops.convert_to_numpy(model(x, training=False))
assert np.isfinite(pred).all()

result = {"backend": keras.backend.backend(), "paths": [v.path for v in model.weights],
          "dtypes": [str(a.dtype) for a in want], "want": widened(want),
          "native_types": sorted({type(v.value).__module__.split(".")[0] + "." +
                                  type(v.value).__name__ for v in model.weights})}
keras64.save(model, out / "model.npz")
keras64.save([v.value for v in model.weights], out / "native.safetensors", "safetensors")
for key, f in (("model", "model.npz"), ("native", "native.safetensors")):
    result[key] = [s.digest(a) for a in keras64.load(out / f)]
keras64.save(model, out / "model.safetensors", "safetensors")  # keyed by name
result["model_names"] = [t.name for t in keras64.inspect(out / "model.safetensors")]

keras.utils.set_random_seed(6)
fresh = build()  # other initial values
report = keras64.load_into(fresh, out / "model.npz")
result["load_into_exact"] = report["exact"]
result["loaded"] = [s.digest(a) for a in numpy_of(fresh)]
result["want_original"] = [s.digest(a) for a in want]
result["prediction_equal"] = bool(np.array_equal(
    keras.ops.convert_to_numpy(fresh(x, training=False)), pred))
print(json.dumps(result))
