"""Writes small TensorFlow checkpoints and SavedModels, and what TensorFlow itself reads from them.

Usage: TF_CPP_MIN_LOG_LEVEL=2 .venv-interop/bin/python make_tf.py OUTDIR [case ...]
(tensorflow 2.21, tf-keras 2.21 as `tf_keras`, keras 3.15).

Every case is a folder OUTDIR/<case>/ with the TensorFlow files and
  expected.json  {"input": path to open (relative to the case folder), "keras": bool,
                  "entries": [{"key", "dtype", "shape", "full_name"?}] for every bundle entry
                  TensorFlow lists (tf.train.list_variables; partitioned variables appear once,
                  whole), "get_weights": [keys in model.get_weights() order] (Keras cases),
                  "optimizer": [keys of the optimizer's state, sorted] (cases with one)}
  expected.npz   entry i's value as TensorFlow returns it (load_checkpoint().get_tensor(key)),
                 floats widened to float64 (exact), other dtypes as stored; DT_STRING entries
                 are left out. Member names "e0000", "e0001", ... in the order of "entries".
The main test suite compares keras64 against these with numpy alone.

Values are deterministic: variables are assigned arange-based values (and bits that are exact in
every float type), so regenerating gives the same tensors; the files themselves may differ in the
object graph's function nodes between TF versions.
"""
import json
import os
import shutil
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["TF_USE_LEGACY_KERAS"] = "0"
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
from tensorflow.core.protobuf import trackable_object_graph_pb2  # noqa: E402

OUT = os.path.abspath(sys.argv[1])
os.makedirs(OUT, exist_ok=True)


def pattern(shape, k, dtype):
    """Deterministic values exact in float16/bfloat16: multiples of 1/8 in [-8, 8)."""
    n = int(np.prod(shape)) if shape else 1
    v = ((np.arange(n) * 7 + k * 13) % 128 - 64) / 8.0
    if np.dtype(dtype).kind in "iu":
        v = np.arange(n) * 3 + k
    if np.dtype(dtype).kind == "b":
        v = (np.arange(n) + k) % 3 == 0
    return v.reshape(shape)


def fill(variables):
    for k, v in enumerate(variables):
        dt = v.dtype.as_numpy_dtype
        v.assign(tf.constant(pattern(v.shape.as_list(), k, np.float64 if v.dtype.is_floating else dt),
                             dtype=v.dtype))


def object_graph(prefix):
    r = tf.train.load_checkpoint(prefix)
    g = trackable_object_graph_pb2.TrackableObjectGraph()
    g.ParseFromString(r.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    return g


def full_names(prefix):
    """checkpoint key -> full_name, from the object graph TensorFlow wrote (empty for TF1)."""
    r = tf.train.load_checkpoint(prefix)
    if not r.has_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"):
        return {}
    out = {}
    for node in object_graph(prefix).nodes:
        for a in node.attributes:
            if a.full_name:
                out[a.checkpoint_key] = a.full_name
    return out


def key_of(names, var):
    """The checkpoint key of a variable, by its TF name (unique in these models)."""
    want = var.name[:-2] if var.name.endswith(":0") else var.name
    keys = [k for k, n in names.items() if n == want]
    assert len(keys) == 1, (want, keys)
    return keys[0]


def write_case(case, prefix, input_rel, keras=False, get_weights=None, optimizer=None, extra=None):
    r = tf.train.load_checkpoint(prefix)
    dtypes = r.get_variable_to_dtype_map()
    names = full_names(prefix)
    entries, arrays = [], {}
    for key, shape in tf.train.list_variables(prefix):
        dt = dtypes[key]
        e = {"key": key, "dtype": dt.name, "shape": list(shape)}
        if key in names:
            e["full_name"] = names[key]
        if dt != tf.string:
            v = np.asarray(r.get_tensor(key))
            if dt.is_floating:
                v = v.astype(np.float64)
            arrays["e%04d" % len(entries)] = v
            e["npz"] = "e%04d" % len(entries)
        entries.append(e)
    doc = {"input": input_rel, "keras": keras, "entries": entries}
    if get_weights is not None:
        doc["get_weights"] = get_weights
    if optimizer is not None:
        doc["optimizer"] = optimizer
    if extra:
        doc.update(extra)
    d = os.path.join(OUT, case)
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
    np.savez(os.path.join(d, "expected.npz"), **arrays)


def fresh(case):
    d = os.path.join(OUT, case)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


# --- TF1 Saver V2: graph mode, a partitioned variable, two devices -> two data shards ----------
def tf1_saver():
    d = fresh("tf1_saver")
    g = tf.Graph()
    with g.as_default():
        v1 = tf.compat.v1
        with tf.device("/cpu:0"):
            dense = v1.get_variable("dnn/hidden/kernel", shape=[3, 4], dtype=tf.float32)
            bias = v1.get_variable("dnn/hidden/bias", shape=[4], dtype=tf.float32)
            part = v1.get_variable("dnn/embed", shape=[5, 3], dtype=tf.float32,
                                   partitioner=v1.fixed_size_partitioner(2))
            step = v1.train.get_or_create_global_step()
        with tf.device("/cpu:1"):
            h = v1.get_variable("half", shape=[2, 3], dtype=tf.float16)
            b = v1.get_variable("bf", shape=[4], dtype=tf.bfloat16)
            d64 = v1.get_variable("double", shape=[2, 2], dtype=tf.float64)
            i32 = v1.get_variable("counts", shape=[3], dtype=tf.int32, initializer=v1.zeros_initializer())
            flag = v1.get_variable("flags", shape=[4], dtype=tf.bool, initializer=v1.zeros_initializer())
            s = v1.Variable(["a", "bc"], name="vocab")
        whole = [dense, bias, step, h, b, d64, i32, flag]
        assigns = [v.assign(tf.constant(pattern(v.shape.as_list(), k,
                                                np.float64 if v.dtype.base_dtype.is_floating
                                                else v.dtype.base_dtype.as_numpy_dtype),
                                        dtype=v.dtype.base_dtype))
                   for k, v in enumerate(whole)]
        full = pattern([5, 3], 40, np.float64).astype(np.float32)
        parts = list(part)
        assigns += [parts[0].assign(full[:3]), parts[1].assign(full[3:])]
        saver = v1.train.Saver(sharded=True)
        cfg = v1.ConfigProto(device_count={"CPU": 2})
        with v1.Session(graph=g, config=cfg) as sess:
            sess.run(v1.global_variables_initializer())
            sess.run(assigns)
            sess.run(step.assign(7))
            saver.save(sess, os.path.join(d, "model.ckpt"), global_step=7)
    # The checkpoint state file TF wrote holds absolute paths; keep what it looks like when a
    # folder is copied elsewhere (relative, as all real ones seen were).
    with open(os.path.join(d, "checkpoint"), "w") as f:
        f.write('model_checkpoint_path: "model.ckpt-7"\nall_model_checkpoint_paths: "model.ckpt-7"\n')
    os.remove(os.path.join(d, "model.ckpt-7.meta"))
    write_case("tf1_saver", os.path.join(d, "model.ckpt-7"), "model.ckpt-7")


# --- TF2 tf.train.Checkpoint of a tf.Module with a TF1 (slot-variable) optimizer ----------
class Net(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable(tf.zeros([3, 2]), name="w")
        self.b = tf.Variable(tf.zeros([2]), name="b")
        self.h = tf.Variable(tf.zeros([2], tf.float16), name="h", trainable=False)
        self.bf = tf.Variable(tf.zeros([3], tf.bfloat16), name="bf", trainable=False)
        self.d = tf.Variable(tf.zeros([2], tf.float64), name="d", trainable=False)
        self.n = tf.Variable(tf.zeros([2], tf.int64), name="n", trainable=False)

    def __call__(self, x):
        return tf.matmul(x, self.w) + self.b


def tf2_module():
    d = fresh("tf2_module")
    net = Net()
    fill([net.w, net.b, net.h, net.bf, net.d, net.n])
    opt = tf.compat.v1.train.AdamOptimizer(0.125)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(net(tf.ones([1, 3])))
    opt.apply_gradients(zip(tape.gradient(loss, [net.w, net.b]), [net.w, net.b]))
    ckpt = tf.train.Checkpoint(model=net, optimizer=opt)
    path = ckpt.save(os.path.join(d, "ckpt"))
    names = full_names(path)
    opt_keys = [k for k in names if k.startswith("optimizer/") or "/.OPTIMIZER_SLOT/" in k]
    write_case("tf2_module", path, os.path.basename(path), optimizer=sorted(opt_keys))


# --- tf-keras models ---------------------------------------------------------------------------
L = tf_keras.layers


def sequential():
    return tf_keras.Sequential([L.Dense(4, activation="relu", input_shape=(3,)), L.Dense(2)],
                               name="seq")


def functional():
    """Shared layer applied twice, a nested Sequential model."""
    inner = tf_keras.Sequential([L.Dense(3), L.Dense(3)], name="inner")
    shared = L.Dense(3, name="shared")
    a = tf_keras.Input((3,), name="a")
    b = tf_keras.Input((3,), name="b")
    x = L.Concatenate()([shared(a), shared(b)])
    x = L.Dense(3, name="mix")(x)
    y = inner(x)
    return tf_keras.Model([a, b], L.Dense(1, name="out")(y), name="func")


def lstm():
    return tf_keras.Sequential([L.LSTM(3, input_shape=(4, 2)), L.Dense(1)], name="rnn")


def batchnorm():
    return tf_keras.Sequential([L.Dense(3, input_shape=(2,)), L.BatchNormalization(), L.Dense(1)],
                               name="bn")


def keras_case(case, build, savedmodel, policy=None, h5=False):
    d = fresh(case)
    if policy:
        tf_keras.mixed_precision.set_global_policy(policy)
    try:
        m = build()
        m.compile(optimizer=tf_keras.optimizers.Adam(0.125), loss="mse", metrics=["mae"])
        x = [np.ones((2,) + tuple(int(s) for s in t.shape[1:]), np.float32) for t in m.inputs]
        m.fit(x if len(x) > 1 else x[0], np.ones((2,) + tuple(m.output_shape[1:]), np.float32),
              epochs=1, verbose=0)
        fill(m.weights)
        if savedmodel:
            m.save(os.path.join(d, "saved"), save_format="tf")
            prefix = os.path.join(d, "saved", "variables", "variables")
            rel = "saved"
        else:
            m.save_weights(os.path.join(d, "ckpt"), save_format="tf")
            prefix = os.path.join(d, "ckpt")
            rel = "ckpt"
        if h5:
            m.save(os.path.join(d, "model.h5"))
        names = full_names(prefix)
        gw = [key_of(names, v) for v in m.weights]
        r = tf.train.load_checkpoint(prefix)
        for k, w in zip(gw, m.get_weights()):  # get_weights() is what is under those keys
            assert np.array_equal(r.get_tensor(k), w), k
        # optimizer state: every variable the file holds that is neither a weight nor a metric's
        # (the optimizer's iterations, learning rate, moments)
        opt = sorted(k for k in names if k not in gw and not k.startswith("keras_api/metrics/"))
        assert set(key_of(names, v) for v in m.optimizer.variables) <= set(opt)
        write_case(case, prefix, rel, keras=True, get_weights=gw, optimizer=opt)
    finally:
        tf_keras.mixed_precision.set_global_policy("float32")


# --- Keras 3 model.export() --------------------------------------------------------------------
def keras3_export():
    import keras
    d = fresh("keras3_export")
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(2)], name="k3")
    for k, v in enumerate(m.weights):
        v.assign(pattern(tuple(v.shape), k, np.float64).astype(np.float32))
    m.export(os.path.join(d, "exported"), format="tf_saved_model")
    prefix = os.path.join(d, "exported", "variables", "variables")
    r = tf.train.load_checkpoint(prefix)
    # Keras 3 variables keep their path; match by value (every weight's pattern differs)
    gw = []
    for w in m.get_weights():
        hits = [k for k, _ in tf.train.list_variables(prefix)
                if k != "_CHECKPOINTABLE_OBJECT_GRAPH" and r.get_tensor(k).shape == w.shape
                and np.array_equal(r.get_tensor(k), w)]
        # the export tracks each variable twice (`variables/<i>` and `_all_variables/<i>`, equal
        # values): the root's `variables` list is the one keras64 orders by
        hits = [k for k in hits if k.startswith("variables/")]
        assert len(hits) == 1, hits
        gw.append(hits[0])
    write_case("keras3_export", prefix, "exported", keras=True, get_weights=gw)


# --- TF1 SavedModel (graph mode builder) and a TF2 SavedModel of a plain tf.Module -------------
def tf1_savedmodel():
    d = fresh("tf1_savedmodel")
    g = tf.Graph()
    with g.as_default():
        v1 = tf.compat.v1
        x = v1.placeholder(tf.float32, [None, 2], name="x")
        w = v1.get_variable("layer/w", shape=[2, 2], dtype=tf.float32)
        bb = v1.get_variable("layer/b", shape=[2], dtype=tf.float64)
        y = tf.matmul(x, w)
        with v1.Session(graph=g) as sess:
            sess.run(v1.global_variables_initializer())
            sess.run([w.assign(pattern([2, 2], 0, np.float64).astype(np.float32)),
                      bb.assign(pattern([2], 1, np.float64))])
            builder = v1.saved_model.Builder(os.path.join(d, "saved"))
            sig = v1.saved_model.predict_signature_def({"x": x}, {"y": y})
            builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={"serving_default": sig})
            builder.save()
    write_case("tf1_savedmodel", os.path.join(d, "saved", "variables", "variables"), "saved")


def tf2_savedmodel():
    d = fresh("tf2_savedmodel")
    net = Net()
    fill([net.w, net.b, net.h, net.bf, net.d, net.n])
    net.call = tf.function(net.__call__, input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    tf.saved_model.save(net, os.path.join(d, "saved"))
    write_case("tf2_savedmodel", os.path.join(d, "saved", "variables", "variables"), "saved")


CASES = {
    "tf1_saver": tf1_saver,
    "tf2_module": tf2_module,
    "tfkeras_ckpt": lambda: keras_case("tfkeras_ckpt", sequential, savedmodel=False, h5=True),
    "tfkeras_ckpt_bn": lambda: keras_case("tfkeras_ckpt_bn", batchnorm, savedmodel=False, h5=True),
    "sm_sequential": lambda: keras_case("sm_sequential", sequential, savedmodel=True),
    "sm_functional": lambda: keras_case("sm_functional", functional, savedmodel=True),
    # saved_model.pb is 650 KB here, most of it the LSTM's traced functions; without them
    # (save_traces=False) the root has no `variables` list, which is what this case is for
    "sm_lstm": lambda: keras_case("sm_lstm", lstm, savedmodel=True),
    # BatchNormalization: in sm_mixed (a plain float32 copy would add 115 KB for nothing new)
    "sm_mixed": lambda: keras_case("sm_mixed", batchnorm, savedmodel=True, policy="mixed_float16"),
    "keras3_export": keras3_export,
    "tf1_savedmodel": tf1_savedmodel,
    "tf2_savedmodel": tf2_savedmodel,
}
for name in sys.argv[2:] or CASES:  # make_tf.py OUTDIR [case ...]
    CASES[name]()
