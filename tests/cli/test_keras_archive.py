"""One `.keras` archive reader, one strictness rule (src/sources/keras_archive.hpp).

The same damaged archive is refused with the same message and exit code however it is used: as
the input (Keras 3 or tf.keras source), as `--model` for a Keras 3 `.weights.h5`, as `--model`
for a legacy weights-only `.h5` (which reads only config.json, so an archive without weights is
still an architecture there). Each archive is the golden one rebuilt with Python's zipfile, one
member changed."""
import hashlib
import shutil
import sys
import warnings
import zipfile
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k64test import DATA, GOLDEN, flip_bit, run, zip_member_offset  # noqa: E402

MLP = GOLDEN / "mlp"
TFK = DATA / "interop" / "tfkeras" / "sequential" / "model.keras"

JSON_EOF = ("invalid JSON: [json.exception.parse_error.101] parse error at line 1, column 2: syntax "
            "error while parsing object key - unexpected end of input; expected string literal")

# case -> (how the members change, exit code, message after "keras64: error: {a}")
CASES = {
    "config_not_object": ({"config.json": b"[1, 2]"}, 4, ":config.json: not a JSON object"),
    "metadata_not_json": ({"metadata.json": b"{"}, 4, ":metadata.json: " + JSON_EOF),
    "metadata_not_object": ({"metadata.json": b'"3.15.1"'}, 4, ":metadata.json: not a JSON object"),
    "metadata_version_not_string": ({"metadata.json": b'{"keras_version": 3}'}, 4,
                                    ":metadata.json: keras_version is not a string"),
    "metadata_too_large": ({"metadata.json": b" " * (1 << 20) + b"{}"}, 4,
                           ":metadata.json: member is too large (1048578 bytes)"),
    "config_twice": ({"+config.json": b"{}"}, 4, ":config.json: appears twice in the archive"),
    "metadata_twice": ({"+metadata.json": b"{}"}, 4, ":metadata.json: appears twice in the archive"),
    "weights_twice": ({"+model.weights.h5": b""}, 4, ":model.weights.h5: appears twice in the archive"),
    "no_weights": ({"model.weights.h5": None}, 4, ": not a .keras archive: no model.weights.h5 member"),
    "npz_weights": ({"model.weights.h5": None, "+model.weights.npz": b"PK"}, 5,
                    ":model.weights.npz: the npz weights store holds pickled objects and is not supported"),
    "no_config": ({"config.json": None}, 4, ": not a .keras archive: no config.json member"),
}

# What reads only the architecture accepts an archive without weights (documented in the rule).
ARCHITECTURE_ONLY_OK = {"no_weights", "npz_weights"}


def rebuild(src, dst, changes):
    """`src` rewritten member by member (stored, as Keras writes): a name maps to new bytes or to
    None (left out); "+name" appends a member (a second one if the name exists)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        for info in zin.infolist():
            data = changes.get(info.filename, zin.read(info.filename))
            if data is not None:
                zout.writestr(info.filename, data)
        for name, data in changes.items():
            if name.startswith("+"):
                zout.writestr(name[1:], data)


def sha(p):
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


def uses(archive):
    """How an archive is read: (use, CLI arguments before -o)."""
    return {
        "input": [archive],
        "keras3_model": [MLP / "model.weights.h5", "--model", archive],
        "legacy_model": [MLP / "model_legacy_weights.h5", "--model", archive],
    }


def convert(tmp_path, args):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    p = run("convert", *args, "-o", out_dir / "w.npz", "--to", "npz", check=False)
    return p, out_dir


@pytest.mark.parametrize("use", ["input", "keras3_model", "legacy_model"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_damaged_archive_same_error_every_use(tmp_path, case, use):
    changes, code, msg = CASES[case]
    a = tmp_path / "in" / "model.keras"
    a.parent.mkdir()
    rebuild(MLP / "model.keras", a, changes)
    before = sha(a)
    p, out_dir = convert(tmp_path, uses(a)[use])
    if use == "legacy_model" and case in ARCHITECTURE_ONLY_OK:
        assert p.returncode == 0, p.stderr
        return
    if case == "no_config" and use == "input":
        # Without config.json the zip is no .keras at all: format detection says so.
        code, msg = 5, ": unrecognised input: a zip archive that is neither a .keras model nor an .npz"
    assert p.returncode == code, p.stderr
    assert p.stderr == f"keras64: error: {a}{msg}\n"
    assert p.stdout == ""
    assert list(out_dir.iterdir()) == []
    assert sha(a) == before


@pytest.mark.parametrize("case", ["metadata_not_json", "metadata_version_not_string", "config_not_object",
                                  "config_twice", "no_weights"])
def test_tfkeras_archive_same_rule(tmp_path, case):
    """A tf.keras archive (metadata keras_version 2.x) damaged the same way: the same message. A
    bad metadata.json used to be ignored by the tf.keras reader and refused by the Keras 3 one."""
    changes, code, msg = CASES[case]
    a = tmp_path / "in" / "model.keras"
    a.parent.mkdir()
    rebuild(TFK, a, changes)
    p, out_dir = convert(tmp_path, [a])
    assert p.returncode == code, p.stderr
    assert p.stderr == f"keras64: error: {a}{msg}\n"
    assert list(out_dir.iterdir()) == []


def test_metadata_crc_checked(tmp_path):
    a = tmp_path / "model.keras"
    shutil.copy(MLP / "model.keras", a)
    with zipfile.ZipFile(a) as z:
        info = z.getinfo("metadata.json")
        data = bytearray(z.read("metadata.json"))
    flip_bit(a, zip_member_offset(a, "metadata.json") + 3, 1)
    data[3] ^= 1 << 1
    p, _ = convert(tmp_path, [a])
    assert p.returncode == 4, p.stderr
    assert p.stderr == (f"keras64: error: {a}:metadata.json: CRC-32 mismatch: computed "
                        f"0x{zlib.crc32(bytes(data)):08x}, the zip directory records 0x{info.CRC:08x}\n")


def test_tfkeras_weights_read_in_place_crc_checked(tmp_path):
    """tf.keras's stored model.weights.h5 is read in place like Keras 3's (no extracted copy), so
    its CRC-32 is checked by the background pass: one flipped bit in the last bytes of the
    member (tensor data) is exit 4 naming the member, with no output."""
    a = tmp_path / "in" / "model.keras"
    a.parent.mkdir()
    shutil.copy(TFK, a)
    with zipfile.ZipFile(a) as z:
        info = z.getinfo("model.weights.h5")
        member = bytearray(z.read("model.weights.h5"))
    base = zip_member_offset(a, "model.weights.h5")
    # The first float32 kernel's data: h5py gives its offset in the member.
    import io

    import h5py
    with h5py.File(io.BytesIO(bytes(member)), "r") as f:
        names = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) and o.size > 4 else None)
        at = f[names[0]].id.get_offset()
    flip_bit(a, base + at + 5, 3)
    member[at + 5] ^= 1 << 3
    p, out_dir = convert(tmp_path, [a])
    assert p.returncode == 4, p.stderr
    assert p.stderr == (f"keras64: error: {a}:model.weights.h5: CRC-32 mismatch: computed "
                        f"0x{zlib.crc32(bytes(member)):08x}, the zip directory records 0x{info.CRC:08x}\n")
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("src", [MLP / "model.keras", TFK], ids=["keras3", "tfkeras"])
def test_deflated_weights_convert_like_stored(tmp_path, src):
    """A deflated model.weights.h5 (Keras never writes one) is extracted and gives the same
    float64 outputs, structure-preserving ones included, as the stored original."""
    a = tmp_path / "deflated.keras"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(a, "w") as zout:
        for info in zin.infolist():
            method = zipfile.ZIP_DEFLATED if info.filename == "model.weights.h5" else zipfile.ZIP_STORED
            zout.writestr(info, zin.read(info.filename), compress_type=method)
    for to, name in [("npz", "w.npz"), ("weights.h5", "w.weights.h5")]:
        run("convert", src, "-o", tmp_path / ("s_" + name), "--to", to, "-q")
        run("convert", a, "-o", tmp_path / ("d_" + name), "--to", to, "-q")
        assert sha(tmp_path / ("s_" + name)) == sha(tmp_path / ("d_" + name)), to
