"""Zip CRC-32 of the members keras64 reads in place (issue #13, point 4).

One bit flipped inside a tensor's data - in the stored `model.weights.h5` of a golden `.keras`
(which HDF5 reads in place through keras64's member driver), in a stored `.npz` member and in a
deflated one - is refused as zip readers refuse it (Python's zipfile, hence numpy and Keras: "Bad
CRC-32"): exit 4, the exact message naming archive and member, no output, input unchanged."""
import hashlib
import io
import shutil
import sys
import zipfile
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k64test import GOLDEN, flip_bit, run, zip_member_offset  # noqa: E402

MLP = GOLDEN / "mlp"


def sha(p):
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


def crc_message(archive, name, flipped_member_bytes):
    with zipfile.ZipFile(archive) as z:
        recorded = z.getinfo(name).CRC
    computed = zlib.crc32(flipped_member_bytes)
    assert computed != recorded
    return (f"keras64: error: {archive}:{name}: CRC-32 mismatch: computed 0x{computed:08x}, "
            f"the zip directory records 0x{recorded:08x}\n")


def damaged_keras(tmp_path):
    """A copy of the golden mlp .keras with one bit flipped in the first kernel's data."""
    src = tmp_path / "in" / "model.keras"
    src.parent.mkdir()
    shutil.copy(MLP / "model.keras", src)
    with zipfile.ZipFile(src) as z:
        assert z.getinfo("model.weights.h5").compress_type == zipfile.ZIP_STORED
        member = z.read("model.weights.h5")
    with h5py.File(io.BytesIO(member), "r") as f:
        at = f["layers/dense/vars/0"].id.get_offset()
    assert at is not None
    base = zip_member_offset(src, "model.weights.h5")
    flip_bit(src, base + at + 5, 3)
    damaged = Path(src).read_bytes()[base:base + len(member)]
    return src, crc_message(src, "model.weights.h5", damaged)


def zip_reader_refuses(archive, name):
    """Ground truth: Python's zipfile (numpy's and Keras's reader) refuses the member."""
    with zipfile.ZipFile(archive) as z, pytest.raises(zipfile.BadZipFile, match="Bad CRC-32"):
        z.read(name)


@pytest.mark.parametrize("to", ["npy", "npz", "memmap", "safetensors", "keras", "weights.h5"])
def test_keras_stored_weights_bit_flip(tmp_path, to):
    src, msg = damaged_keras(tmp_path)
    zip_reader_refuses(src, "model.weights.h5")
    before = sha(src)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / {"npz": "w.npz", "keras": "w.keras", "weights.h5": "w.weights.h5",
                     "safetensors": "w.safetensors"}.get(to, "w")
    p = run("convert", src, "-o", out, "--to", to, check=False)
    assert p.returncode == 4, p.stderr
    assert p.stderr == msg
    assert p.stdout == ""
    assert list(out_dir.iterdir()) == []  # no output, no temporary
    assert sha(src) == before


def test_keras_bit_flip_diff_and_load(tmp_path):
    src, msg = damaged_keras(tmp_path)
    p = run("diff", src, MLP / "model.keras", check=False)
    assert (p.returncode, p.stderr) == (4, msg)
    # The damaged file as MODEL of load: its structure would be copied into the output.
    w = tmp_path / "w.npz"
    run("convert", MLP / "model.keras", "-o", w, "--to", "npz")
    out = tmp_path / "out.keras"
    p = run("load", w, "--into", src, "-o", out, check=False)
    assert (p.returncode, p.stderr) == (4, msg)
    assert not out.exists()


def test_intact_inputs_still_convert(tmp_path):
    """The check passes on every golden .keras (a CRC-32 check that never passes is no check)."""
    for model in sorted(p.name for p in GOLDEN.iterdir() if (p / "model.keras").exists()):
        run("convert", GOLDEN / model / "model.keras", "-o", tmp_path / f"{model}.npz", "--to", "npz")


def npz_with_member(path, arrays, deflated):
    """An npz like np.savez (stored) or a deflated one whose deflate stream is made of stored
    blocks (zlib level 0): a flipped bit in its data then inflates fine and only the CRC-32 can
    tell - the case a CRC check is for."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED if deflated else zipfile.ZIP_STORED,
                         compresslevel=0 if deflated else None) as z:
        for i, a in enumerate(arrays):
            buf = io.BytesIO()
            np.save(buf, a)
            z.writestr(f"arr_{i}.npy", buf.getvalue())


@pytest.mark.parametrize("deflated", [False, True], ids=["stored", "deflated"])
def test_npz_member_bit_flip(tmp_path, deflated):
    arrays = [np.arange(60, dtype=np.float32).reshape(6, 10), np.linspace(0, 1, 7, dtype=np.float32)]
    src = tmp_path / "in" / "w.npz"
    src.parent.mkdir()
    npz_with_member(src, arrays, deflated)
    name = "arr_1.npy"
    with zipfile.ZipFile(src) as z:
        member = bytearray(z.read(name))
        info = z.getinfo(name)
    # The last byte of the member is array data (float32 element 6), in the raw bytes too: a
    # stored member is its bytes, and a level-0 deflate stream ends with its last stored block.
    base = zip_member_offset(src, name)
    flip_bit(src, base + info.compress_size - 1, 3)
    member[-1] ^= 1 << 3
    msg = crc_message(src, name, bytes(member))
    zip_reader_refuses(src, name)
    before = sha(src)
    for to, out_name in [("npy", "w"), ("npz", "w.npz"), ("safetensors", "w.safetensors")]:
        out_dir = tmp_path / f"out-{to}"
        out_dir.mkdir()
        p = run("convert", src, "-o", out_dir / out_name, "--to", to, check=False)
        assert (p.returncode, p.stderr, p.stdout) == (4, msg, "")
        assert list(out_dir.iterdir()) == []
    assert sha(src) == before
