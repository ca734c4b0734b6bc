#!/usr/bin/python3
"""Two keras64 builds on the HDF5 read path (issue #16: keras64's own reader against libhdf5).

    /usr/bin/python3 bench/h5read_bench.py --before OLD/keras64 --after NEW/keras64 [--reps 3]

Cases: `convert --to npy` of the 1000 MB synthetic model (bench.py's generator) as .weights.h5
and as .keras, and `inspect` of a Keras 3 model of 5,000 small tensors (2,500 Dense layers) as
.keras and .weights.h5. The two builds run alternately, `sync` before each run; each run is a
child whose wall time and CPU time (user + sys, os.wait4) are taken. On a shared machine the CPU
time is the steadier figure. Prints a markdown table of medians (min-max).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def many_tensors(workdir, layers=2500):
    """A Sequential of `layers` Dense(8) layers: 2 x `layers` tensors, as Keras 3 saves it."""
    import h5py
    import numpy as np

    base = os.path.join(workdir, f"model_{2 * layers}_tensors")
    h5, keras = base + ".weights.h5", base + ".keras"
    if os.path.exists(h5) and os.path.exists(keras):
        return h5, keras
    cfg_layers = [{"module": "keras.layers", "class_name": "InputLayer",
                   "config": {"batch_shape": [None, 8], "dtype": "float32",
                              "name": "input_layer"}, "registered_name": None}]
    with h5py.File(h5, "w") as f:
        top = f.create_group("layers")
        for i in range(layers):
            key = "dense" if i == 0 else f"dense_{i}"
            g = top.create_group(key).create_group("vars")
            g.create_dataset("0", data=np.full((8, 8), i, dtype=np.float32))
            g.create_dataset("1", data=np.zeros(8, dtype=np.float32))
            cfg_layers.append({"module": "keras.layers", "class_name": "Dense",
                               "config": {"name": key, "units": 8, "activation": "linear",
                                          "use_bias": True, "dtype": "float32"},
                               "registered_name": None, "build_config": {"input_shape": [None, 8]}})
        f.create_group("vars")
    config = {"module": "keras", "class_name": "Sequential",
              "config": {"name": "sequential", "trainable": True, "layers": cfg_layers},
              "registered_name": None}
    with zipfile.ZipFile(keras, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        z.writestr("config.json", json.dumps(config))
        z.write(h5, "model.weights.h5")
    return h5, keras


def timed(args):
    """(wall s, CPU s) of one child run; raises if it fails."""
    subprocess.run(["sync"], check=True)
    t = time.perf_counter()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {p.stderr.read().decode()}")
    return wall, usage.ru_utime + usage.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--workdir", default="/tmp/keras64-bench")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--size-mb", type=int, default=1000)
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    big_h5, big_keras = bench.ensure_model(a.workdir, a.size_mb)
    many_h5, many_keras = many_tensors(a.workdir)
    cases = [(f"{a.size_mb} MB .weights.h5 -> npy", ["convert", "-q", big_h5, "--to", "npy"]),
             (f"{a.size_mb} MB .keras -> npy", ["convert", "-q", big_keras, "--to", "npy"]),
             ("inspect, 5,000 tensors, .keras", ["inspect", many_keras]),
             ("inspect, 5,000 tensors, .weights.h5", ["inspect", many_h5])]
    print("| case | before: wall s | after: wall s | before: CPU s | after: CPU s |")
    print("|---|---|---|---|---|")
    for name, args in cases:
        got = {"before": [], "after": []}
        for _ in range(a.reps):
            for side in ("before", "after"):
                cli = getattr(a, side)
                out = tempfile.mkdtemp(prefix="keras64-h5bench-", dir=a.workdir)
                shutil.rmtree(out)
                extra = ["-o", out] if args[0] == "convert" else []
                got[side].append(timed([cli, *args, *extra]))
                shutil.rmtree(out, ignore_errors=True)

        def cell(side, k):
            v = [r[k] for r in got[side]]
            return f"{statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f})"

        print(f"| {name} | {cell('before', 0)} | {cell('after', 0)} | {cell('before', 1)} | "
              f"{cell('after', 1)} |", flush=True)


if __name__ == "__main__":
    main()
