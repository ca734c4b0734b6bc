"""--to tf-checkpoint and load --into CHECKPOINT (issue #15) on every TensorFlow golden
(tests/data/tf, tests/data/interop/tfkeras: written by TensorFlow 2.21 / tf-keras 2.21 / Keras
3.15), read back by an independent Python bundle reader (support/tfbundle.py) and by keras64:

- the output has the input's keys, in order, with the same shapes and slices; every float entry
  is DT_DOUBLE holding the widened original (equal to TensorFlow's own get_tensor values);
  every other entry (integers, bool, strings with the object graph) has the same bytes and the
  same BundleEntryProto except its offset and shard; the header is the input's;
- the data file is gap-free, entries in the input's data order; every CRC is valid;
- load --into the checkpoint of that float64 output gives the input back byte for byte (both
  files), and with --dtype float64 the convert output byte for byte."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import tfbundle  # noqa: E402
from k64test import DATA, assert_bit_equal, run  # noqa: E402

TF = DATA / "tf"
TFK = DATA / "interop" / "tfkeras"


def cases():
    out = {}
    for p in sorted(TF.iterdir()):
        if (p / "expected.json").exists():
            out[p.name] = p / json.loads((p / "expected.json").read_text())["input"]
    for p in sorted(TFK.iterdir()):
        if (p / "ckpt" / "ckpt.index").exists():
            out[f"tfkeras_{p.name}_ckpt"] = p / "ckpt" / "ckpt"
        if (p / "savedmodel" / "saved_model.pb").exists():
            out[f"tfkeras_{p.name}_savedmodel"] = p / "savedmodel"
    return out


CASES = cases()


def prefix_of(src):
    """The bundle prefix of an input: a SavedModel's variables/variables, a checkpoint folder's
    named prefix, or the prefix itself."""
    src = Path(src)
    if (src / "saved_model.pb").exists():
        return src / "variables" / "variables"
    if src.is_dir():
        state = (src / "checkpoint").read_text()
        name = state.split('model_checkpoint_path:', 1)[1].split('"')[1]
        return src / Path(name).name
    return src


def expected_values(case):
    """TensorFlow's own get_tensor values (as float64 / own integer dtype) by key, for tests/data/tf."""
    folder = CASES[case].parent
    if not (folder / "expected.json").exists():
        return {}
    doc = json.loads((folder / "expected.json").read_text())
    with np.load(folder / "expected.npz") as z:
        return {e["key"].encode(): z[e["npz"]] for e in doc["entries"] if "npz" in e}


@pytest.fixture(scope="module", params=sorted(CASES))
def converted(request, tmp_path_factory):
    case = request.param
    out = tmp_path_factory.mktemp(case) / "out"
    run("convert", CASES[case], "-o", out, "--to", "tf-checkpoint", "-q")
    return case, out


def test_entries_widened_or_identical(converted):
    case, out = converted
    hin, ein, _ = tfbundle.read(prefix_of(CASES[case]))
    hout, eout, shards = tfbundle.read(out)
    assert len(shards) == 1
    hf = {n: v for n, _, v in tfbundle.fields(hin)}
    if hf.get(1, 1) == 1:
        assert hout == hin
    else:  # several input shards become one
        assert [f for f in tfbundle.fields(hout) if f[0] != 1] == [f for f in tfbundle.fields(hin) if f[0] != 1]
    assert [e.key for e in eout] == [e.key for e in ein]
    want = expected_values(case)
    floats = 0
    for i, o in zip(ein, eout):
        assert o.shape == i.shape and o.slices == i.slices, i.key
        if i.dtype in (tfbundle.FLOAT, tfbundle.HALF, tfbundle.BFLOAT16):
            floats += 1
            assert o.dtype == tfbundle.DOUBLE, i.key
            if not i.slices:
                assert_bit_equal(tfbundle.values(o), tfbundle.values(i), i.key)
                if i.key in want:
                    assert_bit_equal(tfbundle.values(o), want[i.key].astype(np.float64), i.key)
        else:
            assert o.dtype == i.dtype and o.data == i.data and o.crc == i.crc, i.key
            keep = [f for f in i.fields if f[0] not in (3, 4)]
            assert [f for f in o.fields if f[0] not in (3, 4)] == keep, i.key
    assert floats > 0


def test_data_file_is_gap_free_in_input_order(converted):
    case, out = converted
    _, ein, _ = tfbundle.read(prefix_of(CASES[case]))
    _, eout, shards = tfbundle.read(out)
    by_key = {e.key: e for e in eout}
    data_in = sorted((e for e in ein if not e.slices), key=lambda e: (e.shard, e.offset))
    offsets = [by_key[e.key].offset for e in data_in]
    assert offsets == sorted(offsets)
    assert sum(by_key[e.key].size for e in data_in) == len(shards[0])
    end = 0
    for e in data_in:
        assert by_key[e.key].offset == end
        end += by_key[e.key].size


def npz_arrays(path, *extra):
    with np.load(path) as z:
        return [z[k] for k in z.files]


def by_key(src, npz):
    """{key: array} of keras64's npz output of src (keys from inspect --json)."""
    info = json.loads(run("inspect", src, "--json", "--include-optimizer").stdout)
    run("convert", src, "-o", npz, "--to", "npz", "--include-optimizer", "-q")
    with np.load(npz) as z:
        arrays = [z[k] for k in z.files]
    return {t["key"]: a for t, a in zip(info["tensors"], arrays)}, info


def test_keras64_reads_the_output_as_the_input(converted, tmp_path):
    """keras64 lists the output as it lists the input (a checkpoint: same names, keys and order;
    a SavedModel becomes a checkpoint, which has no root variables list: every numeric entry is
    listed, in key order) and reads float64 values equal to the input's widened."""
    case, out = converted
    a, ia = by_key(CASES[case], tmp_path / "a.npz")
    b, ib = by_key(Path(str(out) + ".index"), tmp_path / "b.npz")
    if ia["source"]["kind"] == "tf-checkpoint":
        assert [(t["name"], t["key"]) for t in ib["tensors"]] == [(t["name"], t["key"]) for t in ia["tensors"]]
    assert set(a) <= set(b)
    for k, x in a.items():
        assert_bit_equal(b[k], x, k)


def test_load_into_gives_the_input_back(converted, tmp_path):
    """float64 weights (keras64's npz of the input) loaded into the original checkpoint at its own
    dtypes: every value rounds back exactly, so both files are the input's byte for byte (a
    single-shard input written by TensorFlow: same layout, same table); with --dtype float64 it
    is the convert output."""
    case, out = converted
    src = CASES[case]
    prefix = prefix_of(src)
    run("convert", src, "-o", tmp_path / "w.npz", "--to", "npz", "-q")
    r = json.loads(run("load", tmp_path / "w.npz", "--into", src, "-o", tmp_path / "back", "--json").stdout)
    assert r["output"]["format"] == "tf-checkpoint" and r["rounding"]["exact"]
    hin, _, _ = tfbundle.read(prefix)
    if {n: v for n, _, v in tfbundle.fields(hin)}.get(1, 1) == 1:
        assert tfbundle.table(tmp_path / "back.index") == tfbundle.table(str(prefix) + ".index")
        assert (tmp_path / "back.data-00000-of-00001").read_bytes() == \
            Path(str(prefix) + ".data-00000-of-00001").read_bytes()
        # The *_be cases are rewritten by make_big_endian.py, whose table keys the index block by
        # the last key itself; TensorFlow (and keras64) by its short successor.
        if not case.endswith("_be"):
            assert (tmp_path / "back.index").read_bytes() == Path(str(prefix) + ".index").read_bytes()
    else:
        _, eb, _ = tfbundle.read(tmp_path / "back")
        _, ei, _ = tfbundle.read(prefix)
        assert [(e.key, e.dtype, e.data) for e in eb] == [(e.key, e.dtype, e.data) for e in ei]
    run("load", tmp_path / "w.npz", "--into", src, "-o", tmp_path / "f64", "--dtype", "float64", "-q")
    for suffix in (".index", ".data-00000-of-00001"):
        assert (tmp_path / ("f64" + suffix)).read_bytes() == Path(str(out) + suffix).read_bytes()
