"""The classic recipe, verbatim on tf.keras (tfkeras_recipe.py: load_model, get_weights(),
astype(np.float64), np.save per tensor, np.savez, np.memmap), against keras64 on the same saved
model: the same arrays in the same order; and keras64 reads the recipe's files back (`diff`,
`load --into`)."""
import numpy as np
import pytest

import interop_support as s
import numpy_recipe
import tfkeras_support as t

RECIPE_FILES = {"npy": "npy", "npz": "weights.npz", "memmap": "raw"}


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    """Runs the recipe once over every golden model.h5: (output root, {model: shapes/dtypes})."""
    root = tmp_path_factory.mktemp("recipe")
    report = s.python_json(s.VENV_PYTHON, s.HERE / "tfkeras_recipe.py", root,
                           *[t.model_dir(m) for m in t.MODELS])
    return root, report


def _recipe_arrays(recipe, model, form):
    root, report = recipe
    d = root / model
    if form == "npy":
        n = len(report[model]["shapes"])
        return [np.load(f"{d}/npy/weight_{i}.npy") for i in range(n)]
    if form == "npz":
        data = np.load(f"{d}/weights.npz")
        return [data[k] for k in data.files]
    return [np.memmap(f"{d}/raw/weight_{i}.dat", dtype="float64", mode="r", shape=tuple(shape))
            for i, shape in enumerate(report[model]["shapes"])]


@pytest.mark.parametrize("form", list(RECIPE_FILES))
@pytest.mark.parametrize("model", t.MODELS)
def test_keras64_output_holds_the_recipes_arrays(recipe, tmp, model, form):
    out = tmp / ("w.npz" if form == "npz" else "w")
    s.run("convert", t.model_dir(model) / "model.h5", "-o", out, "--to", form, "-q")
    ours = numpy_recipe.read(form, out)
    theirs = _recipe_arrays(recipe, model, form)
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        s.assert_bit_equal(a, b, f"{model}/{form} tensor {i}")
    # and the recipe's arrays are the golden's (get_weights() when the files were written)
    for i, (b, w) in enumerate(zip(theirs, t.expected_f64(model), strict=True)):
        s.assert_bit_equal(b, w, f"{model}/{form} recipe tensor {i}")


@pytest.mark.parametrize("form", list(RECIPE_FILES))
@pytest.mark.parametrize("model", t.MODELS)
def test_keras64_reads_the_recipes_files(recipe, tmp, model, form):
    h5 = t.model_dir(model) / "model.h5"
    files = recipe[0] / model / RECIPE_FILES[form]
    shapes = ["--model", h5] if form == "memmap" else []  # raw files record no shapes
    p = s.run("diff", h5, files, *shapes, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    out = tmp / "back.h5"
    s.run("load", files, "--into", h5, "-o", out, "-q")
    p = s.run("diff", out, h5, check=False)  # back at float32: equal to the original, bit for bit
    assert p.returncode == 0, p.stdout + p.stderr
    s.run("convert", out, "-o", tmp / "back.npz", "--to", "npz", "-q")
    with np.load(tmp / "back.npz") as d:
        back = [d[k] for k in d.files]
    for i, (b, w) in enumerate(zip(back, t.expected_f64(model), strict=True)):
        s.assert_bit_equal(b, w, f"{model}/{form} loaded tensor {i}")
