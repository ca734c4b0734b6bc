"""Shared helpers of the interop tier: the golden models (today's numpy-backend goldens and the
Keras 3 TF/JAX/torch goldens of tests/data/interop), converting them with the keras64 CLI, and
running code in other interpreters (Debian's numpy 1.x) or under another Keras backend."""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CLI = os.environ.get("KERAS64_CLI", str(HERE.parents[1] / "build" / "keras64"))
DATA = Path(os.environ.get("KERAS64_TEST_DATA", HERE.parent / "data"))
GOLDEN = DATA / "golden"
KERAS3 = DATA / "interop" / "keras3"
DEBIAN_PYTHON = "/usr/bin/python3"
BACKENDS = ("tensorflow", "jax", "torch")

#: Every output form keras64 writes, and the golden file each is converted from.
ARRAY_FORMS = ("npy", "npz", "npz-deflate", "memmap")
FORMS = ARRAY_FORMS + ("safetensors", "weights.h5", "keras", "legacy-h5")
_FORM_INPUT = {"weights.h5": "model.weights.h5", "legacy-h5": "model_legacy.h5"}
_FORM_NAME = {"npy": "npy", "memmap": "memmap", "npz": "w.npz", "npz-deflate": "wd.npz",
              "safetensors": "w.safetensors", "weights.h5": "w.weights.h5",
              "keras": "model.keras", "legacy-h5": "model_legacy.h5"}


def _models(root, prefix):
    if not root.is_dir():
        return []
    return sorted(f"{prefix}{p.relative_to(root).parent.parent.as_posix()}"
                  for p in root.glob("**/expected/manifest.json"))


#: Model keys: "golden/<model>" (numpy backend, tests/data/golden) and
#: "keras3/<backend>/<model>" (tests/data/interop/keras3).
MODELS = _models(GOLDEN, "golden/") + _models(KERAS3, "keras3/")


def model_dir(key):
    kind, rest = key.split("/", 1)
    return (GOLDEN if kind == "golden" else KERAS3) / rest


def manifest(key):
    return json.loads((model_dir(key) / "expected" / "manifest.json").read_text())


def expected_f64(key):
    """The model's get_weights() widened to float64 (integers kept), in order."""
    with np.load(model_dir(key) / "expected" / "weights_f64.npz") as d:
        return [d[k] for k in d.files]


def reference_f64(key):
    """(input, float64 prediction) of the model at float64: for keras3/* goldens computed on the
    TensorFlow backend by make_keras3.py; for the numpy-backend goldens the prediction their
    generator made with float64 compute enabled."""
    e = model_dir(key) / "expected"
    return np.load(e / "input.npy"), np.load(e / "prediction_f64.npy")


def run(*args, check=True):
    """Runs the keras64 CLI; returns the CompletedProcess (text mode)."""
    p = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise AssertionError(f"keras64 {' '.join(map(str, args))} exited {p.returncode}:\n"
                             f"{p.stderr}")
    return p


def convert_all(key, out):
    """Converts the golden model `key` into every form of FORMS under directory `out`;
    returns {form: path}."""
    src = model_dir(key)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for form in FORMS:
        dst = out / _FORM_NAME[form]
        extra = ["--model", src / "model.keras"] if form == "weights.h5" else []
        run("convert", src / _FORM_INPUT.get(form, "model.keras"), "-o", dst, "--to", form,
            "-q", *extra)
        paths[form] = dst
    return paths


def digest(a):
    """dtype, shape and sha256 of an array's bytes: equal digests = bit-identical arrays."""
    a = np.ascontiguousarray(a)
    return [a.dtype.str, list(a.shape), hashlib.sha256(a.view(np.uint8).tobytes()).hexdigest()]


def assert_bit_equal(got, want, what=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert np.array_equal(np.ascontiguousarray(got).view(np.uint8),
                          np.ascontiguousarray(want).view(np.uint8)), f"{what}: values differ"


def assert_close_f64(got, ref, what="", rtol=1e-12):
    """Within rtol relative of the float64 reference, measured against the reference's largest
    magnitude (element-wise relative error is meaningless at outputs that cancel to ~0)."""
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != {ref.shape}"
    scale = float(np.max(np.abs(ref))) or 1.0
    err = float(np.max(np.abs(got.astype(np.float64) - ref))) / scale
    assert err <= rtol, f"{what}: relative error {err:.3g} > {rtol:g}"


def python_json(python, script, *args, env=None, timeout=600):
    """Runs `python script args...` and returns the JSON object it prints last on stdout."""
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([python, str(script), *map(str, args)], capture_output=True, text=True,
                       env=e, stdin=subprocess.DEVNULL, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(f"{python} {script} exited {p.returncode}:\n{p.stderr[-4000:]}")
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    assert lines, f"{script} printed no JSON:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"
    return json.loads(lines[-1])


def backend_env(backend, x64=True):
    """Environment for a subprocess running Keras 3 on `backend` (JAX with or without x64)."""
    env = {"KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    env["JAX_ENABLE_X64"] = "1" if x64 else "0"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    return env


VENV_PYTHON = sys.executable
