#include "sinks/h5_structure.hpp"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "keras64/convert.hpp"
#include "keras64/error.hpp"
#include "sinks/h5_tree_copy.hpp"
#include "sinks/h5_write.hpp"

namespace keras64::detail {
namespace {

// Below this a chunk index (a B-tree node of ~2 KiB) costs more than deflate can save.
constexpr std::uint64_t kMinCompressBytes = 4096;

using h5w::kCrcAttr;

// A planned dataset's checksum attribute, 0 until record_crc32c(): created with the dataset, so
// that its value is later written in place (the object header keeps its size).
void create_crc_attr(hid_t dset) {
  h5::Id scalar(h5::check(H5Screate(H5S_SCALAR), "H5Screate", Errc::internal));
  h5::Id a(
      h5::check(H5Acreate2(dset, kCrcAttr, H5T_STD_U32LE, scalar.get(), H5P_DEFAULT, H5P_DEFAULT),
                std::string("cannot create attribute ") + kCrcAttr, Errc::io));
  const std::uint32_t zero = 0;
  h5::check(H5Awrite(a.get(), H5T_NATIVE_UINT32, &zero),
            std::string("cannot write attribute ") + kCrcAttr, Errc::io);
}

}  // namespace

H5StructureWriter::H5StructureWriter(const std::filesystem::path& temp, std::string shown,
                                     const Plan& plan, const Options& options)
    : temp_(temp),
      shown_(std::move(shown)),
      options_(options),
      plan_(&plan),
      raw_mode_(!options.compress && std::endian::native == std::endian::little),
      direct_chunks_(options.compress && std::endian::native == std::endian::little) {
  h5::silence();
  const std::vector<NativeFile> inputs = plan.structure.native_files();
  if (inputs.empty())
    throw Error(Errc::unsupported, {shown_},
                "this output copies the structure of an HDF5 input, and " + plan.source.file +
                    " (" + std::string(kind_name(plan.source.kind)) + ") has none");
  for (std::size_t i = 0; i < plan.tensors.size(); ++i) {
    std::string path = plan.tensors[i].source.dataset;
    if (path.empty())
      throw Error(Errc::internal,
                  shown_ + ": tensor " + plan.tensors[i].source.name + " has no dataset path");
    if (path.front() != '/') path.insert(0, "/");
    if (!planned_.emplace(path, i).second)
      throw Error(Errc::internal, shown_ + ":" + path + ": planned twice");
  }
  created_.assign(plan.tensors.size(), false);
  chunked_.assign(plan.tensors.size(), Chunking{});

  const h5::Id fapl = h5::file_access();
  const hid_t f = H5Fcreate(temp.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.get());
  if (f < 0) {
    const std::string detail = h5::last_error();
    throw Error(Errc::io,
                shown_ + ": cannot create HDF5 file" + (detail.empty() ? "" : ": " + detail));
  }
  file_ = h5::Id(f);

  H5TreeCopy tree(
      shown_, planned_, options_.widen_unplanned,
      [this](hdf5::Reader& r, const hdf5::Object& obj, hid_t parent, const std::string& name,
             std::size_t index) { create_planned(r, obj, parent, name, index); });
  for (const auto& in : inputs) tree.copy(in, file_.get());
  for (std::size_t i = 0; i < created_.size(); ++i)
    if (!created_[i]) {
      const auto& t = plan.tensors[i].source;
      throw Error(Errc::mismatch, shown_ + ": tensor " + t.name + " (dataset " + t.dataset +
                                      ") has no dataset in " + inputs.front().label +
                                      (inputs.size() > 1 ? " and its other shards" : ""));
    }
}

H5StructureWriter::~H5StructureWriter() {
  if (!file_.valid()) return;
  // Abandoned (an error, Ctrl-C) while HDF5 still has the file open: it is about to be removed,
  // but closing it flushes HDF5's metadata first. When that flush fails (a full disk: the
  // compressed path's chunk index) HDF5 1.10 keeps the half-closed file and crashes on it when
  // the library shuts down at exit. Truncating the doomed file first gives the flush room.
  chunks_.reset();
  slab_.reset();
  void* handle = nullptr;
  if (H5Fget_vfd_handle(file_.get(), H5P_DEFAULT, &handle) >= 0 && handle)
    (void)::ftruncate(*static_cast<int*>(handle), 0);
  H5Eclear2(H5E_DEFAULT);
  file_.reset();
  H5Eclear2(H5E_DEFAULT);
}

void H5StructureWriter::fail(const std::string& where) const {
  try {
    throw;
  } catch (const Error& e) {
    throw e.within({shown_, "", where});
  }
}

void H5StructureWriter::create_planned(hdf5::Reader& r, const hdf5::Object& in, hid_t out_parent,
                                       const std::string& name, std::size_t index) {
  const PlannedTensor& pt = plan_->tensors[index];
  const Shape shape = r.dataset(in).info.shape;
  if (shape != pt.source.shape)
    throw Error(Errc::mismatch, "shape mismatch: " + shape_string(shape) + " in the structure, " +
                                    shape_string(pt.source.shape) + " planned for " +
                                    pt.source.name);
  h5::Id type = h5w::file_type(pt.dtype);
  h5::Id space = h5w::dataspace(shape);
  h5::Id dcpl = h5w::plist(H5P_DATASET_CREATE);
  H5Pset_obj_track_times(dcpl.get(), false);
  const std::uint64_t elements = element_count(shape);
  if (raw_mode_ && elements > 0) {
    // Space now, in the layout we write ourselves; nothing written by HDF5 (file comment).
    h5::check(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), "H5Pset_layout", Errc::internal);
    h5::check(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), "H5Pset_alloc_time",
              Errc::internal);
    h5::check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "H5Pset_fill_time",
              Errc::internal);
  }
  if (options_.compress && !shape.empty() && elements * info(pt.dtype).size >= kMinCompressBytes) {
    std::vector<hsize_t> chunk;
    const Chunking c = plan_chunks(shape, info(pt.dtype).size, chunk);
    // Cut by keras64 (H5ChunkWriter) on a little-endian host; else HDF5's filters do it.
    if (direct_chunks_) chunked_[index] = c;
    h5::check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()),
              "cannot set chunking", Errc::internal);
    h5::check(H5Pset_shuffle(dcpl.get()), "cannot set the shuffle filter", Errc::internal);
    h5::check(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(options_.level)),
              "cannot set the deflate filter", Errc::internal);
  }
  const h5::Id lcpl = h5w::link_plist(name);
  h5::Id out(h5::check(H5Dcreate2(out_parent, name.c_str(), type.get(), space.get(), lcpl.get(),
                                  dcpl.get(), H5P_DEFAULT),
                       "cannot create dataset", Errc::io));
  create_crc_attr(out.get());
  h5w::copy_attributes(r, in, out.get(), true);
  // Keras cannot read 2-byte OPAQUE data without this tag ("No cast function available.").
  if (pt.dtype == DType::bf16 && !h5::has_attr(out.get(), "dtype"))
    h5w::write_string_attr(out.get(), "dtype", "bfloat16");
  created_[index] = true;
}

void H5StructureWriter::set_root_string_attr(const std::string& name, const std::string& value) {
  try {
    bool variable = true;
    H5T_cset_t cset = H5T_CSET_UTF8;
    H5T_str_t pad = H5T_STR_NULLPAD;
    if (h5::has_attr(file_.get(), name)) {
      h5::Id old(
          h5::check(H5Aopen(file_.get(), name.c_str(), H5P_DEFAULT), "cannot open attribute"));
      h5::Id ty(h5::check(H5Aget_type(old.get()), "cannot get attribute type"));
      if (H5Tget_class(ty.get()) == H5T_STRING) {
        variable = H5Tis_variable_str(ty.get()) > 0;
        cset = H5Tget_cset(ty.get());
        pad = H5Tget_strpad(ty.get());
      }
      old = h5::Id();
      h5::check(H5Adelete(file_.get(), name.c_str()), "cannot replace attribute", Errc::io);
    }
    h5::Id st(h5::check(H5Tcopy(H5T_C_S1), "H5Tcopy", Errc::internal));
    h5::check(
        H5Tset_size(st.get(), variable ? H5T_VARIABLE : std::max<std::size_t>(1, value.size())),
        "H5Tset_size", Errc::internal);
    H5Tset_cset(st.get(), cset);
    if (!variable) H5Tset_strpad(st.get(), pad);
    h5::Id scalar(h5::check(H5Screate(H5S_SCALAR), "H5Screate", Errc::internal));
    h5::Id a(h5::check(
        H5Acreate2(file_.get(), name.c_str(), st.get(), scalar.get(), H5P_DEFAULT, H5P_DEFAULT),
        "cannot create attribute", Errc::io));
    const char* ptr = value.c_str();
    std::string fixed = value;
    if (fixed.empty()) fixed.push_back('\0');
    h5::check(H5Awrite(a.get(), st.get(), variable ? static_cast<const void*>(&ptr) : fixed.data()),
              "cannot write attribute", Errc::io);
  } catch (...) {
    fail("/: attribute " + name);
  }
}

void H5StructureWriter::seal() {
  if (sealed_) return;
  sealed_ = true;
  if (!raw_mode_) return;
  std::vector<H5RawWriter::Region> regions(plan_->tensors.size());
  for (std::size_t i = 0; i < plan_->tensors.size(); ++i) {
    const PlannedTensor& pt = plan_->tensors[i];
    regions[i].path = pt.source.dataset;
    regions[i].size = pt.nbytes();
    if (pt.nbytes() == 0) continue;
    try {
      h5::Id d = h5::open_dataset(file_.get(), pt.source.dataset);
      const haddr_t off = H5Dget_offset(d.get());
      if (off == HADDR_UNDEF || H5Dget_storage_size(d.get()) != pt.nbytes())
        throw Error(Errc::internal, "no contiguous storage of " + std::to_string(pt.nbytes()) +
                                        " bytes was allocated");
      regions[i].offset = off;
    } catch (...) {
      fail(pt.source.dataset);
    }
  }
  try {
    close_hdf5();
  } catch (...) {
    fail("/");
  }
  raw_.emplace(temp_, shown_, std::move(regions));
}

std::uint64_t H5StructureWriter::file_size() {
  seal();
  if (!raw_) throw Error(Errc::internal, shown_ + ": file_size() of a file HDF5 still writes");
  return raw_->size();
}

void H5StructureWriter::embed(BufferedWriter& out, std::uint64_t base,
                              const std::string& out_path) {
  seal();
  if (!raw_ || raw_->started())
    throw Error(Errc::internal, shown_ + ": embed() needs an unstarted uncompressed file");
  raw_->embed(out, base, out_path);
}

std::uint32_t H5StructureWriter::crc() const {
  if (!raw_ || !closed_)
    throw Error(Errc::internal, shown_ + ": crc() needs an embedded, closed file");
  return raw_->crc();
}

void H5StructureWriter::open(std::size_t index) {
  seal();
  const PlannedTensor& pt = plan_->tensors[index];
  current_ = index;
  if (chunked_[index].step) {
    if (!chunks_) chunks_.emplace(file_.get(), shown_, options_.level, options_.threads);
    chunks_->open(pt.source.dataset, pt.source.shape, info(pt.dtype).size, chunked_[index]);
  } else if (raw_) {
    raw_->open(index);
  } else {
    try {
      slab_.open(file_.get(), pt.source.dataset, pt.dtype, pt.source.shape);
    } catch (...) {
      fail(pt.source.dataset);
    }
  }
}

void H5StructureWriter::append(const void* data, std::size_t n) {
  if (chunked_[current_].step) {
    chunks_->append(static_cast<const unsigned char*>(data), n);
  } else if (raw_) {
    raw_->append(data, n);
  } else {
    try {
      slab_.append(data, n);
    } catch (...) {
      fail(plan_->tensors[current_].source.dataset);
    }
  }
}

std::span<unsigned char> H5StructureWriter::lend(std::size_t n) {
  if (chunked_[current_].step || !raw_) return {};
  return raw_->lend(n);
}

void H5StructureWriter::close_tensor() {
  if (chunked_[current_].step) {
    chunks_->close_tensor();
  } else if (raw_) {
    raw_->close_tensor();
  } else {
    try {
      slab_.close_tensor();
    } catch (...) {
      fail(plan_->tensors[current_].source.dataset);
    }
  }
}

void H5StructureWriter::close_hdf5() {
  h5::check(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL), "cannot write the file", Errc::io);
  // Close through H5Fclose, so a failure to write the last metadata is reported: take an
  // extra reference, let file_ drop its own, then close.
  const hid_t f = file_.get();
  H5Iinc_ref(f);
  file_.reset();
  h5::check(H5Fclose(f), "cannot close the file", Errc::io);
}

void H5StructureWriter::record_crc32c(std::size_t index, std::uint32_t crc) {
  crc32c_.resize(plan_->tensors.size(), 0);
  crc32c_.at(index) = crc;
  if (!raw_mode_) write_crc_attr(file_.get(), index);  // HDF5 still has the file open
}

void H5StructureWriter::write_crc_attr(hid_t file, std::size_t index) {
  const std::string& path = plan_->tensors[index].source.dataset;
  try {
    h5::Id d = h5::open_dataset(file, path);
    h5::Id a(h5::check(H5Aopen(d.get(), kCrcAttr, H5P_DEFAULT),
                       std::string("cannot open attribute ") + kCrcAttr));
    h5::check(H5Awrite(a.get(), H5T_NATIVE_UINT32, &crc32c_[index]),
              std::string("cannot write attribute ") + kCrcAttr, Errc::io);
  } catch (...) {
    fail(path);
  }
}

// The data are written; HDF5 opens the structure once more to set the checksum attributes. They
// exist already, so only their values change, in place: no object grows or moves.
void H5StructureWriter::write_crc_attrs_raw() {
  if (crc32c_.empty()) return;
  h5::silence();
  try {
    const h5::Id fapl = h5::file_access();
    file_ = h5::Id(h5::check(H5Fopen(temp_.string().c_str(), H5F_ACC_RDWR, fapl.get()),
                             "cannot reopen the file", Errc::io));
  } catch (...) {
    fail("/");
  }
  for (std::size_t i = 0; i < crc32c_.size(); ++i) write_crc_attr(file_.get(), i);
  try {
    close_hdf5();
    if (File::open_read(temp_).size() != raw_->size())
      throw Error(Errc::internal, "the file changed size when its checksums were set");
  } catch (...) {
    fail("/");
  }
  raw_->recopy_skeleton();  // embedded: the changed object headers into the archive
}

void H5StructureWriter::close() {
  slab_.reset();
  if (chunks_) {
    chunks_->finish();
    chunks_.reset();
  }
  seal();
  closed_ = true;
  if (raw_) {
    raw_->finish();
    write_crc_attrs_raw();
    return;
  }
  try {
    close_hdf5();
  } catch (...) {
    fail("/");
  }
}

}  // namespace keras64::detail
