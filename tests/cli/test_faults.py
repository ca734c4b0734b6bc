"""Faults while writing: Ctrl-C and SIGKILL at many points, a full disk, a read-only target,
two writers racing for one target. The target path only ever holds nothing, the complete old
output or the complete new one; Ctrl-C also removes the temporary output."""
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k64test import (CLI, GOLDEN, load_classic, load_output, make_keras,  # noqa: E402
                     make_weights_h5, run, temp_leftovers)

FORMS = ["npy", "npz", "npz-deflate", "memmap", "safetensors", "weights.h5", "keras", "tf-checkpoint"]
TF_BUNDLE_FROM = os.environ.get("KERAS64_TF_BUNDLE_FROM", "keras64_tf_bundle_from")


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A 48 MB float32 weights file (and the same as a .keras and as a TF checkpoint `big`, keys
    in get_weights() order): conversions take long enough to be interrupted."""
    d = tmp_path_factory.mktemp("big")
    arrays = make_weights_h5(d / "big.weights.h5", 48 << 20)
    make_keras(d / "big.keras", d / "big.weights.h5", arrays)
    subprocess.run([TF_BUNDLE_FROM, str(d / "big.weights.h5"), str(d / "big")], check=True)
    return d / "big.weights.h5", [a.astype(np.float64) for a in arrays]


def out_name(form):
    return {"npz": "out.npz", "npz-deflate": "out.npz", "safetensors": "out.safetensors",
            "weights.h5": "out.weights.h5", "keras": "out.keras"}.get(form, "out")


def source(big, form):
    """--to keras needs the model's config: its input is the .keras; --to tf-checkpoint a
    TensorFlow checkpoint."""
    return {"keras": big[0].with_name("big.keras"), "tf-checkpoint": big[0].with_name("big")}.get(form, big[0])


def exists(form, out):
    """Whether any of the output is there (a checkpoint is two files beside the prefix)."""
    if form == "tf-checkpoint":
        return any(Path(f"{out}{s}").exists() for s in (".index", ".data-00000-of-00001"))
    return out.exists()


def committed(form, out):
    """Whether the output was put in place (a checkpoint's index is renamed last)."""
    return Path(f"{out}.index").exists() if form == "tf-checkpoint" else out.exists()


def assert_complete(form, out, want):
    got = load_output(form, out)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert np.array_equal(g, w)


def start(*args):
    return subprocess.Popen([CLI, *map(str, args)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("delay", [0.0, 0.02, 0.05, 0.1, 0.2, 0.4])
def test_ctrl_c_leaves_nothing_or_complete(tmp_path, big, form, delay):
    src, want = source(big, form), big[1]
    out = tmp_path / out_name(form)
    p = start("convert", src, "-o", out, "--to", form, "-q")
    time.sleep(delay)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    if p.returncode == 0:  # finished before the signal arrived
        assert_complete(form, out, want)
    elif p.returncode == -signal.SIGINT:  # arrived before main() installed its handler
        assert not exists(form, out)
    else:
        assert p.returncode == 130, err
        assert err == "keras64: error: interrupted\n"
        assert not exists(form, out)
    assert temp_leftovers(tmp_path) == []


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("delay", [0.0, 0.03, 0.1, 0.3])
def test_sigkill_never_leaves_a_partial_target(tmp_path, big, form, delay):
    src, want = source(big, form), big[1]
    out = tmp_path / out_name(form)
    p = start("convert", src, "-o", out, "--to", form, "-q")
    time.sleep(delay)
    p.kill()
    p.communicate(timeout=60)
    if committed(form, out):
        assert_complete(form, out, want)
    # Whatever a SIGKILL leaves is recognisably named, and a new run is not disturbed by it.
    for t in temp_leftovers(tmp_path):
        assert t.name.startswith("." + out.name + ("." if form == "tf-checkpoint" else ".keras64-tmp-"))
    run("convert", src, "-o", out, "--to", form, "-q", "--force")
    assert_complete(form, out, want)


@pytest.mark.parametrize("form", ["npy", "npz"])
def test_killed_replacement_keeps_the_old_output(tmp_path, big, form):
    src, want = big
    out = tmp_path / out_name(form)
    run("convert", GOLDEN / "mlp" / "model.keras", "-o", out, "--to", form, "-q")
    old = load_classic(form, out)
    for delay in (0.0, 0.05, 0.2):
        p = start("convert", src, "-o", out, "--to", form, "-q", "--force")
        time.sleep(delay)
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=60)
        got = load_classic(form, out)
        if p.returncode == 0:
            assert_complete(form, out, want)
            break
        assert len(got) == len(old) and all(np.array_equal(a, b) for a, b in zip(got, old))


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (we run as root in CI); falls back to a file-size limit elsewhere."""
    d = tmp_path / "disk"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(d)], capture_output=True)
    yield d, r.returncode == 0
    if r.returncode == 0:
        subprocess.run(["umount", str(d)], check=True)


@pytest.mark.parametrize("form", FORMS)
def test_disk_full(tmp_path, big, small_disk, form):
    src = source(big, form)
    disk, mounted = small_disk
    out = disk / out_name(form)
    cmd = [CLI, "convert", str(src), "-o", str(out), "--to", form, "-q"]
    if not mounted:  # no tmpfs: the same failure through RLIMIT_FSIZE (EFBIG)
        cmd = ["sh", "-c", 'ulimit -f 1024; exec "$@"', "sh", *cmd]
    p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert p.returncode == 3, p.stderr
    why = "No space left on device" if mounted else "File too large"
    assert p.stderr.startswith(f"keras64: error: {out}") and p.stderr.rstrip().endswith(why), p.stderr
    assert list(disk.iterdir()) == []


@pytest.mark.parametrize("form", ["weights.h5", "keras"])
def test_disk_full_compressed(tmp_path, big, small_disk, form):
    """--compress: HDF5 itself writes the chunks and their index. A full disk is a clean error
    (HDF5's own text reduced to the system's reason), and the abandoned HDF5 file still closes:
    HDF5 1.10 crashed at exit on it (exit 139) before the writer truncated it first."""
    disk, mounted = small_disk
    if not mounted:
        pytest.skip("needs a small tmpfs (root)")
    out = disk / out_name(form)
    p = subprocess.run([CLI, "convert", str(source(big, form)), "-o", str(out), "--to", form, "-q",
                        "--compress"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert p.returncode == 3, p.stderr
    assert p.stderr.startswith(f"keras64: error: {out}"), p.stderr
    assert p.stderr.rstrip().endswith("file write failed: No space left on device"), p.stderr
    assert list(disk.iterdir()) == []


@pytest.mark.parametrize("form", ["weights.h5", "keras"])
@pytest.mark.parametrize("delay", [0.02, 0.1, 0.3])
def test_ctrl_c_compressed(tmp_path, big, form, delay):
    src, want = source(big, form), big[1]
    out = tmp_path / out_name(form)
    p = start("convert", src, "-o", out, "--to", form, "-q", "--compress")
    time.sleep(delay)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    if p.returncode == 0:
        assert_complete(form, out, want)
    else:
        assert p.returncode in (130, -signal.SIGINT), err
        assert not out.exists()
    assert temp_leftovers(tmp_path) == []


def test_read_only_target(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)]).returncode != 0:
        os.chmod(ro, 0o555)  # not root: permissions do the same
    try:
        p = run("convert", GOLDEN / "mlp" / "model.keras", "-o", ro / "o.npz", "--to", "npz", check=False)
        assert p.returncode == 3
        assert "Read-only file system" in p.stderr or "Permission denied" in p.stderr
        assert list(ro.iterdir()) == []
    finally:
        subprocess.run(["umount", str(ro)], capture_output=True)


@pytest.mark.parametrize("force", [False, True])
def test_two_writers_one_target(tmp_path, big, force):
    src, want = big
    out = tmp_path / "out.npz"
    extra = ["--force"] if force else []
    a = start("convert", src, "-o", out, "--to", "npz", "-q", *extra)
    b = start("convert", src, "-o", out, "--to", "npz", "-q", *extra)
    ra, rb = a.wait(timeout=120), b.wait(timeout=120)
    if force:
        assert ra == 0 and rb == 0
    else:
        assert sorted([ra, rb]) == [0, 2]  # the loser is told the output exists
    assert_complete("npz", out, want)
    assert temp_leftovers(tmp_path) == []


def sha(p):
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


def test_inputs_are_never_modified(tmp_path):
    files = sorted(p for p in GOLDEN.rglob("*") if p.is_file() and "expected" not in p.parts)
    before = {p: sha(p) for p in files}
    stamps = {p: p.stat().st_mtime_ns for p in files}
    for p in files:
        run("inspect", p, check=False)
        run("convert", p, "-o", tmp_path / "o.npz", "--to", "npz", "-q", "--force", check=False)
    assert {p: sha(p) for p in files} == before
    assert {p: p.stat().st_mtime_ns for p in files} == stamps
