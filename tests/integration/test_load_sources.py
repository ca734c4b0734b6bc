"""keras64 reads back its own outputs and the classic numpy recipe's files: every golden model's
npy / npz / npz-deflate / memmap output, converted again (through the new sources) to npz, holds
the same bits; files made by np.save, np.savez, np.savez_compressed and tofile load too, big-endian
included; damaged or hostile inputs fail with exact messages."""
import json
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k64test import GOLDEN, MODELS, assert_bit_equal, expected_f64, load_classic, run  # noqa: E402

FORMS = ["npy", "npz", "npz-deflate", "memmap"]


def out_name(form):
    return "out.npz" if form.startswith("npz") else "out"


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("model", MODELS)
def test_own_outputs_read_back(tmp_path, model, form):
    out = tmp_path / out_name(form)
    run("convert", GOLDEN / model / "model.keras", "-o", out, "--to", form, "-q")
    info = json.loads(run("inspect", out, "--json").stdout)
    if form in ("npy", "memmap"):  # manifests keep names and order
        assert info["source"]["order_exact"] is True
        assert info["tensors"][0]["name"].startswith(("layers/", "vars/"))
    again = tmp_path / "again.npz"
    run("convert", out, "-o", again, "--to", "npz", "-q", "--chunk-size", 24)
    got = load_classic("npz", again)
    want = expected_f64(model)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert_bit_equal(g, w, f"{model}/{form} tensor {i}")


def classic_arrays():
    rng = np.random.default_rng(5)
    return [rng.standard_normal((3, 4)).astype(np.float32), np.arange(5, dtype=">f8"),
            np.float64(2.5), np.zeros((0, 3)), rng.integers(0, 9, (2, 2)).astype(np.int32),
            rng.standard_normal(1000).astype(">f4")]


@pytest.mark.parametrize("how", ["save", "savez", "savez_compressed"])
def test_classic_numpy_files(tmp_path, how):
    arrays = classic_arrays()
    if how == "save":
        src = tmp_path / "w"
        src.mkdir()
        for i, a in enumerate(arrays):
            np.save(src / f"weight_{i}.npy", a)
    else:
        src = tmp_path / "w.npz"
        getattr(np, how)(src, *arrays)
    info = json.loads(run("inspect", src, "--json").stdout)
    assert info["source"]["order_exact"] is False
    assert info["source"]["note"] == "classic numpy files: order is weight_{i} / arr_{i} numbering"
    names = [t["name"] for t in info["tensors"]]
    assert names == [f"{'weight' if how == 'save' else 'arr'}_{i}" for i in range(len(arrays))]
    out = tmp_path / "o.npz"
    run("convert", src, "-o", out, "--to", "npz", "--cast", "all", "-q", "--chunk-size", 40)
    got = load_classic("npz", out)
    for i, (g, a) in enumerate(zip(got, arrays)):
        assert_bit_equal(g, np.asarray(a).astype(np.float64), f"{how} tensor {i}")


def test_classic_tofile_needs_shapes(tmp_path):
    d = tmp_path / "raw"
    d.mkdir()
    np.float64(1).tofile(d / "weight_0.dat")
    p = run("inspect", d, check=False)
    assert p.returncode == 2
    assert p.stderr == (f"keras64: error: {d}: raw weight_{{i}}.dat files without manifest.json record no "
                        "shapes: give the model they belong to (pass --model ARCH.keras)\n")


def test_numbering_gap(tmp_path):
    d = tmp_path / "w"
    d.mkdir()
    np.save(d / "weight_0.npy", np.zeros(2))
    np.save(d / "weight_2.npy", np.zeros(2))
    p = run("inspect", d, check=False)
    assert p.returncode == 4
    assert p.stderr == f"keras64: error: {d}: weight_1.npy is missing (weight_2.npy exists)\n"


def test_fortran_order_refused(tmp_path):
    d = tmp_path / "w"
    d.mkdir()
    np.save(d / "weight_0.npy", np.asfortranarray(np.ones((2, 3))))
    p = run("inspect", d, check=False)
    assert p.returncode == 5
    assert p.stderr == (f"keras64: error: {d}/weight_0.npy: Fortran-order arrays are not supported "
                        "(save np.ascontiguousarray(w))\n")


def write_safetensors(path, header, data=b"", raw_len=None):
    h = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(h) if raw_len is None else raw_len) + h + data)


def test_safetensors_reads_and_orders(tmp_path):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([1.5, -2.0], dtype=np.float64)
    # Header keys out of file order, no keras64 metadata: data-offset order wins.
    write_safetensors(tmp_path / "x.safetensors",
                      {"z_second": {"dtype": "F64", "shape": [2], "data_offsets": [24, 40]},
                       "a_first": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}},
                      a.tobytes() + b.tobytes())
    info = json.loads(run("inspect", tmp_path / "x.safetensors", "--json").stdout)
    assert [t["name"] for t in info["tensors"]] == ["a_first", "z_second"]
    assert info["source"]["order_exact"] is False
    out = tmp_path / "o.npz"
    run("convert", tmp_path / "x.safetensors", "-o", out, "--to", "npz", "-q")
    got = load_classic("npz", out)
    assert_bit_equal(got[0], a.astype(np.float64))
    assert_bit_equal(got[1], b)
    # With keras64 order metadata, the recorded order wins.
    write_safetensors(tmp_path / "y.safetensors",
                      {"__metadata__": {"keras64.order": json.dumps(["z_second", "a_first"]),
                                        "keras64.order_exact": "true"},
                       "a_first": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
                       "z_second": {"dtype": "F64", "shape": [2], "data_offsets": [24, 40]}},
                      a.tobytes() + b.tobytes())
    info = json.loads(run("inspect", tmp_path / "y.safetensors", "--json").stdout)
    assert [t["name"] for t in info["tensors"]] == ["z_second", "a_first"]
    assert info["source"]["order_exact"] is True


ST_BAD = {
    "overlap": ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                 "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, 12,
                "safetensors: tensors 'a' and 'b' overlap"),
    "span": ({"a": {"dtype": "F64", "shape": [2], "data_offsets": [0, 8]}}, 8,
             "safetensors: tensor 'a': (2,) F64 is 16 bytes, data_offsets span 8"),
    "range": ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, 8,
              "safetensors: tensor 'a': data_offsets [0, 16] outside the 8 data bytes"),
    "dtype": ({"a": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}}, 1,
              "safetensors: tensor 'a': dtype F8_E4M3 is not supported"),
    "negative": ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, 4,
                 "safetensors: tensor 'a': shape has a non-integer or negative dimension"),
}


@pytest.mark.parametrize("case", sorted(ST_BAD))
def test_safetensors_hostile_headers(tmp_path, case):
    header, nbytes, msg = ST_BAD[case]
    f = tmp_path / "x.safetensors"
    write_safetensors(f, header, b"\0" * nbytes)
    p = run("inspect", f, check=False)
    assert p.stderr == f"keras64: error: {f}: {msg}\n"
    assert p.returncode == (5 if case == "dtype" else 4)


def test_safetensors_duplicate_and_oversized(tmp_path):
    f = tmp_path / "x.safetensors"
    h = b'{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}'
    f.write_bytes(struct.pack("<Q", len(h)) + h + b"\0")
    p = run("inspect", f, check=False)
    assert (p.returncode, p.stderr) == (4, f"keras64: error: {f}: safetensors: header: duplicate key 'a'\n")
    # A length over the file is refused before anything is allocated.
    write_safetensors(f, {}, raw_len=1 << 40)
    assert run("inspect", f, check=False).returncode in (4, 5)
