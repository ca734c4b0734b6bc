"""`keras64 --version` prints CMake's project version (passed in as KERAS64_VERSION): the one
version number of the tool, the library, the Python module and the .deb."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k64test import run  # noqa: E402


def test_version():
    p = run("--version")
    assert p.stdout == f"keras64 {os.environ['KERAS64_VERSION']}\n"


def test_help_states_exit_statuses():
    assert "Exit status: 0 success; 1 diff: the inputs differ; 2 bad arguments" in run("--help").stdout
