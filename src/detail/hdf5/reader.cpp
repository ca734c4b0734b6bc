#include "detail/hdf5/reader.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "detail/hdf5/byte_source.hpp"
#include "detail/hdf5/chunked.hpp"
#include "detail/hdf5/global_heap.hpp"
#include "detail/hdf5/superblock.hpp"

namespace keras64::detail::hdf5 {
namespace {

constexpr std::size_t kMaxDepth = 64;

Kind kind_of(const ObjectHeader& oh) {
  // libhdf5's order (H5O__obj_class_real): group, then dataset, then named datatype.
  if (is_group(oh)) return Kind::group;
  if (oh.find(kDatatype) && oh.find(kDataspace)) return Kind::dataset;
  return Kind::other;
}

void swap_bytes(std::uint8_t* p, std::uint64_t n, std::size_t size) {
  if (size <= 1) return;
  for (std::uint64_t i = 0; i < n; ++i, p += size) std::reverse(p, p + size);
}

DType integer_dtype(std::uint32_t size, bool is_signed) {
  switch (size) {
    case 1:
      return is_signed ? DType::i8 : DType::u8;
    case 2:
      return is_signed ? DType::i16 : DType::u16;
    case 4:
      return is_signed ? DType::i32 : DType::u32;
    default:
      return is_signed ? DType::i64 : DType::u64;
  }
}

}  // namespace

bool has_signature(const std::string& path) {
  static const std::uint8_t kSig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  bool found = false;
  std::uint8_t buf[8];
  for (long off = 0; off <= 8192 && !found; off = off ? off * 2 : 512) {
    if (std::fseek(f, off, SEEK_SET) != 0 || std::fread(buf, 1, 8, f) != 8) break;
    found = std::memcmp(buf, kSig, 8) == 0;
  }
  std::fclose(f);
  return found;
}

struct Reader::State {
  ByteSource src;
  ErrorContext where;  // the file (and member) this HDF5 file is
  Superblock sb;
  GlobalHeap gheap{src};
  ChunkedReader chunks{src, 32};

  State(ByteSource s, ErrorContext w) : src(std::move(s)), where(std::move(w)) {}

  // "file[:member]:/path: message", the code kept.
  template <class F>
  auto guarded(const std::string& path, F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const Error& e) {
      if (e.code() == Errc::io) throw;
      throw e.within({where.file, where.member, path});
    }
  }

  Object make(std::string path, std::uint64_t addr, std::vector<std::uint64_t> ancestors) {
    auto oh = std::make_shared<ObjectHeader>(read_object_header(src, addr));
    Object o;
    o.path = std::move(path);
    o.address = addr;
    o.kind = kind_of(*oh);
    o.header = std::move(oh);
    o.ancestors = std::move(ancestors);
    return o;
  }

  std::vector<Attribute> attributes(const Object& obj) {
    std::vector<Attribute> out;
    for (const auto& m : obj.header->messages) {
      if (m.type == kAttributeInfo) check_attribute_info(m.data, m.size);
      if (m.type == kAttribute) out.push_back(parse_attribute(m.data, m.size));
    }
    return out;
  }

  std::optional<Attribute> attribute(const Object& obj, std::string_view name) {
    for (const auto& m : obj.header->messages) {
      if (m.type == kAttributeInfo) check_attribute_info(m.data, m.size);
      if (m.type != kAttribute) continue;
      Attribute a = parse_attribute(m.data, m.size);
      if (a.name == name) return a;
    }
    return std::nullopt;
  }

  std::vector<std::string> strings(const Attribute& a) {
    std::vector<std::string> out;
    const auto n = static_cast<std::size_t>(a.space.elements);
    if (a.type.cls == Datatype::vlen_string) {
      for (std::size_t i = 0; i < n; ++i) out.push_back(gheap.vlen_string(a.data.data() + 16 * i));
    } else if (a.type.cls == Datatype::string) {
      for (std::size_t i = 0; i < n; ++i) {
        const char* p = reinterpret_cast<const char*>(a.data.data()) + i * a.type.size;
        std::size_t len = 0;
        while (len < a.type.size && p[len] != '\0') ++len;  // null-padded or null-terminated
        out.emplace_back(p, len);
      }
    } else if (n != 0) {
      corrupt("attribute " + a.name + " is not an array of strings");
    }
    return out;
  }

  Dataset dataset(const Object& obj) {
    if (obj.kind != Kind::dataset) corrupt("not a dataset");
    const ObjectHeader& oh = *obj.header;
    Dataset d;
    d.path = obj.path;
    d.address = obj.address;
    const Message* type = oh.find(kDatatype);
    const Message* space = oh.find(kDataspace);
    const Message* layout = oh.find(kLayout);
    if (!layout) corrupt("dataset has no data layout message");
    if (oh.find(kExternalFiles)) unsupported("external data files");
    d.type = parse_datatype(type->data, type->size);
    d.space = parse_dataspace(space->data, space->size);
    d.layout = parse_layout(layout->data, layout->size);
    if (const Message* f = oh.find(kFilterPipeline)) d.filters = parse_filters(f->data, f->size);
    if (const Message* f = oh.find(kFillValue)) d.fill = parse_fill_value(f->data, f->size);
    if (!d.filters.empty() && d.layout.cls != Layout::chunked)
      corrupt("filters on a dataset that is not chunked");
    DatasetInfo& info = d.info;
    info.shape.assign(d.space.dims.begin(), d.space.dims.end());
    auto unsupported_type = [](const std::string& what) {
      return Error(Errc::unsupported, "unsupported dataset type: " + what);
    };
    const std::uint32_t size = d.type.size;
    switch (d.type.cls) {
      case Datatype::floating:
        info.dtype = size == 2 ? DType::f16 : size == 4 ? DType::f32 : DType::f64;
        info.big_endian = d.type.big_endian;
        break;
      case Datatype::integer:
        info.dtype = integer_dtype(size, d.type.is_signed);
        info.big_endian = d.type.big_endian;
        break;
      case Datatype::enumeration:
        // h5py stores numpy bool as an int8 enum {FALSE = 0, TRUE = 1}.
        if (size != 1) throw unsupported_type("enum of " + std::to_string(size) + " bytes");
        info.dtype = DType::boolean;
        break;
      case Datatype::opaque: {
        // Keras writes bfloat16 as 2-byte OPAQUE plus a dtype="bfloat16" attribute; legacy .h5
        // files omit the attribute, but no other 2-byte opaque type is written by Keras.
        std::optional<std::string> tag;
        if (auto a = attribute(obj, "dtype")) {
          auto s = strings(*a);
          if (s.size() != 1) corrupt("attribute dtype is not a single string");
          tag = s.front();
        }
        if (size != 2 || (tag && *tag != "bfloat16"))
          throw unsupported_type("opaque " + std::to_string(size) + "-byte type" +
                                 (tag ? " '" + *tag + "'" : ""));
        info.dtype = DType::bf16;
        info.untagged_opaque = !tag;
        break;
      }
      default:
        throw unsupported_type(d.type.cls == Datatype::vlen_string ? "variable-length string"
                                                                   : "fixed-length string");
    }
    const std::uint64_t bytes = d.space.elements * size;
    if (d.layout.cls == Layout::contiguous) {
      if (d.layout.address != kUndefined) {
        if (d.layout.size != bytes)
          corrupt("contiguous data of " + std::to_string(d.layout.size) + " bytes, expected " +
                  std::to_string(bytes));
        src.check_range(d.layout.address, bytes, "dataset data");
        if (!info.big_endian) info.raw_offset = d.layout.address;
      }
    } else if (d.layout.cls == Layout::compact) {
      if (d.layout.compact_data.size() != bytes)
        corrupt("compact data of " + std::to_string(d.layout.size) + " bytes, expected " +
                std::to_string(bytes));
    }
    return d;
  }

  void read(const Dataset& d, std::uint64_t first, std::uint64_t count, void* out) {
    if (first > d.space.elements || count > d.space.elements - first)
      throw Error(Errc::internal, "element range beyond the dataset");
    if (count == 0) return;
    auto* dst = static_cast<std::uint8_t*>(out);
    const std::size_t es = d.type.size;
    switch (d.layout.cls) {
      case Layout::contiguous:
        if (d.layout.address == kUndefined) {
          // Never written: libhdf5 gives the fill value.
          std::memset(dst, 0, count * es);
          if (!d.fill.empty() && d.fill.size() == es)
            for (std::uint64_t i = 0; i < count; ++i) std::memcpy(dst + i * es, d.fill.data(), es);
        } else {
          src.read(d.layout.address + first * es, dst, count * es, "dataset data");
        }
        break;
      case Layout::compact:
        std::memcpy(dst, d.layout.compact_data.data() + first * es, count * es);
        break;
      case Layout::chunked:
        chunks.read(d.address, d.space, d.type, d.layout, d.filters, d.fill, first, count, dst);
        break;
    }
    if (d.info.big_endian) swap_bytes(dst, count, es);
  }
};

Reader::Reader(const std::string& path, const ErrorContext& where)
    : Reader(path, 0, kUndefined, where) {}

Reader::Reader(const std::string& path, std::uint64_t offset, std::uint64_t size,
               const ErrorContext& where) {
  // File-level failures name just the file: "model.keras:model.weights.h5: truncated: ...".
  try {
    auto src = size == kUndefined ? ByteSource(path) : ByteSource(path, offset, size);
    s_ = std::make_unique<State>(std::move(src), where);
    s_->sb = read_superblock(s_->src);
    s_->chunks.set_chunk_k(s_->sb.chunk_k);
  } catch (const Error& e) {
    if (e.code() == Errc::io || where.file.empty()) throw;
    throw e.within(where);
  }
}

Reader::~Reader() = default;
Reader::Reader(Reader&&) noexcept = default;
Reader& Reader::operator=(Reader&&) noexcept = default;

const ErrorContext& Reader::where() const {
  return s_->where;
}
std::uint64_t Reader::base() const {
  return s_->src.base();
}
std::uint64_t Reader::size() const {
  return s_->src.size();
}

Object Reader::root() {
  return s_->guarded("/", [&] { return s_->make("/", s_->sb.root, {}); });
}

Object Reader::child(const Object& group, const Link& link) {
  const std::string path = group.path == "/" ? "/" + link.name : group.path + "/" + link.name;
  return s_->guarded(path, [&] {
    std::vector<std::uint64_t> anc = group.ancestors;
    anc.push_back(group.address);
    if (std::find(anc.begin(), anc.end(), link.address) != anc.end()) corrupt("group cycle");
    if (anc.size() > kMaxDepth) corrupt("groups nested too deeply");
    return s_->make(path, link.address, std::move(anc));
  });
}

std::optional<Object> Reader::find(std::string_view path) {
  Object o = root();
  std::size_t pos = 0;
  while (pos < path.size()) {
    const std::size_t slash = std::min(path.find('/', pos), path.size());
    const std::string_view part = path.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (o.kind != Kind::group) return std::nullopt;
    const auto ls = links(o);
    auto it = std::lower_bound(ls.begin(), ls.end(), part,
                               [](const Link& l, std::string_view n) { return l.name < n; });
    if (it == ls.end() || it->name != part) return std::nullopt;
    o = child(o, *it);
  }
  return o;
}

std::vector<Link> Reader::links(const Object& group) {
  return s_->guarded(group.path, [&] {
    if (group.kind != Kind::group) corrupt("not a group");
    return read_links(s_->src, s_->sb, *group.header);
  });
}

std::vector<Attribute> Reader::attributes(const Object& obj) {
  return s_->guarded(obj.path, [&] { return s_->attributes(obj); });
}

std::optional<Attribute> Reader::attribute(const Object& obj, std::string_view name) {
  return s_->guarded(obj.path, [&] { return s_->attribute(obj, name); });
}

std::vector<std::string> Reader::strings(const Object& obj, const Attribute& a) {
  return s_->guarded(obj.path, [&] { return s_->strings(a); });
}

std::optional<std::string> Reader::string_attr(const Object& obj, std::string_view name) {
  return s_->guarded(obj.path, [&]() -> std::optional<std::string> {
    auto a = s_->attribute(obj, name);
    if (!a) return std::nullopt;
    if (a->type.cls != Datatype::string && a->type.cls != Datatype::vlen_string)
      corrupt("attribute " + a->name + " is not a string");
    auto s = s_->strings(*a);
    if (s.size() != 1) corrupt("attribute " + a->name + " is not a single string");
    return s.front();
  });
}

std::vector<std::string> Reader::string_array_attr(const Object& obj, std::string_view name) {
  return s_->guarded(obj.path, [&] {
    auto a = s_->attribute(obj, name);
    if (!a) corrupt("no attribute " + std::string(name));
    return s_->strings(*a);
  });
}

std::vector<double> Reader::numbers(const Object& obj, const Attribute& a) {
  return s_->guarded(obj.path, [&] {
    std::vector<double> out;
    const std::size_t es = a.type.size;
    for (std::size_t i = 0; i < a.space.elements; ++i) {
      std::uint8_t b[8] = {};
      std::memcpy(b, a.data.data() + i * es, es);
      if (a.type.big_endian) std::reverse(b, b + es);
      std::uint64_t u = 0;
      std::memcpy(&u, b, 8);
      switch (a.type.cls) {
        case Datatype::floating:
          if (es == 8) {
            double v;
            std::memcpy(&v, b, 8);
            out.push_back(v);
          } else if (es == 4) {
            float v;
            std::memcpy(&v, b, 4);
            out.push_back(v);
          } else {
            corrupt("attribute " + a.name + ": 16-bit float attributes are not read");
          }
          break;
        case Datatype::integer:
        case Datatype::enumeration:
          if (a.type.is_signed && es < 8 && (u >> (8 * es - 1)) & 1)
            u |= ~std::uint64_t{0} << (8 * es);
          out.push_back(a.type.is_signed ? static_cast<double>(static_cast<std::int64_t>(u))
                                         : static_cast<double>(u));
          break;
        default:
          corrupt("attribute " + a.name + " is not numeric");
      }
    }
    return out;
  });
}

Dataset Reader::dataset(const Object& obj) {
  return s_->guarded(obj.path, [&] { return s_->dataset(obj); });
}

void Reader::read(const Dataset& d, std::uint64_t first, std::uint64_t count, void* dst) {
  s_->guarded(d.path, [&] { s_->read(d, first, count, dst); });
}

}  // namespace keras64::detail::hdf5
