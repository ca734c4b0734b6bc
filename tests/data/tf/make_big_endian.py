#!/usr/bin/python3
"""Big-endian TensorBundles from real little-endian ones (no TensorFlow needed: Debian's python3).

TensorFlow on a big-endian machine writes the same bundle with `endianness: BIG` in the header
and every tensor's elements in big-endian byte order (tensor_bundle.cc BundleWriter::Finish,
WriteTensor); a DT_STRING entry's length checksum covers each length as a native (big-endian)
u32 (u64 above 2^32-1) and is itself stored big-endian (WriteStringTensor; ReadStringTensor swaps
both back when need_to_swap_bytes). No big-endian machine is at hand, so this rewrites the
little-endian bundles of `tf1_saver` (two shards, a partitioned variable, bool/int/float16/
bfloat16/float64, a string) and `tf2_module` (a TF2 object graph, which is a string entry) as
such a writer would: element bytes swapped in place, each entry's masked CRC32C recomputed over
the new bytes, the header's endianness set, and the index table written again (one raw data
block with restarts every 16 keys, an index block, the empty metaindex block, the footer; each
block's masked CRC32C computed). Values are unchanged, so each case's expected.json/.npz are the
little-endian case's, copied.

    /usr/bin/python3 tests/data/tf/make_big_endian.py    # writes tf1_saver_be/, tf2_module_be/
"""
import shutil
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = {"tf1_saver": "model.ckpt-7", "tf2_module": "ckpt-1"}
# TF DataType -> element size of the fixed-width types these bundles hold (types.proto)
SIZES = {1: 4, 2: 8, 3: 4, 4: 1, 5: 2, 6: 1, 9: 8, 10: 1, 14: 2, 17: 2, 19: 2, 22: 4, 23: 8}
DT_STRING = 7
MAGIC = struct.pack("<Q", 0xdb4775248b80fb57)

# --- CRC32C: the test suite's own (tests/support/k64test.py), and TF's mask ---------------------
sys.path.insert(0, str(HERE.parents[1] / "support"))
from k64test import crc32c  # noqa: E402
from tfbundle import block, fields, unmask, varint as get_varint  # noqa: E402


def mask(c):
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xa282ead8) & 0xFFFFFFFF


# --- varints and protobuf fields -----------------------------------------------------------------
def put_varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def serialize(fs):
    out = bytearray()
    for num, wt, v in fs:
        out += put_varint(num << 3 | wt)
        out += (put_varint(v) if wt == 0 else struct.pack("<Q", v) if wt == 1 else
                struct.pack("<I", v) if wt == 5 else put_varint(len(v)) + v)
    return bytes(out)


# --- the table (LevelDB format without filters) --------------------------------------------------
def read_table(b):
    foot, p = b[-48:], 0
    assert foot[40:] == MAGIC
    _, p = get_varint(foot, p)
    _, p = get_varint(foot, p)
    io, p = get_varint(foot, p)
    isz, p = get_varint(foot, p)
    entries = []
    for _, handle in block(b, io, isz):
        off, q = get_varint(handle, 0)
        size, _ = get_varint(handle, q)
        entries += block(b, off, size)
    return entries


def build_block(entries, restart_interval):
    out, restarts, prev = bytearray(), [], b""
    for i, (k, v) in enumerate(entries):
        shared = 0
        if i % restart_interval == 0:
            restarts.append(len(out))
        else:
            while shared < min(len(k), len(prev)) and k[shared] == prev[shared]:
                shared += 1
        out += put_varint(shared) + put_varint(len(k) - shared) + put_varint(len(v))
        out += k[shared:] + v
        prev = k
    for r in restarts or [0]:
        out += struct.pack("<I", r)
    out += struct.pack("<I", len(restarts or [0]))
    return bytes(out)


def write_table(entries):
    out = bytearray()

    def emit(contents):
        handle = put_varint(len(out)) + put_varint(len(contents))
        out.extend(contents + b"\0" + struct.pack("<I", mask(crc32c(contents + b"\0"))))
        return handle

    data = emit(build_block(entries, 16))
    meta = emit(build_block([], 1))
    # the last key is >= every key of the only data block: a valid index key
    index = emit(build_block([(entries[-1][0], data)], 1))
    footer = meta + index
    return bytes(out + footer + b"\0" * (40 - len(footer)) + MAGIC)


# --- the rewrite ---------------------------------------------------------------------------------
def string_lengths(raw, count, order):
    """Where the varint lengths of a DT_STRING region end, and the bytes their CRC32C covers:
    each length as a u32 (u64 above 2^32-1) in byte order `order` ("<" or ">")."""
    p, hashed = 0, b""
    for _ in range(count):
        n, p = get_varint(raw, p)
        hashed += struct.pack(order + ("I" if n <= 0xFFFFFFFF else "Q"), n)
    return p, hashed


def string_crc(raw, count, order):
    """The entry CRC32C of a DT_STRING region (lengths hashed in `order`, then the 4 stored
    length-checksum bytes, then the strings)."""
    p, hashed = string_lengths(raw, count, order)
    return crc32c(hashed + raw[p:])


def string_entry_be(raw, count):
    """A DT_STRING region rewritten as a big-endian writer hashes and stores its lengths."""
    p, hashed = string_lengths(raw, count, ">")
    new = raw[:p] + struct.pack(">I", mask(crc32c(hashed))) + raw[p + 4:]
    return new, string_crc(new, count, ">")


def element_count(shape_msg):
    n = 1
    for num, _, dim in fields(shape_msg):
        if num == 2:
            n *= next((v for f, _, v in fields(dim) if f == 1), 0)
    return n


def convert(case, prefix):
    src, dst = HERE / case, HERE / (case + "_be")
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    entries = read_table((src / (prefix + ".index")).read_bytes())
    header = [f for f in fields(entries[0][1]) if f[0] != 2] + [(2, 0, 1)]
    header.sort(key=lambda f: f[0])
    num_shards = next(v for n, _, v in header if n == 1)
    shards = [bytearray((dst / f"{prefix}.data-{i:05d}-of-{num_shards:05d}").read_bytes())
              for i in range(num_shards)]
    out = [(b"", serialize(header))]
    for key, value in entries[1:]:
        fs = fields(value)
        get = lambda n, d=0: next((v for f, _, v in fs if f == n), d)  # noqa: E731
        dtype, shard, off, size = get(1), get(3), get(4), get(5)
        if get(7, None) is not None or size == 0:  # a partitioned tensor's entry: no data
            out.append((key, value))
            continue
        raw = bytes(shards[shard][off:off + size])
        if dtype == DT_STRING:
            assert string_crc(raw, element_count(get(2, b"")), "<") == unmask(get(6)), key
            new, crc = string_entry_be(raw, element_count(get(2, b"")))
        elif dtype in SIZES:
            assert crc32c(raw) == unmask(get(6)), key
            w = SIZES[dtype]
            new = b"".join(raw[i:i + w][::-1] for i in range(0, size, w))
            crc = crc32c(new)
        else:
            raise SystemExit(f"{case}: {key!r}: dtype {dtype} not handled")
        shards[shard][off:off + size] = new
        out.append((key, serialize([(n, wt, mask(crc) if n == 6 else v) for n, wt, v in fs])))
    for i, data in enumerate(shards):
        (dst / f"{prefix}.data-{i:05d}-of-{num_shards:05d}").write_bytes(bytes(data))
    (dst / (prefix + ".index")).write_bytes(write_table(out))
    print(f"{dst.name}: {len(out) - 1} entries, {num_shards} shard(s)")


if __name__ == "__main__":
    for case, prefix in CASES.items():
        convert(case, prefix)
