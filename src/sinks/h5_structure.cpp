#include "sinks/h5_structure.hpp"

#include <isa-l/crc.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "detail/error_path.hpp"
#include "detail/h5_member.hpp"
#include "keras64/convert.hpp"
#include "keras64/error.hpp"

namespace keras64::detail {
namespace {

constexpr int kMaxDepth = 64;                    // as deep as any reader of ours descends
constexpr std::uint64_t kChunkBytes = 1u << 20;  // target size of one compressed chunk
// Below this a chunk index (a B-tree node of ~2 KiB) costs more than deflate can save.
constexpr std::uint64_t kMinCompressBytes = 4096;

h5::Id plist(hid_t cls) {
  return h5::Id(h5::check(H5Pcreate(cls), "H5Pcreate", Errc::internal));
}

// Link names as h5py creates them: ASCII when the name is ASCII, else UTF-8. (A UTF-8 link makes
// libhdf5 turn an old-style group into a new-style one, and the root's cached symbol table in the
// superblock then goes stale: Keras files keep old-style groups, and so do keras64's outputs.)
h5::Id link_plist(const std::string& name) {
  h5::Id p = plist(H5P_LINK_CREATE);
  const bool ascii = std::all_of(name.begin(), name.end(),
                                 [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  h5::check(H5Pset_char_encoding(p.get(), ascii ? H5T_CSET_ASCII : H5T_CSET_UTF8),
            "H5Pset_char_encoding", Errc::internal);
  return p;
}

herr_t attr_name_cb(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

std::vector<std::string> attr_names(hid_t obj) {
  std::vector<std::string> names;
  hsize_t idx = 0;
  h5::check(H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, attr_name_cb, &names),
            "cannot list attributes");
  return names;
}

bool is_bf16_tag(hid_t obj, const std::string& name) {
  try {
    auto v = h5::read_string_attr(obj, name);
    return v && *v == "bfloat16";
  } catch (const Error&) {
    return false;  // not a single string: not Keras's dtype tag, copy it as it is
  }
}

constexpr const char* kCrcAttr = "keras64.crc32c";

// Copies every attribute of `in` that `out` lacks, in its own type and shape. `skip_bf16_tag`
// leaves out a dtype = "bfloat16" tag (for a dataset no longer stored as bfloat16). An input's
// keras64.crc32c is never copied: it is the checksum of the input's bytes, and every dataset
// this copies attributes onto holds other bytes (widened, or written afresh with its own).
void copy_attrs(hid_t in, hid_t out, bool skip_bf16_tag) {
  for (const auto& name : attr_names(in)) {
    if (name == kCrcAttr || h5::has_attr(out, name)) continue;
    if (skip_bf16_tag && name == "dtype" && is_bf16_tag(in, name)) continue;
    const std::string what = "attribute " + name;
    h5::Id attr(h5::check(H5Aopen(in, name.c_str(), H5P_DEFAULT), "cannot open " + what));
    h5::Id ftype(h5::check(H5Aget_type(attr.get()), "cannot get type of " + what));
    h5::Id type(h5::check(H5Tcopy(ftype.get()), "H5Tcopy", Errc::internal));  // transient copy
    h5::Id space(h5::check(H5Aget_space(attr.get()), "cannot get dataspace of " + what));
    const hssize_t n = H5Sget_simple_extent_npoints(space.get());
    const std::size_t size = H5Tget_size(type.get());
    if (n < 0 || size == 0) throw Error(Errc::corrupt, what + " has an invalid extent or type");
    std::vector<unsigned char> buf(std::max<std::size_t>(1, static_cast<std::size_t>(n) * size));
    // Reading and writing in the file type moves the bytes unchanged; variable-length data
    // (vlen strings) come back as pointers that H5Dvlen_reclaim frees.
    h5::check(H5Aread(attr.get(), type.get(), buf.data()), "cannot read " + what);
    const bool vlen =
        H5Tis_variable_str(type.get()) > 0 || H5Tdetect_class(type.get(), H5T_VLEN) > 0;
    herr_t status = -1;
    {
      h5::Id acpl = plist(H5P_ATTRIBUTE_CREATE);
      H5Pset_char_encoding(acpl.get(), H5T_CSET_UTF8);
      h5::Id copy(H5Acreate2(out, name.c_str(), type.get(), space.get(), acpl.get(), H5P_DEFAULT));
      if (copy.valid()) status = H5Awrite(copy.get(), type.get(), buf.data());
    }
    const std::string err = status < 0 ? h5::last_error() : "";
    if (vlen) H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, buf.data());
    if (status < 0) throw Error(Errc::io, "cannot write " + what + (err.empty() ? "" : ": " + err));
  }
}

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

// A new dataspace of `shape` (scalar when empty), as h5py makes them: fixed size.
h5::Id dataspace(const Shape& shape) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  return h5::Id(h5::check(
      shape.empty() ? H5Screate(H5S_SCALAR)
                    : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
      "cannot create dataspace", Errc::internal));
}

Shape dataspace_shape(hid_t dset) {
  h5::Id space(h5::check(H5Dget_space(dset), "cannot get dataspace"));
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > 32) throw Error(Errc::corrupt, "dataset has an invalid rank");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return Shape(dims.begin(), dims.end());
}

}  // namespace

h5::Id h5_file_type(DType t) {
  auto copy = [](hid_t base) {
    return h5::Id(h5::check(H5Tcopy(base), "H5Tcopy", Errc::internal));
  };
  switch (t) {
    case DType::f16: {
      // h5py's IEEE_F16LE: float32 fields shrunk to 1 sign, 5 exponent, 10 mantissa bits.
      h5::Id ty = copy(H5T_IEEE_F32LE);
      h5::check(H5Tset_fields(ty.get(), 15, 10, 5, 0, 10), "H5Tset_fields", Errc::internal);
      h5::check(H5Tset_size(ty.get(), 2), "H5Tset_size", Errc::internal);
      h5::check(H5Tset_ebias(ty.get(), 15), "H5Tset_ebias", Errc::internal);
      return ty;
    }
    case DType::bf16:
      return h5::Id(h5::check(H5Tcreate(H5T_OPAQUE, 2), "H5Tcreate", Errc::internal));
    case DType::f32:
      return copy(H5T_IEEE_F32LE);
    case DType::f64:
      return copy(H5T_IEEE_F64LE);
    case DType::i8:
      return copy(H5T_STD_I8LE);
    case DType::i16:
      return copy(H5T_STD_I16LE);
    case DType::i32:
      return copy(H5T_STD_I32LE);
    case DType::i64:
      return copy(H5T_STD_I64LE);
    case DType::u8:
      return copy(H5T_STD_U8LE);
    case DType::u16:
      return copy(H5T_STD_U16LE);
    case DType::u32:
      return copy(H5T_STD_U32LE);
    case DType::u64:
      return copy(H5T_STD_U64LE);
    case DType::boolean: {
      h5::Id ty(h5::check(H5Tenum_create(H5T_STD_I8LE), "H5Tenum_create", Errc::internal));
      const std::int8_t no = 0, yes = 1;
      h5::check(H5Tenum_insert(ty.get(), "FALSE", &no), "H5Tenum_insert", Errc::internal);
      h5::check(H5Tenum_insert(ty.get(), "TRUE", &yes), "H5Tenum_insert", Errc::internal);
      return ty;
    }
  }
  throw Error(Errc::internal, "unknown dtype");
}

H5StructureWriter::H5StructureWriter(const std::filesystem::path& temp, std::string shown,
                                     const Plan& plan, const Options& options)
    : temp_(temp),
      shown_(std::move(shown)),
      options_(options),
      plan_(&plan),
      raw_(!options.compress && std::endian::native == std::endian::little),
      direct_chunks_(options.compress && std::endian::native == std::endian::little) {
  h5::silence();
  const std::vector<NativeFile> inputs =
      plan.origin ? plan.origin->native_files() : std::vector<NativeFile>{};
  if (inputs.empty())
    throw Error(Errc::unsupported, shown_ +
                                       ": this output copies the structure of an HDF5 input, "
                                       "and " +
                                       plan.source.file + " (" + plan.source.kind + ") has none");
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

  h5::Id fapl = plist(H5P_FILE_ACCESS);
  h5::check(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), "H5Pset_fclose_degree",
            Errc::internal);
  const hid_t f = H5Fcreate(temp.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.get());
  if (f < 0) {
    const std::string detail = h5::last_error();
    throw Error(Errc::io,
                shown_ + ": cannot create HDF5 file" + (detail.empty() ? "" : ": " + detail));
  }
  file_ = h5::Id(f);

  for (const auto& in : inputs) {
    h5::Id src;
    try {
      src = in.size ? h5::open_member(in.path.string(), in.offset, in.size)
                    : h5::open_file(in.path.string());
    } catch (const Error& e) {
      throw e.with_context(in.label);
    }
    try {
      copy_attrs(src.get(), file_.get(), false);
    } catch (...) {
      fail("/");
    }
    copy_tree(src.get(), file_.get(), "", 0);
  }
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
  chunk_dset_ = h5::Id();
  dset_ = h5::Id();
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
    throw e.with_context(shown_ + ":" + where);
  }
}

void H5StructureWriter::copy_tree(hid_t in, hid_t out, const std::string& path, int depth) {
  if (depth > kMaxDepth)
    throw Error(Errc::unsupported, shown_ + ":" + path + ": groups nested too deep");
  std::vector<h5::Child> kids;
  try {
    kids = h5::children(in);
  } catch (...) {
    fail(path.empty() ? "/" : path);
  }
  for (const auto& c : kids) {
    const h5::Id lcpl = link_plist(c.name);
    const std::string p = path + "/" + c.name;
    const auto planned = planned_.find(p);
    try {
      if (c.kind == h5::ObjKind::group) {
        h5::Id g_in = h5::open_group(in, c.name);
        h5::Id g_out;
        const htri_t there = H5Lexists(out, c.name.c_str(), H5P_DEFAULT);
        if (there > 0) {
          g_out = h5::open_group(out, c.name);  // a group split over several shards
        } else {
          h5::Id gcpl = plist(H5P_GROUP_CREATE);
          H5Pset_obj_track_times(gcpl.get(), false);
          g_out =
              h5::Id(h5::check(H5Gcreate2(out, c.name.c_str(), lcpl.get(), gcpl.get(), H5P_DEFAULT),
                               "cannot create group", Errc::io));
        }
        copy_attrs(g_in.get(), g_out.get(), false);
        copy_tree(g_in.get(), g_out.get(), p, depth + 1);
        continue;
      }
      if (H5Lexists(out, c.name.c_str(), H5P_DEFAULT) > 0)
        throw Error(Errc::corrupt, "present in two input files");
      if (c.kind == h5::ObjKind::dataset && planned != planned_.end()) {
        h5::Id d_in = h5::open_dataset(in, c.name);
        create_planned(d_in.get(), out, c.name, p, planned->second);
        continue;
      }
      if (c.kind == h5::ObjKind::dataset && options_.widen_unplanned &&
          copy_widened(h5::open_dataset(in, c.name).get(), out, c.name))
        continue;
      // Everything else is kept as it is: datasets not in the plan (integers, optimizer state
      // when it is not converted), named types.
      h5::check(H5Ocopy(in, c.name.c_str(), out, c.name.c_str(), H5P_DEFAULT, lcpl.get()),
                "cannot copy", Errc::io);
    } catch (...) {
      fail(p);
    }
  }
}

void H5StructureWriter::create_planned(hid_t in_dset, hid_t out_parent, const std::string& name,
                                       const std::string& path, std::size_t index) {
  const PlannedTensor& pt = plan_->tensors[index];
  const Shape shape = dataspace_shape(in_dset);
  if (shape != pt.source.shape)
    throw Error(Errc::mismatch, "shape mismatch: " + shape_string(shape) + " in the structure, " +
                                    shape_string(pt.source.shape) + " planned for " +
                                    pt.source.name);
  h5::Id type = h5_file_type(pt.dtype);
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  h5::Id space = dataspace(shape);
  h5::Id dcpl = plist(H5P_DATASET_CREATE);
  H5Pset_obj_track_times(dcpl.get(), false);
  const std::uint64_t elements = element_count(shape);
  if (raw_ && elements > 0) {
    // Space now, in the layout we write ourselves; nothing written by HDF5 (file comment).
    h5::check(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), "H5Pset_layout", Errc::internal);
    h5::check(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), "H5Pset_alloc_time",
              Errc::internal);
    h5::check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "H5Pset_fill_time",
              Errc::internal);
  }
  if (options_.compress && !shape.empty() && elements * info(pt.dtype).size >= kMinCompressBytes) {
    // Chunks of at most kChunkBytes shaped [1, ..., 1, c, d_j+1, ..., d_n-1]: each is one flat
    // (row-major) range of the tensor, so it is cut from the stream as the data arrive.
    const std::uint64_t es = info(pt.dtype).size;
    std::size_t j = dims.size() - 1;
    std::uint64_t trailing = 1;  // elements per step along axis j
    while (j > 0 && trailing * dims[j] * es <= kChunkBytes) trailing *= dims[j--];
    std::vector<hsize_t> chunk(dims.size(), 1);
    chunk[j] =
        std::max<std::uint64_t>(1, std::min<std::uint64_t>(dims[j], kChunkBytes / (trailing * es)));
    for (std::size_t k = j + 1; k < dims.size(); ++k) chunk[k] = dims[k];
    chunked_[index] = {j, chunk[j], trailing};
    h5::check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()),
              "cannot set chunking", Errc::internal);
    h5::check(H5Pset_shuffle(dcpl.get()), "cannot set the shuffle filter", Errc::internal);
    h5::check(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(options_.level)),
              "cannot set the deflate filter", Errc::internal);
  }
  const h5::Id lcpl = link_plist(name);
  h5::Id out(h5::check(H5Dcreate2(out_parent, name.c_str(), type.get(), space.get(), lcpl.get(),
                                  dcpl.get(), H5P_DEFAULT),
                       "cannot create dataset", Errc::io));
  create_crc_attr(out.get());
  copy_attrs(in_dset, out.get(), true);
  if (pt.dtype == DType::bf16 && !h5::has_attr(out.get(), "dtype")) {
    // Keras cannot read 2-byte OPAQUE data without this tag ("No cast function available.").
    h5::Id st(h5::check(H5Tcopy(H5T_C_S1), "H5Tcopy", Errc::internal));
    H5Tset_size(st.get(), H5T_VARIABLE);
    H5Tset_cset(st.get(), H5T_CSET_UTF8);
    h5::Id scalar(h5::check(H5Screate(H5S_SCALAR), "H5Screate", Errc::internal));
    h5::Id a(
        h5::check(H5Acreate2(out.get(), "dtype", st.get(), scalar.get(), H5P_DEFAULT, H5P_DEFAULT),
                  "cannot create attribute dtype", Errc::io));
    const char* value = "bfloat16";
    h5::check(H5Awrite(a.get(), st.get(), &value), "cannot write attribute dtype", Errc::io);
  }
  (void)path;
  created_[index] = true;
}

bool H5StructureWriter::copy_widened(hid_t in_dset, hid_t out_parent, const std::string& name) {
  h5::DatasetInfo di;
  try {
    di = h5::dataset_info(in_dset);
  } catch (const Error& e) {
    if (e.code() == Errc::unsupported) return false;  // strings and such: copied as they are
    throw;
  }
  if (!info(di.dtype).is_float || di.dtype == DType::f64) return false;
  h5::Id type = h5_file_type(DType::f64);
  h5::Id space = dataspace(di.shape);
  h5::Id dcpl = plist(H5P_DATASET_CREATE);
  H5Pset_obj_track_times(dcpl.get(), false);
  const h5::Id lcpl = link_plist(name);
  h5::Id out(h5::check(H5Dcreate2(out_parent, name.c_str(), type.get(), space.get(), lcpl.get(),
                                  dcpl.get(), H5P_DEFAULT),
                       "cannot create dataset", Errc::io));
  copy_attrs(in_dset, out.get(), true);
  // Bounded pieces: optimizer state can be twice the model's size.
  constexpr std::uint64_t kPiece = 1u << 16;
  const std::uint64_t n = element_count(di.shape);
  std::vector<unsigned char> raw(kPiece * info(di.dtype).size);
  std::vector<double> wide(kPiece);
  for (std::uint64_t first = 0; first < n; first += kPiece) {
    const std::uint64_t count = std::min(kPiece, n - first);
    h5::read_elements(in_dset, di, first, count, raw.data());
    widen_to_f64(di.dtype, raw.data(), static_cast<std::size_t>(count), wide.data());
    h5::Id fspace(h5::check(H5Dget_space(out.get()), "cannot get dataspace"));
    h5::select_flat_range(fspace.get(), di.shape, first, count);
    const hsize_t c = count;
    h5::Id mspace(h5::check(H5Screate_simple(1, &c, nullptr), "H5Screate_simple", Errc::internal));
    h5::check(H5Dwrite(out.get(), type.get(), mspace.get(), fspace.get(), H5P_DEFAULT, wide.data()),
              "cannot write data", Errc::io);
  }
  return true;
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
  if (!raw_) return;
  offsets_.assign(plan_->tensors.size(), 0);
  for (std::size_t i = 0; i < plan_->tensors.size(); ++i) {
    const PlannedTensor& pt = plan_->tensors[i];
    if (pt.nbytes() == 0) continue;
    try {
      h5::Id d = h5::open_dataset(file_.get(), pt.source.dataset);
      const haddr_t off = H5Dget_offset(d.get());
      if (off == HADDR_UNDEF || H5Dget_storage_size(d.get()) != pt.nbytes())
        throw Error(Errc::internal, "no contiguous storage of " + std::to_string(pt.nbytes()) +
                                        " bytes was allocated");
      offsets_[i] = off;
    } catch (...) {
      fail(pt.source.dataset);
    }
  }
  try {
    close_hdf5();
  } catch (...) {
    fail("/");
  }
  try {
    File skeleton = File::open_read(temp_);
    size_ = skeleton.size();
  } catch (const Error& e) {
    throw replace_context(e, temp_.string(), shown_);
  }
  for (std::size_t i = 0; i < offsets_.size(); ++i)
    if (plan_->tensors[i].nbytes() > 0 && offsets_[i] + plan_->tensors[i].nbytes() > size_)
      throw Error(Errc::internal, shown_ + ":" + plan_->tensors[i].source.dataset +
                                      ": data would end past the end of the file");
}

std::uint64_t H5StructureWriter::file_size() {
  seal();
  if (!raw_) throw Error(Errc::internal, shown_ + ": file_size() of a file HDF5 still writes");
  return size_;
}

void H5StructureWriter::embed(BufferedWriter& out, std::uint64_t base,
                              const std::string& out_path) {
  seal();
  if (!raw_ || target_)
    throw Error(Errc::internal, shown_ + ": embed() needs an unstarted uncompressed file");
  target_ = &out;
  base_ = base;
  target_path_ = out_path;
  embedded_ = true;
  copy_skeleton();
}

void H5StructureWriter::copy_skeleton() {
  // The data regions, in file order; everything between them is HDF5's (metadata, and the
  // datasets it copied), copied from the skeleton file.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> regions;  // [from, to)
  for (std::size_t i = 0; i < offsets_.size(); ++i)
    if (plan_->tensors[i].nbytes() > 0)
      regions.emplace_back(offsets_[i], offsets_[i] + plan_->tensors[i].nbytes());
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
    throw replace_context(replace_context(e, temp_.string(), shown_), target_path_, shown_);
  }
}

std::uint32_t H5StructureWriter::crc() const {
  if (!embedded_ || !closed_)
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

void H5StructureWriter::open(std::size_t index) {
  seal();
  const std::string& path = plan_->tensors[index].source.dataset;
  current_ = index;
  done_ = 0;
  raw_done_ = 0;
  tensor_crc_ = 0;
  carry_.clear();
  if (direct_chunks_ && chunked_[index].step) {
    chunk_at_ = 0;
    chunk_used_ = 0;
    return;
  }
  if (raw_) {
    try {
      if (!target_) {  // our own file: the skeleton, written in place
        out_ = File::open_write(temp_);
        own_writer_.emplace(out_);
        target_ = &*own_writer_;
        target_path_ = temp_.string();
      }
      target_->seek(base_ + offsets_[index]);
    } catch (const Error& e) {
      throw replace_context(e, target_path_, shown_ + ":" + path);
    }
    return;
  }
  try {
    dset_ = h5::open_dataset(file_.get(), path);
    mtype_ = h5_file_type(plan_->tensors[index].dtype);
  } catch (...) {
    fail(path);
  }
}

void H5StructureWriter::append(const void* data, std::size_t n) {
  const PlannedTensor& pt = plan_->tensors[current_];
  if (direct_chunks_ && chunked_[current_].step) {
    append_chunked(static_cast<const unsigned char*>(data), n);
    return;
  }
  if (raw_) {
    // The bytes arrive in the planned dtype, native (little-endian) order: the file's own.
    if (n > pt.nbytes() - raw_done_)
      throw Error(Errc::internal, shown_ + ":" + pt.source.dataset + ": more data than planned");
    try {
      target_->write(data, n);
    } catch (const Error& e) {
      throw replace_context(e, target_path_, shown_ + ":" + pt.source.dataset);
    }
    if (embedded_)
      tensor_crc_ = crc32_gzip_refl(tensor_crc_, static_cast<const unsigned char*>(data), n);
    raw_done_ += n;
    return;
  }
  const std::size_t es = info(pt.dtype).size;
  auto put = [&](const void* p, std::uint64_t count) {
    h5::Id fspace(h5::check(H5Dget_space(dset_.get()), "cannot get dataspace"));
    h5::select_flat_range(fspace.get(), pt.source.shape, done_, count);
    const hsize_t c = count;
    h5::Id mspace(h5::check(H5Screate_simple(1, &c, nullptr), "H5Screate_simple", Errc::internal));
    h5::check(H5Dwrite(dset_.get(), mtype_.get(), mspace.get(), fspace.get(), H5P_DEFAULT, p),
              "cannot write data", Errc::io);
    done_ += count;
  };
  try {
    const char* p = static_cast<const char*>(data);
    if (!carry_.empty()) {  // complete an element split between two writes
      const std::size_t take = std::min(es - carry_.size(), n);
      carry_.append(p, take);
      p += take;
      n -= take;
      if (carry_.size() < es) return;
      put(carry_.data(), 1);
      carry_.clear();
    }
    const std::size_t whole = n / es;
    if (whole) put(p, whole);
    carry_.assign(p + whole * es, n - whole * es);
  } catch (...) {
    fail(pt.source.dataset);
  }
}

void H5StructureWriter::append_chunked(const unsigned char* p, std::size_t n) {
  const PlannedTensor& pt = plan_->tensors[current_];
  const Chunking& c = chunked_[current_];
  const std::uint64_t es = info(pt.dtype).size;
  const std::uint64_t axis_len = pt.source.shape[c.axis];
  const std::uint64_t row = c.trailing * es;  // bytes per step along the chunk axis
  const std::uint64_t full = c.step * row;    // bytes of a whole chunk
  if (!chunks_)
    chunks_.emplace(
        options_.level, options_.threads,
        [this](std::uint64_t tag, const void* z, std::size_t zn) { write_chunk(tag, z, zn); });
  while (n > 0) {
    // This chunk holds chunk_at_'s steps along the axis up to the axis end or the chunk's size.
    const std::uint64_t flat_row = chunk_at_ / c.trailing;  // steps before the chunk
    const std::uint64_t along = flat_row % axis_len;        // its index along the axis
    const std::uint64_t data_bytes = std::min<std::uint64_t>(c.step, axis_len - along) * row;
    const std::size_t take =
        static_cast<std::size_t>(std::min<std::uint64_t>(n, data_bytes - chunk_used_));
    std::memcpy(chunks_->buffer() + chunk_used_, p, take);
    chunk_used_ += take;
    p += take;
    n -= take;
    if (chunk_used_ < data_bytes) break;
    // Complete: pad an edge chunk to full size (HDF5 stores edge chunks whole), then submit.
    std::memset(chunks_->buffer() + data_bytes, 0, static_cast<std::size_t>(full - data_bytes));
    PendingChunk pc{current_, std::vector<hsize_t>(pt.source.shape.size(), 0)};
    std::uint64_t rest = flat_row;  // the chunk's first element's coordinates, axes <= axis
    for (std::size_t k = c.axis + 1; k-- > 0;) {
      pc.offset[k] = rest % pt.source.shape[k];
      rest /= pt.source.shape[k];
    }
    pending_chunks_.push_back(std::move(pc));
    chunks_->submit(static_cast<std::size_t>(full), es, next_tag_++);
    chunk_at_ += data_bytes / es;
    chunk_used_ = 0;
  }
}

void H5StructureWriter::write_chunk(std::uint64_t tag, const void* z, std::size_t n) {
  (void)tag;  // chunks come back in submission order: pending_chunks_.front() is this one
  const PendingChunk pc = std::move(pending_chunks_.front());
  pending_chunks_.pop_front();
  const std::string& path = plan_->tensors[pc.index].source.dataset;
  try {
    if (!chunk_dset_.valid() || chunk_dset_index_ != pc.index) {
      chunk_dset_ = h5::open_dataset(file_.get(), path);
      chunk_dset_index_ = pc.index;
    }
    h5::check(H5Dwrite_chunk(chunk_dset_.get(), H5P_DEFAULT, 0, pc.offset.data(), n, z),
              "cannot write a chunk", Errc::io);
  } catch (...) {
    fail(path);
  }
}

void H5StructureWriter::close_tensor() {
  const PlannedTensor& pt = plan_->tensors[current_];
  if (direct_chunks_ && chunked_[current_].step) {
    if (chunk_at_ != pt.source.elements() || chunk_used_ != 0)
      throw Error(Errc::internal, shown_ + ":" + pt.source.dataset + ": ended inside the data");
    return;
  }
  if (raw_ ? raw_done_ != pt.nbytes() : !carry_.empty())
    throw Error(Errc::internal, shown_ + ":" + pt.source.dataset + ": ended inside the data");
  if (embedded_ && pt.nbytes() > 0)
    segments_.push_back({offsets_[current_], pt.nbytes(), tensor_crc_});
  dset_ = h5::Id();
  mtype_ = h5::Id();
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
  if (!raw_) write_crc_attr(file_.get(), index);  // HDF5 still has the file open
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
    file_ = h5::Id(h5::check(H5Fopen(temp_.string().c_str(), H5F_ACC_RDWR, H5P_DEFAULT),
                             "cannot reopen the file", Errc::io));
  } catch (...) {
    fail("/");
  }
  for (std::size_t i = 0; i < crc32c_.size(); ++i) write_crc_attr(file_.get(), i);
  try {
    close_hdf5();
    if (File::open_read(temp_).size() != size_)
      throw Error(Errc::internal, "the file changed size when its checksums were set");
  } catch (...) {
    fail("/");
  }
  if (embedded_) copy_skeleton();  // the changed object headers into the archive
}

void H5StructureWriter::close() {
  dset_ = h5::Id();
  mtype_ = h5::Id();
  if (chunks_) {
    chunks_->finish();
    chunks_.reset();
  }
  chunk_dset_ = h5::Id();
  seal();
  closed_ = true;
  if (raw_) {
    if (!embedded_) {  // (the embedding file's writer is its owner's to finish)
      try {
        if (own_writer_) {
          own_writer_->finish();
          own_writer_.reset();
          out_.close();
        }
      } catch (const Error& e) {
        throw replace_context(e, temp_.string(), shown_);
      }
    }
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
