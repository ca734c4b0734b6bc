#include "detail/hdf5/messages.hpp"

#include <string>

namespace keras64::detail::hdf5 {
namespace {

constexpr unsigned kMaxRank = 32;

std::string class_name(unsigned cls) {
  static const char* const kNames[] = {"fixed-point", "floating-point",  "time",     "string",
                                       "bitfield",    "opaque",          "compound", "reference",
                                       "enum",        "variable-length", "array"};
  return cls < 11 ? kNames[cls] : "class " + std::to_string(cls);
}

void check_float_layout(Cursor& c, std::uint32_t size, unsigned sign_bit, unsigned norm) {
  const unsigned offset = c.u16(), precision = c.u16();
  const unsigned exp_loc = c.u8(), exp_size = c.u8(), mant_loc = c.u8(), mant_size = c.u8();
  const std::uint32_t bias = c.u32();
  struct Ieee {
    unsigned exp_loc, exp_size, mant_size;
    std::uint32_t bias;
  };
  const Ieee ieee = size == 2   ? Ieee{10, 5, 10, 15}
                    : size == 4 ? Ieee{23, 8, 23, 127}
                                : Ieee{52, 11, 52, 1023};
  if (offset != 0 || precision != size * 8 || exp_loc != ieee.exp_loc ||
      exp_size != ieee.exp_size || mant_loc != 0 || mant_size != ieee.mant_size ||
      bias != ieee.bias || sign_bit != size * 8 - 1 || norm != 2)
    unsupported("non-IEEE " + std::to_string(size * 8) + "-bit floating-point layout");
}

Datatype parse_datatype_at(Cursor& c, int depth) {
  const std::uint8_t cv = c.u8();
  const unsigned cls = cv & 0x0f, version = cv >> 4;
  if (version == 0) corrupt("datatype: version 0");
  if (version > 3) unsupported("datatype message version " + std::to_string(version));
  const std::uint32_t bits = c.u8() | (std::uint32_t{c.u8()} << 8) | (std::uint32_t{c.u8()} << 16);
  Datatype t;
  t.size = c.u32();
  switch (cls) {
    case 0: {  // fixed-point
      t.cls = Datatype::integer;
      t.big_endian = bits & 1;
      t.is_signed = bits & 8;
      const unsigned offset = c.u16(), precision = c.u16();
      if (t.size != 1 && t.size != 2 && t.size != 4 && t.size != 8)
        unsupported(std::to_string(t.size) + "-byte integer");
      if (offset != 0 || precision != t.size * 8)
        unsupported("integer with bit offset " + std::to_string(offset) + " and precision " +
                    std::to_string(precision));
      return t;
    }
    case 1: {  // floating-point
      t.cls = Datatype::floating;
      if (bits & 0x40) unsupported("VAX-order floating-point");
      t.big_endian = bits & 1;
      if (t.size != 2 && t.size != 4 && t.size != 8)
        unsupported(std::to_string(t.size) + "-byte floating-point");
      check_float_layout(c, t.size, (bits >> 8) & 0xff, (bits >> 4) & 3);
      return t;
    }
    case 3:  // fixed-length string
      t.cls = Datatype::string;
      t.string_pad = bits & 0x0f;
      t.utf8 = ((bits >> 4) & 0x0f) == 1;
      if (t.size == 0) corrupt("datatype: string of size 0");
      return t;
    case 5: {  // opaque: an ASCII tag, NUL-padded to a multiple of 8
      t.cls = Datatype::opaque;
      const std::size_t len = bits & 0xff;
      const auto* tag = c.take(len);
      std::size_t n = 0;
      while (n < len && tag[n] != 0) ++n;
      t.tag.assign(reinterpret_cast<const char*>(tag), n);
      if (t.size == 0) corrupt("datatype: opaque of size 0");
      return t;
    }
    case 8: {  // enum: a base type, then member names and values we do not need
      if (depth > 0) unsupported("nested enum");
      const Datatype base = parse_datatype_at(c, depth + 1);
      if (base.cls != Datatype::integer || base.size != t.size)
        unsupported("enum over " + std::to_string(base.size) + "-byte non-integer base");
      t.cls = Datatype::enumeration;
      t.big_endian = base.big_endian;
      t.is_signed = base.is_signed;
      return t;
    }
    case 9: {  // variable-length
      if ((bits & 0x0f) != 1) unsupported("variable-length sequence");
      if (depth > 0) unsupported("nested variable-length string");
      t.cls = Datatype::vlen_string;
      t.string_pad = (bits >> 4) & 0x0f;
      t.utf8 = ((bits >> 8) & 0x0f) == 1;
      if (t.size != 16)
        corrupt("datatype: variable-length string of size " + std::to_string(t.size));
      return t;
    }
    default:
      unsupported(class_name(cls) + " datatype");
  }
}

std::string take_name(Cursor& c, std::size_t n, const char* what) {
  const auto* p = c.take(n);
  std::size_t len = 0;
  while (len < n && p[len] != 0) ++len;
  if (len == 0) corrupt(std::string(what) + ": empty name");
  return std::string(reinterpret_cast<const char*>(p), len);
}

}  // namespace

Dataspace parse_dataspace(const std::uint8_t* p, std::size_t n) {
  Cursor c(p, n, "dataspace message");
  const unsigned version = c.u8();
  const unsigned rank = c.u8();
  const unsigned flags = c.u8();
  if (version == 1) {
    c.skip(5);
  } else if (version == 2) {
    const unsigned type = c.u8();
    if (type == 2) unsupported("null dataspace");
    if (type > 2) corrupt("dataspace: unknown type " + std::to_string(type));
    if (type == 0 && rank != 0) corrupt("dataspace: scalar with rank " + std::to_string(rank));
  } else {
    unsupported("dataspace message version " + std::to_string(version));
  }
  if (rank > kMaxRank) corrupt("dataspace: rank " + std::to_string(rank));
  Dataspace s;
  for (unsigned i = 0; i < rank; ++i) {
    const std::uint64_t d = c.u64();
    s.dims.push_back(d);
    if (d != 0 && s.elements > (std::uint64_t{1} << 60) / d)
      corrupt("dataspace: element count overflows");
    s.elements *= d;
  }
  if (flags & 1)
    for (unsigned i = 0; i < rank; ++i)
      if (c.u64() < s.dims[i]) corrupt("dataspace: maximum dimension below the current one");
  return s;
}

Datatype parse_datatype(const std::uint8_t* p, std::size_t n) {
  Cursor c(p, n, "datatype message");
  return parse_datatype_at(c, 0);
}

Layout parse_layout(const std::uint8_t* p, std::size_t n) {
  Cursor c(p, n, "data layout message");
  const unsigned version = c.u8();
  if (version < 3 || version > 4)
    unsupported("data layout message version " + std::to_string(version));
  Layout l;
  const unsigned cls = c.u8();
  switch (cls) {
    case 0: {
      l.cls = Layout::compact;
      const std::size_t size = c.u16();
      const auto* d = c.take(size);
      l.compact_data.assign(d, d + size);
      l.size = size;
      return l;
    }
    case 1:
      l.cls = Layout::contiguous;
      l.address = c.u64();
      l.size = c.u64();
      return l;
    case 2: {
      if (version == 4) unsupported("chunk index of a version 4 data layout");
      l.cls = Layout::chunked;
      const unsigned dims = c.u8();
      if (dims < 2 || dims > kMaxRank + 1)
        corrupt("data layout: chunk dimensionality " + std::to_string(dims));
      l.address = c.u64();
      for (unsigned i = 0; i < dims; ++i) {
        l.chunk.push_back(c.u32());
        if (l.chunk.back() == 0) corrupt("data layout: chunk dimension of 0");
      }
      return l;
    }
    case 3:
      unsupported("virtual dataset layout");
    default:
      corrupt("data layout: unknown class " + std::to_string(cls));
  }
}

std::vector<Filter> parse_filters(const std::uint8_t* p, std::size_t n) {
  Cursor c(p, n, "filter pipeline message");
  const unsigned version = c.u8();
  if (version != 1 && version != 2)
    unsupported("filter pipeline message version " + std::to_string(version));
  const unsigned count = c.u8();
  if (count > 32) corrupt("filter pipeline: " + std::to_string(count) + " filters");
  if (version == 1) c.skip(6);
  std::vector<Filter> out;
  for (unsigned i = 0; i < count; ++i) {
    Filter f;
    f.id = c.u16();
    const unsigned name_len = (version == 1 || f.id >= 256) ? c.u16() : 0;
    c.skip(2);  // flags: optional or not, the data must be decoded either way
    const unsigned ncd = c.u16();
    c.skip(name_len);
    for (unsigned k = 0; k < ncd; ++k) f.client.push_back(c.u32());
    if (version == 1 && ncd % 2) c.skip(4);
    if (f.id < 1 || f.id > 3) unsupported("filter " + std::to_string(f.id));
    out.push_back(std::move(f));
  }
  return out;
}

Attribute parse_attribute(const std::uint8_t* p, std::size_t n) {
  Cursor c(p, n, "attribute message");
  const unsigned version = c.u8();
  if (version < 1 || version > 3)
    unsupported("attribute message version " + std::to_string(version));
  const unsigned flags = c.u8();
  if (version >= 2 && (flags & 3)) unsupported("shared attribute datatype or dataspace");
  const std::size_t name_size = c.u16(), type_size = c.u16(), space_size = c.u16();
  if (version == 3) c.skip(1);  // name charset
  const auto pad = [&](std::size_t s) { return version == 1 ? (s + 7) / 8 * 8 : s; };
  Attribute a;
  {
    const auto* start = c.here();
    c.skip(pad(name_size));
    Cursor name(start, name_size, "attribute name");
    a.name = take_name(name, name_size, "attribute");
  }
  {
    const auto* t = c.take(pad(type_size));
    a.type = parse_datatype(t, type_size);
  }
  {
    const auto* s = c.take(pad(space_size));
    a.space = parse_dataspace(s, space_size);
  }
  if (a.space.elements > c.remaining() / a.type.size)
    corrupt("attribute " + a.name + ": data truncated");
  const auto* d = c.take(a.space.elements * a.type.size);
  a.data.assign(d, d + a.space.elements * a.type.size);
  return a;
}

LinkMessage parse_link(const std::uint8_t* p, std::size_t n) {
  Cursor c(p, n, "link message");
  if (c.u8() != 1) unsupported("link message version");
  const unsigned flags = c.u8();
  if (flags & 0xe0) corrupt("link message: reserved flags set");
  unsigned type = 0;
  if (flags & 0x08) type = c.u8();
  LinkMessage l;
  if (flags & 0x04) l.creation_order = c.u64();
  if (flags & 0x10) c.skip(1);  // charset: names are bytes either way
  const std::size_t len = c.uint(std::size_t{1} << (flags & 3));
  if (len == 0 || len > c.remaining()) corrupt("link message: bad name length");
  l.name.assign(reinterpret_cast<const char*>(c.take(len)), len);
  if (l.name.find('\0') != std::string::npos) corrupt("link message: NUL in name");
  if (type == 0) {
    l.address = c.u64();
  } else if (type == 1 || type == 64 || type > 64) {
    l.hard = false;
  } else {
    corrupt("link message: unknown link type " + std::to_string(type));
  }
  return l;
}

LinkInfo parse_link_info(const std::uint8_t* p, std::size_t n) {
  Cursor c(p, n, "link info message");
  if (c.u8() != 0) unsupported("link info message version");
  const unsigned flags = c.u8();
  if (flags & 1) c.skip(8);
  LinkInfo li;
  li.heap = c.u64();
  li.name_index = c.u64();
  return li;
}

SymbolTable parse_symbol_table(const std::uint8_t* p, std::size_t n) {
  Cursor c(p, n, "symbol table message");
  SymbolTable s;
  s.btree = c.u64();
  s.heap = c.u64();
  return s;
}

void check_attribute_info(const std::uint8_t* p, std::size_t n) {
  Cursor c(p, n, "attribute info message");
  if (c.u8() != 0) unsupported("attribute info message version");
  const unsigned flags = c.u8();
  if (flags & 1) c.skip(2);
  if (c.u64() != kUndefined) unsupported("dense attribute storage");
}

}  // namespace keras64::detail::hdf5

namespace keras64::detail::hdf5 {

std::vector<std::uint8_t> parse_fill_value(const std::uint8_t* p, std::size_t n) {
  Cursor c(p, n, "fill value message");
  const unsigned version = c.u8();
  bool defined = false;
  if (version == 1 || version == 2) {
    c.skip(2);  // allocation and write times
    defined = c.u8() != 0;
    if (version == 1) defined = true;  // v1 always has the size field
  } else if (version == 3) {
    const unsigned flags = c.u8();
    defined = flags & 0x20;
  } else {
    unsupported("fill value message version " + std::to_string(version));
  }
  if (!defined || c.remaining() < 4) return {};
  const std::uint32_t size = c.u32();
  const auto* d = c.take(size);
  std::vector<std::uint8_t> out(d, d + size);
  bool zero = true;
  for (auto b : out) zero = zero && b == 0;
  return zero ? std::vector<std::uint8_t>{} : out;
}

}  // namespace keras64::detail::hdf5
