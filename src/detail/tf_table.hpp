// TensorFlow's `.index` file: a LevelDB-style sorted table without filter blocks
// (tensorflow/core/lib/io/format.cc, block.cc, table.cc; the project brief's shared
// tf-checkpoint-format.md §2).
//
//   data block 0 .. data block n-1, metaindex block, index block, footer (48 bytes)
//   block on disk = contents, type u8 (0 raw, 1 snappy), masked CRC32C u32 of contents + type
//   contents      = entries (shared varint32, unshared varint32, value_len varint32, key delta,
//                   value), restarts u32[k], k u32
//
// The whole table is decoded at once into memory (an index holds one small entry per tensor):
// every block's CRC is checked, every length and offset is checked against what holds it, and
// keys must be strictly increasing. Failures are Error{corrupt} without a file prefix; callers add
// it. The layers are separate functions so they can be fuzzed and tested one by one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace keras64::detail::tf {

struct TableEntry {
  std::string key;
  std::string value;
};

/// Limits on hostile input: the largest block contents after decompression, and the most
/// entries a table may hold (TF writes one per tensor plus one per slice).
inline constexpr std::size_t kMaxBlock = std::size_t{64} << 20;
inline constexpr std::size_t kMaxEntries = std::size_t{1} << 22;

/// Reads a varint of up to `max_bytes` 7-bit groups at `pos`, advancing it. Error{corrupt}
/// "<what>: truncated varint" / "overlong varint" on failure.
std::uint64_t read_varint(std::string_view s, std::size_t& pos, int max_bytes, const char* what);

/// Uncompresses a raw snappy block (not the framed format) of at most `max_size` bytes.
std::string snappy_uncompress(std::string_view in, std::size_t max_size);

/// The contents of the block at [offset, offset + size) of `file` followed by its 5-byte trailer:
/// CRC checked, snappy blocks uncompressed. `what` names it in messages ("index block").
std::string read_block(std::string_view file, std::uint64_t offset, std::uint64_t size,
                       const std::string& what);

/// Appends the entries of one block's contents to `out`.
void parse_block(std::string_view contents, std::vector<TableEntry>& out, const std::string& what);

/// Every entry of the table held in `file`, in key order.
std::vector<TableEntry> read_table(std::string_view file);

}  // namespace keras64::detail::tf
