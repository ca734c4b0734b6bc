"""The classic recipe's loading loops, verbatim, over keras64's array outputs. Imported by the
numpy 2.x tests in the venv and run as a script by Debian's numpy 1.x interpreter:
    python3 numpy_recipe.py JOBS.json   (JOBS: [[id, form, path], ...])
prints {"numpy": version, "results": {id: [[dtype, shape, sha256], ...] or "error: ..."}}."""
import hashlib
import json
import sys

import numpy as np


def _count(path):
    with open(f"{path}/manifest.json") as f:
        return json.load(f)["tensors"]


def read(form, path):
    """The arrays of one output, read the way users read numpy files."""
    if form == "npy":
        n = len(_count(path))
        return [np.load(f"{path}/weight_{i}.npy") for i in range(n)]
    if form in ("npz", "npz-deflate"):
        data = np.load(path)
        return [data[k] for k in data.files]
    if form == "memmap":
        return [np.memmap(f"{path}/{t['file']}", dtype=t["dtype"], mode="r",
                          offset=t.get("offset", 0), shape=tuple(t["shape"]))
                for t in _count(path)]
    raise ValueError(form)


def digest(a):
    a = np.ascontiguousarray(a)
    return [a.dtype.str, list(a.shape), hashlib.sha256(a.view(np.uint8).tobytes()).hexdigest()]


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    results = {}
    for job_id, form, path in jobs:
        try:
            results[job_id] = [digest(a) for a in read(form, path)]
        except Exception as e:  # reported per output, compared by the test
            results[job_id] = f"error: {type(e).__name__}: {e}"
    print(json.dumps({"numpy": np.__version__, "results": results}))
