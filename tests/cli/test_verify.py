"""Checksums keras64 records in its outputs and `keras64 verify` (issue #13, point 5).

Ground truth is independent of keras64: the recorded values are compared with a CRC32C computed
here (pure Python) over the tensor bytes numpy/h5py read; then one bit flipped inside a tensor's
data must make `verify` exit 4 naming that tensor, with the exact message."""
import io
import json
import sys
import zipfile
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k64test import DATA, GOLDEN, crc32c, flip_bit as flip, run, zip_member_offset  # noqa: E402

MLP = GOLDEN / "mlp"


def test_crc32c_reference():
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value


def verify(path, *extra, check=False):
    return run("verify", path, *extra, check=check)


def mismatch(where, index, name, data_after, recorded_in, recorded):
    return (f"keras64: error: {where}: tensor {index} '{name}': CRC32C mismatch: computed "
            f"0x{crc32c(data_after):08x}, {recorded_in} records 0x{recorded:08x}\n")


# --- every form: recorded values are right, verify passes, a flipped bit is named -------------

def convert(tmp_path, to, name, src=MLP / "model.keras", *extra):
    out = tmp_path / name
    run("convert", src, "-o", out, "--to", to, "-q", *extra)
    return out


@pytest.mark.parametrize("to", ["npy", "memmap"])
def test_directory_outputs(tmp_path, to):
    out = convert(tmp_path, to, "w")
    m = json.loads((out / "manifest.json").read_text())
    for t in m["tensors"]:
        raw = (out / t["file"]).read_bytes()[t["offset"]:t["offset"] + t["nbytes"]]
        assert t["crc32c"] == f"{crc32c(raw):08x}"
    p = verify(out, "--json", check=True)
    j = json.loads(p.stdout)
    assert j == {"ok": True, "source": j["source"], "verified": True, "checksums": ["crc32c"],
                 "tensors": 4, "tensors_checked": 4, "bytes_checked": sum(t["nbytes"] for t in m["tensors"]),
                 "zip_members": 0, "zip_bytes": 0, "unchecked": []}
    assert j["source"]["kind"] == ("npy-dir" if to == "npy" else "memmap-dir")
    t = m["tensors"][2]
    f = out / t["file"]
    flip(f, t["offset"] + 5)
    raw = f.read_bytes()[t["offset"]:t["offset"] + t["nbytes"]]
    p = verify(out)
    assert p.returncode == 4
    assert p.stderr == mismatch(f, 2, t["name"], raw, out / "manifest.json", int(t["crc32c"], 16))
    assert p.stdout == ""


def safetensors_layout(path):
    raw = Path(path).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    return raw, json.loads(raw[8:8 + n]), 8 + n


def test_safetensors(tmp_path):
    out = convert(tmp_path, "safetensors", "w.safetensors")
    raw, h, start = safetensors_layout(out)
    order = json.loads(h["__metadata__"]["keras64.order"])
    crcs = json.loads(h["__metadata__"]["keras64.crc32c"])
    assert len(crcs) == len(order) == 4
    for name, c in zip(order, crcs):
        a, b = h[name]["data_offsets"]
        assert c == f"{crc32c(raw[start + a:start + b]):08x}"
    j = json.loads(verify(out, "--json", check=True).stdout)
    assert (j["verified"], j["checksums"], j["tensors_checked"], j["unchecked"]) == (True, ["crc32c"], 4, [])
    name = order[0]
    a, b = h[name]["data_offsets"]
    flip(out, start + a + 17)
    raw = out.read_bytes()
    p = verify(out)
    assert p.returncode == 4
    assert p.stderr == mismatch(f"{out}:{name}", 0, name, raw[start + a:start + b], f"{out}:__metadata__",
                                int(crcs[0], 16))


def h5_tensor(f, path):
    """(file offset, LE bytes, recorded CRC) of a contiguous dataset."""
    d = f[path]
    return d.id.get_offset(), d[()].astype(d.dtype.newbyteorder("<")).tobytes(), int(d.attrs["keras64.crc32c"])


@pytest.mark.parametrize("to,src,name", [
    ("weights.h5", MLP / "model.keras", "w.weights.h5"),
    ("legacy-h5", MLP / "model_legacy.h5", "w.h5"),
])
def test_hdf5_file_outputs(tmp_path, to, src, name):
    out = convert(tmp_path, to, name, src)
    paths = []
    with h5py.File(out, "r") as f:
        f.visititems(lambda p, o: paths.append(p) if isinstance(o, h5py.Dataset) and "keras64.crc32c" in o.attrs else None)
        assert len(paths) == 4
        for p in paths:
            d = f[p]
            assert d.attrs["keras64.crc32c"].dtype == np.uint32
            assert int(d.attrs["keras64.crc32c"]) == crc32c(d[()].astype("<f8").tobytes())
        at, data, rec = h5_tensor(f, paths[1])
    j = json.loads(verify(out, "--json", check=True).stdout)
    assert (j["verified"], j["checksums"], j["tensors_checked"]) == (True, ["crc32c"], 4)
    flip(out, at + 3)
    p = verify(out)
    assert p.returncode == 4
    with h5py.File(out, "r") as f:
        _, damaged, _ = h5_tensor(f, paths[1])
    # The tensor's index and name are the source's (get_weights() order): read them from inspect.
    ts = json.loads(run("inspect", out, "--json").stdout)["tensors"]
    t = next(t for t in ts if t["dataset"] == "/" + paths[1])
    where = f"{out}:/{paths[1]}"
    assert p.stderr == mismatch(where, t["index"], t["name"], damaged, where, rec)


def test_keras_output(tmp_path):
    out = convert(tmp_path, "keras", "w.keras")
    with zipfile.ZipFile(out) as z:
        member = z.read("model.weights.h5")
        info = z.getinfo("model.weights.h5")
        assert info.compress_type == zipfile.ZIP_STORED
        assert z.testzip() is None
    with h5py.File(io.BytesIO(member), "r") as f:
        at, data, rec = h5_tensor(f, "layers/dense_1/vars/0")
        assert rec == crc32c(data)
    j = json.loads(verify(out, "--json", check=True).stdout)
    assert j["checksums"] == ["crc32c", "zip-crc32"]
    assert (j["tensors"], j["tensors_checked"], j["zip_members"]) == (4, 4, 3)
    flip(out, zip_member_offset(out, "model.weights.h5") + at)
    with zipfile.ZipFile(out) as z, pytest.raises(zipfile.BadZipFile):
        z.read("model.weights.h5")
    damaged = bytearray(data)
    damaged[0] ^= 1 << 2
    p = verify(out)
    assert p.returncode == 4
    where = f"{out}:model.weights.h5:/layers/dense_1/vars/0"
    # The per-tensor check comes first: the damaged tensor is named, not only the member.
    assert p.stderr == mismatch(where, 2, "layers/dense_1/vars/0", bytes(damaged), where, rec)


@pytest.mark.parametrize("to", ["weights.h5", "keras"])
def test_compressed_hdf5_outputs_record_checksums(tmp_path, to):
    out = convert(tmp_path, to, "w.weights.h5" if to == "weights.h5" else "w.keras",
                  MLP / "model.keras", "--compress")
    src = io.BytesIO(zipfile.ZipFile(out).read("model.weights.h5")) if to == "keras" else out
    with h5py.File(src, "r") as f:
        d = f["layers/dense/vars/0"]
        assert int(d.attrs["keras64.crc32c"]) == crc32c(d[()].astype("<f8").tobytes())
    assert json.loads(verify(out, "--json", check=True).stdout)["tensors_checked"] == 4


@pytest.mark.parametrize("to", ["npz", "npz-deflate"])
def test_npz_outputs_have_zip_crcs(tmp_path, to):
    out = convert(tmp_path, to, "w.npz")
    j = json.loads(verify(out, "--json", check=True).stdout)
    assert (j["checksums"], j["zip_members"], j["tensors_checked"]) == (["zip-crc32"], 4, 4)
    if to == "npz":
        with zipfile.ZipFile(out) as z:
            info = z.getinfo("weight_0.npy")
            member = bytearray(z.read("weight_0.npy"))
        flip(out, zip_member_offset(out, "weight_0.npy") + len(member) - 1)
        member[-1] ^= 1 << 2
        p = verify(out)
        assert p.returncode == 4
        assert p.stderr == (f"keras64: error: {out}:weight_0.npy: CRC-32 mismatch: computed "
                            f"0x{zlib.crc32(bytes(member)):08x}, the zip directory records 0x{info.CRC:08x}\n")


# --- files others wrote ----------------------------------------------------------------------

def test_keras_made_weights_carry_no_checksums(tmp_path):
    p = verify(MLP / "model.weights.h5", check=True)
    assert p.stdout == (f"{MLP / 'model.weights.h5'}: keras3-weights: no checksums to verify "
                        "(the file records none; 4 tensors unverified)\n")
    j = json.loads(verify(MLP / "model.weights.h5", "--json", check=True).stdout)
    assert (j["verified"], j["checksums"], j["tensors_checked"]) == (False, [], 0)
    assert j["unchecked"] == ["layers/dense/vars/0", "layers/dense/vars/1",
                              "layers/dense_1/vars/0", "layers/dense_1/vars/1"]


def test_keras_made_archive_has_zip_crcs():
    for model in sorted(p.name for p in GOLDEN.iterdir() if (p / "model.keras").exists()):
        j = json.loads(verify(GOLDEN / model / "model.keras", "--json", check=True).stdout)
        assert j["verified"] and j["checksums"] == ["zip-crc32"], model
        assert j["tensors_checked"] == j["tensors"], model


def test_text_summary(tmp_path):
    out = convert(tmp_path, "npy", "w")
    p = verify(out, check=True)
    assert p.stdout.splitlines()[0] == f"{out}: npy-dir: intact (crc32c)"
    assert p.stdout.splitlines()[1].startswith("  tensors: 4 of 4 covered, ")
    assert verify(out, "-q", check=True).stdout == ""


def test_verify_missing_file(tmp_path):
    p = verify(tmp_path / "nope.keras")
    assert p.returncode == 3


def test_widened_unlisted_dataset_drops_the_inputs_checksum(tmp_path):
    """A float32 dataset the output widens without listing it (Adam's optimizer state, without
    --include-optimizer) must not keep the input's keras64.crc32c: that is the checksum of the
    float32 bytes, and `verify` of the output would call a valid file damaged."""
    src = tmp_path / "in.weights.h5"
    src.write_bytes((GOLDEN / "adam" / "model.weights.h5").read_bytes())
    with h5py.File(src, "a") as f:
        d = f["optimizer/vars/2"]
        assert d.dtype == np.float32
        d.attrs["keras64.crc32c"] = np.uint32(crc32c(d[()].astype("<f4").tobytes()))
    out = convert(tmp_path, "weights.h5", "out.weights.h5", src, "--model",
                  GOLDEN / "adam" / "model.keras")
    with h5py.File(out, "r") as f:
        assert f["optimizer/vars/2"].dtype == np.float64
        assert "keras64.crc32c" not in f["optimizer/vars/2"].attrs
    assert verify(out).returncode == 0


def test_tensorflow_checkpoint_crcs(tmp_path):
    """A TF checkpoint's entry CRC32Cs (TensorBundle) are what verify checks: intact -> exit 0
    with every tensor checked; one byte of a float tensor's data flipped -> exit 4 naming the
    checkpoint and the tensor's key."""
    import tfbundle  # tests/support, on the path through k64test's folder
    src = DATA / "tf" / "tf2_module"
    ck = tmp_path / "ck"
    ck.mkdir()
    for f in src.iterdir():
        (ck / f.name).write_bytes(f.read_bytes())
    j = json.loads(verify(ck / "ckpt-1", "--json", check=True).stdout)
    assert (j["verified"], j["checksums"], j["unchecked"]) == (True, ["tf-crc32c"], [])
    assert j["tensors_checked"] == j["tensors"] > 0
    ts = json.loads(run("inspect", ck / "ckpt-1", "--json", "--include-optimizer").stdout)["tensors"]
    assert j["tensors"] == len(ts)
    _, entries, _ = tfbundle.read(ck / "ckpt-1")
    e = next(e for e in entries if e.dtype == tfbundle.FLOAT and e.size >= 8 and not e.slices)
    flip(ck / "ckpt-1.data-00000-of-00001", e.offset + e.size - 2)
    p = verify(ck / "ckpt-1")
    assert (p.returncode, p.stdout) == (4, "")
    assert p.stderr.startswith(f"keras64: error: {ck / 'ckpt-1'}:{e.key.decode()}") and \
        "CRC32C" in p.stderr and p.stderr.count("\n") == 1, p.stderr
