"""TensorFlow and tf-keras over keras64's --to tf-checkpoint and load --into CHECKPOINT outputs:
    python tf_checkpoint_worker.py JOBS.json
JOBS: [{"id", "kind": "compare", "input": prefix, "output": prefix, "want": "float64" | "same"},
       {"id", "kind": "tfkeras", "model": name, "output": prefix}, ...]
Prints one JSON object {id: result}; a result is "ok" or a list of what differed (or "error:
..."), for the test to report.

- compare: tf.train.load_checkpoint on both; every key of the input is in the output with the
  same shape; want "float64": float entries (float32/16, bfloat16) read as float64 equal to the
  input's values widened, all others equal and of the same dtype; want "same": every entry of the
  same dtype and bytes.
- tfkeras: the golden model (tests/data/interop/make_tfkeras.py) built with a float64 global
  policy, model.load_weights(output); every weight must be float64 and equal the golden
  weights widened, and the prediction on the golden input within 1e-6 (relative to its largest
  magnitude) of the float32 model's."""
import json
import os
import sys
import traceback
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("KERAS64_TEST_DATA", HERE.parent / "data"))
sys.path[:0] = [str(DATA / "interop")]

FLOATS = {tf.float32, tf.float16, tf.bfloat16}


def bits(a):
    """dtype, shape and bytes of an array; strings (bytes, object arrays) by their values."""
    if isinstance(a, bytes):
        return "bytes", (), a
    a = np.ascontiguousarray(a)
    if a.dtype.kind in "OSU":
        return a.dtype.kind, a.shape, repr(a.tolist())
    return a.dtype.str, a.shape, a.reshape(-1).view(np.uint8).tobytes()


def compare(job):
    rin = tf.train.load_checkpoint(job["input"])
    rout = tf.train.load_checkpoint(job["output"])
    din, dout = rin.get_variable_to_dtype_map(), rout.get_variable_to_dtype_map()
    bad = []
    if set(din) != set(dout):
        bad.append(f"keys differ: {sorted(set(din) ^ set(dout))[:5]}")
    for k in sorted(set(din) & set(dout)):
        a, b = rin.get_tensor(k), rout.get_tensor(k)
        if job["want"] == "float64" and din[k] in FLOATS:
            ok = dout[k] == tf.float64 and b.dtype == np.float64 and bits(b) == bits(a.astype(np.float64))
        else:
            ok = dout[k] == din[k] and bits(a) == bits(b)
        if not ok:
            bad.append(f"{k}: {din[k].name} -> {dout[k].name}")
    return bad or "ok"


def tfkeras(job):
    import tf_keras as keras

    import make_tfkeras as mk

    name = job["model"]
    builder = mk.MODELS[name][0]
    d = DATA / "interop" / "tfkeras" / name
    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy("float64")
    try:
        model = builder()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model.load_weights(job["output"]).expect_partial()
    bad = []
    with np.load(d / "expected" / "weights_f64.npz") as z:
        want = [z[k] for k in z.files]
    got = model.get_weights()
    if len(got) != len(want):
        return [f"{len(got)} weights, expected {len(want)}"]
    for i, (g, w) in enumerate(zip(got, want)):
        if np.issubdtype(w.dtype, np.floating) and g.dtype != np.float64:
            bad.append(f"weight {i}: {g.dtype}")
        elif bits(g.astype(w.dtype)) != bits(w):
            bad.append(f"weight {i}: values differ")
    x = np.load(d / "expected" / "input.npy")
    ref = np.load(d / "expected" / "prediction.npy").astype(np.float64)
    x = x.astype(np.float64) if np.issubdtype(x.dtype, np.floating) else x
    pred = np.asarray(model(x, training=False))
    if pred.dtype != np.float64:
        bad.append(f"prediction is {pred.dtype}")
    err = float(np.max(np.abs(pred - ref))) / (float(np.max(np.abs(ref))) or 1.0)
    if not err <= 1e-6:
        bad.append(f"prediction off by {err:.3g} relative")
    return bad or "ok"


def main():
    jobs = json.loads(Path(sys.argv[1]).read_text())
    out = {}
    for job in jobs:
        try:
            out[job["id"]] = compare(job) if job["kind"] == "compare" else tfkeras(job)
        except Exception as e:  # noqa: BLE001 - reported per job
            out[job["id"]] = f"error: {type(e).__name__}: {e} {traceback.format_exc()[-800:]}"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
