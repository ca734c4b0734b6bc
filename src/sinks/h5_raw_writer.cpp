#include "sinks/h5_raw_writer.hpp"

#include <isa-l/crc.h>
#include <zlib.h>

#include <algorithm>

#include "keras64/error.hpp"

namespace keras64::detail {

H5RawWriter::H5RawWriter(std::filesystem::path temp, std::string shown, std::vector<Region> regions)
    : temp_(std::move(temp)), shown_(std::move(shown)), regions_(std::move(regions)) {
  try {
    size_ = File::open_read(temp_).size();
  } catch (const Error& e) {
    throw e.renamed(temp_.string(), shown_);
  }
  for (const Region& r : regions_)
    if (r.size > 0 && r.offset + r.size > size_)
      throw Error(Errc::internal,
                  shown_ + ":" + r.path + ": data would end past the end of the file");
}

void H5RawWriter::embed(BufferedWriter& out, std::uint64_t base, const std::string& out_path) {
  if (target_)
    throw Error(Errc::internal, shown_ + ": embed() needs an unstarted uncompressed file");
  target_ = &out;
  base_ = base;
  target_path_ = out_path;
  embedded_ = true;
  copy_skeleton();
}

void H5RawWriter::recopy_skeleton() {
  if (embedded_) copy_skeleton();
}

void H5RawWriter::copy_skeleton() {
  // The data regions, in file order; everything between them is HDF5's (metadata, and the
  // datasets it copied), copied from the skeleton file.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> regions;  // [from, to)
  for (const Region& r : regions_)
    if (r.size > 0) regions.emplace_back(r.offset, r.offset + r.size);
  std::sort(regions.begin(), regions.end());
  regions.emplace_back(size_, size_);
  skeleton_segments_.clear();
  std::vector<unsigned char> buf(std::size_t{1} << 20);
  try {
    File skeleton = File::open_read(temp_);
    std::uint64_t at = 0;
    for (const auto& [from, to] : regions) {
      if (from < at)
        throw Error(Errc::internal, shown_ + ": data regions overlap at " + std::to_string(from));
      if (from > at) {
        Segment seg{at, from - at, 0};
        target_->seek(base_ + at);
        while (at < from) {
          const std::size_t n =
              static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), from - at));
          skeleton.pread_all(buf.data(), n, at);
          seg.crc = crc32_gzip_refl(seg.crc, buf.data(), n);
          target_->write(buf.data(), n);
          at += n;
        }
        skeleton_segments_.push_back(seg);
      }
      at = to;
    }
  } catch (const Error& e) {
    throw e.renamed(e.file() == target_path_ ? target_path_ : temp_.string(), shown_);
  }
}

std::uint32_t H5RawWriter::crc() const {
  if (!embedded_ || !finished_)
    throw Error(Errc::internal, shown_ + ": crc() needs an embedded, closed file");
  std::vector<Segment> s = segments_;
  s.insert(s.end(), skeleton_segments_.begin(), skeleton_segments_.end());
  std::sort(s.begin(), s.end(),
            [](const Segment& a, const Segment& b) { return a.offset < b.offset; });
  uLong crc = crc32(0, nullptr, 0);
  std::uint64_t at = 0;
  for (const Segment& seg : s) {
    if (seg.offset != at)
      throw Error(Errc::internal, shown_ + ": bytes " + std::to_string(at) + " to " +
                                      std::to_string(seg.offset) + " were never written");
    crc = crc32_combine(crc, seg.crc, static_cast<z_off_t>(seg.size));
    at += seg.size;
  }
  if (at != size_)
    throw Error(Errc::internal, shown_ + ": the file ends at " + std::to_string(at) + ", not " +
                                    std::to_string(size_));
  return static_cast<std::uint32_t>(crc);
}

void H5RawWriter::open(std::size_t index) {
  current_ = index;
  done_ = 0;
  tensor_crc_ = 0;
  try {
    if (!target_) {  // our own file: the skeleton, written in place
      out_ = File::open_write(temp_);
      own_writer_.emplace(out_);
      target_ = &*own_writer_;
      target_path_ = temp_.string();
    }
    target_->seek(base_ + regions_.at(index).offset);
  } catch (const Error& e) {
    throw e.renamed(target_path_, {shown_, "", regions_.at(index).path});
  }
}

void H5RawWriter::append(const void* data, std::size_t n) {
  // The bytes arrive in the planned dtype, native (little-endian) order: the file's own.
  const Region& r = regions_[current_];
  if (n > r.size - done_)
    throw Error(Errc::internal, shown_ + ":" + r.path + ": more data than planned");
  // The checksum first: `data` may be the writer's own buffer (lend()), which the write may hand
  // to the O_DIRECT queue.
  if (embedded_)
    tensor_crc_ = crc32_gzip_refl(tensor_crc_, static_cast<const unsigned char*>(data), n);
  try {
    target_->write(data, n);
  } catch (const Error& e) {
    throw e.renamed(target_path_, {shown_, "", r.path});
  }
  done_ += n;
}

std::span<unsigned char> H5RawWriter::lend(std::size_t n) {
  try {
    return target_->lend(n);  // append() still refuses more than the region's size
  } catch (const Error& e) {
    throw e.renamed(target_path_, {shown_, "", regions_[current_].path});
  }
}

void H5RawWriter::close_tensor() {
  const Region& r = regions_[current_];
  if (done_ != r.size)
    throw Error(Errc::internal, shown_ + ":" + r.path + ": ended inside the data");
  if (embedded_ && r.size > 0) segments_.push_back({r.offset, r.size, tensor_crc_});
}

void H5RawWriter::finish() {
  finished_ = true;
  if (embedded_) return;  // the embedding file's writer is its owner's to finish
  try {
    if (own_writer_) {
      own_writer_->finish();
      own_writer_.reset();
      out_.close();
    }
  } catch (const Error& e) {
    throw e.renamed(temp_.string(), shown_);
  }
}

}  // namespace keras64::detail
