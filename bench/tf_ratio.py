#!/usr/bin/python3
"""A TensorFlow checkpoint against a `.weights.h5` holding the same tensors (issue #14: within
1.1x): bench.py's 1 GB model, written a second time by real TensorFlow
(`tf.train.Checkpoint.write`, bench.ensure_tf_checkpoint), each converted by the same keras64,
the two inputs alternating run by run (which goes first alternates too).

    /usr/bin/python3 bench/tf_ratio.py --keras64 build/keras64 --tf-python .venv-interop/bin/python

Per run: wall time and the child's CPU time (user + system). Medians of --reps runs, their ratio
(checkpoint / weights.h5), and the load average before and after (the machine may be shared).
Inputs warm in the page cache, `sync` before each run. With --results the table is appended.
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from crc_cost import run  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--keras64", required=True)
    ap.add_argument("--tf-python", required=True, help="a python with tensorflow")
    ap.add_argument("--workdir", default="/tmp/keras64-bench")
    ap.add_argument("--size", type=int, default=1000, help="model size in MB (float32)")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--forms", default="npy,npz,safetensors")
    ap.add_argument("--results", default="", help="append the table to this markdown file")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    h5, _ = bench.ensure_model(a.workdir, a.size)
    ckpt = bench.ensure_tf_checkpoint(h5, a.tf_python)
    exe = os.path.abspath(a.keras64)
    out = os.path.join(a.workdir, "tf_ratio_out")
    load_before = os.getloadavg()
    rows = []
    for form in a.forms.split(","):
        res = {"h5": [], "tf": []}
        for r in range(a.reps):
            for side in (("h5", "tf") if r % 2 == 0 else ("tf", "h5")):
                src = h5 if side == "h5" else ckpt
                bench.warm(src)
                res[side].append(run(exe, src, form, out + (".npz" if form == "npz" else "")))
        med = {s: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
               for s, v in res.items()}
        rows.append((form, med, res))
        print(f"{form}: weights.h5 {med['h5'][0]:.2f} s wall / {med['h5'][1]:.2f} s CPU, "
              f"checkpoint {med['tf'][0]:.2f} s / {med['tf'][1]:.2f} s: ratio "
              f"{med['tf'][0] / med['h5'][0]:.2f} wall, {med['tf'][1] / med['h5'][1]:.2f} CPU",
              flush=True)
    load_after = os.getloadavg()
    lines = ["", f"### TF checkpoint vs .weights.h5, {a.size} MB float32 (bench/tf_ratio.py)", "",
             f"Same tensors, same keras64 build; {a.reps} runs per cell alternating the inputs; "
             f"medians. Load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
             "(2 cores shared).", "",
             "| output | .weights.h5 wall | checkpoint wall | ratio wall | .weights.h5 CPU | "
             "checkpoint CPU | ratio CPU |", "|---|---|---|---|---|---|---|"]
    for form, med, _ in rows:
        lines.append(f"| {form} | {med['h5'][0]:.2f} s | {med['tf'][0]:.2f} s | "
                     f"{med['tf'][0] / med['h5'][0]:.2f} | {med['h5'][1]:.2f} s | "
                     f"{med['tf'][1]:.2f} s | {med['tf'][1] / med['h5'][1]:.2f} |")
    print("\n".join(lines))
    if a.results:
        with open(a.results, "a") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
