// Decoders for the object header messages Keras files use (spec IV.A.2): dataspace, datatype,
// data layout, filter pipeline, attribute, link, link info and symbol table. Each takes the
// message body and either returns a value that is safe to use (dimensions multiply without
// overflow, sizes are plausible) or throws Error{corrupt} / Error{unsupported}.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "detail/hdf5/object_header.hpp"
#include "detail/hdf5/parse.hpp"

namespace keras64::detail::hdf5 {

/// Dataspace (IV.A.2.b), versions 1 and 2, scalar or simple of rank <= 32.
struct Dataspace {
  std::vector<std::uint64_t> dims;  ///< empty for a scalar
  std::uint64_t elements = 1;
};
Dataspace parse_dataspace(const std::uint8_t* p, std::size_t n);

/// Datatype (IV.A.2.d) classes keras64 reads. Anything else is Error{unsupported}.
struct Datatype {
  enum Class { integer, floating, string, vlen_string, opaque, enumeration };
  Class cls = integer;
  std::uint32_t size = 0;  ///< bytes per element (16 for a variable-length string)
  bool big_endian = false;
  bool is_signed = false;   ///< integer, or the base of an enum
  bool utf8 = false;        ///< strings
  unsigned string_pad = 0;  ///< 0 null-terminated, 1 null-padded, 2 space-padded
  std::string tag;          ///< opaque
};
Datatype parse_datatype(const std::uint8_t* p, std::size_t n);

/// Data layout (IV.A.2.i) version 3, and version 4 with a contiguous or compact layout.
struct Layout {
  enum Class { compact, contiguous, chunked };
  Class cls = contiguous;
  std::uint64_t address = kUndefined;  ///< contiguous data / chunk B-tree
  std::uint64_t size = 0;              ///< contiguous data bytes
  std::vector<std::uint8_t> compact_data;
  std::vector<std::uint32_t> chunk;  ///< chunk dims, the element size last (rank + 1 entries)
};
Layout parse_layout(const std::uint8_t* p, std::size_t n);

/// Filter pipeline (IV.A.2.l) versions 1 and 2; only deflate (1), shuffle (2) and fletcher32 (3).
struct Filter {
  std::uint16_t id = 0;
  std::vector<std::uint32_t> client;
};
std::vector<Filter> parse_filters(const std::uint8_t* p, std::size_t n);

/// Attribute (IV.A.2.m) versions 1-3, not shared. `data` holds the raw element bytes
/// (elements x type size, checked).
struct Attribute {
  std::string name;
  Datatype type;
  Dataspace space;
  std::vector<std::uint8_t> data;
};
Attribute parse_attribute(const std::uint8_t* p, std::size_t n);

/// Link (IV.A.2.g), version 1. `hard` is false for soft, external and user-defined links, whose
/// targets keras64 never follows.
struct LinkMessage {
  std::string name;
  bool hard = true;
  std::uint64_t address = kUndefined;
  std::optional<std::uint64_t> creation_order;
};
LinkMessage parse_link(const std::uint8_t* p, std::size_t n);

/// Link info (IV.A.2.c), version 0: where a dense group's links are.
struct LinkInfo {
  std::uint64_t heap = kUndefined;        ///< fractal heap holding the link messages
  std::uint64_t name_index = kUndefined;  ///< v2 B-tree (type 5) over them
};
LinkInfo parse_link_info(const std::uint8_t* p, std::size_t n);

/// Symbol table (IV.A.2.r): an old-style group's B-tree and local heap.
struct SymbolTable {
  std::uint64_t btree = kUndefined;
  std::uint64_t heap = kUndefined;
};
SymbolTable parse_symbol_table(const std::uint8_t* p, std::size_t n);

/// Attribute info (IV.A.2.v): Error{unsupported} if attributes are stored densely.
void check_attribute_info(const std::uint8_t* p, std::size_t n);

}  // namespace keras64::detail::hdf5

namespace keras64::detail::hdf5 {

/// Fill value (IV.A.2.f) versions 1-3: the defined fill value's bytes, or {} (zeros).
std::vector<std::uint8_t> parse_fill_value(const std::uint8_t* p, std::size_t n);

}  // namespace keras64::detail::hdf5
