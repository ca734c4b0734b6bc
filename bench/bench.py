#!/usr/bin/python3
"""keras64 against the numpy recipe, on synthetic Keras 3 models (issue #6).

Run with Debian's python3 (numpy + h5py):

    /usr/bin/python3 bench/bench.py --keras64 build/tools/keras64/keras64

It generates transformer-like models (big matrices plus many small vectors) as `.weights.h5`
and `.keras` under --workdir, then for each size and output form runs, alternately and
--reps times, the numpy recipe (in a child python, h5py read -> astype(float64) -> save) and
`keras64 convert` on the same input. Each run is a child process: its time is the wall time
of the conversion (for numpy: from after the imports to after the files are closed) and its
peak RSS is the child's ru_maxrss (os.wait4). The table (medians, time ratio, peak RSS, output
sizes) goes to stdout and to --results (bench/results.md).

`sync` runs before every timed run so that no run pays for the previous one's writeback.
With --drop-caches (root only) `echo 3 > /proc/sys/vm/drop_caches` also runs before each run,
so inputs are read cold from disk; by default inputs are warm in the page cache for both sides.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import zipfile

MB = 1000 * 1000
PY = "/usr/bin/python3"


# ----------------------------------------------------------------------------------------------
# Synthetic models


def model_layers(size_bytes, itemsize=4):
    """A Sequential of Dense and LayerNormalization layers: per block a fused qkv projection,
    an output projection, a 4x MLP and two layer norms (14 d^2 + 13 d parameters)."""
    d = 768 if size_bytes <= 300 * MB else 1024 if size_bytes <= 2000 * MB else 2048
    per_block = (14 * d * d + 13 * d) * itemsize
    blocks = max(1, round(size_bytes / per_block))
    layers = []  # (class, units or None, input dim)
    for _ in range(blocks):
        layers += [("Dense", 3 * d, d), ("Dense", d, 3 * d), ("LayerNormalization", None, d),
                   ("Dense", 4 * d, d), ("Dense", d, 4 * d), ("LayerNormalization", None, d)]
    return d, layers


def generate(path_h5, path_keras, size_bytes, dtype):
    import h5py
    import numpy as np

    d, layers = model_layers(size_bytes, np.dtype(dtype).itemsize)
    rng = np.random.default_rng(1234)
    counters = {}
    config_layers = [{"module": "keras.layers", "class_name": "InputLayer",
                      "config": {"batch_shape": [None, d], "dtype": "float32",
                                 "name": "input_layer"}, "registered_name": None}]
    tmp = path_h5 + ".tmp"
    with h5py.File(tmp, "w") as f:
        top = f.create_group("layers")
        for cls, units, fan_in in layers:
            snake = "dense" if cls == "Dense" else "layer_normalization"
            n = counters.get(snake, 0)
            counters[snake] = n + 1
            key = snake if n == 0 else f"{snake}_{n}"
            g = top.create_group(key).create_group("vars")
            g.attrs["name"] = key
            if cls == "Dense":
                w = rng.standard_normal((fan_in, units), dtype=np.float32)
                w *= np.float32(1 / np.sqrt(fan_in))
                g.create_dataset("0", data=w.astype(dtype))
                g.create_dataset("1", data=(rng.standard_normal(units, dtype=np.float32) * 0.01)
                                 .astype(dtype))
                cfg = {"name": key, "units": units, "activation": "linear", "use_bias": True,
                       "dtype": "float32"}
            else:
                g.create_dataset("0", data=np.ones(fan_in, dtype=dtype))
                g.create_dataset("1", data=np.zeros(fan_in, dtype=dtype))
                cfg = {"name": key, "axis": -1, "epsilon": 1e-3, "dtype": "float32"}
            config_layers.append({"module": "keras.layers", "class_name": cls, "config": cfg,
                                  "registered_name": None,
                                  "build_config": {"input_shape": [None, fan_in]}})
        f.create_group("vars").attrs["name"] = "sequential"
    os.replace(tmp, path_h5)
    config = {"module": "keras", "class_name": "Sequential",
              "config": {"name": "sequential", "trainable": True, "layers": config_layers},
              "registered_name": None}
    meta = {"keras_version": "3.15.1", "date_saved": "2026-11-26@00:00:00"}
    # Keras's own layout: metadata.json, config.json, model.weights.h5, all stored.
    tmp = path_keras + ".tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        z.writestr("metadata.json", json.dumps(meta))
        z.writestr("config.json", json.dumps(config))
        z.write(path_h5, "model.weights.h5")
    os.replace(tmp, path_keras)


def ensure_model(workdir, size_mb, dtype="float32"):
    base = os.path.join(workdir, f"model_{size_mb}mb_{dtype}")
    h5, keras = base + ".weights.h5", base + ".keras"
    if not (os.path.exists(h5) and os.path.exists(keras)):
        print(f"generating {size_mb} MB {dtype} model in {workdir} ...", flush=True)
        t = time.perf_counter()
        # In a child: a parent grown by generation would inflate every later child's ru_maxrss
        # (Linux keeps the high-water mark of the forked address space across exec).
        subprocess.run([PY, os.path.abspath(__file__), "--generate-worker", h5, keras,
                        str(size_mb * MB), dtype], check=True)
        print(f"  done in {time.perf_counter() - t:.1f} s", flush=True)
    return h5, keras


TF_WRITER = """
import sys, h5py, numpy as np, tensorflow as tf
h5, prefix = sys.argv[1], sys.argv[2]
m = tf.Module()
with h5py.File(h5, "r") as f:
    m.v = [tf.Variable(f[f"layers/{l}/vars/{i}"][()]) for l in f["layers"]
           for i in sorted(f[f"layers/{l}/vars"], key=int)]
tf.train.Checkpoint(model=m).write(prefix)
"""


def ensure_tf_checkpoint(h5, tf_python):
    """The same tensors as `h5` in a TF2 object checkpoint (`tf.train.Checkpoint.write`), written
    by real TensorFlow in `tf_python` (issue #14: TF input against .weights.h5 input)."""
    prefix = h5[:-len(".weights.h5")] + "_tf"
    if not os.path.exists(prefix + ".index"):
        print(f"writing TF checkpoint {prefix} ...", flush=True)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
        subprocess.run([tf_python, "-c", TF_WRITER, h5, prefix], check=True, env=env)
    return prefix


# ----------------------------------------------------------------------------------------------
# The numpy recipe (runs in a child process: `bench.py --numpy-worker FORM IN OUT`)


def numpy_worker(form, src, out):
    import h5py
    import numpy as np

    t0 = time.perf_counter()
    if src.endswith(".keras"):
        # What Keras itself does: h5py on the member, read through zipfile (no extraction).
        z = zipfile.ZipFile(src)
        fobj = z.open("model.weights.h5")
        f = h5py.File(fobj, "r")
    else:
        f = h5py.File(src, "r")
    names = []
    f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    weights = [f[n][...] for n in names]  # model.get_weights()
    if form == "npy":
        os.mkdir(out)
        for i, w in enumerate(weights):
            np.save(os.path.join(out, f"weight_{i}.npy"), w.astype(np.float64))
    elif form == "memmap":
        os.mkdir(out)
        for i, w in enumerate(weights):
            m = np.memmap(os.path.join(out, f"weight_{i}.dat"), dtype=np.float64, mode="w+",
                          shape=w.shape)
            m[...] = w
            m.flush()
            del m
    elif form == "npz":
        np.savez(out, **{f"weight_{i}": w.astype(np.float64) for i, w in enumerate(weights)})
    elif form == "npz-deflate":
        np.savez_compressed(out, **{f"weight_{i}": w.astype(np.float64)
                                    for i, w in enumerate(weights)})
    elif form == "safetensors":
        header, off = {}, 0
        for i, w in enumerate(weights):
            header[f"weight_{i}"] = {"dtype": "F64", "shape": list(w.shape),
                                     "data_offsets": [off, off + w.size * 8]}
            off += w.size * 8
        h = json.dumps(header).encode()
        h += b" " * (-len(h) % 8)
        with open(out, "wb") as o:
            o.write(len(h).to_bytes(8, "little"))
            o.write(h)
            for w in weights:
                o.write(w.astype(np.float64).tobytes())
    elif form in ("weights.h5", "weights.h5+compress"):
        # +compress: what h5py users write for a smaller file (gzip level 4, auto chunks)
        opts = {"compression": "gzip", "shuffle": True} if form.endswith("compress") else {}
        with h5py.File(out, "w") as o:
            def copy(name, obj):
                if isinstance(obj, h5py.Group):
                    g = o.require_group(name)
                    g.attrs.update(obj.attrs)
            f.visititems(copy)
            o.attrs.update(f.attrs)
            for n, w in zip(names, weights):
                o.create_dataset(n, data=w.astype(np.float64), **(opts if w.ndim else {}))
    else:
        raise SystemExit(f"unknown form {form}")
    f.close()
    t1 = time.perf_counter()
    # What keras64 also does before it renames its output into place: data on the device.
    for p in ([os.path.join(out, n) for n in os.listdir(out)] if os.path.isdir(out) else [out]):
        fd = os.open(p, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    print(json.dumps({"seconds": t1 - t0, "synced": time.perf_counter() - t0}))


# ----------------------------------------------------------------------------------------------
# Runs


def out_path(workdir, form, side):
    ext = {"npy": "", "memmap": "", "npz": ".npz", "npz-deflate": ".npz",
           "safetensors": ".safetensors", "weights.h5": ".weights.h5",
           "weights.h5+compress": ".weights.h5", "keras": ".keras"}[form]
    return os.path.join(workdir, f"out_{side}_{form}{ext}")


def remove(p):
    if os.path.isdir(p):
        shutil.rmtree(p)
    elif os.path.exists(p):
        os.remove(p)


def input_size(p):
    import glob
    files = [p] if os.path.exists(p) else glob.glob(p + ".*")  # a TF prefix
    return sum(os.path.getsize(f) for f in files)


def du(p):
    if os.path.isdir(p):
        return sum(os.path.getsize(os.path.join(p, f)) for f in os.listdir(p))
    return os.path.getsize(p)


def run_child(argv, drop_caches):
    os.sync()
    if drop_caches:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    t = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"failed ({p.returncode}): {' '.join(argv)}\n{err.decode()}")
    return wall, ru.ru_maxrss * 1024, out


def warm(path):
    """Reads a file through once, so that it is in the page cache before a run (other runs'
    outputs may have pushed it out: without this the first runs of a 4 GB cell read from the
    device, both sides' times fell run by run, and the medians were skewed)."""
    # In a child: reading in this process would raise its RSS, which the children it forks
    # then report as their own ru_maxrss.
    import glob
    files = [path] if os.path.exists(path) else sorted(glob.glob(path + ".*"))  # a TF prefix
    subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True)


def run_numpy(form, src, out, drop):
    remove(out)
    _, rss, text = run_child([PY, os.path.abspath(__file__), "--numpy-worker", form, src, out], drop)
    res = json.loads(text.decode().strip().splitlines()[-1])
    size = du(out)
    remove(out)
    return res["seconds"], rss, size, res["synced"]


def run_keras64(exe, form, src, out, drop, extra):
    remove(out)
    secs, rss, _ = run_child([exe, "convert", src, "-o", out, "--to", form, "-q", *extra], drop)
    size = du(out)
    remove(out)
    return secs, rss, size


def keras64_forms(exe):
    text = subprocess.run([exe, "convert", "--help"], capture_output=True, text=True).stdout
    m = re.search(r"--to\s+\S*\s*(?:REQUIRED\s*)?Output format: ([^\n]*)", text)
    listed = set(re.findall(r"[a-z0-9.\-]+", m.group(1))) if m else set()
    wanted = ["npy", "memmap", "npz", "npz-deflate", "safetensors", "weights.h5", "keras"]
    forms = [f for f in wanted if f in listed] or wanted[:4]
    if "weights.h5" in forms:
        forms.insert(forms.index("weights.h5") + 1, "weights.h5+compress")
    return forms


def fmt_mib(b):
    return f"{b / 2**20:.0f} MiB" if b < 2**30 else f"{b / 2**30:.2f} GiB"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--keras64", default="build-perf/keras64")
    ap.add_argument("--workdir", default="/tmp/keras64-bench")
    ap.add_argument("--sizes", default="100,1000", help="model sizes in MB (float32)")
    ap.add_argument("--big", action="store_true", help="also 4000 MB")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--forms", default="", help="comma list; default: all keras64 offers")
    ap.add_argument("--slow", action="store_true",
                    help="also run np.savez_compressed above 100 MB (about 10 MB/s of float64)")
    ap.add_argument("--drop-caches", action="store_true", help="drop the page cache before each run (root)")
    ap.add_argument("--tf-python", default="",
                    help="a python with tensorflow: also time a TF checkpoint of the same tensors")
    ap.add_argument("--widen-bench", default="", help="path of the keras64_widen_bench program")
    ap.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "results.md"))
    ap.add_argument("--numpy-worker", nargs=3, metavar=("FORM", "IN", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--generate-worker", nargs=4, metavar=("H5", "KERAS", "BYTES", "DTYPE"),
                    help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.numpy_worker:
        return numpy_worker(*a.numpy_worker)
    if a.generate_worker:
        h5, keras, nbytes, dtype = a.generate_worker
        return generate(h5, keras, int(nbytes), dtype)

    exe = os.path.abspath(a.keras64)
    os.makedirs(a.workdir, exist_ok=True)
    forms = a.forms.split(",") if a.forms else keras64_forms(exe)
    sizes = [int(s) for s in a.sizes.split(",")] + ([4000] if a.big else [])
    rows = []
    for size in sizes:
        h5, keras = ensure_model(a.workdir, size)
        inputs = [("weights.h5", h5), (".keras", keras)]
        if a.tf_python:
            inputs.append(("tf-checkpoint", ensure_tf_checkpoint(h5, a.tf_python)))
        for form in forms:
            for src_kind, src in inputs:
                if src_kind == "tf-checkpoint" and form in ("keras", "weights.h5",
                                                            "weights.h5+compress"):
                    continue  # structure-preserving outputs need an HDF5 input
                if form == "keras" and src_kind != ".keras":
                    continue  # a .keras output needs the model's config
                np_runs, k_runs = [], []
                numpy_reps = a.reps
                if form in ("npz-deflate", "weights.h5+compress"):
                    # zlib at 10-20 MB/s of float64: once at 100 MB, above only with --slow
                    numpy_reps = 0 if size > 100 and not a.slow else 1
                if src_kind == "tf-checkpoint":
                    numpy_reps = 0  # the numpy recipe would need TensorFlow to read it
                if src_kind == ".keras":
                    # numpy reads the member through zipfile (as Keras does): slow, so npy only, once
                    numpy_reps = 1 if form == "npy" else 0
                if form == "keras":
                    numpy_reps = 0  # no numpy recipe writes a .keras
                extra = ["--compress"] if form == "weights.h5+compress" else []
                kform = form.split("+")[0]
                for r in range(a.reps):
                    # Alternate which side goes first.
                    order = ["numpy", "keras64"] if r % 2 == 0 else ["keras64", "numpy"]
                    for side in order:
                        if not a.drop_caches:
                            warm(src)  # untimed; ~1 s per 4 GB when it is cached already
                        if side == "numpy" and r < numpy_reps:
                            np_runs.append(run_numpy(form, src, out_path(a.workdir, form, "np"),
                                                     a.drop_caches))
                        elif side == "keras64":
                            k_runs.append(run_keras64(exe, kform, src,
                                                      out_path(a.workdir, kform, "k64"),
                                                      a.drop_caches, extra))
                row = {"size": size, "form": form, "input": src_kind,
                       "k_time": statistics.median(x[0] for x in k_runs),
                       "k_rss": max(x[1] for x in k_runs), "k_size": k_runs[0][2],
                       "k_times": [x[0] for x in k_runs], "in_size": input_size(src)}
                if np_runs:
                    row.update(np_time=statistics.median(x[0] for x in np_runs),
                               np_synced=statistics.median(x[3] for x in np_runs),
                               np_rss=max(x[1] for x in np_runs), np_size=np_runs[0][2],
                               np_times=[x[0] for x in np_runs])
                rows.append(row)
                print(format_row(row), flush=True)
    widen = widen_bench(a.widen_bench) if a.widen_bench else None
    write_results(a, rows, widen, forms)


def widen_bench(path):
    import numpy as np
    text = subprocess.run([path], capture_output=True, text=True, check=True).stdout
    res = json.loads(text)
    h = np.random.default_rng(0).standard_normal(64 * 2**20).astype(np.float16)
    ts = []
    for _ in range(3):
        t = time.perf_counter()
        h.astype(np.float64)
        ts.append(time.perf_counter() - t)
    res["numpy_f16_gelem_s"] = h.size / min(ts) / 1e9
    return res


def format_row(r):
    k = f"keras64 {r['k_time']:.2f} s {fmt_mib(r['k_rss'])}"
    if "np_time" in r:
        return (f"{r['size']:>5} MB {r['form']:<12} {r['input']:<10} numpy {r['np_time']:.2f} s "
                f"(+fsync {r['np_synced']:.2f}) "
                f"{fmt_mib(r['np_rss'])} | {k} | x{r['np_time'] / r['k_time']:.1f} "
                f"| size {r['k_size'] / r['np_size']:.3f}")
    return f"{r['size']:>5} MB {r['form']:<12} {r['input']:<10} {k}"


def write_results(a, rows, widen, forms):
    up = open("/proc/loadavg").read().split()[:3]
    lines = ["# keras64 vs the numpy recipe", "",
             f"Generated by `bench/bench.py` on {time.strftime('%Y-%m-%d %H:%M')}, "
             f"{os.cpu_count()} cores, load average at the end {' '.join(up)}, "
             f"{a.reps} runs per cell (medians), page cache "
             f"{'dropped before each run' if a.drop_caches else 'warm (inputs cached)'}.", "",
             "numpy s: the recipe as usually run (its output left dirty in the page cache); "
             "numpy+fsync s: the same plus fsync of its outputs, which keras64 always does "
             "before renaming its output into place. speed-up = numpy s / keras64 s.", "",
             "| size | output | input | numpy s | numpy+fsync s | keras64 s | speed-up "
             "| speed-up vs numpy+fsync | numpy peak RSS | keras64 peak RSS | output size vs numpy |",
             "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "np_time" in r:
            lines.append(f"| {r['size']} MB | {r['form']} | {r['input']} | {r['np_time']:.2f} "
                         f"| {r['np_synced']:.2f} | {r['k_time']:.2f} "
                         f"| {r['np_time'] / r['k_time']:.1f}x "
                         f"| {r['np_synced'] / r['k_time']:.1f}x "
                         f"| {fmt_mib(r['np_rss'])} | {fmt_mib(r['k_rss'])} "
                         f"| {r['k_size'] / r['np_size']:.3f} |")
        else:
            lines.append(f"| {r['size']} MB | {r['form']} | {r['input']} | - | - "
                         f"| {r['k_time']:.2f} | - | - | - | {fmt_mib(r['k_rss'])} "
                         f"| {fmt_mib(r['k_size'])} |")
    lines += ["", "keras64 with `.keras` (and TF checkpoint) input against `.weights.h5` input (same "
                  "tensors; time ratio of the medians, and of the fastest runs, which the "
                  "machine's noise disturbs least):", ""]
    for r in rows:
        if r["input"] == "weights.h5":
            continue
        base = [b for b in rows if b["size"] == r["size"] and b["form"] == r["form"]
                and b["input"] == "weights.h5"]
        if base:
            lines.append(f"- {r['size']} MB {r['form']} from {r['input']}: "
                         f"{r['k_time'] / base[0]['k_time']:.2f} "
                         f"(fastest: {min(r['k_times']) / min(base[0]['k_times']):.2f})")
    lines += [""]
    for r in rows:
        if r["form"] == "weights.h5+compress" and r["input"] == "weights.h5":
            lines.append(f"- {r['size']} MB `--to weights.h5 --compress`: output is "
                         f"{r['k_size'] / r['in_size']:.3f} of the float32 input's size, "
                         f"{r['in_size'] / 1e6 / r['k_time']:.0f} MB/s of float32 input")
    if widen:
        lines += ["", f"Widening f16 -> f64 into a reused buffer: keras64 "
                      f"{widen['f16_gelem_s']:.2f} G elements/s, bf16 {widen['bf16_gelem_s']:.2f}, "
                      f"f32 {widen['f32_gelem_s']:.2f}; numpy `astype(float64)` of float16 "
                      f"{widen['numpy_f16_gelem_s']:.2f} G elements/s."]
    lines += ["", "Raw times (s) per cell, in run order:", ""]
    for r in rows:
        lines.append(f"- {r['size']} MB {r['form']} {r['input']}: keras64 "
                     f"{', '.join(f'{t:.2f}' for t in r['k_times'])}"
                     + (f"; numpy {', '.join(f'{t:.2f}' for t in r['np_times'])}"
                        if "np_times" in r else ""))
    text = "\n".join(lines) + "\n"
    with open(a.results, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
