#include "sinks/h5_chunk_writer.hpp"

#include <algorithm>
#include <cstring>

#include "keras64/error.hpp"

namespace keras64::detail {
namespace {

constexpr std::uint64_t kChunkBytes = 1u << 20;  // target size of one compressed chunk

}  // namespace

Chunking plan_chunks(const Shape& shape, std::uint64_t es, std::vector<hsize_t>& dims) {
  // Chunks of at most kChunkBytes shaped [1, ..., 1, c, d_j+1, ..., d_n-1]: each is one flat
  // (row-major) range of the tensor, so it is cut from the stream as the data arrive.
  std::size_t j = shape.size() - 1;
  std::uint64_t trailing = 1;  // elements per step along axis j
  while (j > 0 && trailing * shape[j] * es <= kChunkBytes) trailing *= shape[j--];
  dims.assign(shape.size(), 1);
  dims[j] =
      std::max<std::uint64_t>(1, std::min<std::uint64_t>(shape[j], kChunkBytes / (trailing * es)));
  for (std::size_t k = j + 1; k < shape.size(); ++k) dims[k] = shape[k];
  return {j, dims[j], trailing};
}

H5ChunkWriter::H5ChunkWriter(hid_t file, std::string shown, int level, unsigned threads)
    : file_(file),
      shown_(std::move(shown)),
      chunks_(level, threads,
              [this](std::uint64_t, const void* z, std::size_t zn) { write_chunk(z, zn); }) {}

void H5ChunkWriter::open(const std::string& path, const Shape& shape, std::uint64_t es,
                         const Chunking& c) {
  path_ = path;
  shape_ = shape;
  es_ = es;
  c_ = c;
  at_ = 0;
  used_ = 0;
}

void H5ChunkWriter::append(const unsigned char* p, std::size_t n) {
  const std::uint64_t axis_len = shape_[c_.axis];
  const std::uint64_t row = c_.trailing * es_;  // bytes per step along the chunk axis
  const std::uint64_t full = c_.step * row;     // bytes of a whole chunk
  while (n > 0) {
    // This chunk holds at_'s steps along the axis up to the axis end or the chunk's size.
    const std::uint64_t flat_row = at_ / c_.trailing;  // steps before the chunk
    const std::uint64_t along = flat_row % axis_len;   // its index along the axis
    const std::uint64_t data_bytes = std::min<std::uint64_t>(c_.step, axis_len - along) * row;
    const std::size_t take =
        static_cast<std::size_t>(std::min<std::uint64_t>(n, data_bytes - used_));
    std::memcpy(chunks_.buffer() + used_, p, take);
    used_ += take;
    p += take;
    n -= take;
    if (used_ < data_bytes) break;
    // Complete: pad an edge chunk to full size (HDF5 stores edge chunks whole), then submit.
    std::memset(chunks_.buffer() + data_bytes, 0, static_cast<std::size_t>(full - data_bytes));
    Pending pc{path_, std::vector<hsize_t>(shape_.size(), 0)};
    std::uint64_t rest = flat_row;  // the chunk's first element's coordinates, axes <= axis
    for (std::size_t k = c_.axis + 1; k-- > 0;) {
      pc.offset[k] = rest % shape_[k];
      rest /= shape_[k];
    }
    pending_.push_back(std::move(pc));
    chunks_.submit(static_cast<std::size_t>(full), es_, next_tag_++);
    at_ += data_bytes / es_;
    used_ = 0;
  }
}

void H5ChunkWriter::close_tensor() {
  if (at_ != element_count(shape_) || used_ != 0)
    throw Error(Errc::internal, shown_ + ":" + path_ + ": ended inside the data");
}

void H5ChunkWriter::finish() {
  chunks_.finish();
  dset_ = h5::Id();
}

void H5ChunkWriter::write_chunk(const void* z, std::size_t n) {
  // Chunks come back in submission order: pending_.front() is this one.
  const Pending pc = std::move(pending_.front());
  pending_.pop_front();
  try {
    if (!dset_.valid() || dset_path_ != pc.path) {
      dset_ = h5::open_dataset(file_, pc.path);
      dset_path_ = pc.path;
    }
    h5::check(H5Dwrite_chunk(dset_.get(), H5P_DEFAULT, 0, pc.offset.data(), n, z),
              "cannot write a chunk", Errc::io);
  } catch (const Error& e) {
    throw e.within({shown_, "", pc.path});
  }
}

}  // namespace keras64::detail
