// An in-memory Source for tests: tensors are given with their stored bytes.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "keras64/error.hpp"
#include "keras64/source.hpp"

namespace keras64::test {

class FakeSource final : public Source {
 public:
  explicit FakeSource(
      SourceInfo info = {"fake.keras", SourceKind::keras3, "3.15.1", "fake", true, "", {}})
      : info_(std::move(info)) {}

  /// Adds a tensor; `bytes` must hold info.nbytes() bytes (little-endian, stored dtype).
  FakeSource& add(TensorInfo t, std::vector<unsigned char> bytes) {
    if (bytes.size() != t.nbytes()) throw Error(Errc::internal, "FakeSource: wrong byte count");
    tensors_.push_back(std::move(t));
    data_.push_back(std::move(bytes));
    return *this;
  }

  const SourceInfo& info() const override { return info_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  const std::vector<unsigned char>& bytes(std::size_t i) const { return data_[i]; }

  void read(std::size_t index, std::uint64_t first, std::uint64_t count, void* dst) override {
    const std::size_t size = keras64::info(tensors_.at(index).dtype).size;
    const auto& d = data_.at(index);
    if ((first + count) * size > d.size()) throw Error(Errc::internal, "FakeSource: read past end");
    if (count) std::memcpy(dst, d.data() + first * size, count * size);
  }

 private:
  SourceInfo info_;
  std::vector<TensorInfo> tensors_;
  std::vector<std::vector<unsigned char>> data_;
};

/// Little-endian bytes of a vector of trivially copyable values (the test hosts are little-endian).
template <class T>
std::vector<unsigned char> bytes_of(const std::vector<T>& v) {
  std::vector<unsigned char> out(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(out.data(), v.data(), out.size());
  return out;
}

}  // namespace keras64::test
