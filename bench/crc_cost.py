#!/usr/bin/python3
"""The cost of keras64's checksums (issue #13): two keras64 builds, one without and one with
the CRC checks, on the same 1 GB model of bench.py, alternating run by run.

    /usr/bin/python3 bench/crc_cost.py --baseline OLD/keras64 --keras64 build/keras64

Cells: `.keras` input (the stored model.weights.h5 read in place, whose CRC-32 the new build
checks in a background pass) and a stored `.npz` input (its members' CRC-32), into outputs that
record a CRC32C per tensor (npy, safetensors, weights.h5, keras: computed as the bytes pass) and
npz (none: zip CRC only). Per run: wall time, and CPU time of the child (user + system), which
the other jobs on a shared machine disturb far less than wall time. Medians of --reps runs; the
table is printed and, with --results, appended to bench/results.md.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def run(exe, src, form, out):
    bench.remove(out)
    os.sync()
    t = time.perf_counter()
    p = subprocess.Popen([exe, "convert", src, "-o", out, "--to", form, "-q"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{exe} failed on {src} -> {form}: {err.decode()}")
    bench.remove(out)
    return wall, ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--baseline", required=True, help="keras64 without the CRC checks")
    ap.add_argument("--keras64", required=True, help="keras64 with them")
    ap.add_argument("--workdir", default="/tmp/keras64-bench")
    ap.add_argument("--size", type=int, default=1000, help="model size in MB (float32)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--results", default="", help="append the table to this markdown file")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    h5, keras = bench.ensure_model(a.workdir, a.size)
    npz = os.path.join(a.workdir, f"model_{a.size}mb_f64.npz")
    if not os.path.exists(npz):
        subprocess.run([a.baseline, "convert", keras, "-o", npz, "--to", "npz", "-q"], check=True)
    cells = [(keras, "npy"), (keras, "safetensors"), (keras, "weights.h5"), (keras, "keras"),
             (keras, "npz"), (h5, "npy"), (npz, "npy")]
    rows = []
    for src, form in cells:
        bench.warm(src)
        res = {"old": [], "new": []}
        for _ in range(a.reps):
            for side, exe in (("old", a.baseline), ("new", a.keras64)):
                res[side].append(run(exe, src, form, bench.out_path(a.workdir, form, side)))
        med = {s: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
               for s, v in res.items()}
        rows.append((os.path.basename(src).split("_", 2)[-1], form, med))
        print(f"{rows[-1][0]:>20} -> {form:12} wall {med['old'][0]:.3f} -> {med['new'][0]:.3f} s "
              f"({med['new'][0] / med['old'][0]:.3f})  cpu {med['old'][1]:.3f} -> "
              f"{med['new'][1]:.3f} s ({med['new'][1] / med['old'][1]:.3f})", flush=True)
    load = os.getloadavg()
    lines = [
        "",
        f"## Cost of the CRC checks (issue #13): {a.size} MB model, `bench/crc_cost.py`",
        "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores shared with "
        f"other jobs (load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}); "
        f"{a.reps} alternating runs per cell, medians. Before: keras64 without checksums; "
        "after: zip CRC-32 of the members read in place checked (background pass), CRC32C "
        "per tensor recorded in npy/safetensors/HDF5 outputs. CPU s = user + system time of "
        "the process (all its threads).",
        "",
        "| input | output | wall s before | wall s after | wall ratio | CPU s before | CPU s after | CPU ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for src, form, m in rows:
        lines.append(f"| {src} | {form} | {m['old'][0]:.3f} | {m['new'][0]:.3f} | "
                     f"{m['new'][0] / m['old'][0]:.3f} | {m['old'][1]:.3f} | {m['new'][1]:.3f} | "
                     f"{m['new'][1] / m['old'][1]:.3f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.results:
        with open(a.results, "a") as f:
            f.write(text)


if __name__ == "__main__":
    main()
