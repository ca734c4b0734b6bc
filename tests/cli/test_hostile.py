"""Hostile and broken inputs for every format keras64 reads. Each must end in one clear line
"keras64: error: <file>...", exit 3/4/5/6, within seconds, without a crash, a huge allocation
or any output left behind. (HDF5 internals are not mutated here: libhdf5 itself is not safe on
crafted files; keras64 validates the superblock and its own layout, see docs/reliability.md.)"""
import io
import json
import random
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k64test import CLI, GOLDEN, run  # noqa: E402

MLP = GOLDEN / "mlp"


def expect_clean_error(tmp_path, path, codes=(3, 4, 5, 6), extra=()):
    out = tmp_path / "out.npz"
    p = subprocess.run([CLI, "convert", str(path), "-o", str(out), "--to", "npz", *map(str, extra)],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode in codes, f"exit {p.returncode}: {p.stderr}"
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("keras64: error: "), p.stderr
    assert str(path) in lines[0] or Path(path).name in lines[0], lines[0]
    assert not out.exists()
    assert [q for q in tmp_path.iterdir() if "keras64-tmp" in q.name] == []
    return p


def outputs(tmp_path_factory):
    """keras64's own outputs of the mlp model, in every readable form."""
    d = tmp_path_factory.mktemp("outs")
    made = {}
    for form, name in [("npy", "npy"), ("npz", "w.npz"), ("npz-deflate", "wd.npz"), ("memmap", "mm"),
                       ("safetensors", "w.safetensors")]:
        run("convert", MLP / "model.keras", "-o", d / name, "--to", form, "-q")
        made[form] = d / name
    return made


@pytest.fixture(scope="module")
def outs(tmp_path_factory):
    return outputs(tmp_path_factory)


# --- truncation at many points -------------------------------------------------------------

TRUNCATABLE = {
    "keras": lambda o: MLP / "model.keras",
    "weights.h5": lambda o: MLP / "model.weights.h5",
    "legacy.h5": lambda o: MLP / "model_legacy.h5",
    "npz": lambda o: o["npz"],
    "npz-deflate": lambda o: o["npz-deflate"],
    "safetensors": lambda o: o["safetensors"],
}


@pytest.mark.parametrize("kind", list(TRUNCATABLE))
def test_truncated_everywhere(tmp_path, outs, kind):
    data = Path(TRUNCATABLE[kind](outs)).read_bytes()
    points = sorted({0, 1, 7, 8, 30, 100, len(data) // 3, len(data) // 2, len(data) - 22, len(data) - 1}
                    | {random.Random(k).randrange(len(data)) for k in range(6)})
    for n in points:
        f = tmp_path / f"cut{n}{Path(TRUNCATABLE[kind](outs)).suffix}"
        f.write_bytes(data[:n])
        expect_clean_error(tmp_path, f)
        f.unlink()


@pytest.mark.parametrize("name", ["weight_0.npy", "weight_3.npy"])
def test_truncated_npy_in_directory(tmp_path, outs, name):
    import shutil
    d = tmp_path / "npy"
    shutil.copytree(outs["npy"], d)
    data = (d / name).read_bytes()
    for n in (0, 10, 100, len(data) - 1):
        (d / name).write_bytes(data[:n])
        expect_clean_error(tmp_path, d)


def test_truncated_memmap_file(tmp_path, outs):
    import shutil
    d = tmp_path / "mm"
    shutil.copytree(outs["memmap"], d)
    (d / "weight_0.dat").write_bytes((d / "weight_0.dat").read_bytes()[:-8])
    expect_clean_error(tmp_path, d)


# --- bit flips in headers and directories ----------------------------------------------------

def flip_each(tmp_path, data, positions, suffix):
    for pos in positions:
        for bit in (0, 3, 7):
            b = bytearray(data)
            b[pos] ^= 1 << bit
            f = tmp_path / f"flip{suffix}"
            f.write_bytes(bytes(b))
            out = tmp_path / "out.npz"
            p = subprocess.run([CLI, "convert", str(f), "-o", str(out), "--to", "npz", "-q"],
                               capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
            # A flip may hit a byte nobody reads; then the output is complete. Never a crash.
            assert p.returncode in (0, 3, 4, 5, 6), f"pos {pos} bit {bit}: exit {p.returncode}: {p.stderr}"
            if p.returncode:
                assert len(p.stderr.splitlines()) == 1 and not out.exists(), p.stderr
            out.unlink(missing_ok=True)


def test_bit_flips_in_zip_directory(tmp_path, outs):
    data = outs["npz"].read_bytes()
    cd = data.rfind(b"PK\x01\x02")
    first_cd = data.find(b"PK\x01\x02")
    eocd = data.rfind(b"PK\x05\x06")
    positions = list(range(first_cd, first_cd + 46)) + list(range(eocd, len(data))) + list(range(cd, cd + 46))
    flip_each(tmp_path, data, positions, ".npz")


def test_bit_flips_in_npy_headers(tmp_path, outs):
    data = outs["npz"].read_bytes()
    start = data.find(b"\x93NUMPY")
    flip_each(tmp_path, data, range(start, start + 128), ".npz")


def test_bit_flips_in_safetensors_header(tmp_path, outs):
    data = outs["safetensors"].read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    flip_each(tmp_path, data, list(range(0, 8)) + list(range(8, 8 + n, 3)), ".safetensors")


def test_bit_flips_in_keras_zip_directory(tmp_path):
    data = (MLP / "model.keras").read_bytes()
    eocd = data.rfind(b"PK\x05\x06")
    flip_each(tmp_path, data, range(eocd, len(data)), ".keras")


# --- zip archives that lie --------------------------------------------------------------------

def npy_bytes(a):
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


def patch_sizes(data, member, comp=None, uncomp=None):
    """Rewrites the sizes of `member` in the central directory (the copy readers trust)."""
    b = bytearray(data)
    i = b.find(b"PK\x01\x02")
    while i >= 0:
        name_len = struct.unpack_from("<H", b, i + 28)[0]
        if bytes(b[i + 46:i + 46 + name_len]) == member.encode():
            if comp is not None:
                struct.pack_into("<I", b, i + 20, comp)
            if uncomp is not None:
                struct.pack_into("<I", b, i + 24, uncomp)
        i = b.find(b"PK\x01\x02", i + 4)
    return bytes(b)


def make_npz(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name), data, compress_type=compression)


@pytest.mark.parametrize("comp,uncomp", [(None, 10), (None, 10**6), (10**8, None), (1, None)])
def test_zip_member_lies_about_its_size(tmp_path, comp, uncomp):
    f = tmp_path / "lie.npz"
    make_npz(f, [("a.npy", npy_bytes(np.arange(100.0)))], zipfile.ZIP_DEFLATED)
    f.write_bytes(patch_sizes(f.read_bytes(), "a.npy", comp, uncomp))
    expect_clean_error(tmp_path, f)


@pytest.mark.parametrize("name", ["../evil.npy", "/etc/evil.npy", "a/../../evil.npy", "..\\evil.npy", "C:evil.npy"])
def test_zip_member_names_with_traversal(tmp_path, name):
    f = tmp_path / "trav.npz"
    make_npz(f, [(name, npy_bytes(np.zeros(3)))])
    p = expect_clean_error(tmp_path, f, codes=(4,))
    assert "unsafe member name" in p.stderr


def test_zip_bomb_is_stopped_at_its_declared_size(tmp_path):
    # 200 MB of zeros deflate to ~200 KB; the directory claims the member is 1 KB.
    f = tmp_path / "bomb.npz"
    big = npy_bytes(np.zeros(25_000_000))
    make_npz(f, [("a.npy", big)], zipfile.ZIP_DEFLATED)
    f.write_bytes(patch_sizes(f.read_bytes(), "a.npy", uncomp=1024))
    p = expect_clean_error(tmp_path, f)
    assert "bomb.npz:a.npy: " in p.stderr


def test_many_entries_are_bounded(tmp_path):
    f = tmp_path / "many.npz"
    b = bytearray(npy_bytes(np.zeros(1)))
    make_npz(f, [(f"m{i}.npy", bytes(b)) for i in range(3)])
    data = bytearray(f.read_bytes())
    e = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, e + 8, 0xFFFE, 0xFFFE)  # claims 65534 entries
    f.write_bytes(bytes(data))
    expect_clean_error(tmp_path, f)


# --- npy headers ------------------------------------------------------------------------------

def raw_npy(header_dict_text, version=1, data=b""):
    h = header_dict_text.encode("latin1")
    pad = (64 - (10 + len(h) + 1) % 64) % 64
    h = h + b" " * pad + b"\n"
    if version == 1:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + data
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", len(h)) + h + data


BAD_NPY = {
    "shape_overflow": raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }"),
    "negative_dim": raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }"),
    "not_a_dict": raw_npy("[1, 2, 3]"),
    "unknown_descr": raw_npy("{'descr': '<q9', 'fortran_order': False, 'shape': (1,), }"),
    "object_array": raw_npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"),
    "missing_shape": raw_npy("{'descr': '<f8', 'fortran_order': False, }"),
    "short_data": raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1000,), }", data=b"\0" * 8),
    "huge_header_len": b"\x93NUMPY\x02\x00" + struct.pack("<I", 0xFFFFFFF0) + b"{",
    "bad_magic": b"\x93NUMPX\x01\x00" + b"\0" * 100,
    "unterminated": b"\x93NUMPY\x01\x00" + struct.pack("<H", 20) + b"{'descr': '<f8', 'fo",
}


@pytest.mark.parametrize("case", sorted(BAD_NPY))
@pytest.mark.parametrize("container", ["npz", "npy-dir"])
def test_malformed_npy(tmp_path, case, container):
    if container == "npz":
        f = tmp_path / "bad.npz"
        make_npz(f, [("arr_0.npy", BAD_NPY[case])])
    else:
        f = tmp_path / "dir"
        f.mkdir()
        (f / "weight_0.npy").write_bytes(BAD_NPY[case])
    expect_clean_error(tmp_path, f)


# --- safetensors headers -----------------------------------------------------------------------

def st(header, data=b"", length=None):
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h) if length is None else length) + h + data


BAD_ST = {
    "overlap": st({"a": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]},
                   "b": {"dtype": "F64", "shape": [2], "data_offsets": [8, 24]}}, b"\0" * 24),
    "out_of_range": st({"a": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}}, b"\0" * 8),
    "size_mismatch": st({"a": {"dtype": "F64", "shape": [3], "data_offsets": [0, 16]}}, b"\0" * 16),
    "reversed": st({"a": {"dtype": "F64", "shape": [0], "data_offsets": [16, 0]}}, b"\0" * 16),
    "unknown_dtype": st({"a": {"dtype": "C128", "shape": [1], "data_offsets": [0, 16]}}, b"\0" * 16),
    "shape_overflow": st({"a": {"dtype": "F64", "shape": [2**62, 2**62], "data_offsets": [0, 8]}}, b"\0" * 8),
    "negative_shape": st({"a": {"dtype": "F64", "shape": [-1], "data_offsets": [0, 8]}}, b"\0" * 8),
    "huge_header_len": struct.pack("<Q", 2**62) + b"{}",
    "header_past_end": st({}, length=4096),
    "not_json": struct.pack("<Q", 8) + b"not json",
    "not_object": st([1, 2, 3]),
    "offsets_not_ints": st({"a": {"dtype": "F64", "shape": [1], "data_offsets": ["0", "8"]}}, b"\0" * 8),
    "metadata_not_strings": st({"__metadata__": {"x": 1}, "a": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8),
}


@pytest.mark.parametrize("case", sorted(BAD_ST))
def test_malformed_safetensors(tmp_path, case):
    f = tmp_path / "bad.safetensors"
    f.write_bytes(BAD_ST[case])
    expect_clean_error(tmp_path, f)


# --- manifests that disagree with their files ----------------------------------------------------

MANIFEST_EDITS = {
    "shape_too_big": lambda t: t.update(shape=[1000, 1000]),
    "unknown_dtype": lambda t: t.update(dtype="complex128"),
    "file_traversal": lambda t: t.update(file="../../etc/passwd"),
    "absolute_file": lambda t: t.update(file="/etc/passwd"),
    "missing_file": lambda t: t.update(file="nope.dat"),
    "offset_past_end": lambda t: t.update(offset=10**12),
    "shape_not_list": lambda t: t.update(shape="5,10"),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_EDITS))
@pytest.mark.parametrize("form", ["memmap", "npy"])
def test_manifest_disagrees_with_files(tmp_path, outs, case, form):
    import shutil
    d = tmp_path / "d"
    shutil.copytree(outs[form], d)
    m = json.loads((d / "manifest.json").read_text())
    MANIFEST_EDITS[case](m["tensors"][0])
    (d / "manifest.json").write_text(json.dumps(m))
    expect_clean_error(tmp_path, d)


def test_manifest_not_json(tmp_path, outs):
    import shutil
    d = tmp_path / "d"
    shutil.copytree(outs["memmap"], d)
    (d / "manifest.json").write_text("{not json")
    expect_clean_error(tmp_path, d, codes=(4,))


# --- HDF5 files with a Keras layout that is wrong -------------------------------------------------

def test_hdf5_dataset_of_wrong_type(tmp_path):
    import h5py
    f = tmp_path / "strings.weights.h5"
    with h5py.File(f, "w") as h:
        h.create_group("vars")
        h["layers/dense/vars/0"] = np.array([b"abc", b"def"])
    p = expect_clean_error(tmp_path, f, codes=(5,))
    assert "layers/dense/vars/0" in p.stderr


def test_hdf5_compound_type(tmp_path):
    import h5py
    f = tmp_path / "compound.weights.h5"
    with h5py.File(f, "w") as h:
        h["layers/dense/vars/0"] = np.zeros(3, dtype=[("a", "<f4"), ("b", "<i4")])
    expect_clean_error(tmp_path, f, codes=(5,))


def test_hdf5_missing_dataset_against_model(tmp_path):
    import h5py, shutil
    f = tmp_path / "m.weights.h5"
    shutil.copy(MLP / "model.weights.h5", f)
    with h5py.File(f, "a") as h:
        del h["layers/dense/vars/0"]
    p = expect_clean_error(tmp_path, f, codes=(6,), extra=["--model", MLP / "model.keras"])
    assert "layers/dense/vars/0: missing dataset" in p.stderr


def test_hdf5_superblock_claims_more_than_present(tmp_path):
    data = (MLP / "model.weights.h5").read_bytes()
    f = tmp_path / "cut.weights.h5"
    f.write_bytes(data[: len(data) - 100])
    p = expect_clean_error(tmp_path, f, codes=(4,))
    assert "truncated: the HDF5 superblock says the file has" in p.stderr


def test_sharded_index_with_traversal_and_missing_shards(tmp_path):
    idx = tmp_path / "s.weights.json"
    idx.write_text(json.dumps({"weight_map": {"/layers/dense/vars": "../../etc/passwd"}}))
    expect_clean_error(tmp_path, idx, codes=(4,))
    idx.write_text(json.dumps({"weight_map": {"/layers/dense/vars": "s_00007.weights.h5"}}))
    p = expect_clean_error(tmp_path, idx, codes=(3,))
    assert "missing shard" in p.stderr
