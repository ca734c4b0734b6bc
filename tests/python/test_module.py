"""The Python module (`import keras64`): save/load round trips of every dtype and odd layouts
through every format, checked with plain numpy bit for bit; models given as stand-ins; golden
real-Keras files; exception types and messages (the CLI's); the GIL released during I/O."""
import errno
import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k64test import (GOLDEN, MODELS, assert_bit_equal, expected_f64, flip_bit,  # noqa: E402
                     load_classic, run, zip_member_offset)


def _module_built():
    return any((Path(p) / "keras64" / "__init__.py").exists()
               for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)


if not _module_built():  # KERAS64_BUILD_PYTHON=OFF: nothing to test (an import error is not skipped)
    pytest.skip("the keras64 Python module is not built", allow_module_level=True)

import keras64  # noqa: E402

ARRAY_FORMATS = [f for f in ("npy", "npz", "npz-deflate", "memmap", "safetensors")
                 if f in keras64.formats()]
DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64",
          "uint8", "uint16", "uint32", "uint64", "bool"]
SHAPES = [(), (0,), (3, 0, 2), (7,), (3, 5), (2, 3, 4)]


def values(dtype, shape, seed=0):
    """Values that exercise every bit: specials for floats, extremes for integers."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    if dt.kind == "f":
        a = rng.standard_normal(n).astype(dt) * dt.type(100)
        specials = np.array([np.nan, np.inf, -np.inf, -0.0, np.finfo(dt).tiny / 2,
                             np.finfo(dt).max, np.finfo(dt).min], dtype=dt)
        a[: min(n, len(specials))] = specials[: min(n, len(specials))]
    elif dt.kind == "b":
        a = rng.integers(0, 2, n).astype(bool)
    else:
        info = np.iinfo(dt)
        a = rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
        a[: min(n, 2)] = [info.min, info.max][: min(n, 2)]
    return a.reshape(shape)


def odd_layouts():
    """(label, array) pairs: views and memory orders numpy users actually have."""
    base = values("float32", (6, 8), seed=1)
    cube = values("int16", (4, 5, 6), seed=2)
    return [
        ("transposed", base.T),
        ("fortran", np.asfortranarray(values("float64", (5, 7), seed=3))),
        ("fortran3d", np.asfortranarray(cube)),
        ("strided", base[::2, ::3]),
        ("reversed", base[::-1, ::-2]),
        ("axes", cube.transpose(2, 0, 1)[1:, ::2]),
        ("broadcast", np.broadcast_to(np.arange(4, dtype=np.float32), (3, 4))),
        ("column", base[:, 3]),
        ("big-endian", values("float32", (3, 4)).astype(">f4")),
        ("big-endian-int", values("int64", (5,)).astype(">i8")[::-1]),
        ("scalar-view", base[2, 3, ...]),
        ("empty-view", base[:, 8:]),
    ]


def widened(a, cast="floats"):
    """What keras64 writes for `a`: float64 for floats (for everything with cast="all")."""
    a = np.asarray(a)
    if a.dtype.kind == "f" or cast == "all":
        return a.astype(np.float64)
    return a.astype(a.dtype.newbyteorder("="))


ST_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I8": "i1", "I16": "<i2", "I32": "<i4",
             "I64": "<i8", "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?"}


def read_safetensors(path):
    """An independent reader: 8-byte little-endian header size, JSON header, data offsets."""
    raw = Path(path).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    names = sorted(header, key=lambda k: header[k]["data_offsets"][0])
    if "order" in meta:
        order = meta["order"]
        names = json.loads(order) if isinstance(order, str) else order
    out = []
    for k in names:
        t = header[k]
        b, e = t["data_offsets"]
        out.append(np.frombuffer(raw[8 + n + b: 8 + n + e], dtype=ST_DTYPES[t["dtype"]])
                   .reshape(t["shape"]).copy())
    return out


def read_plain(form, out):
    if form == "safetensors":
        return read_safetensors(out)
    return load_classic(form, out)


def target(tmp_path, form):
    return tmp_path / {"npz": "w.npz", "npz-deflate": "w.npz", "safetensors": "w.safetensors"}.get(form, "w")


def check_equal(got, arrays, cast="floats", what=""):
    assert len(got) == len(arrays), what
    for i, (g, a) in enumerate(zip(got, arrays)):
        assert_bit_equal(np.asarray(g), widened(a, cast), f"{what} #{i}")


# ---- round trips -------------------------------------------------------------------------------

def all_dtype_arrays():
    return [values(d, s, seed=i) for i, (d, s) in enumerate((d, s) for d in DTYPES for s in SHAPES)]


@pytest.mark.parametrize("form", ARRAY_FORMATS)
@pytest.mark.parametrize("cast", ["floats", "all"])
def test_every_dtype_and_shape_read_by_plain_numpy(tmp_path, form, cast):
    arrays = all_dtype_arrays()
    out = target(tmp_path, form)
    report = keras64.save(arrays, out, form, cast=cast, chunk_size=24)
    assert len(report["tensors"]) == len(arrays)
    check_equal(read_plain(form, out), arrays, cast, form)


@pytest.mark.parametrize("form", ARRAY_FORMATS)
def test_odd_layouts_read_by_plain_numpy(tmp_path, form):
    labels, arrays = zip(*odd_layouts())
    for chunk in (8, 1000, 4 << 20):  # boundaries inside rows, across rows, none
        out = target(tmp_path / str(chunk), form)
        out.parent.mkdir(exist_ok=True)
        keras64.save(list(arrays), out, form, chunk_size=chunk)
        got = read_plain(form, out)
        for lab, g, a in zip(labels, got, arrays):
            assert_bit_equal(np.asarray(g), widened(a), f"{form} {lab} chunk {chunk}")


def test_save_does_not_modify_or_copy_inputs(tmp_path):
    a = np.asfortranarray(values("float32", (64, 32)))
    before = a.copy()
    keras64.save([a, a.T], tmp_path / "w.npz")
    assert_bit_equal(a, before, "input")
    assert a.flags.f_contiguous


def test_python_lists_and_scalars(tmp_path):
    keras64.save([[1.5, 2.5], 3, np.float32(0.1), True], tmp_path / "w.npz")
    got = load_classic("npz", tmp_path / "w.npz")
    check_equal(got, [np.asarray([1.5, 2.5]), np.asarray(3), np.float32(0.1), np.asarray(True)])


def readable(form, out):
    """keras64.load(out): every array format keras64 writes, it reads back."""
    return keras64.load(out)


@pytest.mark.parametrize("form", ARRAY_FORMATS)
def test_load_reads_back_what_save_wrote(tmp_path, form):
    arrays = all_dtype_arrays() + [a for _, a in odd_layouts()]
    out = target(tmp_path, form)
    keras64.save(arrays, out, form)
    check_equal(readable(form, out), arrays, "floats", form)


@pytest.mark.parametrize("form", [f for f in ("npy", "memmap") if f in ARRAY_FORMATS])
def test_load_mmap_gives_memmap_views(tmp_path, form):
    arrays = [values("float32", (40, 3)), values("int32", (5,)), np.zeros((0, 4), np.float16),
              values("float64", ()), values("bool", (2, 2))]
    keras64.save(arrays, tmp_path / "w", form)
    got = keras64.load(tmp_path / "w", mmap=True)
    check_equal(got, arrays, "floats", form)
    assert isinstance(got[0], np.memmap) and not got[0].flags.writeable
    assert isinstance(got[3], np.memmap)
    assert not isinstance(got[1], np.memmap) and got[1].dtype == np.int32


def test_load_mmap_of_safetensors_and_classic_npy_files(tmp_path):
    """Any float64 tensor stored verbatim in an ordinary file is mapped, not only keras64's
    directories: safetensors F64, and the classic recipe's np.save loop (no manifest)."""
    arrays = [values("float32", (40, 3)), values("int64", (5,)), values("float64", (2, 2))]
    keras64.save(arrays, tmp_path / "w.safetensors", "safetensors")
    got = keras64.load(tmp_path / "w.safetensors", mmap=True)
    check_equal(got, arrays, "floats", "safetensors")
    assert [isinstance(a, np.memmap) for a in got] == [True, False, True]
    (tmp_path / "recipe").mkdir()
    for i, a in enumerate(arrays):
        np.save(tmp_path / "recipe" / f"weight_{i}.npy", a.astype(np.float64))
    got = keras64.load(tmp_path / "recipe", mmap=True)
    assert all(isinstance(a, np.memmap) for a in got)
    for g, a in zip(got, arrays):
        assert_bit_equal(g, a.astype(np.float64))


def test_load_mmap_refuses_a_manifest_entry_outside_its_directory(tmp_path):
    """The manifest is read by the C++ library, which refuses a file name leaving the directory
    (the Python module once mapped such a file)."""
    keras64.save([values("float64", (3,))], tmp_path / "w", "npy")
    (tmp_path / "outside.npy").write_bytes((tmp_path / "w" / "weight_0.npy").read_bytes())
    m = json.loads((tmp_path / "w" / "manifest.json").read_text())
    m["tensors"][0]["file"] = "../outside.npy"
    (tmp_path / "w" / "manifest.json").write_text(json.dumps(m))
    for mmap in (True, False):
        with pytest.raises(keras64.FormatError, match="manifest.json"):
            keras64.load(tmp_path / "w", mmap=mmap)


def test_load_mmap_of_other_inputs_gives_arrays():
    got = keras64.load(GOLDEN / "mlp" / "model.keras", mmap=True)
    assert not any(isinstance(a, np.memmap) for a in got)


# ---- models ------------------------------------------------------------------------------------

class Var:
    def __init__(self, path, value):
        self.path, self.value = path, value


class StandInModel:
    """What keras64 uses of a Keras model: get_weights(), weights[i].path, set_weights(), name."""

    def __init__(self, arrays, paths, name="standin"):
        self.name = name
        self.weights = [Var(p, a) for p, a in zip(paths, arrays)]

    def get_weights(self):
        return [v.value for v in self.weights]

    def set_weights(self, arrays):
        assert len(arrays) == len(self.weights)
        for v, a in zip(self.weights, arrays):
            assert a.shape == v.value.shape
            v.value = np.asarray(a, dtype=v.value.dtype)


def test_model_names_come_from_variable_paths(tmp_path):
    arrays = [values("float32", (4, 3)), values("float32", (3,)), values("int64", ())]
    paths = ["dense/kernel", "dense/bias", "seed_generator/state"]
    model = StandInModel(arrays, paths, name="mlp")
    report = keras64.save(model, tmp_path / "w", "npy")
    assert [t["name"] for t in report["tensors"]] == paths
    m = json.loads((tmp_path / "w" / "manifest.json").read_text())
    assert [t["name"] for t in m["tensors"]] == paths
    assert [t["keras_path"] for t in m["tensors"]] == paths
    assert [t["layer"] for t in m["tensors"]] == ["dense", "dense", "seed_generator"]
    check_equal(load_classic("npy", tmp_path / "w"), arrays)


def test_model_without_paths_and_explicit_names(tmp_path):
    arrays = [values("float16", (2, 2)), values("uint8", (3,))]
    model = StandInModel(arrays, ["", ""])
    r = keras64.save(model, tmp_path / "a", "npy")
    assert [t["name"] for t in r["tensors"]] == ["weight_0", "weight_1"]
    r = keras64.save(arrays, tmp_path / "b", "npy", names=["x", "y"])
    assert [t["name"] for t in r["tensors"]] == ["x", "y"]
    with pytest.raises(ValueError, match="duplicate tensor name"):
        keras64.save(arrays, tmp_path / "c", "npy", names=["x", "x"])
    with pytest.raises(ValueError, match="1 names given for 2 arrays"):
        keras64.save(arrays, tmp_path / "c", "npy", names=["x"])
    assert not (tmp_path / "c").exists()


# ---- golden real-Keras files -------------------------------------------------------------------

@pytest.mark.parametrize("model", MODELS)
def test_golden_load_equals_expected(model):
    got = keras64.load(GOLDEN / model / "model.keras")
    want = expected_f64(model)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert_bit_equal(g, w, f"{model} #{i}")


@pytest.mark.parametrize("model", MODELS)
def test_golden_inspect_and_convert_match_cli(tmp_path, model):
    src = GOLDEN / model / "model.keras"
    ts = keras64.inspect(src)
    cli = json.loads(run("inspect", src, "--json").stdout)
    assert ts.source.kind == cli["source"]["kind"]
    assert ts.source.order_exact == cli["source"]["order_exact"]
    assert [t.name for t in ts] == [t["name"] for t in cli["tensors"]]
    assert [list(t.shape) for t in ts] == [t["shape"] for t in cli["tensors"]]
    assert [t.dtype for t in ts] == [t["dtype"] for t in cli["tensors"]]
    seen = []
    r = keras64.convert(src, tmp_path / "w.npz", "npz", progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1][0] == seen[-1][1] == r["bytes_read"]
    check_equal(load_classic("npz", tmp_path / "w.npz"), expected_f64(model))


# ---- errors ------------------------------------------------------------------------------------

def cli_message(*args):
    p = run(*args, check=False)
    assert p.returncode != 0
    return p.stderr.strip().removeprefix("keras64: error: ")


def test_missing_file_is_oserror_with_errno_and_cli_message(tmp_path):
    missing = tmp_path / "nope.keras"
    with pytest.raises(FileNotFoundError) as e:
        keras64.load(missing)
    assert e.value.errno == errno.ENOENT
    assert e.value.filename == str(missing)
    assert e.value.strerror == cli_message("inspect", missing)
    assert (e.value.code, e.value.file, e.value.member, e.value.key) == ("io", str(missing), None, None)
    assert e.value.message == "cannot open: No such file or directory"
    with pytest.raises(FileNotFoundError):
        keras64.inspect(missing)


def test_corrupt_input_is_format_error_with_cli_message(tmp_path):
    bad = GOLDEN / "bad" / "truncated.keras"
    with pytest.raises(keras64.FormatError) as e:
        keras64.load(bad)
    assert isinstance(e.value, ValueError)
    assert str(e.value) == cli_message("inspect", bad)
    assert keras64.FormatError.__module__ == "keras64"


def test_unsupported_input_and_dtype(tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    with pytest.raises(NotImplementedError) as e:
        keras64.inspect(other)
    assert str(e.value) == cli_message("inspect", other)
    with pytest.raises(NotImplementedError, match=r"weight 1 \('weight_1'\): dtype complex64"):
        keras64.save([np.zeros(2), np.zeros(2, np.complex64)], tmp_path / "w.npz")
    assert not (tmp_path / "w.npz").exists()


def test_errors_carry_file_member_and_key(tmp_path):
    """The context of an error as fields: the file as given, the archive member, the dataset."""
    mlp = GOLDEN / "mlp" / "model.keras"
    bad = GOLDEN / "bad" / "wrong_shape.weights.h5"
    with pytest.raises(keras64.MismatchError) as e:
        keras64.inspect(bad, model=mlp)
    assert str(e.value) == cli_message("inspect", bad, "--model", mlp)
    assert (e.value.code, e.value.file, e.value.member, e.value.key) == \
        ("mismatch", str(bad), None, "/layers/dense/vars/0")
    assert e.value.message == f"shape mismatch: (10, 5) in file, (5, 10) in {mlp}"
    bad = GOLDEN / "bad" / "config_not_json.keras"
    with pytest.raises(keras64.FormatError) as e:
        keras64.load(bad)
    assert (e.value.code, e.value.file, e.value.member, e.value.key) == \
        ("corrupt", str(bad), "config.json", None)
    assert e.value.message.startswith("invalid JSON: ")


def test_errors_name_python_parameters_not_cli_flags(tmp_path):
    d = tmp_path / "raw"
    d.mkdir()
    np.float64(1).tofile(d / "weight_0.dat")
    with pytest.raises(ValueError) as e:
        keras64.load(d)
    assert str(e.value) == (f"{d}: raw weight_{{i}}.dat files without manifest.json record no shapes: "
                            "give the model they belong to (pass model=ARCH.keras)")
    assert "--" not in str(e.value) and e.value.file == str(d)
    assert cli_message("inspect", d).endswith("give the model they belong to (pass --model ARCH.keras)")
    # The same for notes: a bare weights file's order needs the architecture.
    note = keras64.inspect(GOLDEN / "mlp" / "model.weights.h5").source.note
    assert note.endswith("save order used - pass model=ARCH.keras for get_weights() order"), note
    assert "--" not in note


def test_bad_arguments_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown output format 'nope'"):
        keras64.save([np.zeros(2)], tmp_path / "w", "nope")
    with pytest.raises(ValueError, match="unknown cast"):
        keras64.save([np.zeros(2)], tmp_path / "w.npz", cast="some")
    keras64.save([np.zeros(2)], tmp_path / "w.npz")
    with pytest.raises(ValueError) as e:
        keras64.save([np.ones(2)], tmp_path / "w.npz")
    # The hint names the Python parameter, never the CLI's flag.
    assert str(e.value) == f"{tmp_path / 'w.npz'}: output exists (pass force=True to replace it)"
    assert (e.value.code, e.value.file, e.value.message) == ("invalid_argument", str(tmp_path / "w.npz"),
                                                             "output exists")
    keras64.save([np.ones(2)], tmp_path / "w.npz", force=True)
    assert load_classic("npz", tmp_path / "w.npz")[0].tolist() == [1.0, 1.0]
    with pytest.raises(TypeError):
        keras64.save(np.zeros(3), tmp_path / "x.npz")
    for form in ("keras", "weights.h5", "legacy-h5"):  # they copy a Keras file's structure
        if form in keras64.formats():
            with pytest.raises(NotImplementedError, match="not a python input"):
                keras64.save([np.zeros(2)], tmp_path / f"x.{form}", form)


def leftovers(folder):
    return [p.name for p in Path(folder).iterdir()]


def test_progress_callback_exception_cancels_and_propagates(tmp_path):
    class Stop(Exception):
        pass

    calls = []

    def progress(done, total):
        calls.append((done, total))
        if len(calls) == 3:
            raise Stop("enough")

    with pytest.raises(Stop, match="enough"):
        keras64.save([np.zeros(1000)], tmp_path / "w.npz", chunk_size=800, progress=progress)
    assert len(calls) == 3 and calls[0] == (800, 8000)
    assert leftovers(tmp_path) == []

    def interrupt(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        keras64.convert(GOLDEN / "mlp" / "model.keras", tmp_path / "w", "npy", chunk_size=64,
                        progress=interrupt)
    with pytest.raises(KeyboardInterrupt):
        keras64.load(GOLDEN / "mlp" / "model.keras", chunk_size=64, progress=interrupt)
    assert leftovers(tmp_path) == []


# ---- the GIL -----------------------------------------------------------------------------------

def test_gil_released_during_save(tmp_path):
    """A Python thread keeps running while keras64 writes: it records timestamps inside the call,
    which it could not do if the call held the GIL throughout."""
    stamps, stop = [], threading.Event()

    def ticker():
        while not stop.is_set():
            stamps.append(time.perf_counter())
            time.sleep(0.001)

    big = np.random.default_rng(0).standard_normal(1 << 19).astype(np.float32)
    th = threading.Thread(target=ticker)
    th.start()
    try:
        time.sleep(0.02)
        t0 = time.perf_counter()
        # zlib at level 6 on random float64 data runs at a few MB/s: 8 MB keep the call busy
        # for a good fraction of a second on any machine, long enough for many ticks.
        keras64.save([big, big[::-1]], tmp_path / "w.npz", "npz-deflate", level=6, threads=1)
        t1 = time.perf_counter()
    finally:
        stop.set()
        th.join()
    assert t1 - t0 > 0.05, f"save took only {t1 - t0:.3f} s"
    inside = [s for s in stamps if t0 < s < t1]
    assert len(inside) >= 5, f"{len(inside)} ticks in {t1 - t0:.3f} s"


# ---- load_into ---------------------------------------------------------------------------------



def original_weights(model):
    """The golden model's get_weights() in their own dtypes (bfloat16 is stored as its bits)."""
    with np.load(GOLDEN / model / "expected" / "weights.npz") as d:
        return [d[k] for k in d.files]


def mixed_model(name="m"):
    arrays = [values("float32", (4, 3)), values("float16", (3,)), values("int32", (2,)),
              values("bool", (2, 2)), values("float64", ()), np.zeros((0, 2), np.float32)]
    paths = [f"{name}/kernel", f"{name}/bias", f"{name}/count", f"{name}/mask", f"{name}/scale",
             f"{name}/empty"]
    return StandInModel(arrays, paths), arrays


@pytest.mark.parametrize("form", ARRAY_FORMATS)
def test_load_into_round_trip_is_exact(tmp_path, form):
    model, arrays = mixed_model()
    out = target(tmp_path, form)
    keras64.save(model, out, form)
    for v in model.weights:
        v.value = np.zeros_like(v.value)
    r = keras64.load_into(model, out)
    assert r["exact"] and r["account"]["changed"] == 0
    for g, a in zip(model.get_weights(), arrays):
        assert_bit_equal(g, a, form)


@pytest.mark.parametrize("model", [m for m in MODELS if m not in ("bfloat16",)])
def test_load_into_from_golden_keras_files(model):
    arrays = original_weights(model)
    m = StandInModel([np.zeros_like(a) for a in arrays], [""] * len(arrays))
    r = keras64.load_into(m, GOLDEN / model / "model.keras")
    assert r["exact"], r["account"]
    for i, (g, a) in enumerate(zip(m.get_weights(), arrays)):
        assert_bit_equal(g, a, f"{model} #{i}")


def test_load_into_refuses_mismatches_and_changes_nothing(tmp_path):
    model, arrays = mixed_model()
    keras64.save(model, tmp_path / "w", "npy")

    wrong_shape = StandInModel([a.copy() for a in arrays], [v.path for v in model.weights])
    wrong_shape.weights[0].value = np.zeros((3, 4), np.float32)
    with pytest.raises(keras64.MismatchError) as e:
        keras64.load_into(wrong_shape, tmp_path / "w")
    assert str(e.value) == f"{tmp_path / 'w'}: tensor 0 ('m/kernel'): shape (4, 3) in file, (3, 4) in the model"
    assert isinstance(e.value, ValueError)
    assert not wrong_shape.get_weights()[0].any()

    fewer = StandInModel(arrays[:-1], [v.path for v in model.weights][:-1])
    with pytest.raises(keras64.MismatchError, match="6 tensors in file, 5 in the model"):
        keras64.load_into(fewer, tmp_path / "w")

    renamed = StandInModel(arrays, [v.path for v in model.weights])
    renamed.weights[0].path = "n/kernel"
    with pytest.raises(keras64.MismatchError, match=r"variable 0 \('n/kernel'\) is not in the file"):
        keras64.load_into(renamed, tmp_path / "w")


def test_load_into_matches_by_name(tmp_path):
    a, b = values("float32", (2, 3), seed=5), values("float32", (3, 2), seed=6)
    keras64.save(StandInModel([a, b], ["x/a", "x/b"]), tmp_path / "w", "npy")
    swapped = StandInModel([np.zeros_like(b), np.zeros_like(a)], ["x/b", "x/a"])
    keras64.load_into(swapped, tmp_path / "w")
    assert_bit_equal(swapped.get_weights()[0], b, "b")
    assert_bit_equal(swapped.get_weights()[1], a, "a")


def test_load_into_rounding_account(tmp_path):
    rng = np.random.default_rng(7)
    f64 = rng.standard_normal(1000) * 10.0**rng.integers(-3, 3, 1000)
    f64[:10] = np.float32(f64[:10])  # exact in float32
    keras64.save([f64], tmp_path / "w.npz", names=["v"])
    model = StandInModel([np.zeros(1000, np.float32)], ["v"])
    r = keras64.load_into(model, tmp_path / "w.npz")
    want = f64.astype(np.float32)
    assert_bit_equal(model.get_weights()[0], want, "rounded")
    acc = r["account"]
    assert acc["values"] == 1000 and not r["exact"]
    assert acc["changed"] == int(np.count_nonzero(want.astype(np.float64) != f64))
    assert acc["max_abs_error"] == float(np.max(np.abs(want.astype(np.float64) - f64)))

    big = np.array([1e300, 1.0])
    keras64.save([big], tmp_path / "big.npz", names=["v"])
    small = StandInModel([np.zeros(2, np.float32)], ["v"])
    with pytest.raises(keras64.MismatchError, match="1 finite values overflow float32"):
        keras64.load_into(small, tmp_path / "big.npz")
    assert not small.get_weights()[0].any()
    r = keras64.load_into(small, tmp_path / "big.npz", on_overflow="inf")
    assert r["account"]["overflows"] == 1 and np.isinf(small.get_weights()[0][0])


# ---- diff --------------------------------------------------------------------------------------



def test_diff_of_a_conversion_is_equal_and_finds_changes(tmp_path):
    src = GOLDEN / "mlp" / "model.keras"
    keras64.convert(src, tmp_path / "w.npz", "npz")
    r = keras64.diff(src, tmp_path / "w.npz")
    assert r["equal"] and all(t["ok"] for t in r["tensors"]) and not r["only_a"]
    ws = expected_f64("mlp")
    ws[1] = ws[1].copy()
    ws[1][3] += 1e-3
    keras64.save(ws, tmp_path / "p.npz")
    r = keras64.diff(src, tmp_path / "p.npz")
    assert not r["equal"]
    bad = [t for t in r["tensors"] if not t["ok"]]
    assert len(bad) == 1 and bad[0]["index_b"] == 1 and bad[0]["out_of_tolerance"] == 1
    assert bad[0]["first_out"] == 3
    assert keras64.diff(src, tmp_path / "p.npz", atol=1e-2)["equal"]
    with pytest.raises(FileNotFoundError):
        keras64.diff(src, tmp_path / "missing.npz")


def test_verify_matches_cli_and_raises_on_damage(tmp_path):
    out = tmp_path / "w"
    keras64.convert(GOLDEN / "mlp" / "model.keras", out, to="npy")
    r = keras64.verify(out)
    cli = json.loads(run("verify", out, "--json").stdout)
    assert {k: v for k, v in cli.items() if k not in ("ok", "source")} == \
        {k: v for k, v in r.items() if k != "source"}
    assert r["verified"] and r["checksums"] == ["crc32c"] and r["tensors_checked"] == 4
    assert r["source"]["kind"] == "npy-dir"
    t = json.loads((out / "manifest.json").read_text())["tensors"][1]
    flip_bit(out / t["file"], t["offset"])
    with pytest.raises(keras64.FormatError) as e:
        keras64.verify(out)
    assert str(e.value).startswith(f"{out / t['file']}: tensor 1 '{t['name']}': CRC32C mismatch: ")
    # Files without checksums are reported, not refused.
    r = keras64.verify(GOLDEN / "mlp" / "model.weights.h5")
    assert (r["verified"], r["checksums"], r["tensors_checked"]) == (False, [], 0)


def test_load_refuses_a_damaged_keras_archive(tmp_path):
    import io
    import zipfile

    import h5py

    src = tmp_path / "model.keras"
    src.write_bytes((GOLDEN / "mlp" / "model.keras").read_bytes())
    with zipfile.ZipFile(src) as z:
        with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
            at = f["layers/dense/vars/0"].id.get_offset()
    flip_bit(src, zip_member_offset(src, "model.weights.h5") + at)
    with pytest.raises(keras64.FormatError, match=r"model\.weights\.h5: CRC-32 mismatch: computed 0x"):
        keras64.load(src)
