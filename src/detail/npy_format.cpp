#include "detail/npy_format.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <optional>

#include "detail/file.hpp"
#include "keras64/error.hpp"

namespace keras64::detail {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;
constexpr std::size_t kAlign = 64;         // numpy.lib.format.ARRAY_ALIGN
constexpr std::size_t kGrowthDigits = 21;  // numpy.lib.format.GROWTH_AXIS_MAX_DIGITS

[[noreturn]] void corrupt(const std::string& what) {
  throw Error(Errc::corrupt, "npy header: " + what);
}

std::string quoted(std::string_view s) {
  // Shown in messages: keep control bytes of a hostile header out of the terminal.
  std::string out = "'";
  for (char c : s.substr(0, 40)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  if (s.size() > 40) out += "...";
  return out + "'";
}

std::optional<DType> dtype_for_code(std::string_view code) {
  // bfloat16 shares "<u2" with uint16; a file only ever says uint16.
  for (int i = 0; i <= static_cast<int>(DType::boolean); ++i) {
    const auto t = static_cast<DType>(i);
    if (t != DType::bf16 && info(t).npy_descr.substr(1) == code) return t;
  }
  return std::nullopt;
}

// A numpy array-protocol type string ("<c16", "|O", "<M8[ns]"): a dtype that exists but that
// keras64 has no use for, as opposed to garbage.
bool looks_like_typestr(std::string_view d) {
  if (d.size() < 2 || !std::strchr("<>|=", d[0]) || d[0] == '\0') return false;
  const auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!alpha(d[1])) return false;
  std::size_t i = 2;
  while (i < d.size() && digit(d[i])) ++i;
  if (i < d.size() && d[i] == '[') {
    ++i;
    while (i < d.size() && alpha(d[i])) ++i;
    if (i >= d.size() || d[i] != ']') return false;
    ++i;
  }
  return i == d.size();
}

// A recursive-descent reader for the one Python literal numpy writes. Positions in messages are
// byte offsets in the file (the dict starts after the magic, version and length).
class DictParser {
 public:
  DictParser(std::string_view text, std::size_t base) : s_(text), base_(base) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_order = false, have_shape = false;
    skip_ws();
    expect('{', "'{' opening the header dict");
    for (;;) {
      skip_ws();
      if (consume('}')) break;
      const std::size_t key_pos = pos_;
      const std::string_view key = string_literal("a key");
      skip_ws();
      expect(':', "':' after key " + quoted(key));
      skip_ws();
      if (key == "descr") {
        if (have_descr) fail_at(key_pos, "duplicate key 'descr'");
        have_descr = true;
        parse_descr(h);
      } else if (key == "fortran_order") {
        if (have_order) fail_at(key_pos, "duplicate key 'fortran_order'");
        have_order = true;
        h.fortran_order = bool_literal();
      } else if (key == "shape") {
        if (have_shape) fail_at(key_pos, "duplicate key 'shape'");
        have_shape = true;
        h.shape = shape_tuple();
      } else {
        fail_at(key_pos, "unexpected key " + quoted(key));
      }
      skip_ws();
      if (consume('}')) break;
      expect(',', "',' or '}' after the value of " + quoted(key));
    }
    skip_ws();
    if (pos_ != s_.size()) fail("unexpected bytes after the header dict");
    if (!have_descr) corrupt("missing key 'descr'");
    if (!have_order) corrupt("missing key 'fortran_order'");
    if (!have_shape) corrupt("missing key 'shape'");
    try {
      h.nbytes = element_count(h.shape) * info(h.dtype).size;  // bounded: cannot overflow
    } catch (const Error& e) {
      throw Error(e.code(), "npy header: " + e.message());
    }
    return h;
  }

 private:
  [[noreturn]] void fail_at(std::size_t pos, const std::string& what) const {
    corrupt(what + " at byte " + std::to_string(base_ + pos));
  }
  [[noreturn]] void fail(const std::string& what) const { fail_at(pos_, what); }

  static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  }
  void skip_ws() {
    while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
  }
  bool consume(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c, const std::string& what) {
    if (!consume(c)) fail("expected " + what);
  }

  std::string_view string_literal(const std::string& what) {
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) fail("expected " + what);
    const char q = s_[pos_++];
    const std::size_t start = pos_;
    // Escapes never occur in the strings numpy writes; refusing them keeps the value verbatim.
    while (pos_ < s_.size() && s_[pos_] != q) {
      if (s_[pos_] == '\\' || s_[pos_] == '\n') fail("unsupported character in string");
      ++pos_;
    }
    if (pos_ >= s_.size()) fail_at(start - 1, "unterminated string");
    return s_.substr(start, pos_++ - start);
  }

  bool bool_literal() {
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail("expected True or False for 'fortran_order'");
  }

  void parse_descr(NpyHeader& h) {
    if (pos_ < s_.size() && (s_[pos_] == '[' || s_[pos_] == '('))
      throw Error(Errc::unsupported, "npy header: structured dtypes are not supported (byte " +
                                         std::to_string(base_ + pos_) + ")");
    const std::size_t at = pos_;
    const std::string_view d = string_literal("a dtype string for 'descr'");
    const std::optional<DType> t = d.size() >= 2 ? dtype_for_code(d.substr(1)) : std::nullopt;
    const char order = d.empty() ? '\0' : d[0];
    const bool order_ok = order == '<' || order == '>' || (order == '|' && t && info(*t).size == 1);
    if (!t || !order_ok) {
      if (looks_like_typestr(d))
        throw Error(Errc::unsupported, "npy header: unsupported dtype " + quoted(d) + " at byte " +
                                           std::to_string(base_ + at));
      fail_at(at, "invalid dtype " + quoted(d));
    }
    h.dtype = *t;
    h.big_endian = order == '>' && info(*t).size > 1;
  }

  std::uint64_t integer() {
    const std::size_t start = pos_;
    std::uint64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      const auto digit = static_cast<std::uint64_t>(s_[pos_] - '0');
      if (v > (std::numeric_limits<std::uint64_t>::max() - digit) / 10)
        fail_at(start, "dimension is too large");
      v = v * 10 + digit;
      ++pos_;
    }
    if (pos_ == start)
      fail(s_.substr(pos_, 1) == "-" ? "negative dimension" : "expected a dimension");
    if (pos_ < s_.size() && (s_[pos_] == 'L' || s_[pos_] == 'l')) ++pos_;  // Python 2 long
    return v;
  }

  Shape shape_tuple() {
    expect('(', "a tuple for 'shape'");
    Shape shape;
    skip_ws();
    if (consume(')')) return shape;
    for (;;) {
      if (shape.size() == kNpyMaxRank)
        fail("shape has more than " + std::to_string(kNpyMaxRank) + " dimensions");
      shape.push_back(integer());
      skip_ws();
      if (consume(')')) {
        // "(3)" is an int in Python, not a tuple; numpy rejects it too.
        if (shape.size() == 1) fail_at(pos_ - 1, "a 1-element shape needs a trailing comma");
        return shape;
      }
      expect(',', "',' or ')' in shape");
      skip_ws();
      if (consume(')')) return shape;
    }
  }

  std::string_view s_;
  std::size_t base_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string npy_header(std::string_view descr, const Shape& shape) {
  std::string dict = "{'descr': '";
  dict += descr;
  dict += "', 'fortran_order': False, 'shape': ";
  dict += shape_string(shape);  // numpy's repr of the shape tuple
  dict += ", }";
  if (!shape.empty()) {
    const std::size_t digits = std::to_string(shape[0]).size();
    if (digits < kGrowthDigits) dict.append(kGrowthDigits - digits, ' ');
  }
  // numpy's _wrap_header: pad with spaces so that magic + version + length + dict + '\n' is a
  // multiple of 64. Note the pad is 1..64, never 0 (64 - 0 % 64 = 64), as numpy computes it.
  const std::size_t hlen = dict.size() + 1;
  std::size_t len_bytes = 2;
  std::size_t padlen = kAlign - (kMagicLen + 2 + len_bytes + hlen) % kAlign;
  if (hlen + padlen > 0xFFFF) {
    len_bytes = 4;
    padlen = kAlign - (kMagicLen + 2 + len_bytes + hlen) % kAlign;
  }
  const std::uint64_t total = hlen + padlen;
  if (total > 0xFFFFFFFFu) throw Error(Errc::internal, "npy header is too large");

  std::string out(kMagic, kMagicLen);
  out += static_cast<char>(len_bytes == 2 ? 1 : 2);
  out += '\0';
  for (std::size_t i = 0; i < len_bytes; ++i) out += static_cast<char>((total >> (8 * i)) & 0xFF);
  out += dict;
  out.append(padlen, ' ');
  out += '\n';
  return out;
}

std::string npy_header(DType dtype, const Shape& shape) {
  return npy_header(info(dtype).npy_descr, shape);
}

std::uint64_t npy_header_length(const void* prefix, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(prefix);
  // memcmp with a null pointer is undefined even for length 0 (an empty file gives one).
  if (n > 0 && std::memcmp(p, kMagic, std::min(n, kMagicLen)) != 0)
    corrupt("not a .npy file (bad magic)");
  if (n < 8) corrupt("truncated (" + std::to_string(n) + " bytes)");
  const unsigned major = p[6], minor = p[7];
  if (major < 1 || major > 3 || minor != 0)
    throw Error(Errc::unsupported, "npy header: unsupported format version " +
                                       std::to_string(major) + "." + std::to_string(minor));
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  if (n < 8 + len_bytes) corrupt("truncated (" + std::to_string(n) + " bytes)");
  std::uint64_t hlen = 0;
  for (std::size_t i = 0; i < len_bytes; ++i) hlen |= std::uint64_t{p[8 + i]} << (8 * i);
  if (hlen > kNpyMaxHeaderBytes)
    corrupt("header length " + std::to_string(hlen) + " exceeds the limit of " +
            std::to_string(kNpyMaxHeaderBytes) + " bytes");
  return 8 + len_bytes + hlen;
}

NpyHeader parse_npy_header(const void* data, std::size_t n) {
  const std::uint64_t total = npy_header_length(data, n);
  if (n < total)
    corrupt("truncated: header needs " + std::to_string(total) + " bytes, have " +
            std::to_string(n));
  const std::size_t start = static_cast<const unsigned char*>(data)[6] == 1 ? 10 : 12;
  const std::string_view text(static_cast<const char*>(data) + start,
                              static_cast<std::size_t>(total) - start);
  NpyHeader h = DictParser(text, start).parse();
  h.data_offset = total;
  return h;
}

NpyHeader read_npy_header(const File& file) {
  try {
    std::array<unsigned char, kNpyPrefixBytes> prefix{};
    const std::size_t got = file.pread_some(prefix.data(), prefix.size(), 0);
    const std::uint64_t total = npy_header_length(prefix.data(), got);
    std::string buf(static_cast<std::size_t>(total), '\0');
    if (file.pread_some(buf.data(), buf.size(), 0) != buf.size())
      throw Error(Errc::corrupt, "truncated: file is shorter than its " + std::to_string(total) +
                                     "-byte npy header");
    return parse_npy_header(buf.data(), buf.size());
  } catch (const Error& e) {
    if (e.code() == Errc::io) throw;  // File already named the path
    throw e.within({file.path()});
  }
}

}  // namespace keras64::detail
