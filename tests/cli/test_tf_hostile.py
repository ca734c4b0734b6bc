"""Every golden TensorFlow file (tests/data/tf), truncated at many points and with bits flipped at
many places: keras64 reads the damaged copy and either converts it or stops with one clean line
"keras64: error: ..." - exit 4 for the bundle's own files (.index, .data-*: every byte of them is
covered by a checksum or checked), naming the tensor's key when the damage is in its data; never a
crash, never output left behind. saved_model.pb and the `checkpoint` state file carry no checksum:
a flip there may still read (exit 0) or make the folder unrecognised (exit 5)."""
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k64test import CLI, DATA  # noqa: E402

TF = DATA / "tf"
CASES = sorted(p.name for p in TF.iterdir() if (p / "expected.json").exists())


def tf_files(case):
    folder = TF / case
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and not p.name.startswith("expected") and p.suffix != ".h5")


def convert(tmp_path, case_dir, input_rel):
    out = tmp_path / "out.npz"
    out.unlink(missing_ok=True)  # a damaged copy that still reads leaves its output
    p = subprocess.run([CLI, "convert", str(case_dir / input_rel), "-o", str(out), "--to", "npz",
                        "--include-optimizer", "-q"],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        lines = p.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("keras64: error: "), p.stderr
        assert not out.exists()
    return p


def damaged(tmp_path, case, rel, mutate):
    d = tmp_path / "case"
    if d.exists():
        shutil.rmtree(d)
    shutil.copytree(TF / case, d)
    f = d / rel
    f.write_bytes(mutate(f.read_bytes()))
    return d


def checked(rel):
    return rel.endswith(".index") or ".data-" in rel


def keys_of(case):
    doc = json.loads((TF / case / "expected.json").read_text())
    return [e["key"] for e in doc["entries"]]


@pytest.mark.parametrize("case", CASES)
def test_truncations(tmp_path, case):
    doc = json.loads((TF / case / "expected.json").read_text())
    for rel in tf_files(case):
        n = (TF / case / rel).stat().st_size
        for cut in sorted({0, 1, n // 3, n // 2, n - 1} - {n}):
            d = damaged(tmp_path, case, rel, lambda b: b[:cut])
            p = convert(tmp_path, d, doc["input"])
            allowed = (4,) if checked(rel) else (0, 4, 5)
            assert p.returncode in allowed, f"{rel} cut at {cut}: exit {p.returncode} {p.stderr}"


@pytest.mark.parametrize("case", CASES)
def test_bit_flips(tmp_path, case):
    doc = json.loads((TF / case / "expected.json").read_text())
    rng = random.Random(case)
    keys = keys_of(case)
    for rel in tf_files(case):
        n = (TF / case / rel).stat().st_size
        if n == 0:
            continue
        for pos in sorted({0, n - 1, *(rng.randrange(n) for _ in range(12))}):
            bit = 1 << rng.randrange(8)
            d = damaged(tmp_path, case, rel, lambda b: b[:pos] + bytes([b[pos] ^ bit]) + b[pos + 1:])
            p = convert(tmp_path, d, doc["input"])
            if checked(rel):
                assert p.returncode == 4, f"{rel} byte {pos}: exit {p.returncode} {p.stderr}"
                if ".data-" in rel:  # the damage is in one tensor's bytes: it is named
                    assert any(f":{k}: " in p.stderr or f":{k}[" in p.stderr for k in keys), p.stderr
            else:
                assert p.returncode in (0, 4, 5), f"{rel} byte {pos}: exit {p.returncode} {p.stderr}"


@pytest.mark.parametrize("form", ["npz", "npy", "safetensors", "memmap"])
def test_flip_in_last_chunk_of_a_multi_chunk_tensor(tmp_path, form):
    """A tensor read in several chunks has its CRC checked as its bytes pass, at its last chunk:
    damage there is found after the earlier chunks were written, and the conversion still fails
    with exit 4 and leaves no output (the sinks are atomic)."""
    import numpy as np
    case = "tfkeras_ckpt"
    key = "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    with np.load(TF / case / "expected.npz") as z:
        doc = json.loads((TF / case / "expected.json").read_text())
        npz = next(e["npz"] for e in doc["entries"] if e["key"] == key)
        stored = z[npz].astype(np.float32).tobytes()  # 48 bytes: 6 chunks of 16 bytes of float64
    data = next(p for p in (TF / case).iterdir() if ".data-" in p.name)
    at = data.read_bytes().find(stored)
    assert at >= 0 and data.read_bytes().count(stored) == 1
    d = damaged(tmp_path, case, data.name,
                lambda b: b[:at + 45] + bytes([b[at + 45] ^ 0x10]) + b[at + 46:])
    out = tmp_path / ("o.npz" if form == "npz" else "o.safetensors" if form == "safetensors" else "o")
    p = subprocess.run([CLI, "convert", str(d / "ckpt"), "-o", str(out), "--to", form,
                        "--chunk-size", "16", "-q"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 4, p.stderr
    assert p.stderr == f"keras64: error: {d / 'ckpt'}:{key}: data checksum mismatch (CRC32C)\n"
    assert not out.exists()
    assert sorted(x.name for x in tmp_path.iterdir()) == ["case"]  # no temporary left either


# The tf-keras goldens' TF files too (tests/data/interop/tfkeras/<model>/ckpt and savedmodel):
# their bundle files, cut and flipped at fewer places (18 sets; saved_model.pb of the same kind
# is covered above through the sm_* cases).
TFK = DATA / "interop" / "tfkeras"
TFK_SETS = [(m.name, kind) for m in sorted(TFK.iterdir()) if (m / "expected").is_dir()
            for kind in ("ckpt", "savedmodel")] if TFK.exists() else []


@pytest.mark.parametrize("model,kind", TFK_SETS)
def test_tfkeras_bundles_damaged(tmp_path, model, kind):
    src = TFK / model / kind
    rng = random.Random(f"{model}/{kind}")
    bundle = sorted(p for p in src.rglob("*") if p.suffix == ".index" or ".data-" in p.name)
    assert bundle
    out = tmp_path / "out.npz"
    for f in bundle:
        rel = f.relative_to(src)
        raw = f.read_bytes()
        n = len(raw)
        cuts = [raw[:c] for c in sorted({0, n // 2, n - 1})]
        flips = []
        for pos in sorted({0, n - 1, *(rng.randrange(n) for _ in range(6))}):
            b = bytearray(raw)
            b[pos] ^= 1 << rng.randrange(8)
            flips.append(bytes(b))
        for damaged_bytes in cuts + flips:
            d = tmp_path / "set"
            if d.exists():
                shutil.rmtree(d)
            shutil.copytree(src, d)
            (d / rel).write_bytes(damaged_bytes)
            out.unlink(missing_ok=True)
            p = subprocess.run([CLI, "convert", str(d), "-o", str(out), "--to", "npz",
                                "--include-optimizer", "-q"], capture_output=True, text=True,
                               timeout=60, stdin=subprocess.DEVNULL)
            assert p.returncode == 4, f"{model}/{kind}/{rel}: exit {p.returncode} {p.stderr}"
            lines = p.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("keras64: error: "), p.stderr

# --- --to tf-checkpoint (issue #15) ---------------------------------------------------------

def to_checkpoint(tmp_path, src, *extra):
    out = tmp_path / "ckpt_out"
    p = subprocess.run([CLI, "convert", str(src), "-o", str(out), "--to", "tf-checkpoint", "-q",
                        *extra], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    made = [q for q in tmp_path.iterdir() if q.name.startswith("ckpt_out") or "keras64-tmp" in q.name]
    return p, out, made


@pytest.mark.parametrize("case", CASES)
def test_damage_in_entries_not_converted_stops_the_checkpoint_output(tmp_path, case):
    """--to tf-checkpoint copies the entries it does not convert (strings, the object graph,
    optimizer and metric state): their stored CRCs are checked as they are copied. One flipped
    bit in any entry's data: exit 4 naming the key, and neither file appears."""
    doc = json.loads((TF / case / "expected.json").read_text())
    keys = keys_of(case)
    for rel in tf_files(case):
        if ".data-" not in rel:
            continue
        n = (TF / case / rel).stat().st_size
        for pos in sorted({0, n // 2, n - 1}):
            d = damaged(tmp_path, case, rel, lambda b: b[:pos] + bytes([b[pos] ^ 4]) + b[pos + 1:])
            p, out, made = to_checkpoint(tmp_path, d / doc["input"])
            assert p.returncode == 4, f"{rel} byte {pos}: exit {p.returncode} {p.stderr}"
            assert any(f":{k}: " in p.stderr or f":{k}[" in p.stderr for k in keys), p.stderr
            assert made == [], made


def test_checkpoint_output_damaged_anywhere_is_refused(tmp_path):
    """keras64's own tf-checkpoint output, truncated or with a bit flipped anywhere in either
    file: reading it back is exit 4 (every byte is under a block or entry CRC)."""
    doc = json.loads((TF / "tf2_module" / "expected.json").read_text())
    made = tmp_path / "made"
    made.mkdir()
    subprocess.run([CLI, "convert", str(TF / "tf2_module" / doc["input"]), "-o", str(made / "ck"),
                    "--to", "tf-checkpoint", "-q"], check=True, capture_output=True)
    rng = random.Random(15)
    for suffix in (".index", ".data-00000-of-00001"):
        good = (made / f"ck{suffix}").read_bytes()
        n = len(good)
        variants = [good[:cut] for cut in sorted({0, 1, n // 3, n // 2, n - 1})]
        variants += [good[:pos] + bytes([good[pos] ^ (1 << rng.randrange(8))]) + good[pos + 1:]
                     for pos in sorted({0, n - 1, *(rng.randrange(n) for _ in range(16))})]
        for bad in variants:
            d = tmp_path / "bad"
            shutil.rmtree(d, ignore_errors=True)
            shutil.copytree(made, d)
            (d / f"ck{suffix}").write_bytes(bad)
            out = tmp_path / "o.npz"
            p = subprocess.run([CLI, "convert", str(d / "ck"), "-o", str(out), "--to", "npz",
                                "--include-optimizer", "-q"], capture_output=True, text=True,
                               timeout=60, stdin=subprocess.DEVNULL)
            assert p.returncode == 4, f"{suffix}: exit {p.returncode} {p.stderr}"
            assert p.stderr.startswith("keras64: error: ") and len(p.stderr.splitlines()) == 1
            assert not out.exists()


def _metadata_pb(nodes):
    """A keras_metadata.pb (SavedMetadata) of (node_id, node_path, metadata JSON text) nodes."""
    def field(num, payload):
        n, out = len(payload), bytearray([num << 3 | 2])
        while n >= 0x80:
            out.append(n & 0x7F | 0x80)
            n >>= 7
        return bytes(out + bytes([n])) + payload
    msg = b""
    for node_id, path, meta in nodes:
        body = (bytes([2 << 3, node_id]) if node_id else b"") + field(3, path.encode()) + \
            field(5, meta.encode())
        msg += field(1, body)
    return msg


@pytest.mark.parametrize("root,converts", [
    ('{"class_name": 5, "config": {}}', False),  # no model config: no legacy .h5, still readable
    # odd types where strings are expected; no entries for the model's layers: no structure
    ('{"class_name": "Sequential", "config": {"layers": [{"class_name": 7, "items": [1]}]}, '
     '"keras_version": 3}', False),
    ('[1, 2', False),
])
def test_hostile_keras_metadata(tmp_path, root, converts):
    """keras_metadata.pb carries no checksum: odd JSON in it never crashes; the weights still
    read, and --to legacy-h5 works only when it gives a model config."""
    sm = DATA / "interop" / "tfkeras" / "sequential" / "savedmodel"
    d = tmp_path / "sm"
    shutil.copytree(sm, d)
    (d / "keras_metadata.pb").write_bytes(_metadata_pb([(0, "root", root)]))
    p = subprocess.run([CLI, "convert", str(d), "-o", str(tmp_path / "w.npz"), "--to", "npz", "-q"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([CLI, "convert", str(d), "-o", str(tmp_path / "m.h5"), "--to", "legacy-h5",
                        "-q"], capture_output=True, text=True, timeout=60)
    assert p.returncode == (0 if converts else 5), p.stderr
    (d / "keras_metadata.pb").write_bytes(b"\xff\xff\xff")
    p = subprocess.run([CLI, "inspect", str(d)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 4 and p.stderr == f"keras64: error: {d}:keras_metadata.pb: does not parse\n"
