"""The module's version and its command-line entry point: keras64.__version__ is the library's
(CMake's project version, passed in as KERAS64_VERSION), and `python -m keras64` runs the
keras64 tool itself (same output, same exit codes)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k64test import GOLDEN  # noqa: E402

import keras64  # noqa: E402

VERSION = os.environ["KERAS64_VERSION"]


def python_m(*args):
    return subprocess.run([sys.executable, "-m", "keras64", *map(str, args)],
                          capture_output=True, text=True, env=os.environ)


def test_version_is_the_projects():
    assert keras64.__version__ == VERSION
    assert keras64._keras64.version() == VERSION


def test_python_m_runs_the_tool(tmp_path):
    p = python_m("--version")
    assert (p.returncode, p.stdout.strip()) == (0, f"keras64 {VERSION}")
    src = GOLDEN / "mlp" / "model.keras"
    p = python_m("convert", src, "-o", tmp_path / "w.npz", "--to", "npz")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"{tmp_path}/w.npz: 4 tensors (4 float64)")
    assert python_m("diff", src, tmp_path / "w.npz").returncode == 0


@pytest.mark.parametrize("args, code, message", [
    (["convert", "missing.keras", "-o", "x.npz", "--to", "npz"], 3, "keras64: error: missing.keras"),
    (["frobnicate"], 2, "A subcommand is required"),
])
def test_python_m_keeps_the_tools_errors_and_exit_codes(tmp_path, args, code, message):
    p = subprocess.run([sys.executable, "-m", "keras64", *args], capture_output=True, text=True,
                       cwd=tmp_path)
    assert p.returncode == code and message in p.stderr, (p.returncode, p.stderr)
    assert not list(tmp_path.iterdir())
