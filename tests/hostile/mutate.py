#!/usr/bin/env python3
"""Mutation campaign: damages golden inputs of every kind keras64 reads and converts each damaged
copy. Every trial must end within TIMEOUT seconds with exit 0 (the damage did not matter) or 2-6,
and a failure must be exactly one line "keras64: error: ..."; no crash (signal, exit 70), no hang,
no output or temporary file left behind.

    tests/hostile/mutate.py KERAS64_CLI [--trials N] [--seed S] [--kinds k1,k2] [--jobs J]

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

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
TIMEOUT = 2.0
MODELS = ["mlp", "cnn", "rnn", "functional", "nonfloat", "adam", "mixed_float16", "bfloat16",
          "float64", "custom"]
# kind -> (file inside a golden model folder, extra files copied beside it)
KINDS = {
    "keras": ("model.keras", []),
    "weights.h5": ("model.weights.h5", []),
    "legacy.h5": ("model_legacy.h5", []),
    "legacy-weights.h5": ("model_legacy_weights.h5", []),
    "sharded": ("model_sharded_00000.weights.h5", ["model_sharded.weights.json"]),
    "reference.keras": ("expected/reference_f64.keras", []),
    "npz": ("expected/weights.npz", []),
}


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


def trial(cli, kind, model, seed):
    rng = random.Random(seed)
    name, extras = KINDS[kind]
    src = GOLDEN / model / name
    with tempfile.TemporaryDirectory(prefix="k64mut-") as d:
        d = Path(d)
        target = d / Path(name).name
        data = bytearray(src.read_bytes())
        what = mutate(data, rng)
        target.write_bytes(bytes(data))
        for e in extras:
            shutil.copy(GOLDEN / model / e, d / e)
        for other in (GOLDEN / model).glob("model_sharded_0000[1-9].weights.h5"):
            if kind == "sharded":
                shutil.copy(other, d / other.name)
        inp = d / extras[0] if kind == "sharded" else target
        out = d / "out"
        t0 = time.monotonic()
        try:
            p = subprocess.run([cli, "convert", str(inp), "-o", str(out), "--to", "npy", "-q"],
                               capture_output=True, text=True, timeout=TIMEOUT * 5,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return (kind, model, seed, what, "hang (killed after 10 s)", TIMEOUT * 5)
        dt = time.monotonic() - t0
        problems = []
        if dt > TIMEOUT:
            problems.append(f"slow {dt:.2f}s")
        if p.returncode not in (0, 2, 3, 4, 5, 6):
            problems.append(f"exit {p.returncode}")
        if p.returncode != 0:
            lines = p.stderr.splitlines()
            if len(lines) != 1 or not lines[0].startswith("keras64: error: "):
                problems.append(f"stderr {p.stderr[:300]!r}")
            if out.exists():
                problems.append("output left behind")
        left = [q.name for q in d.iterdir() if "keras64-tmp" in q.name]
        if left:
            problems.append(f"temporaries left: {left}")
        return (kind, model, seed, what, "; ".join(problems), dt, p.returncode)


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
    plan = [(rng.choice(kinds), rng.choice(MODELS), rng.getrandbits(32)) for _ in range(a.trials)]
    failures, codes, slowest = 0, {}, 0.0
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
            if problem:
                failures += 1
                print(f"FAIL {kind} {model} seed={seed} {what}: {problem}", flush=True)
    print(f"{a.trials} trials over {kinds} in {time.monotonic() - t0:.0f} s: {failures} failures; "
          f"exit codes {dict(sorted(codes.items()))}; slowest {slowest:.2f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
