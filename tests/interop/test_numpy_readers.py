"""numpy 2.x (this venv) and numpy 1.x (Debian's /usr/bin/python3, as a subprocess) read
keras64's npy, npz, npz-deflate and memmap outputs of every golden model with the classic
recipe's loops (numpy_recipe.py) and get the expected float64 arrays bit for bit."""
import json

import numpy as np
import pytest

import interop_support as s
import numpy_recipe

CASES = [(m, f) for m in s.MODELS for f in s.ARRAY_FORMS]


@pytest.mark.parametrize("model,form", CASES)
def test_numpy2_reads(model, form, outputs):
    assert np.__version__.startswith("2."), np.__version__
    got = numpy_recipe.read(form, outputs(model)[form])
    want = s.expected_f64(model)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        s.assert_bit_equal(g, w, f"{model} {form} tensor {i}")


@pytest.fixture(scope="module")
def numpy1(outputs, tmp_path_factory):
    jobs = [[f"{m} {f}", f, str(outputs(m)[f])] for m, f in CASES]
    job_file = tmp_path_factory.mktemp("numpy1") / "jobs.json"
    job_file.write_text(json.dumps(jobs))
    return s.python_json(s.DEBIAN_PYTHON, s.HERE / "numpy_recipe.py", job_file,
                         env={"PYTHONPATH": ""})


def test_numpy1_is_numpy1(numpy1):
    assert numpy1["numpy"].startswith("1."), numpy1["numpy"]


@pytest.mark.parametrize("model,form", CASES)
def test_numpy1_reads(model, form, numpy1):
    got = numpy1["results"][f"{model} {form}"]
    assert not isinstance(got, str), got
    assert got == [s.digest(w) for w in s.expected_f64(model)]
