#!/usr/bin/env python3
"""Mutation campaign: damages golden inputs of every kind keras64 reads and converts each damaged
copy. Every trial must end within TIMEOUT seconds of CPU time with exit 0 (the damage did not matter) or 2-6,
and a failure must be exactly one line "keras64: error: ..."; no crash (signal, exit 70), no hang,
no output or temporary file left behind.

    tests/hostile/mutate.py KERAS64_CLI [--trials N] [--seed S] [--kinds k1,k2] [--jobs J]

Inputs: the golden models' .keras, .weights.h5, sharded, legacy .h5 (model and weights), Keras's
float64 reference .keras, npz, and the tf.keras .keras interop goldens. Half the trials of an HDF5
kind write its structure-preserving output (--to keras, weights.h5, legacy-h5: the tree copy reads
the damaged input too), the others npy.

Mutations: truncation at a random point, 1-8 bit flips, an overwritten 8-byte word (0, all ones,
a random value, a nearby address, a huge length), a zeroed 64-byte run. Deterministic for a seed.
Prints one line per failing trial and a summary; exit 1 if any trial failed.
"""
import argparse
import concurrent.futures as cf
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
GOLDEN = DATA / "golden"
TFKERAS = DATA / "interop" / "tfkeras"
TIMEOUT = 2.0  # CPU seconds a trial may take
HANG = 20.0    # wall seconds after which a trial is killed as hung
MODELS = ["mlp", "cnn", "rnn", "functional", "nonfloat", "adam", "mixed_float16", "bfloat16",
          "float64", "custom"]
TFKERAS_MODELS = ["functional", "batchnorm", "embedding", "custom", "mha", "rnn", "sequential",
                  "float64", "mixed_float16"]
# kind -> (file inside a model folder, extra files copied beside it, the structure-preserving
# output that also reads the input's tree, or None)
KINDS = {
    "keras": ("model.keras", [], "keras"),
    "weights.h5": ("model.weights.h5", [], "weights.h5"),
    "legacy.h5": ("model_legacy.h5", [], "legacy-h5"),
    "legacy-weights.h5": ("model_legacy_weights.h5", [], "legacy-h5"),
    "sharded": ("model_sharded_00000.weights.h5", ["model_sharded.weights.json"], "weights.h5"),
    "reference.keras": ("expected/reference_f64.keras", [], "keras"),
    "npz": ("expected/weights.npz", [], None),
    "tfkeras.keras": ("model.keras", [], None),
}
OUT_NAME = {"npy": "out", "keras": "out.keras", "weights.h5": "out.weights.h5",
            "legacy-h5": "out.h5"}


def folder(kind, model):
    return (TFKERAS if kind == "tfkeras.keras" else GOLDEN) / model


def models(kind):
    return TFKERAS_MODELS if kind == "tfkeras.keras" else MODELS


def mutate(data: bytearray, rng: random.Random) -> str:
    n = len(data)
    kind = rng.choice(["truncate", "flip", "word", "zero64"])
    if kind == "truncate":
        cut = rng.randrange(0, n)
        del data[cut:]
        return f"truncate@{cut}"
    if kind == "flip":
        flips = rng.randint(1, 8)
        at = []
        for _ in range(flips):
            i = rng.randrange(n)
            data[i] ^= 1 << rng.randrange(8)
            at.append(i)
        return f"flip@{at}"
    if kind == "word":
        i = rng.randrange(max(1, n - 8))
        v = rng.choice([0, 2**64 - 1, rng.getrandbits(64), rng.randrange(n + 4096),
                        rng.choice([2**31, 2**32, 2**40, 2**62])])
        data[i:i + 8] = struct.pack("<Q", v)[: len(data[i:i + 8])]
        return f"word@{i}={v:#x}"
    i = rng.randrange(max(1, n - 64))
    data[i:i + 64] = bytes(len(data[i:i + 64]))
    return f"zero64@{i}"


class Done:
    def __init__(self, returncode, stderr):
        self.returncode, self.stderr = returncode, stderr


def run_timed(args, env):
    """Runs args; returns (Done, CPU seconds of the child). The limit is on CPU time: on a shared
    machine the wall time of a trial says more about the load than about keras64. A trial still
    running after HANG seconds of wall time is killed (TimeoutExpired)."""
    with tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
                             env=env)
        deadline = time.monotonic() + HANG
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                p.kill()
                os.wait4(p.pid, 0)
                raise subprocess.TimeoutExpired(args, HANG)
            time.sleep(0.005)
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return Done(p.returncode, err.read()), usage.ru_utime + usage.ru_stime


def trial(cli, kind, model, seed):
    rng = random.Random(seed)
    name, extras, structural = KINDS[kind]
    src = folder(kind, model) / name
    with tempfile.TemporaryDirectory(prefix="k64mut-") as d:
        d = Path(d)
        target = d / Path(name).name
        data = bytearray(src.read_bytes())
        what = mutate(data, rng)
        # Half the trials write the structure-preserving output, whose tree copy reads the
        # damaged input too.
        form = structural if structural and rng.random() < 0.5 else "npy"
        target.write_bytes(bytes(data))
        for e in extras:
            shutil.copy(folder(kind, model) / e, d / e)
        for other in folder(kind, model).glob("model_sharded_0000[1-9].weights.h5"):
            if kind == "sharded":
                shutil.copy(other, d / other.name)
        inp = d / extras[0] if kind == "sharded" else target
        out = d / OUT_NAME[form]
        t0 = time.monotonic()
        try:
            p, cpu = run_timed([cli, "convert", str(inp), "-o", str(out), "--to", form, "-q"],
                               dict(os.environ, TMPDIR=str(d)))
        except subprocess.TimeoutExpired:
            return (kind, model, seed, f"{what} --to {form}", f"hang (killed after {HANG} s)",
                    HANG)
        dt = time.monotonic() - t0
        problems = []
        if cpu > TIMEOUT:
            problems.append(f"slow {cpu:.2f} s CPU")
        if p.returncode not in (0, 2, 3, 4, 5, 6):
            problems.append(f"exit {p.returncode}")
        if p.returncode != 0:
            lines = p.stderr.splitlines()
            if len(lines) != 1 or not lines[0].startswith("keras64: error: "):
                problems.append(f"stderr {p.stderr[:300]!r}")
            if out.exists():
                problems.append("output left behind")
        # (TMPDIR is the trial's folder: keras64's scratch files must be gone too.)
        left = [q.name for q in d.iterdir() if q.name.startswith("keras64-") or "keras64-tmp" in q.name]
        if left:
            problems.append(f"temporaries left: {left}")
        return (kind, model, seed, f"{what} --to {form}", "; ".join(problems), dt, p.returncode,
                cpu)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cli")
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    kinds = a.kinds.split(",")
    rng = random.Random(a.seed)
    plan = []
    for _ in range(a.trials):
        kind = rng.choice(kinds)
        plan.append((kind, rng.choice(models(kind)), rng.getrandbits(32)))
    failures, codes, slowest, slowest_cpu = 0, {}, 0.0, 0.0
    t0 = time.monotonic()
    with cf.ThreadPoolExecutor(a.jobs) as ex:
        for done, r in enumerate(ex.map(lambda t: trial(a.cli, *t), plan), 1):
            if done % 500 == 0:
                print(f"... {done} trials, {failures} failures, {time.monotonic() - t0:.0f} s",
                      flush=True)
            kind, model, seed, what, problem, dt = r[:6]
            slowest = max(slowest, dt)
            if len(r) > 6:
                codes[r[6]] = codes.get(r[6], 0) + 1
                slowest_cpu = max(slowest_cpu, r[7])
            if problem:
                failures += 1
                print(f"FAIL {kind} {model} seed={seed} {what}: {problem}", flush=True)
    print(f"{a.trials} trials over {kinds} in {time.monotonic() - t0:.0f} s: {failures} failures; "
          f"exit codes {dict(sorted(codes.items()))}; slowest {slowest_cpu:.2f} s CPU, "
          f"{slowest:.2f} s wall")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
