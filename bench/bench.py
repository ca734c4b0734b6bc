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

The disk's floor (issue #18): in every cell of an uncompressed output, each repetition also runs
`dd if=/dev/zero bs=4M oflag=direct conv=fsync` writing the same number of bytes as keras64's
output to the same directory, so keras64's time is also given as a ratio to what the device
allows at that moment (the median of the per-repetition ratios: the sides of one repetition run
back to back, so a disturbance that lasts minutes moves both). keras64, the floor and numpy take
turns going first. Sizes: 1 and 4 GB by default; --huge adds 16 GB (.weights.h5 input only: the
model, the .keras copy and a 32 GB output would not fit beside each other; needs ~50 GB free).
Per run: wall time, CPU time (user + system of the child) and peak RSS.

--writers auto,page-cache,direct times keras64 once per KERAS64_WRITER setting, alternating, one
table row each: auto (the default) and direct write with O_DIRECT from the first byte,
page-cache never uses it. A setting may name the O_DIRECT queue's shape too, `direct@3x2`
(KERAS64_DIRECT_QUEUE: 3 buffers of 2 MiB).
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
    if path_keras == "-":
        return
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


def ensure_model(workdir, size_mb, dtype="float32", with_keras=True):
    base = os.path.join(workdir, f"model_{size_mb}mb_{dtype}")
    h5, keras = base + ".weights.h5", base + ".keras"
    if not (os.path.exists(h5) and (os.path.exists(keras) or not with_keras)):
        if not with_keras:
            keras = "-"  # not made (16 GB: disk)
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


def run_child(argv, drop_caches, env=None, may_fail=False):
    """Runs argv after `sync`: (wall s, peak RSS bytes, stdout, CPU s, exit code). With may_fail
    a failure is returned (the numpy recipe killed for memory at 16 GB), not raised; the child is
    then also the first the OOM killer picks (oom_score_adj 1000), not a neighbour."""
    os.sync()
    if drop_caches:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")

    def oom_first():
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000\n")

    t = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                         preexec_fn=oom_first if may_fail else None)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0 and not may_fail:
        raise SystemExit(f"failed ({p.returncode}): {' '.join(argv)}\n{err.decode()}")
    return wall, ru.ru_maxrss * 1024, out, ru.ru_utime + ru.ru_stime, p.returncode


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
    """(s, peak RSS, output bytes, s with fsync, CPU s), or None for s etc. when the recipe did
    not finish (killed: out of memory)."""
    remove(out)
    _, rss, text, cpu, code = run_child(
        [PY, os.path.abspath(__file__), "--numpy-worker", form, src, out], drop, may_fail=True)
    if code != 0:
        remove(out)
        return {"failed": code, "rss": rss, "cpu": cpu}
    res = json.loads(text.decode().strip().splitlines()[-1])
    size = du(out)
    remove(out)
    return {"s": res["seconds"], "rss": rss, "size": size, "synced": res["synced"], "cpu": cpu}


def run_keras64(exe, form, src, out, drop, extra, writer=""):
    remove(out)
    env = None
    if writer:
        mode, _, queue = writer.partition("@")
        env = dict(os.environ, KERAS64_WRITER=mode)
        if queue:
            env["KERAS64_DIRECT_QUEUE"] = queue
    secs, rss, _, cpu, _ = run_child([exe, "convert", src, "-o", out, "--to", form, "-q", *extra],
                                     drop, env)
    size = du(out)
    remove(out)
    return {"s": secs, "rss": rss, "size": size, "cpu": cpu}


def run_floor(nbytes, out, drop):
    """The disk's floor: dd writing nbytes with O_DIRECT in 4 MiB writes, then fsync (keras64
    fsyncs its outputs too), to the same directory. GNU dd writes a last partial block without
    O_DIRECT."""
    remove(out)
    secs, rss, _, cpu, _ = run_child(
        ["dd", "if=/dev/zero", f"of={out}", "bs=4M", f"count={nbytes}", "iflag=count_bytes",
         "oflag=direct", "conv=fsync", "status=none"], drop)
    remove(out)
    return {"s": secs, "rss": rss, "size": nbytes, "cpu": cpu}


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


def median(xs):
    return statistics.median(xs) if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--keras64", default="build-perf/keras64")
    ap.add_argument("--workdir", default="/tmp/keras64-bench")
    ap.add_argument("--sizes", default="1000,4000", help="model sizes in MB (float32)")
    ap.add_argument("--big", action="store_true", help="also 4000 MB (the default now)")
    ap.add_argument("--huge", action="store_true",
                    help="also 16000 MB, .weights.h5 input only (~50 GB of free disk)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--numpy-reps", type=int, default=-1,
                    help="numpy recipe runs per cell (default: --reps; 0: none)")
    ap.add_argument("--forms", default="", help="comma list; default: all keras64 offers")
    ap.add_argument("--inputs", default="weights.h5,.keras", help="comma list: weights.h5,.keras")
    ap.add_argument("--writers", default="",
                    help="comma list of KERAS64_WRITER settings to time keras64 under "
                         "(auto, page-cache, direct; MODE@NxMIB also sets the O_DIRECT queue "
                         "shape); default: its default only")
    ap.add_argument("--no-floor", action="store_true", help="do not time the dd floor")
    ap.add_argument("--slow", action="store_true",
                    help="also run np.savez_compressed above 100 MB (about 10 MB/s of float64)")
    ap.add_argument("--drop-caches", action="store_true", help="drop the page cache before each run (root)")
    ap.add_argument("--tf-python", default="",
                    help="a python with tensorflow: also time a TF checkpoint of the same tensors")
    ap.add_argument("--widen-bench", default="", help="path of the keras64_widen_bench program")
    ap.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "results.md"),
                    help="markdown file whose bench.py section is replaced ('' : print only)")
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
    sizes = [int(s) for s in a.sizes.split(",")]
    sizes += [x for x in ([4000] if a.big else []) + ([16000] if a.huge else []) if x not in sizes]
    writers = a.writers.split(",") if a.writers else [""]
    wanted_inputs = a.inputs.split(",")
    load = [open("/proc/loadavg").read().split()[:3]]
    rows = []
    for size in sizes:
        huge = size > 8000
        h5, keras = ensure_model(a.workdir, size, with_keras=not huge and ".keras" in wanted_inputs)
        inputs = [(k, p) for k, p in [("weights.h5", h5), (".keras", keras)]
                  if k in wanted_inputs and not (huge and k == ".keras")]
        if a.tf_python:
            inputs.append(("tf-checkpoint", ensure_tf_checkpoint(h5, a.tf_python)))
        for form in forms:
            for src_kind, src in inputs:
                if src_kind == "tf-checkpoint" and form in ("keras", "weights.h5",
                                                            "weights.h5+compress"):
                    continue  # structure-preserving outputs need an HDF5 input
                if form == "keras" and src_kind != ".keras":
                    continue  # a .keras output needs the model's config
                rows += run_cell(a, exe, size, form, src_kind, src, writers)
                load.append(open("/proc/loadavg").read().split()[:3])
    widen = widen_bench(a.widen_bench) if a.widen_bench else None
    write_results(a, rows, widen, load)


def run_cell(a, exe, size, form, src_kind, src, writers):
    """All runs of one (size, form, input): keras64 under each writer setting, the dd floor and
    the numpy recipe, taking turns; one row per writer setting."""
    numpy_reps = a.reps if a.numpy_reps < 0 else a.numpy_reps
    if form in ("npz-deflate", "weights.h5+compress"):
        # zlib at 10-20 MB/s of float64: once at 100 MB, above only with --slow
        numpy_reps = 0 if size > 100 and not a.slow else min(numpy_reps, 1)
    if src_kind == "tf-checkpoint" or form == "keras":
        numpy_reps = 0  # numpy would need TensorFlow to read it / no numpy recipe writes a .keras
    if src_kind == ".keras":
        # numpy reads the member through zipfile (as Keras does): slow, so npy only, once
        numpy_reps = min(numpy_reps, 1) if form == "npy" else 0
    if size > 8000 and form != "npy":
        numpy_reps = 0  # 16 GB: the recipe's fate is the same for every form (see results.md)
    floor = not a.no_floor and form not in ("npz-deflate", "weights.h5+compress")
    extra = ["--compress"] if form == "weights.h5+compress" else []
    kform = form.split("+")[0]
    runs = {w: [] for w in writers}
    np_runs, floor_runs = [], []
    sides = [("k64", w) for w in writers] + [("floor", "")] * floor + [("numpy", "")]
    for r in range(a.reps):
        # Take turns going first; keras64 first in the first repetition (its output size is
        # the floor's byte count).
        k = r % len(sides)
        for side, w in sides[k:] + sides[:k]:
            if not a.drop_caches:
                warm(src)  # untimed; ~1 s per 4 GB when it is cached already
            if side == "k64":
                runs[w].append(run_keras64(exe, kform, src, out_path(a.workdir, kform, "k64"),
                                           a.drop_caches, extra, w))
            elif side == "floor":
                floor_runs.append(run_floor(runs[writers[0]][0]["size"],
                                            os.path.join(a.workdir, "out_floor.bin"),
                                            a.drop_caches))
            elif r < numpy_reps:
                np_runs.append(run_numpy(form, src, out_path(a.workdir, form, "np"),
                                         a.drop_caches))
    rows = []
    for w in writers:
        ks = runs[w]
        row = {"size": size, "form": form, "input": src_kind, "writer": w or "default",
               "k_time": median([x["s"] for x in ks]), "k_cpu": median([x["cpu"] for x in ks]),
               "k_rss": max(x["rss"] for x in ks), "k_size": ks[0]["size"],
               "k_times": [x["s"] for x in ks], "in_size": input_size(src)}
        if floor_runs:
            row.update(floor_time=median([x["s"] for x in floor_runs]),
                       floor_times=[x["s"] for x in floor_runs],
                       # paired: repetition r of keras64 against repetition r of the floor
                       floor_ratio=median([k["s"] / f["s"] for k, f in zip(ks, floor_runs)]))
        done = [x for x in np_runs if "failed" not in x]
        if done:
            row.update(np_time=median([x["s"] for x in done]),
                       np_synced=median([x["synced"] for x in done]),
                       np_rss=max(x["rss"] for x in done), np_size=done[0]["size"],
                       np_cpu=median([x["cpu"] for x in done]),
                       np_times=[x["s"] for x in done])
        failed = [x for x in np_runs if "failed" in x]
        if failed:
            row.update(np_failed=failed[0]["failed"], np_failed_rss=max(x["rss"] for x in failed),
                       np_failures=len(failed))
        rows.append(row)
        print(format_row(row), flush=True)
    return rows


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
    out = (f"{r['size']:>5} MB {r['form']:<12} {r['input']:<10} {r['writer']:<11} "
           f"keras64 {r['k_time']:.2f} s (CPU {r['k_cpu']:.2f}) {fmt_mib(r['k_rss'])}")
    if "floor_time" in r:
        out += f" | floor {r['floor_time']:.2f} s: x{r['floor_ratio']:.2f}"
    if "np_time" in r:
        out += (f" | numpy {r['np_time']:.2f} s (+fsync {r['np_synced']:.2f}) "
                f"{fmt_mib(r['np_rss'])}: speed-up x{r['np_time'] / r['k_time']:.1f}")
    if "np_failed" in r:
        out += f" | numpy failed ({r['np_failed']}) at {fmt_mib(r['np_failed_rss'])}"
    return out


BEGIN = "<!-- bench.py: generated section begins -->"
END = "<!-- bench.py: generated section ends -->"


def numpy_cells(r):
    if "np_time" in r:
        return (f"{r['np_time']:.2f} | {r['np_synced']:.2f} | {fmt_mib(r['np_rss'])} "
                f"| {r['np_time'] / r['k_time']:.1f}x | {r['k_size'] / r['np_size']:.3f}")
    if "np_failed" in r:
        why = "killed (out of memory)" if r["np_failed"] == -9 else f"exit {r['np_failed']}"
        return f"{why} | - | {fmt_mib(r['np_failed_rss'])} at death | - | -"
    return "- | - | - | - | -"


def write_results(a, rows, widen, load):
    loads = ", ".join(" ".join(x) for x in (load[0], load[-1]))
    peak = max(float(x[0]) for x in load)
    lines = [BEGIN, "# keras64 vs the disk's floor and the numpy recipe", "",
             f"Generated by `bench/bench.py` on {time.strftime('%Y-%m-%d %H:%M')}, "
             f"{os.cpu_count()} cores, load average (1/5/15 min) at the start and end {loads} "
             f"(highest 1-min figure between cells {peak:.2f}), {a.reps} runs per cell (medians), "
             f"page cache {'dropped before each run' if a.drop_caches else 'warm (inputs cached)'}.",
             "",
             "floor s: `dd if=/dev/zero bs=4M oflag=direct conv=fsync` writing as many bytes as "
             "keras64's output, same directory; x floor: keras64 s / floor s, the median of the "
             "per-repetition ratios. CPU s: user + system of the keras64 process. numpy s: the "
             "recipe as usually run (its output left dirty in the page cache); numpy+fsync s: the "
             "same plus fsync of its outputs, which keras64 always does before renaming its output "
             "into place. speed-up = numpy s / keras64 s. writer: KERAS64_WRITER (default auto: "
             "O_DIRECT from the first byte, as direct; page-cache: never "
             "O_DIRECT), @NxM: the O_DIRECT queue's N buffers of M MiB (KERAS64_DIRECT_QUEUE).",
             "",
             "| size | output | input | writer | keras64 s | floor s | x floor | keras64 CPU s "
             "| keras64 peak RSS | output | numpy s | numpy+fsync s | numpy peak RSS | speed-up "
             "| output size vs numpy |",
             "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        fl = (f"{r['floor_time']:.2f} | {r['floor_ratio']:.2f}x" if "floor_time" in r
              else "- | -")
        lines.append(f"| {r['size']} MB | {r['form']} | {r['input']} | {r['writer']} "
                     f"| {r['k_time']:.2f} | {fl} | {r['k_cpu']:.2f} | {fmt_mib(r['k_rss'])} "
                     f"| {fmt_mib(r['k_size'])} | {numpy_cells(r)} |")
    base_rows = [r for r in rows if r["input"] != "weights.h5"]
    if base_rows:
        lines += ["", "keras64 with `.keras` (and TF checkpoint) input against `.weights.h5` input "
                      "(same tensors; time ratio of the medians, and of the fastest runs, which "
                      "the machine's noise disturbs least):", ""]
    for r in base_rows:
        base = [b for b in rows if b["size"] == r["size"] and b["form"] == r["form"]
                and b["input"] == "weights.h5" and b["writer"] == r["writer"]]
        if base:
            lines.append(f"- {r['size']} MB {r['form']} from {r['input']} ({r['writer']}): "
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
        lines.append(f"- {r['size']} MB {r['form']} {r['input']} {r['writer']}: keras64 "
                     f"{', '.join(f'{t:.2f}' for t in r['k_times'])}"
                     + (f"; floor {', '.join(f'{t:.2f}' for t in r['floor_times'])}"
                        if "floor_times" in r else "")
                     + (f"; numpy {', '.join(f'{t:.2f}' for t in r['np_times'])}"
                        if "np_times" in r else ""))
    lines.append(END)
    text = "\n".join(lines) + "\n"
    print(text)
    if not a.results:
        return
    old = open(a.results).read() if os.path.exists(a.results) else ""
    if BEGIN in old and END in old:
        text = old[:old.index(BEGIN)] + text.rstrip("\n") + old[old.index(END) + len(END):]
    else:  # the section goes first; whatever the file held stays below it
        text = text + ("\n" + old if old else "")
    with open(a.results, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
