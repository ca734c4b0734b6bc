"""Valid HDF5 features outside the subset Keras files use (docs/hdf5-reader.md, the survey's "may
refuse" list) end in one line "<file>:<object path>: unsupported HDF5 feature: X" and exit 5, for
inspect and convert alike. The files are Keras 3 weights layouts written by h5py with
libver="latest", which uses what no Keras writer does."""
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k64test import CLI  # noqa: E402


def chunk_index(f):
    """A chunked dataset in a version 4 layout (a chunk index of spec Appendix C)."""
    g = f.create_group("layers/dense/vars")
    g.create_dataset("0", data=np.ones((4, 3), "<f4"), chunks=(2, 3))
    g.create_dataset("1", data=np.zeros(3, "<f4"))
    return "/layers/dense/vars/0: unsupported HDF5 feature: chunk index of a version 4 data layout"


def dense_attributes(f):
    """More attributes than a version 2 object header keeps compact: dense attribute storage."""
    f.create_group("layers/dense/vars").create_dataset("0", data=np.ones((4, 3), "<f4"))
    for i in range(12):
        f.attrs[f"a{i}"] = i
    return "/: unsupported HDF5 feature: dense attribute storage"


@pytest.mark.parametrize("make", [chunk_index, dense_attributes], ids=lambda m: m.__name__)
@pytest.mark.parametrize("command", ["inspect", "convert"])
def test_refused_feature_is_exit_5_and_one_line(tmp_path, make, command):
    path = tmp_path / "model.weights.h5"
    with h5py.File(path, "w", libver="latest") as f:
        tail = make(f)
        f.create_group("vars")
    out = tmp_path / "out.npz"
    args = [CLI, command, str(path)] + (["--to", "npz", "-o", str(out)] if command == "convert" else [])
    p = subprocess.run(args, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 5, p.stderr
    assert p.stderr == f"keras64: error: {path}:{tail}\n"
    assert not out.exists()
