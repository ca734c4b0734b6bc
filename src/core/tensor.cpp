#include "keras64/tensor.hpp"

#include <array>

#include "keras64/error.hpp"

namespace keras64 {
namespace {

// Indexed by DType. bfloat16 has no numpy dtype; where numpy must read it, it is stored as its
// uint16 bit pattern (the golden expected/*.npz files do the same).
constexpr std::array<DTypeInfo, 13> kTable = {{
    {"float16", 2, "<f2", "F16", true},
    {"bfloat16", 2, "<u2", "BF16", true},
    {"float32", 4, "<f4", "F32", true},
    {"float64", 8, "<f8", "F64", true},
    {"int8", 1, "|i1", "I8", false},
    {"int16", 2, "<i2", "I16", false},
    {"int32", 4, "<i4", "I32", false},
    {"int64", 8, "<i8", "I64", false},
    {"uint8", 1, "|u1", "U8", false},
    {"uint16", 2, "<u2", "U16", false},
    {"uint32", 4, "<u4", "U32", false},
    {"uint64", 8, "<u8", "U64", false},
    {"bool", 1, "|b1", "BOOL", false},
}};

}  // namespace

const DTypeInfo& info(DType t) noexcept {
  return kTable[static_cast<std::size_t>(t)];
}

std::optional<DType> parse_dtype(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kTable.size(); ++i)
    if (kTable[i].name == name) return static_cast<DType>(i);
  return std::nullopt;
}

std::uint64_t element_count(const Shape& shape) {
  // Bound the product so that count * 8 bytes fits in 63 bits: a hostile header can then never
  // make a size computation wrap.
  constexpr std::uint64_t kMax = (std::uint64_t{1} << 60);
  std::uint64_t n = 1;
  bool zero = false;
  for (auto d : shape) {
    if (d == 0) {
      zero = true;
      continue;
    }
    if (d > kMax || n > kMax / d)
      throw Error(Errc::corrupt, "shape " + shape_string(shape) + " is too large");
    n *= d;
  }
  return zero ? 0 : n;
}

std::string shape_string(const Shape& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

std::string_view role_name(Role r) noexcept {
  return r == Role::model ? "model" : "optimizer";
}

std::string TensorInfo::where() const {
  if (dataset.empty()) return file;
  if (file.empty()) return dataset;
  return file + ":" + dataset;
}

}  // namespace keras64
