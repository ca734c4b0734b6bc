"""The CLI's contract for bad input: one-line message naming file/member/dataset, documented exit
code, and nothing left behind (no output, no temporary file, input unchanged)."""
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k64test import GOLDEN, run  # noqa: E402

BAD = GOLDEN / "bad"
MLP = GOLDEN / "mlp" / "model.keras"

# file -> (exit code, exact message after "keras64: error: ", with {d} for the copy's folder)
CASES = {
    "truncated.keras": (4, "{d}/truncated.keras: not a valid zip archive: end of central directory not found (truncated?)"),
    "config_not_json.keras": (4, "{d}/config_not_json.keras:config.json: invalid JSON: [json.exception.parse_error.101] "
                                 "parse error at line 1, column 1086: syntax error while parsing object key - invalid literal; "
                                 "last read: '\"bias_regularizer\": null, <'; expected string literal"),
    "not_keras.h5": (5, "{d}/not_keras.h5: not a Keras weights file: no layers/, vars/ or optimizer/ group"),
    "wrong_shape.weights.h5": (6, "{d}/wrong_shape.weights.h5:/layers/dense/vars/0: shape mismatch: (10, 5) in file, "
                                  "(5, 10) in {m}"),
    "missing_var.weights.h5": (6, "{d}/missing_var.weights.h5:/layers/dense_1/vars/1: missing dataset "
                                  "({m} has one of shape (1,))"),
}


def sha(p):
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("form", ["npy", "npz", "memmap"])
def test_bad_file(tmp_path, name, form):
    code, msg = CASES[name]
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(BAD / name, src / name)
    before = sha(src / name)
    out = tmp_path / "out" / ("w.npz" if form == "npz" else "w")
    out.parent.mkdir()
    p = run("convert", src / name, "--model", MLP, "-o", out, "--to", form, check=False)
    assert p.returncode == code, p.stderr
    assert p.stderr == "keras64: error: " + msg.format(d=src, m=MLP) + "\n"
    assert p.stdout == ""
    assert list(out.parent.iterdir()) == []  # no output, no temporary
    assert sha(src / name) == before


def test_bad_file_json_error(tmp_path):
    p = run("inspect", BAD / "truncated.keras", "--json", check=False)
    assert p.returncode == 4
    j = json.loads(p.stdout)
    assert j["ok"] is False and j["error"]["code"] == "corrupt"
    assert "end of central directory not found" in j["error"]["message"]


def test_missing_input(tmp_path):
    p = run("convert", tmp_path / "nope.keras", "-o", tmp_path / "o", "--to", "npy", check=False)
    assert p.returncode == 3
    assert p.stderr == f"keras64: error: {tmp_path}/nope.keras: cannot open: No such file or directory\n"
    assert not (tmp_path / "o").exists()


def test_output_exists_needs_force(tmp_path):
    out = tmp_path / "o.npz"
    out.write_bytes(b"precious")
    p = run("convert", MLP, "-o", out, "--to", "npz", check=False)
    assert p.returncode == 2
    assert p.stderr == f"keras64: error: {out}: output exists (use --force to replace it)\n"
    assert out.read_bytes() == b"precious"
    run("convert", MLP, "-o", out, "--to", "npz", "--force", "-q")
    assert out.read_bytes()[:2] == b"PK"
    assert [p.name for p in tmp_path.iterdir()] == ["o.npz"]


def test_force_replaces_directory_output(tmp_path):
    out = tmp_path / "o"
    run("convert", MLP, "-o", out, "--to", "npy", "-q")
    run("convert", GOLDEN / "cnn" / "model.keras", "-o", out, "--to", "npy", "--force", "-q")
    assert len(list(out.glob("weight_*.npy"))) == 12
    assert [p.name for p in tmp_path.iterdir()] == ["o"]


def test_unknown_format_and_bad_flags(tmp_path):
    p = run("convert", MLP, "-o", tmp_path / "o", "--to", "xls", check=False)
    assert p.returncode == 2
    assert "unknown output format 'xls'" in p.stderr
    p = run("convert", MLP, "--to", "npy", check=False)
    assert p.returncode == 2 and "--output is required" in p.stderr
    p = run("frobnicate", check=False)
    assert p.returncode == 2


@pytest.mark.parametrize("cmd", [[], ["inspect"], ["convert"]])
def test_help(cmd):
    p = run(*cmd, "--help")
    assert p.returncode == 0 and "Usage" in p.stdout or "usage" in p.stdout.lower()


def test_piped_output_has_no_progress_bar(tmp_path):
    p = run("convert", MLP, "-o", tmp_path / "o", "--to", "npy")
    assert "\r" not in p.stderr and "ETA" not in p.stderr
    assert p.stdout.startswith(f"{tmp_path}/o: 4 tensors (4 float64)")


def test_convert_json_summary(tmp_path):
    p = run("convert", GOLDEN / "nonfloat" / "model.keras", "-o", tmp_path / "o.npz", "--to", "npz", "--json")
    j = json.loads(p.stdout)
    assert j["ok"] and j["source"]["kind"] == "keras3" and j["source"]["order_exact"]
    assert [t["to"] for t in j["tensors"]][:3] == ["float64", "float64", "int32"]


def test_inspect_json_lists_get_weights_order():
    j = json.loads(run("inspect", GOLDEN / "rnn" / "model.keras", "--json").stdout)
    names = [t["name"] for t in j["tensors"]]
    assert names[4] == "layers/bidirectional/forward_layer/cell/vars/0"
    assert names[7] == "layers/bidirectional/backward_layer/cell/vars/0"


def test_bare_weights_file_says_order_is_file_order(tmp_path):
    p = run("convert", GOLDEN / "mlp" / "model.weights.h5", "-o", tmp_path / "o", "--to", "npy")
    assert "note: tensors are in file order" in p.stderr and "--model" in p.stderr


def test_no_temporary_files_left_in_tmpdir(tmp_path):
    env_tmp = tmp_path / "tmp"
    env_tmp.mkdir()
    os.environ["TMPDIR"] = str(env_tmp)
    try:
        run("convert", MLP, "-o", tmp_path / "o.npz", "--to", "npz", "-q")
        run("convert", BAD / "wrong_shape.weights.h5", "--model", MLP, "-o", tmp_path / "p", "--to", "npy", check=False)
    finally:
        del os.environ["TMPDIR"]
    assert list(env_tmp.iterdir()) == []


def test_legacy_weights_checked_against_model(tmp_path):
    """A legacy weights-only .h5 that does not fit --model is refused, naming the weight."""
    import h5py
    f = tmp_path / "w.h5"
    shutil.copy(GOLDEN / "mlp" / "model_legacy_weights.h5", f)
    with h5py.File(f, "a") as h:
        k = h["dense/mlp/dense/kernel"][...]
        del h["dense/mlp/dense/kernel"]
        h["dense/mlp/dense/kernel"] = k.T
    p = run("convert", f, "--model", MLP, "-o", tmp_path / "o.npz", "--to", "npz", check=False)
    assert p.returncode == 6
    assert p.stderr == (f"keras64: error: {f}:/dense/mlp/dense/kernel: shape mismatch: (10, 5) in file, "
                        f"(5, 10) in {MLP} (layers/dense/vars/0)\n")
    assert not (tmp_path / "o.npz").exists()
