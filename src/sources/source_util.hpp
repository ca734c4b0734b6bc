// Small pieces every Source implementation shares.
#pragma once

#include <cstdint>
#include <vector>

#include "keras64/error.hpp"
#include "keras64/tensor.hpp"

namespace keras64::detail {

/// The tensor a Source::read() call names, after checking the index and that [first, first +
/// count) lies inside it. A bad call is a bug in the caller: Error{internal} naming the tensor.
inline const TensorInfo& checked_read(const std::vector<TensorInfo>& tensors, std::size_t index,
                                      std::uint64_t first, std::uint64_t count) {
  if (index >= tensors.size())
    throw Error(Errc::internal, "read of tensor " + std::to_string(index) + " of " +
                                    std::to_string(tensors.size()));
  const TensorInfo& t = tensors[index];
  if (first + count > t.elements() || first + count < first)
    throw Error(Errc::internal, t.where() + ": read out of range");
  return t;
}

}  // namespace keras64::detail
