"""A TensorFlow TensorBundle reader in plain Python (numpy only), written from the format notes
(the project brief's shared tf-checkpoint-format.md) independently of keras64's C++ reader: it
checks what the tests of --to tf-checkpoint compare. Uncompressed table blocks only (what
TensorFlow's BundleWriter and keras64 write); every block and entry CRC is verified."""
from pathlib import Path

import numpy as np

from k64test import crc32c

MAGIC = bytes.fromhex("57fb808b247547db")
FLOAT, DOUBLE, STRING, BFLOAT16, HALF = 1, 2, 7, 14, 19
NUMPY = {1: "f4", 2: "f8", 3: "i4", 4: "u1", 5: "i2", 6: "i1", 9: "i8", 10: "?", 17: "u2",
         19: "f2", 22: "u4", 23: "u8"}


def unmask(m):
    m = (m - 0xA282EAD8) & 0xFFFFFFFF
    return ((m >> 17) | (m << 15)) & 0xFFFFFFFF


def varint(b, pos):
    v = shift = 0
    while True:
        c = b[pos]
        pos += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, pos


def fields(msg):
    """[(field number, wire type, value)] of a protobuf message: ints for varint/fixed64/fixed32,
    bytes for length-delimited."""
    out, pos = [], 0
    while pos < len(msg):
        tag, pos = varint(msg, pos)
        num, wire = tag >> 3, tag & 7
        if wire == 0:
            v, pos = varint(msg, pos)
        elif wire == 1:
            v, pos = int.from_bytes(msg[pos:pos + 8], "little"), pos + 8
        elif wire == 5:
            v, pos = int.from_bytes(msg[pos:pos + 4], "little"), pos + 4
        elif wire == 2:
            n, pos = varint(msg, pos)
            v, pos = msg[pos:pos + n], pos + n
        else:
            raise ValueError(f"wire type {wire}")
        out.append((num, wire, v))
    return out


def block(f, offset, size):
    contents, kind = f[offset:offset + size], f[offset + size]
    assert kind == 0, "compressed block"
    assert unmask(int.from_bytes(f[offset + size + 1:offset + size + 5], "little")) == crc32c(f[offset:offset + size + 1])
    n = int.from_bytes(contents[-4:], "little")
    body, entries, key, pos = contents[:len(contents) - 4 * (n + 1)], [], b"", 0
    while pos < len(body):
        shared, pos = varint(body, pos)
        unshared, pos = varint(body, pos)
        vlen, pos = varint(body, pos)
        key = key[:shared] + body[pos:pos + unshared]
        pos += unshared
        entries.append((key, body[pos:pos + vlen]))
        pos += vlen
    return entries


def table(path):
    f = Path(path).read_bytes()
    assert f[-8:] == MAGIC
    footer = f[-48:]
    mo, p = varint(footer, 0)
    ms, p = varint(footer, p)
    io, p = varint(footer, p)
    isz, p = varint(footer, p)
    assert block(f, mo, ms) == []
    out = []
    for _, handle in block(f, io, isz):
        o, p = varint(handle, 0)
        s, p = varint(handle, p)
        out += block(f, o, s)
    keys = [k for k, _ in out]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    return out


class Entry:
    def __init__(self, key, raw):
        self.key, self.raw = key, raw
        fs = fields(raw)
        get = {n: v for n, _, v in fs}
        self.dtype = get.get(1, 0)
        self.shape = [dict((n, v) for n, _, v in fields(d)).get(1, 0)
                      for n, _, d in fields(get.get(2, b"")) if n == 2]
        self.shard, self.offset, self.size = get.get(3, 0), get.get(4, 0), get.get(5, 0)
        self.crc = unmask(get.get(6, 0))
        self.slices = [v for n, _, v in fs if n == 7]
        self.fields = fs
        self.data = b""
        self.order = "<"  # the bundle's byte order (header endianness)


def read(prefix, check_crc=True):
    """(header bytes, [Entry] in key order with .data), every data CRC checked (strings by their
    own rule) unless check_crc is false (pure Python CRC32C: some MB/s)."""
    prefix = str(prefix)
    t = table(prefix + ".index")
    assert t[0][0] == b""
    header = t[0][1]
    hf = dict((n, v) for n, _, v in fields(header))
    nshards = hf.get(1, 1)
    shards = [Path(f"{prefix}.data-{i:05d}-of-{nshards:05d}").read_bytes() for i in range(nshards)]
    entries = []
    for key, raw in t[1:]:
        e = Entry(key, raw)
        e.order = ">" if hf.get(2, 0) == 1 else "<"
        if not e.slices:
            e.data = shards[e.shard][e.offset:e.offset + e.size]
            assert len(e.data) == e.size
            if check_crc:
                assert string_crc(e) if e.dtype == STRING else crc32c(e.data) == e.crc, key
        entries.append(e)
    return header, entries, shards


def string_crc(e):
    """The CRC of a DT_STRING entry: its lengths as u32 (in the bundle's byte order), their
    masked CRC, then the bytes."""
    n = int(np.prod(e.shape)) if e.shape else 1
    pos, lens = 0, b""
    for _ in range(n):
        v, pos = varint(e.data, pos)
        lens += v.to_bytes(4 if v <= 0xFFFFFFFF else 8, "big" if e.order == ">" else "little")
    return crc32c(lens + e.data[pos:]) == e.crc


def values(e):
    """The entry's data as float64 (floats widened, bfloat16 by its bits) or its own dtype."""
    if e.dtype == BFLOAT16:
        bits = np.frombuffer(e.data, e.order + "u2").astype(np.uint32) << 16
        return bits.view(np.float32).astype(np.float64).reshape(e.shape)
    a = np.frombuffer(e.data, e.order + NUMPY[e.dtype]).reshape(e.shape)
    return a.astype(np.float64) if e.dtype in (FLOAT, HALF) else a.astype(a.dtype.newbyteorder("<"))
