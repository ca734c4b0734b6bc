#include "sinks/h5_hyperslab_writer.hpp"

#include <algorithm>

#include "keras64/error.hpp"
#include "sinks/h5_write.hpp"

namespace keras64::detail {

void H5HyperslabWriter::open(hid_t file, const std::string& path, DType dtype, const Shape& shape) {
  reset();
  dset_ = h5::open_dataset(file, path);
  mtype_ = h5w::file_type(dtype);
  shape_ = shape;
  es_ = info(dtype).size;
}

void H5HyperslabWriter::append(const void* data, std::size_t n) {
  auto put = [&](const void* p, std::uint64_t count) {
    h5w::write_range(dset_.get(), mtype_.get(), shape_, done_, count, p);
    done_ += count;
  };
  const char* p = static_cast<const char*>(data);
  if (!carry_.empty()) {  // complete an element split between two writes
    const std::size_t take = std::min(es_ - carry_.size(), n);
    carry_.append(p, take);
    p += take;
    n -= take;
    if (carry_.size() < es_) return;
    put(carry_.data(), 1);
    carry_.clear();
  }
  const std::size_t whole = n / es_;
  if (whole) put(p, whole);
  carry_.assign(p + whole * es_, n - whole * es_);
}

void H5HyperslabWriter::close_tensor() {
  if (!carry_.empty()) throw Error(Errc::internal, "ended inside the data");
  reset();
}

void H5HyperslabWriter::reset() {
  dset_ = h5::Id();
  mtype_ = h5::Id();
  done_ = 0;
  carry_.clear();
}

}  // namespace keras64::detail
