"""Faults while writing: Ctrl-C and SIGKILL at many points, a full disk, a read-only target,
two writers racing for one target. The target path only ever holds nothing, the complete old
output or the complete new one; Ctrl-C also removes the temporary output."""
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from k64test import (CLI, DATA, GOLDEN, load_classic, load_output, make_keras,  # noqa: E402
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


# --- a TensorFlow checkpoint is two files: no index ever beside data that is not its own ---------
# A SIGKILL just before each rename/unlink of the commit (support/kill_at_step.c, LD_PRELOAD: no
# hook in keras64 itself) shows every state the two target names pass through.

KILL_LIB = os.environ.get("KERAS64_KILL_AT_STEP_LIB", "")
TFK = DATA / "interop" / "tfkeras"
OLD_IN, NEW_IN = TFK / "sequential" / "ckpt" / "ckpt", TFK / "functional" / "ckpt" / "ckpt"
SUFFIXES = (".index", ".data-00000-of-00001")


def stepped(src, out, *extra, kill_at=None, log=None):
    """convert SRC -o OUT --to tf-checkpoint under the step library."""
    assert KILL_LIB and Path(KILL_LIB).is_file(), "KERAS64_KILL_AT_STEP_LIB is not set by ctest"
    env = dict(os.environ, LD_PRELOAD=KILL_LIB,
               ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
    if kill_at is not None:
        env["KERAS64_KILL_AT_STEP"] = str(kill_at)
    if log is not None:
        env["KERAS64_STEP_LOG"] = str(log)
    return subprocess.run([CLI, "convert", str(src), "-o", str(out), "--to", "tf-checkpoint", "-q",
                           *extra], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env=env, timeout=60)


def pair(out):
    """(sha256 of OUT.index, of OUT.data-00000-of-00001), None for a missing file."""
    return tuple(sha(f"{out}{s}") if Path(f"{out}{s}").exists() else None for s in SUFFIXES)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """The complete outputs of OLD_IN and NEW_IN (the sink's output is deterministic)."""
    d = tmp_path_factory.mktemp("pairs")
    run("convert", OLD_IN, "-o", d / "old", "--to", "tf-checkpoint", "-q")
    run("convert", NEW_IN, "-o", d / "new", "--to", "tf-checkpoint", "-q")
    old, new = pair(d / "old"), pair(d / "new")
    assert None not in old and None not in new and old[1] != new[1]
    return d, old, new


def put_old(pairs, out):
    for s in SUFFIXES:
        shutil.copyfile(f"{pairs[0] / 'old'}{s}", f"{out}{s}")


@pytest.mark.parametrize("replace", [False, True], ids=["new", "force-replace"])
def test_checkpoint_pair_killed_before_every_step(tmp_path, pairs, replace):
    _, old, new = pairs
    # The steps of a whole run, in order: the index is renamed into place last.
    clean = tmp_path / "clean"
    clean.mkdir()
    if replace:
        put_old(pairs, clean / "ckpt")
    log = tmp_path / "steps.log"
    assert stepped(NEW_IN, clean / "ckpt", "--force", log=log).returncode == 0
    assert pair(clean / "ckpt") == new
    steps = log.read_text().splitlines()
    renames = [line.split() for line in steps if line.startswith("rename")]
    assert renames[-1][2] == f"{clean / 'ckpt'}.index", steps
    assert any(r[2] == f"{clean / 'ckpt'}.data-00000-of-00001" for r in renames), steps
    if replace:  # the old index leaves first
        assert renames[0][1] == f"{clean / 'ckpt'}.index", steps
    allowed = {(None, None), (None, new[1]), new} | ({old, (None, old[1])} if replace else set())
    seen = set()
    for n in range(1, len(steps) + 1):
        d = tmp_path / f"kill{n}"
        d.mkdir()
        out = d / "ckpt"
        if replace:
            put_old(pairs, out)
        p = stepped(NEW_IN, out, "--force", kill_at=n)
        assert p.returncode == -signal.SIGKILL, (n, steps, p.stderr)
        state = pair(out)
        assert state in allowed, (n, steps[n - 1], state)
        seen.add(state)
        for t in d.iterdir():  # anything else is recognisably ours
            assert t.name in ("ckpt.index", "ckpt.data-00000-of-00001") or \
                t.name.startswith(".ckpt.") and ".keras64-" in t.name, t.name
        # The next run: an index makes the output exist; data alone is replaced, --force or not.
        p = run("convert", NEW_IN, "-o", out, "--to", "tf-checkpoint", "-q", check=False)
        if state[0] is None:
            assert p.returncode == 0, p.stderr
            assert pair(out) == new
        else:
            assert p.returncode == 2 and "output exists" in p.stderr, p.stderr
            assert pair(out) == state
            run("convert", NEW_IN, "-o", out, "--to", "tf-checkpoint", "-q", "--force")
            assert pair(out) == new
    # Every state between the steps was reached: data replaced while no index stood beside it.
    assert (None, new[1]) in seen and (old if replace else (None, None)) in seen, seen


def test_data_without_index_is_replaced_without_force(tmp_path, pairs):
    out = tmp_path / "ckpt"
    Path(f"{out}.data-00000-of-00001").write_bytes(b"left by a killed run")
    run("convert", NEW_IN, "-o", out, "--to", "tf-checkpoint", "-q")
    assert pair(out) == pairs[2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.data-00000-of-00001", "ckpt.index"]


def test_index_alone_is_an_existing_output(tmp_path, pairs):
    out = tmp_path / "ckpt"
    Path(f"{out}.index").write_bytes(b"someone's index")
    p = run("convert", NEW_IN, "-o", out, "--to", "tf-checkpoint", "-q", check=False)
    assert p.returncode == 2
    assert p.stderr == f"keras64: error: {out}.index: output exists (use --force to replace it)\n"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["ckpt.index"]


@pytest.mark.parametrize("force", [False, True])
def test_two_checkpoint_writers_one_prefix(tmp_path, pairs, force):
    """Two writers of different checkpoints race for one prefix, 8 times: the pair in place is
    always one writer's whole (their commits take turns on a lock of the directory)."""
    _, old, new = pairs
    extra = ["--force"] if force else []
    for trial in range(8):
        d = tmp_path / f"t{trial}"
        d.mkdir()
        a = start("convert", OLD_IN, "-o", d / "ckpt", "--to", "tf-checkpoint", "-q", *extra)
        b = start("convert", NEW_IN, "-o", d / "ckpt", "--to", "tf-checkpoint", "-q", *extra)
        ra, rb = a.wait(timeout=60), b.wait(timeout=60)
        if force:
            assert (ra, rb) == (0, 0)
            assert pair(d / "ckpt") in (old, new)
        else:
            assert sorted([ra, rb]) == [0, 2]
            assert pair(d / "ckpt") == (old if ra == 0 else new)
        assert temp_leftovers(d) == [] and sorted(p.name for p in d.iterdir()) == \
            ["ckpt.data-00000-of-00001", "ckpt.index"]


# --- out of threads: every helper thread has a fallback on the caller's thread ------------------
# keras64 checks CRCs (input zip CRC-32, output CRC32C) and deflates on helper threads. Where none
# can be started (pthread_create fails with EAGAIN: RLIMIT_NPROC reached, simulated by
# support/kill_at_step.c) the same work runs on the calling thread: same output, byte for byte.

@pytest.fixture(scope="module")
def threaded(tmp_path_factory):
    """A 4 MB model (tensors of ~1 MB: above the 256 KiB from which the output CRC32C runs on a
    second thread) as .weights.h5 and as .keras."""
    d = tmp_path_factory.mktemp("threaded")
    arrays = make_weights_h5(d / "m.weights.h5", 4 << 20)
    make_keras(d / "m.keras", d / "m.weights.h5", arrays)
    return d


@pytest.mark.parametrize("src,form,extra", [
    ("m.weights.h5", "npy", []), ("m.weights.h5", "safetensors", []),
    ("m.weights.h5", "npz-deflate", []), ("m.weights.h5", "weights.h5", ["--compress"]),
    ("m.keras", "npy", []), ("m.keras", "keras", [])])
def test_out_of_threads_gives_the_same_output(tmp_path, threaded, src, form, extra):
    assert KILL_LIB and Path(KILL_LIB).is_file(), "KERAS64_KILL_AT_STEP_LIB is not set by ctest"
    outs = []
    for side in ("threads", "none"):
        out = tmp_path / side / out_name(form)
        out.parent.mkdir()
        env = dict(os.environ)
        if side == "none":
            env.update(LD_PRELOAD=KILL_LIB, KERAS64_NO_THREADS="1",
                       KERAS64_STEP_LOG=str(tmp_path / "refused.log"),
                       ASAN_OPTIONS=env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
        p = subprocess.run([CLI, "convert", str(threaded / src), "-o", str(out), "--to", form, "-q",
                            *extra], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                           env=env, timeout=60)
        assert p.returncode == 0, p.stderr
        files = sorted(out.rglob("*")) if out.is_dir() else [out]
        outs.append({f.relative_to(out).as_posix() if out.is_dir() else f.name: sha(f)
                     for f in files if f.is_file()})
    # The fallbacks ran: thread creation was refused (each worker, each large tensor's CRC).
    assert "pthread_create refused" in (tmp_path / "refused.log").read_text()
    assert outs[0] == outs[1]
