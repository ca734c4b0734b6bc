// Shared by every part of keras64's HDF5 reader: its two kinds of error and a bounds-checked
// little-endian cursor over bytes already read from the file.
//
// The reader understands the subset of the HDF5 File Format Specification 3.0 that Keras files
// use (docs/hdf5-reader.md). Damage is Error{corrupt}; a valid feature outside that subset is
// Error{unsupported} "unsupported HDF5 feature: X" - never a guess.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "keras64/error.hpp"

namespace keras64::detail::hdf5 {

/// The "undefined address" of 8-byte offsets (all bits set).
inline constexpr std::uint64_t kUndefined = ~std::uint64_t{0};

[[noreturn]] inline void corrupt(const std::string& what) {
  throw Error(Errc::corrupt, what);
}
[[noreturn]] inline void unsupported(const std::string& feature) {
  throw Error(Errc::unsupported, "unsupported HDF5 feature: " + feature);
}

/// Reads little-endian fields from [data, data + size); reading past the end is Error{corrupt}
/// "<what>: truncated", so a parser can never look beyond the structure it was given.
class Cursor {
 public:
  Cursor(const std::uint8_t* data, std::size_t size, std::string_view what)
      : p_(data), end_(data + size), what_(what) {}

  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
  std::size_t offset_from(const std::uint8_t* start) const {
    return static_cast<std::size_t>(p_ - start);
  }
  const std::uint8_t* here() const { return p_; }

  std::uint64_t uint(std::size_t n) {
    need(n);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{p_[i]} << (8 * i);
    p_ += n;
    return v;
  }
  std::uint8_t u8() { return static_cast<std::uint8_t>(uint(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(uint(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(uint(4)); }
  std::uint64_t u64() { return uint(8); }
  const std::uint8_t* take(std::size_t n) {
    need(n);
    const std::uint8_t* at = p_;
    p_ += n;
    return at;
  }
  void skip(std::size_t n) { take(n); }
  /// Skips to the next multiple of `align` bytes from `start`.
  void align(const std::uint8_t* start, std::size_t align) {
    const std::size_t off = offset_from(start);
    skip((align - off % align) % align);
  }
  void need(std::size_t n) const {
    if (n > remaining()) corrupt(std::string(what_) + ": truncated");
  }

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
  std::string_view what_;
};

/// `a + b`, or Error{corrupt} "<what>: ..." if it overflows.
inline std::uint64_t checked_add(std::uint64_t a, std::uint64_t b, std::string_view what) {
  if (a > ~std::uint64_t{0} - b) corrupt(std::string(what) + ": offset overflows");
  return a + b;
}

}  // namespace keras64::detail::hdf5
