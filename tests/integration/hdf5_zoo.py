"""Writes HDF5 files that exercise every feature keras64's own HDF5 reader claims (and a few it
refuses), with h5py, for the differential test (hdf5_reader_diff_test.cpp): the test reads each
file with libhdf5 and with keras64's reader and requires the same tree, attributes, types, shapes
and values.  Deterministic; run with Debian's python3 (h5py 3.x, HDF5 1.10):

    hdf5_zoo.py OUT_DIR           # OUT_DIR/supported/*.h5 (must agree) and
                                  # OUT_DIR/refused/<feature>.h5 ("unsupported HDF5 feature")
    hdf5_zoo.py --seeds OUT_DIR   # two small files for the fuzz seed corpus (fuzz/corpus/hdf5)
"""
import os
import sys

import h5py
import numpy as np

if sys.argv[1] == "--seeds":
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    r = np.random.default_rng(1)
    with h5py.File(f"{out}/seed_latest_dense.h5", "w", libver="latest") as f:
        for i in range(10):
            f[f"l{i}"] = np.float32(i)
        f.attrs["name"] = "x"
        f.attrs.create("names", ["a", "b"], dtype=h5py.string_dtype("ascii"))
    with h5py.File(f"{out}/seed_chunked.h5", "w", libver="earliest") as f:
        a = r.standard_normal((9, 7)).astype("<f4")
        f.create_dataset("gz", data=a, chunks=(4, 4), compression="gzip", shuffle=True,
                         fletcher32=True)
        f.create_dataset("be", data=a.astype(">f8"), chunks=(9, 2))
        f.attrs.create("fixed", np.array([b"ab", b"c"], dtype="S3"))
    sys.exit(0)

out = sys.argv[1]
os.makedirs(f"{out}/supported", exist_ok=True)
os.makedirs(f"{out}/refused", exist_ok=True)
rng = np.random.default_rng(16)
vlen = h5py.string_dtype("utf-8")
ascii_vlen = h5py.string_dtype("ascii")


def numeric_zoo(g):
    for t in ["<f2", "<f4", "<f8", ">f4", ">f8", "<i1", "<i2", "<i4", "<i8", ">i4",
              "<u1", "<u2", "<u4", "<u8", ">u2"]:
        g.create_dataset(f"t_{t[1:]}_{'be' if t[0] == '>' else 'le'}",
                         data=(rng.standard_normal((3, 5)) * 100).astype(t))
    g.create_dataset("bool", data=rng.integers(0, 2, (7,)).astype(bool))
    g.create_dataset("scalar", data=np.float32(3.5))
    g.create_dataset("empty", data=np.zeros((0, 4), "<f4"))
    g.create_dataset("rank5", data=rng.standard_normal((2, 1, 3, 2, 2)).astype("<f4"))
    bf16 = g.create_dataset("bf16", data=rng.integers(0, 65535, (4, 3)).astype("<u2").view("V2"))
    bf16.attrs["dtype"] = "bfloat16"
    g.create_dataset("bf16_untagged", data=rng.integers(0, 65535, (5,)).astype("<u2").view("V2"))


def chunked_zoo(g):
    a = rng.standard_normal((37, 29)).astype("<f4")
    g.create_dataset("plain", data=a, chunks=(8, 8))
    g.create_dataset("gzip_shuffle", data=a, chunks=(10, 7), compression="gzip", shuffle=True)
    g.create_dataset("fletcher", data=a.astype("<f8"), chunks=(16, 16), compression="gzip",
                     shuffle=True, fletcher32=True)
    g.create_dataset("fletcher_only", data=a.astype(">i4"), chunks=(5, 29), fletcher32=True)
    # More than 64 chunks: a 2-level chunk B-tree.
    g.create_dataset("many", data=rng.standard_normal((300, 10)).astype("<f8"), chunks=(2, 10),
                     compression="gzip")
    g.create_dataset("rank3", data=rng.standard_normal((5, 6, 7)).astype("<f4"), chunks=(2, 4, 3),
                     compression="gzip", shuffle=True)
    # Allocated late and never written: every chunk is the fill value.
    g.create_dataset("unwritten", shape=(9, 9), dtype="<f4", chunks=(4, 4), fillvalue=1.25)
    part = g.create_dataset("partial", shape=(9, 9), dtype="<i2", chunks=(4, 4), fillvalue=-7)
    part[0:4, 0:4] = 3
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    space = h5py.h5s.create_simple((6,))
    d = h5py.h5d.create(g.id, b"compact_layout", h5py.h5t.STD_I32LE, space, dcpl=dcpl)
    d.write(h5py.h5s.ALL, h5py.h5s.ALL, np.arange(6, dtype="<i4"))
    g.create_dataset("contig_unwritten", shape=(4,), dtype="<f8", fillvalue=2.5)


def attr_zoo(o, compact):
    """Attributes of every encoding; `compact`: at most 8, so that the 1.8 format keeps them in
    the object header (more go to dense attribute storage, which keras64 refuses)."""
    o.attrs["s_utf8"] = "caf\u00e9"
    o.attrs.create("s_ascii", "plain", dtype=ascii_vlen)
    o.attrs.create("s_fixed", np.bytes_("fixed"))
    o.attrs.create("names_vlen", ["a", "bb", "ccc"], dtype=ascii_vlen)
    o.attrs.create("names_fixed", np.array([b"dense_1", b"x", b""], dtype="S7"))
    o.attrs["empty_names"] = np.zeros((0,), "<f8")
    o.attrs["ints"] = np.array([1, -2, 3], "<i8")
    o.attrs["float"] = np.float32(0.5)
    if compact:
        return
    o.attrs["be"] = np.array([1.5, 2.5], ">f8")
    o.attrs["long"] = "x" * 30000  # a global heap collection larger than 4 KiB
    o.attrs.create("empty_string", "", dtype=vlen)


def tree(f, wide, compact_attrs=False):
    numeric_zoo(f.create_group("numeric"))
    attr_zoo(f, compact_attrs)
    attr_zoo(f["numeric"], compact_attrs)
    g = f.create_group("wide")
    for i in range(wide):
        sub = g.create_group(f"layer_{i:04d}")
        if i % 3 == 0:
            sub.create_dataset("w", data=np.full((2,), i, "<f4"))
    f.create_group("empty")
    f.create_group("a/b/c/d/e")
    f["a/b"].attrs["name"] = "nested"
    f["soft"] = h5py.SoftLink("/numeric")  # never followed
    f["ext"] = h5py.ExternalLink("other.h5", "/x")


# Old-style groups: 200 links need a 2-level group B-tree.
with h5py.File(f"{out}/supported/earliest.h5", "w", libver="earliest") as f:
    tree(f, 200)
    chunked_zoo(f.create_group("chunked"))
    big = f.create_group("big")
    big.create_dataset("x", data=rng.standard_normal((120, 50)).astype("<f4"))

# New-style: superblock v3, OHDR v2 headers, compact and dense groups (fractal heap + v2 B-tree),
# link creation order tracked.
with h5py.File(f"{out}/supported/latest.h5", "w", libver="latest", track_order=True) as f:
    tree(f, 300, compact_attrs=True)
with h5py.File(f"{out}/supported/latest_untracked.h5", "w", libver="latest") as f:
    tree(f, 40, compact_attrs=True)

# A user block moves the superblock to 512.
with h5py.File(f"{out}/refused/user_block.h5", "w", userblock_size=512) as f:
    f["x"] = np.zeros(3)
# Chunked datasets of the 1.10 format use new chunk indexes (layout message v4).
with h5py.File(f"{out}/refused/chunk_index.h5", "w", libver="latest") as f:
    f.create_dataset("x", data=np.zeros((10, 10)), chunks=(5, 5))
# Many attributes on one object under the 1.8+ format go to dense attribute storage.
with h5py.File(f"{out}/refused/dense_attributes.h5", "w", libver="latest") as f:
    for i in range(20):
        f.attrs[f"a{i:02d}"] = i
