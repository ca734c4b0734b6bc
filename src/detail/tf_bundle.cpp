#include "detail/tf_bundle.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "detail/crc32c.hpp"
#include "detail/tf_table.hpp"
#include "keras64/error.hpp"
#include "tensor_bundle.pb.h"

namespace fs = std::filesystem;

namespace keras64::detail::tf {
namespace {

constexpr std::uint64_t kMaxIndexFile = std::uint64_t{256} << 20;
constexpr std::uint32_t kMaxShards = 100000;
constexpr int kMaxRank = 64;
constexpr std::size_t kVerifyChunk = std::size_t{1} << 20;
constexpr int kBundleVersion = 1;  // tensor_bundle.h kTensorBundleVersion (producer and consumer)

// OrderedCode (tensorflow/core/lib/strings/ordered_code.cc).
void write_num_increasing(std::string& dst, std::uint64_t v) {
  unsigned char buf[9];
  int n = 0;
  while (v) {
    buf[8 - n++] = static_cast<unsigned char>(v & 0xff);
    v >>= 8;
  }
  buf[8 - n] = static_cast<unsigned char>(n);
  dst.append(reinterpret_cast<const char*>(buf + 8 - n), static_cast<std::size_t>(n) + 1);
}

void write_string(std::string& dst, const std::string& s) {
  for (char c : s) {
    if (c == '\0') {
      dst += '\0';
      dst += '\xff';
    } else if (c == '\xff') {
      dst += '\xff';
      dst += '\0';
    } else {
      dst += c;
    }
  }
  dst += '\0';
  dst += '\x01';
}

void write_signed_num_increasing(std::string& dst, std::int64_t val) {
  static const unsigned char kHeader[11][2] = {{0, 0},    {0x80, 0},    {0xc0, 0},   {0xe0, 0},
                                               {0xf0, 0}, {0xf8, 0},    {0xfc, 0},   {0xfe, 0},
                                               {0xff, 0}, {0xff, 0x80}, {0xff, 0xc0}};
  const std::uint64_t x = static_cast<std::uint64_t>(val < 0 ? ~val : val);
  if (x < 64) {
    dst += static_cast<char>(kHeader[1][0] ^ static_cast<unsigned char>(val));
    return;
  }
  unsigned char buf[10];
  const unsigned char sign = val < 0 ? 0xff : 0;
  buf[0] = buf[1] = sign;
  for (int i = 0; i < 8; ++i)
    buf[2 + i] = static_cast<unsigned char>(static_cast<std::uint64_t>(val) >> (56 - 8 * i));
  int bits = 0;  // bit length of x: len = ceil((bits + 1) / 7) (kBitsToLength)
  for (std::uint64_t t = x; t; t >>= 1) ++bits;
  const int len = (bits + 1 + 6) / 7;
  unsigned char* begin = buf + 10 - len;
  begin[0] ^= kHeader[len][0];
  begin[1] ^= kHeader[len][1];
  dst.append(reinterpret_cast<const char*>(begin), static_cast<std::size_t>(len));
}

std::uint32_t le32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace

std::optional<DType> to_dtype(int t) noexcept {
  switch (t) {
    case kFloat:
      return DType::f32;
    case kDouble:
      return DType::f64;
    case kHalf:
      return DType::f16;
    case kBfloat16:
      return DType::bf16;
    case kInt8:
      return DType::i8;
    case kInt16:
      return DType::i16;
    case kInt32:
      return DType::i32;
    case kInt64:
      return DType::i64;
    case kUint8:
      return DType::u8;
    case kUint16:
      return DType::u16;
    case kUint32:
      return DType::u32;
    case kUint64:
      return DType::u64;
    case kBool:
      return DType::boolean;
    default:
      return std::nullopt;
  }
}

std::string tf_type_name(int t) {
  static const char* names[] = {
      "DT_INVALID",    "DT_FLOAT",  "DT_DOUBLE",    "DT_INT32",   "DT_UINT8",   "DT_INT16",
      "DT_INT8",       "DT_STRING", "DT_COMPLEX64", "DT_INT64",   "DT_BOOL",    "DT_QINT8",
      "DT_QUINT8",     "DT_QINT32", "DT_BFLOAT16",  "DT_QINT16",  "DT_QUINT16", "DT_UINT16",
      "DT_COMPLEX128", "DT_HALF",   "DT_RESOURCE",  "DT_VARIANT", "DT_UINT32",  "DT_UINT64"};
  if (t >= 0 && t < static_cast<int>(sizeof names / sizeof names[0])) return names[t];
  return "DT_" + std::to_string(t);
}

std::string encode_slice_key(const std::string& name, const std::vector<Extent>& extents) {
  std::string k;
  write_num_increasing(k, 0);
  write_string(k, name);
  write_num_increasing(k, extents.size());
  for (const Extent& e : extents) {
    write_signed_num_increasing(k, e.length < 0 ? 0 : e.start);
    write_signed_num_increasing(k, e.length);
  }
  return k;
}

SliceRun slice_run(const BundleEntry& e, std::uint64_t first, std::uint64_t count) {
  const std::size_t rank = e.shape.size();
  std::vector<std::uint64_t> c(rank);
  std::uint64_t rest = first;
  for (std::size_t d = rank; d-- > 0;) {
    c[d] = rest % e.shape[d];
    rest /= e.shape[d];
  }
  auto lo = [&](std::size_t s, std::size_t d) -> std::uint64_t {
    const auto& x = e.slices[s][d];
    return x.length < 0 ? 0 : static_cast<std::uint64_t>(x.start);
  };
  auto hi = [&](std::size_t s, std::size_t d) -> std::uint64_t {
    const auto& x = e.slices[s][d];
    return x.length < 0 ? e.shape[d] : static_cast<std::uint64_t>(x.start + x.length);
  };
  std::size_t s = 0;
  for (; s < e.slices.size(); ++s) {
    bool in = true;
    for (std::size_t d = 0; d < rank && in; ++d) in = c[d] >= lo(s, d) && c[d] < hi(s, d);
    if (in) break;
  }
  if (s == e.slices.size())
    throw Error(Errc::corrupt, {"", "", e.key}, "no slice holds element " + std::to_string(first));
  // Axis j: the outermost axis from which every inner axis is covered whole.
  std::size_t j = rank ? rank - 1 : 0;
  while (j > 0 && lo(s, j) == 0 && hi(s, j) == e.shape[j]) --j;
  std::uint64_t inner = 1, within = 0;  // elements per step of axis j; position below it
  for (std::size_t d = rank; d-- > j + 1;) {
    within += c[d] * inner;
    inner *= e.shape[d];
  }
  SliceRun r;
  r.slice = s;
  r.length = std::min(count, rank ? (hi(s, j) - c[j]) * inner - within : std::uint64_t{1});
  for (std::size_t d = 0; d < rank; ++d) r.at = r.at * (hi(s, d) - lo(s, d)) + (c[d] - lo(s, d));
  return r;
}

Bundle::Bundle(const fs::path& prefix, std::string label) : label_(std::move(label)) {
  auto bad = [&](const std::string& why) { return Error(Errc::corrupt, {label_}, why); };
  const fs::path index_path = prefix.string() + ".index";
  std::string index;
  try {
    index = read_text_file(index_path, kMaxIndexFile);
  } catch (const Error& e) {
    throw e.within({label_});
  }
  std::vector<TableEntry> table;
  try {
    table = read_table(index);
  } catch (const Error& e) {
    throw e.within({label_});
  }
  if (table.empty() || !table[0].key.empty())
    throw bad("index: the first entry is not the bundle header (empty key)");
  tfproto::BundleHeaderProto header;
  if (!header.ParseFromString(table[0].value)) throw bad("index: bundle header does not parse");
  if (header.num_shards() < 1 || static_cast<std::uint32_t>(header.num_shards()) > kMaxShards)
    throw bad("index: bundle header gives " + std::to_string(header.num_shards()) + " shards");
  if (header.endianness() != 0 && header.endianness() != 1)
    throw bad("index: bundle header endianness " + std::to_string(header.endianness()));
  big_endian_ = header.endianness() == 1;
  if (header.has_version() && header.version().min_consumer() > kBundleVersion)
    throw Error(Errc::unsupported, {label_},
                "bundle format version " + std::to_string(header.version().min_consumer()) +
                    " needs a newer reader (keras64 reads version 1)");
  const auto nshards = static_cast<std::uint32_t>(header.num_shards());
  for (std::uint32_t i = 0; i < nshards; ++i) {
    char suffix[48];
    std::snprintf(suffix, sizeof suffix, ".data-%05u-of-%05u", i, nshards);
    const fs::path p = prefix.string() + suffix;
    try {
      shards_.push_back(File::open_read(p));
    } catch (const Error& e) {
      throw e.within({label_});
    }
    shard_sizes_.push_back(shards_.back().size());
  }

  for (std::size_t i = 1; i < table.size(); ++i) {
    BundleEntry e;
    e.key = std::move(table[i].key);
    const std::string at = "entry '" + e.key + "'";
    tfproto::BundleEntryProto pb;
    if (!pb.ParseFromString(table[i].value)) throw bad(at + ": BundleEntryProto does not parse");
    e.dtype = pb.dtype();
    if (pb.shape().unknown_rank()) throw bad(at + ": shape of unknown rank");
    if (pb.shape().dim_size() > kMaxRank)
      throw bad(at + ": shape of rank " + std::to_string(pb.shape().dim_size()));
    for (const auto& d : pb.shape().dim()) {
      if (d.size() < 0) throw bad(at + ": negative dimension " + std::to_string(d.size()));
      e.shape.push_back(static_cast<std::uint64_t>(d.size()));
    }
    std::uint64_t elements;
    try {
      elements = element_count(e.shape);
    } catch (const Error&) {
      throw bad(at + ": shape " + shape_string(e.shape) + " is too large");
    }
    if (pb.shard_id() < 0 || static_cast<std::uint32_t>(pb.shard_id()) >= nshards)
      throw bad(at + ": shard " + std::to_string(pb.shard_id()) + " of " + std::to_string(nshards));
    if (pb.offset() < 0 || pb.size() < 0) throw bad(at + ": negative offset or size");
    e.shard = static_cast<std::uint32_t>(pb.shard_id());
    e.offset = static_cast<std::uint64_t>(pb.offset());
    e.size = static_cast<std::uint64_t>(pb.size());
    e.crc = crc32c_unmask(pb.crc32c());
    e.is_slice = !e.key.empty() && e.key[0] == '\0';
    for (const auto& s : pb.slices()) {
      if (s.extent_size() != static_cast<int>(e.shape.size()))
        throw bad(at + ": a slice of rank " + std::to_string(s.extent_size()) + " for shape " +
                  shape_string(e.shape));
      std::vector<Extent> ext;
      for (int d = 0; d < s.extent_size(); ++d) {
        const auto& x = s.extent(d);
        Extent t;
        t.start = x.start();
        t.length =
            x.has_length_case() == tfproto::TensorSliceProto::Extent::kLength ? x.length() : -1;
        const auto dim = static_cast<std::int64_t>(e.shape[static_cast<std::size_t>(d)]);
        const bool full = t.length == -1 && t.start == 0;
        if (!full && (t.start < 0 || t.length < 0 || t.start > dim || t.length > dim - t.start))
          throw bad(at + ": slice extent [" + std::to_string(t.start) + ", +" +
                    std::to_string(t.length) + ") outside dimension " + std::to_string(d) + " of " +
                    shape_string(e.shape));
        ext.push_back(t);
      }
      e.slices.push_back(std::move(ext));
      if (e.slices.size() > kMaxEntries) throw bad(at + ": too many slices");
    }
    if (e.slices.empty()) {
      if (e.offset > shard_sizes_[e.shard] || e.size > shard_sizes_[e.shard] - e.offset)
        throw bad(at + ": data [" + std::to_string(e.offset) + ", +" + std::to_string(e.size) +
                  ") outside shard " + std::to_string(e.shard) + " (" +
                  std::to_string(shard_sizes_[e.shard]) + " bytes)");
      if (const auto dt = to_dtype(e.dtype)) {
        const std::uint64_t want = elements * keras64::info(*dt).size;
        if (want != e.size)
          throw bad(at + ": " + shape_string(e.shape) + " " + tf_type_name(e.dtype) + " is " +
                    std::to_string(want) + " bytes, the entry holds " + std::to_string(e.size));
      }
    }
    by_key_[e.key] = entries_.size();
    entries_.push_back(std::move(e));
  }

  // Partitioned tensors: find every slice, check it matches and that together they tile the
  // whole tensor (no overlap, element counts add up).
  for (auto& e : entries_) {
    if (e.slices.empty()) continue;
    const std::string at = "entry '" + e.key + "'";
    std::uint64_t total = 0;
    for (const auto& s : e.slices) {
      const std::string k = encode_slice_key(e.key, s);
      auto it = by_key_.find(k);
      if (it == by_key_.end()) throw bad(at + ": a slice's entry is missing");
      BundleEntry& se = entries_[it->second];
      Shape want;
      for (std::size_t d = 0; d < s.size(); ++d)
        want.push_back(s[d].length < 0 ? e.shape[d] : static_cast<std::uint64_t>(s[d].length));
      if (se.dtype != e.dtype || se.shape != want || !se.slices.empty())
        throw bad(at + ": slice entry has " + tf_type_name(se.dtype) + " " +
                  shape_string(se.shape) + ", expected " + tf_type_name(e.dtype) + " " +
                  shape_string(want));
      se.is_slice = true;
      se.slice_name = e.key + "[";
      for (std::size_t d = 0; d < s.size(); ++d)
        se.slice_name +=
            (d ? ", " : "") + (s[d].length < 0 ? std::string(":")
                                               : std::to_string(s[d].start) + ":" +
                                                     std::to_string(s[d].start + s[d].length));
      se.slice_name += "]";
      e.slice_entries.push_back(it->second);
      total += element_count(want);
    }
    for (std::size_t a = 0; a < e.slices.size(); ++a)
      for (std::size_t b = a + 1; b < e.slices.size(); ++b) {
        bool overlap = true;
        for (std::size_t d = 0; d < e.shape.size() && overlap; ++d) {
          const auto& x = e.slices[a][d];
          const auto& y = e.slices[b][d];
          const std::int64_t dim = static_cast<std::int64_t>(e.shape[d]);
          const std::int64_t x0 = x.length < 0 ? 0 : x.start,
                             x1 = x.length < 0 ? dim : x.start + x.length;
          const std::int64_t y0 = y.length < 0 ? 0 : y.start,
                             y1 = y.length < 0 ? dim : y.start + y.length;
          overlap = x0 < y1 && y0 < x1;
        }
        if (overlap) throw bad(at + ": two slices overlap");
      }
    if (total != element_count(e.shape))
      throw bad(at + ": its slices hold " + std::to_string(total) + " of " +
                std::to_string(element_count(e.shape)) + " elements");
  }
  verified_.assign(entries_.size(), false);
  streamed_.assign(entries_.size(), 0);
  running_.assign(entries_.size(), 0);
}

const BundleEntry* Bundle::find(const std::string& key) const {
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : &entries_[it->second];
}

ErrorContext Bundle::where(const BundleEntry& e) const {
  return {label_, "", e.slice_name.empty() ? e.key : e.slice_name};
}

void Bundle::verify(std::size_t i) {
  if (verified_[i]) return;
  const BundleEntry& e = entries_[i];
  buf_.resize(kVerifyChunk);
  std::uint32_t crc = 0;
  for (std::uint64_t done = 0; done < e.size;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kVerifyChunk, e.size - done));
    try {
      shards_[e.shard].pread_all(buf_.data(), n, e.offset + done);
    } catch (const Error& err) {
      throw err.within(where(e));
    }
    crc = crc32c_extend(crc, buf_.data(), n);
    done += n;
  }
  if (crc != e.crc) throw Error(Errc::corrupt, where(e), "data checksum mismatch (CRC32C)");
  verified_[i] = true;
}

void Bundle::read(std::size_t i, std::uint64_t first, std::uint64_t n, void* dst) {
  const BundleEntry& e = entries_[i];
  if (first > e.size || n > e.size - first)
    throw Error(Errc::internal, where(e), "read out of range");
  try {
    shards_[e.shard].pread_all(dst, static_cast<std::size_t>(n), e.offset + first);
  } catch (const Error& err) {
    throw err.within(where(e));
  }
  if (verified_[i]) return;
  if (first != streamed_[i]) {
    verify(i);  // out of order: the whole entry now (it covers the bytes just read)
    return;
  }
  // In order: the CRC is extended over the bytes as they pass, and compared when the last of
  // them has been read. A damaged entry read in several calls is thus reported at its end, after
  // its first bytes were handed out: convert() fails then, and its sinks, being atomic, leave
  // nothing behind.
  running_[i] = crc32c_extend(running_[i], dst, static_cast<std::size_t>(n));
  streamed_[i] += n;
  if (streamed_[i] == e.size) {
    if (running_[i] != e.crc)
      throw Error(Errc::corrupt, where(e), "data checksum mismatch (CRC32C)");
    verified_[i] = true;
  }
}

std::vector<std::string> Bundle::read_strings(std::size_t i, std::uint64_t max_bytes) {
  const BundleEntry& e = entries_[i];
  auto bad = [&](const std::string& why) { return Error(Errc::corrupt, where(e), why); };
  if (e.dtype != kString || !e.slices.empty()) throw bad("not a string tensor");
  if (e.size > max_bytes)
    throw bad("string tensor of " + std::to_string(e.size) + " bytes is over the limit of " +
              std::to_string(max_bytes));
  const std::uint64_t count = element_count(e.shape);
  std::string raw(static_cast<std::size_t>(e.size), '\0');
  try {
    shards_[e.shard].pread_all(raw.data(), raw.size(), e.offset);
  } catch (const Error& err) {
    throw err.within(where(e));
  }
  // n varint64 lengths, their masked CRC32C (over each length as a u32, u64 if it does not
  // fit, in the bundle's byte order; the CRC itself stored in that order), then the bytes. The
  // entry's CRC covers the lengths as hashed, the 4 CRC bytes as stored and the strings
  // (tensor_bundle.cc WriteStringTensor, ReadStringTensor's need_to_swap_bytes).
  std::size_t pos = 0;
  std::vector<std::uint64_t> lengths;
  std::uint32_t len_crc = 0;
  std::uint64_t sum = 0;
  for (std::uint64_t k = 0; k < count; ++k) {
    const std::uint64_t n = read_varint(raw, pos, 10, "string lengths");
    if (n > raw.size()) throw bad("string of " + std::to_string(n) + " bytes in a smaller entry");
    sum += n;
    if (n <= 0xffffffffu) {
      auto v = static_cast<std::uint32_t>(n);
      if (big_endian_) v = __builtin_bswap32(v);
      len_crc = crc32c_extend(len_crc, &v, 4);
    } else {
      const std::uint64_t v = big_endian_ ? __builtin_bswap64(n) : n;
      len_crc = crc32c_extend(len_crc, &v, 8);
    }
    lengths.push_back(n);
  }
  if (raw.size() - pos < 4 || sum != raw.size() - pos - 4)
    throw bad("string lengths do not add up to the entry's size");
  const std::uint32_t stored = le32(raw.data() + pos);
  if (crc32c_unmask(big_endian_ ? __builtin_bswap32(stored) : stored) != len_crc)
    throw bad("string lengths checksum mismatch (CRC32C)");
  std::uint32_t crc = crc32c_extend(len_crc, raw.data() + pos, 4);
  pos += 4;
  crc = crc32c_extend(crc, raw.data() + pos, raw.size() - pos);
  if (crc != e.crc) throw bad("data checksum mismatch (CRC32C)");
  std::vector<std::string> out;
  for (std::uint64_t n : lengths) {
    out.push_back(raw.substr(pos, static_cast<std::size_t>(n)));
    pos += static_cast<std::size_t>(n);
  }
  return out;
}

}  // namespace keras64::detail::tf
