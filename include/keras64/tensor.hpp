// keras64/tensor.hpp - element types, shapes and tensor metadata.
//
// TensorInfo describes one variable of a model: what it is called, where it lives in its file,
// its element type and shape. It never owns data; data moves through Source::read in chunks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keras64 {

/// Element types found in Keras weight files. Names follow numpy (`float32`, `int64`, `bool`).
enum class DType : std::uint8_t {
  f16,
  bf16,
  f32,
  f64,
  i8,
  i16,
  i32,
  i64,
  u8,
  u16,
  u32,
  u64,
  boolean
};

struct DTypeInfo {
  std::string_view name;       ///< numpy name: "float32", "bfloat16", "int32", "bool", ...
  std::uint8_t size;           ///< bytes per element
  std::string_view npy_descr;  ///< .npy descr of the little-endian form ("<f8", "|b1"); bf16: "<u2"
  std::string_view st_name;    ///< safetensors dtype name ("F64", "BF16", "I32", "BOOL")
  bool is_float;               ///< f16, bf16, f32, f64
};

/// Table entry for a dtype. Never fails.
const DTypeInfo& info(DType t) noexcept;
/// Parses a numpy-style name ("float64", "bfloat16", "int32", "bool"); nullopt if unknown.
std::optional<DType> parse_dtype(std::string_view name) noexcept;

using Shape = std::vector<std::uint64_t>;

/// Product of the dimensions; 1 for a scalar (empty shape), 0 if any dimension is 0.
/// Throws Error{corrupt} if the product or its size in bytes at 8 bytes per element overflows.
std::uint64_t element_count(const Shape& shape);
/// "(5, 10)", "()" for scalars, "(3,)" for rank 1 - numpy's spelling, used in messages.
std::string shape_string(const Shape& shape);

/// Which part of a saved model a tensor belongs to.
enum class Role : std::uint8_t { model, optimizer };
std::string_view role_name(Role r) noexcept;

/// Metadata of one tensor of a Source. Index in Source::tensors() is its get_weights() position
/// (model tensors first, then optimizer tensors if requested).
struct TensorInfo {
  /// Canonical name, unique within a source. For Keras 3 files it is the dataset path inside the
  /// native weights layout ("layers/dense/vars/0"); for legacy files "layer_name/weight_name";
  /// for keras64's own outputs the name recorded when they were written.
  std::string name;
  DType dtype = DType::f32;  ///< element type as stored in the file
  Shape shape;
  Role role = Role::model;
  /// Where it is, for messages and manifests: the file (and zip member) and the HDF5 path, e.g.
  /// file = "model.keras:model.weights.h5", dataset = "/layers/dense/vars/0". dataset may be empty.
  std::string file;
  std::string dataset;
  /// The layer it belongs to, by its Keras name ("dense", "shared"), when known; else empty.
  std::string layer;
  /// The Keras variable path ("mlp/dense/kernel") when the file records it; else empty.
  std::string keras_path;
  /// TensorFlow checkpoints and SavedModels: the tensor's key in the bundle
  /// ("layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"); empty for other formats.
  std::string key;

  std::uint64_t elements() const { return element_count(shape); }
  std::uint64_t nbytes() const { return elements() * info(dtype).size; }
  /// "file:dataset" (or just file) - the prefix of every error about this tensor.
  std::string where() const;
};

}  // namespace keras64
