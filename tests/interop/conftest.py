"""Fixtures of the interop tier (scripts/test-interop.sh): where the keras64 CLI and the test
data are, scratch directories, and the subprocess runners for what one process cannot do twice
(a Keras backend is fixed per process; numpy 1.x lives in Debian's interpreter)."""
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # interop_support and the worker scripts beside this file

import interop_support as s  # noqa: E402


def pytest_configure(config):
    if not Path(s.CLI).is_file():
        raise pytest.UsageError(f"keras64 CLI not found at {s.CLI}: set KERAS64_CLI "
                                "(scripts/test-interop.sh does)")


@pytest.fixture(scope="session")
def cli():
    """Path of the keras64 executable under test."""
    return s.CLI


@pytest.fixture(scope="session")
def data_dir():
    """tests/data (KERAS64_TEST_DATA)."""
    return s.DATA


@pytest.fixture
def tmp(tmp_path):
    """A fresh scratch directory for one test."""
    return tmp_path


@pytest.fixture(scope="session")
def outputs(tmp_path_factory):
    """Every golden model converted by keras64 into every output form, once per session:
    outputs(key) -> {form: path} (see interop_support.convert_all)."""
    root = tmp_path_factory.mktemp("outputs")
    cache = {}

    def get(key):
        if key not in cache:
            cache[key] = s.convert_all(key, root / key.replace("/", "_"))
        return cache[key]

    return get
