#include "detail/tf_table.hpp"

#include <snappy-c.h>

#include <cstring>

#include "detail/crc32c.hpp"
#include "keras64/error.hpp"

namespace keras64::detail::tf {
namespace {

constexpr std::size_t kFooterSize = 48;  // 2 handles of at most 20 bytes, padding, 8-byte magic
constexpr std::uint64_t kMagic = 0xdb4775248b80fb57ull;
constexpr std::size_t kTrailer = 5;  // type byte + CRC

Error corrupt(const std::string& what) {
  return Error(Errc::corrupt, what);
}

std::uint32_t le32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;  // keras64 runs on little-endian hosts only (see design.md)
}

struct Handle {
  std::uint64_t offset, size;
};

Handle read_handle(std::string_view s, std::size_t& pos, const char* what) {
  Handle h;
  h.offset = read_varint(s, pos, 10, what);
  h.size = read_varint(s, pos, 10, what);
  return h;
}

}  // namespace

std::uint64_t read_varint(std::string_view s, std::size_t& pos, int max_bytes, const char* what) {
  std::uint64_t v = 0;
  for (int i = 0; i < max_bytes; ++i) {
    if (pos >= s.size()) throw corrupt(std::string(what) + ": truncated varint");
    const auto b = static_cast<unsigned char>(s[pos++]);
    v |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) return v;
  }
  throw corrupt(std::string(what) + ": overlong varint");
}

std::string snappy_uncompress(std::string_view in, std::size_t max_size) {
  std::size_t n = 0;
  if (snappy_uncompressed_length(in.data(), in.size(), &n) != SNAPPY_OK)
    throw corrupt("snappy: bad length header");
  if (n > max_size)
    throw corrupt("snappy: uncompressed size " + std::to_string(n) + " is over the limit of " +
                  std::to_string(max_size) + " bytes");
  std::string out(n, '\0');
  std::size_t got = n;
  if (::snappy_uncompress(in.data(), in.size(), out.data(), &got) != SNAPPY_OK || got != n)
    throw corrupt("snappy: damaged compressed data");
  return out;
}

std::string read_block(std::string_view file, std::uint64_t offset, std::uint64_t size,
                       const std::string& what) {
  if (offset > file.size() || size > file.size() - offset || kTrailer > file.size() - offset - size)
    throw corrupt(what + ": block [" + std::to_string(offset) + ", +" + std::to_string(size) +
                  "] and its trailer run past the end of the file (" + std::to_string(file.size()) +
                  " bytes)");
  const char* p = file.data() + offset;
  const std::uint32_t stored = crc32c_unmask(le32(p + size + 1));
  const std::uint32_t actual = crc32c(p, static_cast<std::size_t>(size) + 1);
  if (stored != actual) throw corrupt(what + ": block checksum mismatch (CRC32C)");
  const std::string_view contents(p, static_cast<std::size_t>(size));
  switch (static_cast<unsigned char>(p[size])) {
    case 0:
      if (size > kMaxBlock) throw corrupt(what + ": block of " + std::to_string(size) + " bytes");
      return std::string(contents);
    case 1:
      try {
        return snappy_uncompress(contents, kMaxBlock);
      } catch (const Error& e) {
        throw Error(e.code(), what + ": " + e.message(), e.sys_errno());
      }
    default:
      throw corrupt(what + ": unknown block type " +
                    std::to_string(static_cast<unsigned char>(p[size])));
  }
}

void parse_block(std::string_view c, std::vector<TableEntry>& out, const std::string& what) {
  if (c.size() < 4) throw corrupt(what + ": block of " + std::to_string(c.size()) + " bytes");
  const std::uint64_t restarts = le32(c.data() + c.size() - 4);
  if (restarts == 0 || restarts > (c.size() - 4) / 4)
    throw corrupt(what + ": " + std::to_string(restarts) + " restart points in a block of " +
                  std::to_string(c.size()) + " bytes");
  const std::size_t end = c.size() - 4 * (restarts + 1);
  const std::string_view body = c.substr(0, end);
  std::string key;
  std::size_t pos = 0;
  while (pos < body.size()) {
    const std::uint64_t shared = read_varint(body, pos, 5, what.c_str());
    const std::uint64_t unshared = read_varint(body, pos, 5, what.c_str());
    const std::uint64_t value_len = read_varint(body, pos, 5, what.c_str());
    if (shared > key.size())
      throw corrupt(what + ": entry shares " + std::to_string(shared) +
                    " bytes with a previous key of " + std::to_string(key.size()));
    if (unshared > body.size() - pos || value_len > body.size() - pos - unshared)
      throw corrupt(what + ": entry runs past the end of its block");
    std::string next = key.substr(0, static_cast<std::size_t>(shared));
    next.append(body.substr(pos, static_cast<std::size_t>(unshared)));
    pos += static_cast<std::size_t>(unshared);
    if (!out.empty() && next <= out.back().key) throw corrupt(what + ": keys out of order");
    if (out.size() >= kMaxEntries)
      throw corrupt(what + ": more than " + std::to_string(kMaxEntries) + " entries");
    out.push_back({next, std::string(body.substr(pos, static_cast<std::size_t>(value_len)))});
    pos += static_cast<std::size_t>(value_len);
    key = std::move(next);
  }
}

std::vector<TableEntry> read_table(std::string_view file) {
  if (file.size() < kFooterSize)
    throw corrupt("index: file of " + std::to_string(file.size()) +
                  " bytes is too short for a table footer");
  const std::string_view footer = file.substr(file.size() - kFooterSize);
  const std::uint64_t magic = static_cast<std::uint64_t>(le32(footer.data() + 40)) |
                              static_cast<std::uint64_t>(le32(footer.data() + 44)) << 32;
  if (magic != kMagic) throw corrupt("index: not a TensorFlow table (bad footer magic)");
  std::size_t pos = 0;
  const std::string_view handles = footer.substr(0, 40);
  const Handle meta = read_handle(handles, pos, "index: footer");
  const Handle index = read_handle(handles, pos, "index: footer");
  // TF ignores the padding and never reads the (always empty) metaindex block; keras64 checks
  // both, so that no byte of an index can change unnoticed.
  if (handles.find_first_not_of('\0', pos) != std::string_view::npos)
    throw corrupt("index: footer padding is not zero");
  std::vector<TableEntry> meta_entries;
  parse_block(read_block(file, meta.offset, meta.size, "index: metaindex block"), meta_entries,
              "index: metaindex block");
  const std::string index_block = read_block(file, index.offset, index.size, "index: index block");
  std::vector<TableEntry> blocks;
  parse_block(index_block, blocks, "index: index block");
  std::vector<TableEntry> out;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const std::string what = "index: data block " + std::to_string(i);
    std::size_t hp = 0;
    const Handle h = read_handle(blocks[i].value, hp, what.c_str());
    const std::size_t before = out.size();
    parse_block(read_block(file, h.offset, h.size, what), out, what);
    // The index key separates blocks: every key of block i is <= it (table.cc seeks by it).
    if (out.size() > before && out.back().key > blocks[i].key)
      throw corrupt(what + ": key '" + out.back().key + "' is past its index key");
  }
  return out;
}

}  // namespace keras64::detail::tf
