"""Every golden model, from every Keras 3 file kind, converted to every classic output form, read
back by plain numpy with the recipe's own loading loops, equals expected/weights_f64.npz (the
arrays real Keras produced) bit for bit. Also: tiny chunk sizes give byte-identical outputs."""
import filecmp
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k64test import GOLDEN, MODELS, assert_bit_equal, expected_f64, load_classic, run  # noqa: E402

FORMS = ["npy", "npz", "npz-deflate", "memmap"]
KINDS = {
    "keras": lambda m: ["model.keras"],
    "weights_h5": lambda m: ["model.weights.h5", "--model", GOLDEN / m / "model.keras"],
    "sharded": lambda m: ["model_sharded.weights.json", "--model", GOLDEN / m / "model.keras"],
}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("model", MODELS)
def test_golden_values(tmp_path, model, kind, form):
    args = KINDS[kind](model)
    out = tmp_path / ("out.npz" if form.startswith("npz") else "out")
    run("convert", GOLDEN / model / args[0], *args[1:], "-o", out, "--to", form, "--quiet")
    got = load_classic(form, out)
    want = expected_f64(model)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert_bit_equal(g, w, f"{model}/{kind}/{form} tensor {i}")


def _same_tree(a: Path, b: Path):
    if a.is_file():
        assert filecmp.cmp(a, b, shallow=False), f"{a} != {b}"
        return
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for n in names:
        assert filecmp.cmp(a / n, b / n, shallow=False), f"{a / n} != {b / n}"


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_tiny_chunks_give_identical_output(tmp_path, form, chunk):
    src = GOLDEN / "functional" / "model.keras"
    name = "x.npz" if form.startswith("npz") else "x"
    (tmp_path / "ref").mkdir()
    (tmp_path / "small").mkdir()
    run("convert", src, "-o", tmp_path / "ref" / name, "--to", form, "-q")
    run("convert", src, "-o", tmp_path / "small" / name, "--to", form, "-q", "--chunk-size", chunk)
    _same_tree(tmp_path / "ref" / name, tmp_path / "small" / name)


def test_cast_all_converts_integers(tmp_path):
    out = tmp_path / "o.npz"
    run("convert", GOLDEN / "nonfloat" / "model.keras", "-o", out, "--to", "npz", "--cast", "all", "-q")
    got = load_classic("npz", out)
    want = expected_f64("nonfloat")
    assert want[2].dtype.kind == "i"  # the Normalization count
    assert got[2].dtype.name == "float64" and got[2] == float(want[2])
