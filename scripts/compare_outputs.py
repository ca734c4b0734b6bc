#!/usr/bin/env python3
"""Compares two keras64 builds on every golden and interop input: used to show that a change to
the read path (issue #16: keras64's own HDF5 reader replacing libhdf5) leaves outputs unchanged.

    scripts/compare_outputs.py OLD_KERAS64 NEW_KERAS64

For each input (every .keras, .weights.h5, legacy .h5 and sharded .weights.json under
tests/data/golden and tests/data/interop) both builds run `inspect --json` and `convert` to npz,
safetensors, weights.h5, keras and legacy-h5 (where the input allows it). inspect output, exit
codes, error messages and npz/safetensors bytes must be identical; HDF5 outputs must have the
same tree, attributes and dataset bytes (h5py), since a writer-side change may move bytes.
Prints a summary; exit 1 on any difference.
"""
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
old, new = sys.argv[1], sys.argv[2]


def inputs():
    for base in [ROOT / "tests/data/golden", ROOT / "tests/data/interop"]:
        for p in sorted(base.rglob("*")):
            if p.is_file() and (p.suffix in (".keras", ".h5") or p.name.endswith(".weights.json")):
                if "_0000" in p.name and p.name.endswith(".weights.h5"):
                    continue  # shards: through their index
                yield p


def h5_digest(path):
    out = []

    def visit(name, obj):
        out.append((name, type(obj).__name__))
        for k in sorted(obj.attrs):
            v = obj.attrs[k]
            out.append((name, k, repr(v.tolist() if hasattr(v, "tolist") else v)))
        if isinstance(obj, h5py.Dataset):
            out.append((name, str(obj.dtype), obj.shape,
                        hashlib.sha256(np.ascontiguousarray(obj[()]).tobytes()).hexdigest()))

    with h5py.File(path, "r") as f:
        visit("/", f)
        f.visititems(visit)
    return out


def keras_member_digest(path):
    import zipfile
    with zipfile.ZipFile(path) as z, tempfile.NamedTemporaryFile(suffix=".h5") as t:
        t.write(z.read("model.weights.h5"))
        t.flush()
        return [z.read("config.json"), h5_digest(t.name)]


def run(cli, args):
    p = subprocess.run([cli, *map(str, args)], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


diffs, runs = 0, 0
with tempfile.TemporaryDirectory() as d:
    d = Path(d)
    for inp in inputs():
        r_old = run(old, ["inspect", inp, "--json"])
        r_new = run(new, ["inspect", inp, "--json"])
        runs += 1
        if r_old != r_new:
            diffs += 1
            print(f"DIFF inspect {inp}:\n  old {r_old[0]} {r_old[2].strip()}\n  new {r_new[0]} {r_new[2].strip()}")
        if r_old[0] != 0:
            continue
        kind = json.loads(r_old[1])["source"]["kind"]
        forms = [("npz", ".npz", "bytes"), ("safetensors", ".safetensors", "bytes"),
                 ("weights.h5", ".weights.h5", "h5")]
        if kind.startswith("keras3") or kind == "tfkeras":
            forms.append(("keras", ".keras", "keras"))
        if kind.startswith("legacy"):
            forms.append(("legacy-h5", ".h5", "h5"))
        for form, ext, how in forms:
            outs = []
            for tag, cli in [("old", old), ("new", new)]:
                o = d / f"{tag}{ext}"
                rc = run(cli, ["convert", inp, "-o", o, "--to", form, "-q", "-f"])
                outs.append((rc, o))
            runs += 1
            (rc_a, a), (rc_b, b) = outs
            if rc_a != rc_b:
                diffs += 1
                print(f"DIFF convert {form} {inp}: {rc_a} vs {rc_b}")
                continue
            if rc_a[0] != 0:
                continue
            if how == "bytes":
                same = a.read_bytes() == b.read_bytes()
            elif how == "h5":
                same = h5_digest(a) == h5_digest(b)
            else:
                same = keras_member_digest(a) == keras_member_digest(b)
            if not same:
                diffs += 1
                print(f"DIFF convert {form} {inp}")
print(f"{runs} comparisons, {diffs} differences")
sys.exit(1 if diffs else 0)
