"""Every output form of every golden input stays byte-identical to the recorded one.

tests/data/output_sha256.json holds, for each (input, output form), the sha256 of the file
keras64 wrote (or the exit code when the pair is refused). It was recorded before the
structure-preserving sinks stopped reading their input through libhdf5 (issue #16), so this test
proves that the tree copy through keras64's own reader writes the very same bytes. Re-record only
for an intended change of the output format:

    KERAS64_CLI=build/keras64 /usr/bin/python3 tests/integration/test_output_bytes.py --record
"""
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k64test import CLI, DATA, GOLDEN, MODELS  # noqa: E402

RECORD = DATA / "output_sha256.json"
# Input kinds: every golden model's files, and the tf.keras .keras interop goldens.
GOLDEN_INPUTS = ["model.keras", "model.weights.h5", "model_sharded.weights.json",
                 "model_legacy.h5", "model_legacy_weights.h5"]
TFKERAS = DATA / "interop" / "tfkeras"
# Output forms: (--to, extra arguments). The HDF5 forms with and without compression and
# optimizer state; memmap and npy are directories of the same bytes as npz's members.
FORMS = [("weights.h5", []), ("weights.h5", ["--compress"]), ("weights.h5", ["--include-optimizer"]),
         ("keras", []), ("keras", ["--compress", "--threads", "2"]),
         ("keras", ["--include-optimizer"]), ("legacy-h5", []), ("legacy-h5", ["--compress"]),
         ("npz", []), ("npz-deflate", []), ("safetensors", [])]
SUFFIX = {"legacy-h5": "h5", "npz-deflate": "npz"}


def inputs():
    out = []
    for m in MODELS:
        for name in GOLDEN_INPUTS:
            if (GOLDEN / m / name).exists():
                out.append(f"golden/{m}/{name}")
    for d in sorted(TFKERAS.iterdir()) if TFKERAS.is_dir() else []:
        if (d / "model.keras").exists():
            out.append(f"interop/tfkeras/{d.name}/model.keras")
    return out


def key(src, form, extra):
    return " ".join([src, form, *extra])


def convert(src, form, extra):
    """sha256 of the output, or "exit N" when keras64 refuses the pair."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / ("out." + SUFFIX.get(form, form))
        # Run from the data folder with the input's relative path: safetensors outputs record
        # the input's path as given (keras64.source_file), which must not depend on the checkout.
        p = subprocess.run([str(Path(CLI).resolve()), "convert", "-q", src, "--to", form, "-o",
                            str(out), *extra], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, cwd=DATA)
        if p.returncode != 0:
            return f"exit {p.returncode}"
        return hashlib.sha256(out.read_bytes()).hexdigest()


CASES = [(src, form, extra) for src in inputs() for form, extra in FORMS]


@pytest.fixture(scope="module")
def recorded():
    return json.loads(RECORD.read_text())


def test_every_pair_is_recorded(recorded):
    assert sorted(recorded) == sorted(key(*c) for c in CASES)


@pytest.mark.parametrize("src,form,extra", CASES, ids=[key(*c) for c in CASES])
def test_output_bytes_unchanged(recorded, src, form, extra):
    assert convert(src, form, extra) == recorded[key(src, form, extra)]


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    RECORD.write_text(json.dumps({key(*c): convert(*c) for c in CASES}, indent=1, sort_keys=True)
                      + "\n")
