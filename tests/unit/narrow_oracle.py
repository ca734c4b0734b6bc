"""Independent oracle for narrow_from_f64 (tests/unit/test_narrow.cpp runs it).

Writes, for each target (float32, float16, bfloat16) and each group of float64 inputs:
  <target>_<group>_x.npy     the float64 inputs
  <target>_<group>_bits.npy  the expected result bit patterns (uint32 / uint16)
and accounts.json with the expected RoundingAccount of every group. Results come from numpy's
own casts (float32, float16: round to nearest even), bfloat16 from an exact nearest-candidate
search on float32 bit patterns; NaNs follow keras64's documented rule (top payload bits, quiet
bit set), computed here with uint64 bit operations.
"""
import json
import sys
from pathlib import Path

import numpy as np

rng = np.random.default_rng(20260511)
# name: (exponent bits, mantissa bits, emin)
FORMATS = {"float32": (8, 23, -126), "float16": (5, 10, -14), "bfloat16": (8, 7, -126)}


def nan_bits(x, E, M):
    b = x.view(np.uint64)
    sign = (b >> np.uint64(63)).astype(np.uint64) << np.uint64(E + M)
    exp_all = np.uint64(((1 << E) - 1) << M)
    payload = (b & np.uint64((1 << 52) - 1)) >> np.uint64(52 - M)
    return sign | exp_all | payload | np.uint64(1 << (M - 1))


def bf16_round(x):
    """Nearest bfloat16 (ties to even) of each finite or infinite x, as uint16 bits."""
    a = np.abs(x)
    with np.errstate(over="ignore"):
        a32 = a.astype(np.float32)
    lo = (a32.view(np.uint32) & np.uint32(0xFFFF0000)).astype(np.int64)
    cands = np.stack([lo - 0x10000, lo, lo + 0x10000]).clip(0, 0x7F800000)
    vals = cands.astype(np.uint32).view(np.float32).astype(np.float64)
    vals[cands == 0x7F800000] = 2.0 ** 128  # the step after the largest finite bfloat16
    dist = np.abs(vals - a[None, :])
    best = dist.min(axis=0)
    tie_ok = dist == best[None, :]
    even = ((cands >> 16) & 1) == 0
    # Among the nearest, prefer an even one (there are at most two nearest).
    pick = np.where((tie_ok & even).any(axis=0), np.argmax(tie_ok & even, axis=0), np.argmax(tie_ok, axis=0))
    r = cands[pick, np.arange(a.size)]
    r = np.where(np.isinf(a), 0x7F800000, r)
    sign = (np.signbit(x).astype(np.int64)) << 15
    return ((r >> 16) | sign).astype(np.uint16)


def expected_bits(x, name):
    E, M, _ = FORMATS[name]
    with np.errstate(over="ignore", invalid="ignore"):
        if name == "float32":
            bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
        elif name == "float16":
            bits = x.astype(np.float16).view(np.uint16).astype(np.uint64)
        else:
            nn = ~np.isnan(x)
            bits = np.zeros(x.size, np.uint64)
            bits[nn] = bf16_round(x[nn]).astype(np.uint64)
    nan = np.isnan(x)
    bits[nan] = nan_bits(x[nan], E, M)
    return bits.astype(np.uint32 if name == "float32" else np.uint16)


def widen(bits, name):
    if name == "float32":
        return bits.view(np.float32).astype(np.float64)
    if name == "float16":
        return bits.view(np.float16).astype(np.float64)
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32).astype(np.float64)


def account(x, bits, name):
    E, M, emin = FORMATS[name]
    y = widen(bits, name)
    nan = np.isnan(x)
    inf_in = np.isinf(x)
    finite = ~nan & ~inf_in
    over = finite & np.isinf(y)
    fin = finite & ~np.isinf(y)
    xb, yb = x.view(np.uint64), y.view(np.uint64)
    changed = int((fin & (xb != yb)).sum() + over.sum() + (nan & (xb != yb)).sum())
    err = np.abs(y[fin] - x[fin])
    xf = x[fin]
    nz = xf != 0
    rel = err[nz] / np.abs(xf[nz])
    e = np.frexp(xf[nz])[1]
    ulp = np.ldexp(1.0, np.maximum(e - 1, emin) - M)
    ulps = err[nz] / ulp
    b = bits.astype(np.uint64)
    expf = (b >> np.uint64(M)) & np.uint64((1 << E) - 1)
    mant = b & np.uint64((1 << M) - 1)
    return {
        "values": int(x.size),
        "changed": changed,
        "max_abs_error": float(err.max()) if err.size else 0.0,
        "max_rel_error": float(rel.max()) if rel.size else 0.0,
        "max_ulp_error": float(ulps.max()) if ulps.size else 0.0,
        "overflows": int(over.sum()),
        "subnormal": int((fin & (expf == 0) & (mant != 0)).sum()),
        "to_zero": int((fin & (y == 0) & (x != 0)).sum()),
        "nans": int(nan.sum()),
        "infs": int(inf_in.sum()),
    }


def all_finite_values(name):
    """Every finite value of the target (float32: a random sample), as float64, sorted."""
    if name == "float32":
        b = rng.integers(0, 0x7F800000, 300000, dtype=np.uint32)
        v = b.view(np.float32).astype(np.float64)
    elif name == "float16":
        b = np.arange(0, 0x7C00, dtype=np.uint16)
        v = b.view(np.float16).astype(np.float64)
    else:
        b = np.arange(0, 0x7F80, dtype=np.uint32) << np.uint32(16)
        v = b.view(np.float32).astype(np.float64)
    v = np.unique(v)
    return v


def groups(name):
    E, M, emin = FORMATS[name]
    v = all_finite_values(name)
    emax = (1 << (E - 1)) - 1
    vmax = (2 - 2.0 ** -M) * 2.0 ** emax
    out = {}
    out["exact"] = np.concatenate([v, -v])
    mids = (v[:-1] + v[1:]) / 2  # exact ties (midpoints fit in float64)
    if name == "float32":  # neighbours of the sample are not neighbours: make true ones
        b = rng.integers(0, 0x7F7FFFFF, 200000, dtype=np.uint32)
        lo = b.view(np.float32).astype(np.float64)
        hi = (b + np.uint32(1)).view(np.float32).astype(np.float64)
        mids = (lo + hi) / 2
    top = np.array([vmax + 2.0 ** (emax - M) / 2])  # halfway between max and the next step
    mids = np.concatenate([mids, top])
    out["ties"] = np.concatenate([mids, -mids])
    out["near_ties"] = np.concatenate([np.nextafter(mids, np.inf), np.nextafter(mids, -np.inf),
                                       -np.nextafter(mids, np.inf)])
    # Random float64 bit patterns with exponents around the target's range.
    n = 300000
    exps = rng.integers(1023 + emin - M - 4, 1023 + emax + 3, n).astype(np.uint64)
    mant = rng.integers(0, 1 << 52, n, dtype=np.uint64)
    sign = rng.integers(0, 2, n, dtype=np.uint64) << np.uint64(63)
    out["random"] = (sign | (exps << np.uint64(52)) | mant).view(np.float64)
    # Inside the range only (no overflow, no underflow): for the error maxima.
    exps = rng.integers(1023 + emin, 1023 + emax, n).astype(np.uint64)
    out["normal"] = (sign | (exps << np.uint64(52)) | mant).view(np.float64)
    smallest = 2.0 ** (emin - M)
    specials = [0.0, -0.0, np.inf, -np.inf, vmax, -vmax, np.nextafter(top[0], 0), top[0],
                np.nextafter(top[0], np.inf), 1e300, -1e300, np.finfo(np.float64).max,
                5e-324, -5e-324, 2.2250738585072014e-308, smallest, smallest / 2,
                np.nextafter(smallest / 2, 1), np.nextafter(smallest / 2, 0), smallest * 1.5,
                smallest * 2.5, 2.0 ** emin, np.nextafter(2.0 ** emin, 0), 1.0, 1 / 3, -2 / 3,
                0.1, 3.4028234663852886e38, 65504.0, 65520.0, 65519.99]
    nan_patterns = [0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001,
                    0x7FF4000000000000, 0x7FFFFFFFFFFFFFFF, 0x7FF8123456789ABC,
                    0xFFF0800000000000, 0x7FF0000020000000]
    nans = np.array(nan_patterns, dtype=np.uint64).view(np.float64)
    out["specials"] = np.concatenate([np.array(specials, dtype=np.float64), nans])
    return out


def main(out):
    out.mkdir(parents=True, exist_ok=True)
    accounts = {}
    for name in FORMATS:
        for g, x in groups(name).items():
            x = np.ascontiguousarray(x, dtype=np.float64)
            bits = expected_bits(x, name)
            np.save(out / f"{name}_{g}_x.npy", x)
            np.save(out / f"{name}_{g}_bits.npy", bits)
            accounts[f"{name}_{g}"] = account(x, bits, name)
    (out / "accounts.json").write_text(json.dumps(accounts, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
