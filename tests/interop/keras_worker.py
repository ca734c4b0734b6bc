"""Runs Keras 3 on one backend (KERAS_BACKEND, fixed per process) over keras64's outputs:
    python keras_worker.py JOBS.json OUTDIR
JOBS: [{"id", "keras", "weights_h5", "legacy_h5", "original", "input", "reference_keras",
"npz"}, ...] (paths; a missing key skips that part). Prints one JSON object: {"backend",
"x64", "results": {id: {...}}}; predictions go to OUTDIR/<n>.npy. Every failure is recorded as
"error: ..." in its field, for the test to report."""
import hashlib
import json
import os
import sys
import traceback
import warnings
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("KERAS64_TEST_DATA", HERE.parent / "data"))
sys.path[:0] = [str(HERE), str(DATA / "interop")]

import keras  # noqa: E402

import golden_custom_layers  # noqa: E402,F401  (golden>ScaledResidual)
import interop_custom_layers  # noqa: E402,F401  (interop>GatedResidual)
from make_keras3 import float64_config  # noqa: E402


def digest(a):
    """dtype, shape, sha256 of the bytes; integers as int64 (the backends differ: TensorFlow
    keeps int64 variables, the others make them int32), bfloat16 as its uint16 bits."""
    a = np.asarray(a)
    if a.dtype.name == "bfloat16":
        a = a.view(np.uint16)
    elif a.dtype.kind in "iu":
        a = a.astype("<i8")
    a = np.ascontiguousarray(a)
    return [a.dtype.str, list(a.shape), hashlib.sha256(a.view(np.uint8).tobytes()).hexdigest()]


def float_var_dtypes(model):
    """[path, declared dtype, dtype of the value it holds] of every float variable."""
    out = []
    for v in model.weights:
        held = keras.ops.convert_to_numpy(v.value).dtype.name
        if "int" not in v.dtype and v.dtype != "bool":
            out.append([v.path, v.dtype, held])
    return out


def model_input(path):
    x = np.load(path)
    return x.astype(np.float64) if x.dtype.kind == "f" else x


def predict(model, x, out):
    y = np.asarray(keras.ops.convert_to_numpy(model(x, training=False)))
    np.save(out, y)
    return {"file": str(out), "dtype": y.dtype.name}


class Float64Compute:
    """Keras 3.15 on JAX and torch demotes float64 to float32 in result_type() (its
    BIT64_TO_BIT32_DTYPE table, "aligned with JAX's default"), so ops that derive their compute
    dtype from it (BatchNormalization, convolutions, recurrent cells, ...) compute in float32 even
    for float64 variables and inputs. Inside this context the table keeps float64."""

    def __enter__(self):
        from keras.src.backend.common import dtypes
        self.table = dtypes.BIT64_TO_BIT32_DTYPE
        self.saved = self.table["float64"]
        self.table["float64"] = "float64"

    def __exit__(self, *exc):
        self.table["float64"] = self.saved


class GlobalPolicy:
    """A custom layer that builds a sublayer without passing its own dtype gets the global
    policy: Keras loads such models at float64 only under the float64 global policy (as it does
    its own float64 reference of tests/data/golden/custom)."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.saved = keras.config.dtype_policy().name
        if self.name:
            keras.config.set_dtype_policy(self.name)

    def __exit__(self, *exc):
        keras.config.set_dtype_policy(self.saved)


def float64_model(original):
    """The original model's architecture with every float dtype float64 (as make_keras3.py
    builds its references)."""
    with zipfile.ZipFile(original) as z:
        cfg = json.loads(z.read("config.json"))
    cfg.pop("compile_config", None)
    keras.config.set_dtype_policy("float64")
    try:
        return keras.saving.deserialize_keras_object(float64_config(cfg))
    finally:
        keras.config.set_dtype_policy("float32")


def attempt(results, field, fn):
    try:
        results[field] = fn()
    except Exception as e:
        results[field] = f"error: {type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}"


def run_job(job, outdir, n):
    r = {}
    x = model_input(job["input"]) if "input" in job else None

    policy = GlobalPolicy(job.get("global_policy"))

    def ours():
        with warnings.catch_warnings(record=True) as caught, policy:
            warnings.simplefilter("always")
            m = keras.models.load_model(job["keras"])
        res = {"dtypes": float_var_dtypes(m), "weights": [digest(w) for w in m.get_weights()],
               "warnings": [str(w.message) for w in caught]}
        if x is not None:
            res["prediction"] = predict(m, x, outdir / f"{n}_ours.npy")
            if keras.backend.backend() != "tensorflow":
                with Float64Compute():
                    res["prediction_f64_compute"] = predict(m, x, outdir / f"{n}_ours64.npy")
        return res

    if "keras" in job:
        attempt(r, "load_model", ours)
    if "reference_keras" in job:
        def reference():
            with policy:
                m = keras.models.load_model(job["reference_keras"], compile=False)
            return predict(m, x, outdir / f"{n}_ref.npy")
        attempt(r, "reference", reference)
    if "weights_h5" in job:
        def into_original():
            m = keras.models.load_model(job["original"], compile=False)
            m.load_weights(job["weights_h5"])
            return [digest(w) for w in m.get_weights()]

        def into_float64():
            m = float64_model(job["original"])
            m.load_weights(job["weights_h5"])
            return {"dtypes": float_var_dtypes(m),
                    "weights": [digest(w) for w in m.get_weights()]}
        attempt(r, "load_weights_original", into_original)
        attempt(r, "load_weights_float64", into_float64)
    if "legacy_h5" in job:
        def legacy():
            with policy:
                m = keras.models.load_model(job["legacy_h5"], compile=False)
            return {"dtypes": float_var_dtypes(m),
                    "weights": [digest(w) for w in m.get_weights()]}
        attempt(r, "legacy_load_model", legacy)
    if "npz" in job:
        def load_into():
            import keras64
            m = float64_model(job["original"])
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                report = keras64.load_into(m, job["npz"])
            return {"warnings": [str(w.message) for w in caught
                                 if "keras64" in str(w.filename) or "keras64" in str(w.message)],
                    "exact": report["exact"], "dtypes": float_var_dtypes(m),
                    "weights": [digest(w) for w in m.get_weights()]}
        attempt(r, "load_into", load_into)
    return r


def main():
    jobs = json.loads(Path(sys.argv[1]).read_text())
    outdir = Path(sys.argv[2])
    outdir.mkdir(parents=True, exist_ok=True)
    results = {job["id"]: run_job(job, outdir, n) for n, job in enumerate(jobs)}
    x64 = None
    if keras.backend.backend() == "jax":
        import jax
        x64 = bool(jax.config.jax_enable_x64)
    print(json.dumps({"backend": keras.backend.backend(), "x64": x64, "results": results}))


if __name__ == "__main__":
    main()
