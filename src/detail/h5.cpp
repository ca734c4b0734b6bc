#include "detail/h5.hpp"

#include <cstdio>
#include <cstring>
#include <mutex>
#include <string_view>

#include "detail/file.hpp"
#include "detail/h5_superblock.hpp"

namespace keras64::detail::h5 {

void silence() {
  static std::once_flag once;
  std::call_once(once, [] {
    H5open();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  });
}

void Id::reset() {
  if (id_ >= 0) H5Idec_ref(id_);
  id_ = H5I_INVALID_HID;
}

namespace {

herr_t walk_cb(unsigned n, const H5E_error2_t* err, void* data) {
  // The stack is walked from the innermost frame; keep the first one, it says what went wrong.
  auto* out = static_cast<std::string*>(data);
  if (n == 0 && err && err->desc) *out = err->desc;
  return 0;
}

// The sec2 driver describes an I/O failure as "file write failed: time = ..., filename = '<a
// temporary path>', ..., error message = 'No space left on device', buf = 0x..., ...": keep the
// operation and the system's reason, as keras64's own I/O errors say it.
std::string tidy(std::string msg) {
  static constexpr std::string_view kReason = "error message = '";
  const std::size_t colon = msg.find(": time = ");
  const std::size_t at = msg.find(kReason);
  if (colon == std::string::npos || at == std::string::npos) return msg;
  const std::size_t from = at + kReason.size();
  const std::size_t to = msg.find('\'', from);
  if (to == std::string::npos) return msg;
  return msg.substr(0, colon) + ": " + msg.substr(from, to - from);
}

}  // namespace

std::string last_error() {
  std::string msg;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &msg);
  H5Eclear2(H5E_DEFAULT);
  return tidy(std::move(msg));
}

hid_t check(hid_t status, const std::string& what, Errc code) {
  if (status >= 0) return status;
  std::string detail = last_error();
  throw Error(code, detail.empty() ? what : what + ": " + detail);
}

Id file_access() {
  Id fapl(check(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate", Errc::internal));
  check(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), "H5Pset_fclose_degree", Errc::internal);
  H5AC_cache_config_t c{};
  c.version = H5AC__CURR_CACHE_CONFIG_VERSION;
  check(H5Pget_mdc_config(fapl.get(), &c), "H5Pget_mdc_config", Errc::internal);
  c.set_initial_size = true;
  c.initial_size = c.min_size = c.max_size = kMetadataCacheBytes;
  c.incr_mode = H5C_incr__off;
  c.flash_incr_mode = H5C_flash_incr__off;
  c.decr_mode = H5C_decr__off;
  check(H5Pset_mdc_config(fapl.get(), &c), "H5Pset_mdc_config", Errc::internal);
  return fapl;
}

Id open_file(const std::string& path) {
  silence();
  {
    // Refuse truncated files before libhdf5 reads them (see h5_superblock.hpp for why).
    File raw = File::open_read(path);
    check_superblock(raw, 0, raw.size(), "");
  }
  const Id fapl = file_access();
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (f < 0) {
    std::string detail = last_error();
    throw Error(Errc::corrupt,
                "not a readable HDF5 file" + (detail.empty() ? "" : " (" + detail + ")"));
  }
  return Id(f);
}

Id open_group(hid_t loc, const std::string& path) {
  return Id(check(H5Gopen2(loc, path.c_str(), H5P_DEFAULT), "cannot open group " + path));
}

Id open_dataset(hid_t loc, const std::string& path) {
  return Id(check(H5Dopen2(loc, path.c_str(), H5P_DEFAULT), "cannot open dataset " + path));
}

bool exists(hid_t loc, const std::string& path) {
  // H5Lexists requires every intermediate component to exist, so test them one by one.
  std::size_t pos = 0;
  while (true) {
    std::size_t slash = path.find('/', pos + 1);
    std::string prefix = path.substr(0, slash);
    if (!prefix.empty() && prefix != "/") {
      htri_t r = H5Lexists(loc, prefix.c_str(), H5P_DEFAULT);
      if (r <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return false;
      }
    }
    if (slash == std::string::npos) return true;
    pos = slash;
  }
}

namespace {

herr_t child_cb(hid_t group, const char* name, const H5L_info_t* linfo, void* data) {
  auto* out = static_cast<std::vector<Child>*>(data);
  // Only hard links: soft and external links could point anywhere, including other files.
  if (linfo->type != H5L_TYPE_HARD) return 0;
  ObjKind kind = ObjKind::other;
  hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
  if (obj >= 0) {
    H5I_type_t t = H5Iget_type(obj);
    kind = t == H5I_GROUP ? ObjKind::group : t == H5I_DATASET ? ObjKind::dataset : ObjKind::other;
    H5Oclose(obj);
  } else {
    H5Eclear2(H5E_DEFAULT);
  }
  out->push_back({name, kind});
  return 0;
}

}  // namespace

std::vector<Child> children(hid_t group) {
  std::vector<Child> out;
  hsize_t idx = 0;
  check(H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, child_cb, &out), "cannot list group");
  return out;
}

bool has_attr(hid_t obj, const std::string& name) {
  htri_t r = H5Aexists(obj, name.c_str());
  if (r < 0) H5Eclear2(H5E_DEFAULT);
  return r > 0;
}

std::optional<std::uint32_t> read_u32_attr(hid_t obj, const std::string& name) {
  if (!has_attr(obj, name)) return std::nullopt;
  const std::string what = "attribute " + name;
  Id attr(check(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "cannot open " + what));
  Id type(check(H5Aget_type(attr.get()), "cannot get the type of " + what));
  Id space(check(H5Aget_space(attr.get()), "cannot get the dataspace of " + what));
  if (H5Tget_class(type.get()) != H5T_INTEGER || H5Tget_size(type.get()) != 4 ||
      H5Tget_sign(type.get()) != H5T_SGN_NONE || H5Sget_simple_extent_npoints(space.get()) != 1)
    throw Error(Errc::corrupt, what + " is not one uint32");
  std::uint32_t v = 0;
  check(H5Aread(attr.get(), H5T_NATIVE_UINT32, &v), "cannot read " + what);
  return v;
}

bool has_fletcher32(hid_t dset) {
  Id dcpl(check(H5Dget_create_plist(dset), "cannot get the creation properties"));
  const int n = H5Pget_nfilters(dcpl.get());
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0;
    std::size_t nvalues = 0;
    if (H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &nvalues, nullptr, 0, nullptr,
                       nullptr) == H5Z_FILTER_FLETCHER32)
      return true;
  }
  return false;
}

namespace {

// Reads a string-typed attribute with `n` elements into strings.
std::vector<std::string> read_strings(hid_t attr, hid_t type, std::size_t n,
                                      const std::string& name) {
  std::vector<std::string> out;
  if (H5Tis_variable_str(type) > 0) {
    std::vector<char*> ptrs(n, nullptr);
    Id mem(check(H5Tcopy(H5T_C_S1), "H5Tcopy", Errc::internal));
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type));
    check(H5Aread(attr, mem.get(), ptrs.data()), "cannot read attribute " + name);
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    Id space(check(H5Aget_space(attr), "H5Aget_space"));
    H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
  } else {
    const std::size_t size = H5Tget_size(type);
    if (size == 0 || size > (std::size_t{64} << 20) / std::max<std::size_t>(n, 1))
      throw Error(Errc::corrupt, "attribute " + name + " has an implausible size");
    std::vector<char> buf(size * n);
    Id mem(check(H5Tcopy(type), "H5Tcopy", Errc::internal));
    check(H5Aread(attr, mem.get(), buf.data()), "cannot read attribute " + name);
    for (std::size_t i = 0; i < n; ++i) {
      const char* p = buf.data() + i * size;
      std::size_t len = 0;
      while (len < size && p[len] != '\0') ++len;  // fixed-length strings are null-padded
      out.emplace_back(p, len);
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> read_string_attr(hid_t obj, const std::string& name) {
  if (!has_attr(obj, name)) return std::nullopt;
  Id attr(check(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "cannot open attribute " + name));
  Id type(check(H5Aget_type(attr.get()), "H5Aget_type"));
  if (H5Tget_class(type.get()) != H5T_STRING)
    throw Error(Errc::corrupt, "attribute " + name + " is not a string");
  Id space(check(H5Aget_space(attr.get()), "H5Aget_space"));
  hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n != 1) throw Error(Errc::corrupt, "attribute " + name + " is not a single string");
  return read_strings(attr.get(), type.get(), 1, name).front();
}

std::vector<std::string> read_string_array_attr(hid_t obj, const std::string& name) {
  Id attr(check(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "cannot open attribute " + name));
  Id type(check(H5Aget_type(attr.get()), "H5Aget_type"));
  Id space(check(H5Aget_space(attr.get()), "H5Aget_space"));
  hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0) throw Error(Errc::corrupt, "attribute " + name + " has no extent");
  if (H5Tget_class(type.get()) != H5T_STRING) {
    if (n == 0) return {};
    throw Error(Errc::corrupt, "attribute " + name + " is not an array of strings");
  }
  if (n > (1 << 24)) throw Error(Errc::corrupt, "attribute " + name + " has too many elements");
  return read_strings(attr.get(), type.get(), static_cast<std::size_t>(n), name);
}

DatasetInfo dataset_info(hid_t dset) {
  DatasetInfo info;
  Id type(check(H5Dget_type(dset), "cannot get dataset type"));
  const H5T_class_t cls = H5Tget_class(type.get());
  const std::size_t size = H5Tget_size(type.get());
  auto unsupported = [&](const std::string& what) {
    return Error(Errc::unsupported, "unsupported dataset type: " + what);
  };
  switch (cls) {
    case H5T_FLOAT:
      if (size == 2)
        info.dtype = DType::f16;
      else if (size == 4)
        info.dtype = DType::f32;
      else if (size == 8)
        info.dtype = DType::f64;
      else
        throw unsupported(std::to_string(size * 8) + "-bit float");
      info.big_endian = H5Tget_order(type.get()) == H5T_ORDER_BE;
      break;
    case H5T_INTEGER: {
      const bool is_signed = H5Tget_sign(type.get()) == H5T_SGN_2;
      switch (size) {
        case 1:
          info.dtype = is_signed ? DType::i8 : DType::u8;
          break;
        case 2:
          info.dtype = is_signed ? DType::i16 : DType::u16;
          break;
        case 4:
          info.dtype = is_signed ? DType::i32 : DType::u32;
          break;
        case 8:
          info.dtype = is_signed ? DType::i64 : DType::u64;
          break;
        default:
          throw unsupported(std::to_string(size * 8) + "-bit integer");
      }
      info.big_endian = H5Tget_order(type.get()) == H5T_ORDER_BE;
      break;
    }
    case H5T_ENUM:
      // h5py stores numpy bool as an int8 enum {FALSE = 0, TRUE = 1}.
      if (size != 1) throw unsupported("enum of " + std::to_string(size) + " bytes");
      info.dtype = DType::boolean;
      break;
    case H5T_OPAQUE: {
      // Keras writes bfloat16 as 2-byte OPAQUE plus a dtype="bfloat16" attribute; legacy .h5
      // files omit the attribute, but no other 2-byte opaque type is written by Keras.
      auto tag = read_string_attr(dset, "dtype");
      if (size != 2 || (tag && *tag != "bfloat16"))
        throw unsupported("opaque " + std::to_string(size) + "-byte type" +
                          (tag ? " '" + *tag + "'" : ""));
      info.dtype = DType::bf16;
      break;
    }
    default:
      throw unsupported("HDF5 type class " + std::to_string(static_cast<int>(cls)));
  }
  Id space(check(H5Dget_space(dset), "cannot get dataspace"));
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > 32) throw Error(Errc::corrupt, "dataset has invalid rank");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  info.shape.assign(dims.begin(), dims.end());
  element_count(info.shape);  // overflow check

  Id dcpl(check(H5Dget_create_plist(dset), "cannot get dataset properties"));
  if (H5Pget_layout(dcpl.get()) == H5D_CONTIGUOUS && H5Pget_nfilters(dcpl.get()) == 0 &&
      !info.big_endian) {
    haddr_t off = H5Dget_offset(dset);
    if (off != HADDR_UNDEF)
      info.raw_offset = off;
    else
      H5Eclear2(H5E_DEFAULT);
  }
  return info;
}

// Takes the largest aligned block at each step.
void select_flat_range(hid_t space, const Shape& shape, std::uint64_t first, std::uint64_t count) {
  const std::size_t r = shape.size();
  if (r == 0) {
    H5Sselect_all(space);
    return;
  }
  std::vector<std::uint64_t> stride(r, 1);
  for (std::size_t k = r - 1; k > 0; --k) stride[k - 1] = stride[k] * shape[k];
  std::uint64_t pos = first;
  const std::uint64_t end = first + count;
  bool any = false;
  std::vector<hsize_t> start(r), cnt(r);
  while (pos < end) {
    std::size_t j = 0;
    while (j < r - 1 && !(pos % stride[j] == 0 && pos + stride[j] <= end)) ++j;
    std::uint64_t rem = pos;
    for (std::size_t k = 0; k < r; ++k) {
      start[k] = rem / stride[k];
      rem %= stride[k];
    }
    const std::uint64_t n = std::min<std::uint64_t>(shape[j] - start[j], (end - pos) / stride[j]);
    for (std::size_t k = 0; k < r; ++k) cnt[k] = k < j ? 1 : k == j ? n : shape[k];
    check(H5Sselect_hyperslab(space, any ? H5S_SELECT_OR : H5S_SELECT_SET, start.data(), nullptr,
                              cnt.data(), nullptr),
          "cannot select elements", Errc::internal);
    any = true;
    pos += n * stride[j];
  }
}

void read_elements(hid_t dset, const DatasetInfo& info, std::uint64_t first, std::uint64_t count,
                   void* dst) {
  if (count == 0) return;
  Id ftype(check(H5Dget_type(dset), "cannot get dataset type"));
  Id mtype(check(H5Tcopy(ftype.get()), "H5Tcopy", Errc::internal));
  const H5T_class_t cls = H5Tget_class(ftype.get());
  if (cls == H5T_FLOAT || cls == H5T_INTEGER) H5Tset_order(mtype.get(), H5T_ORDER_LE);
  Id fspace(check(H5Dget_space(dset), "cannot get dataspace"));
  select_flat_range(fspace.get(), info.shape, first, count);
  const hsize_t n = count;
  Id mspace(check(H5Screate_simple(1, &n, nullptr), "H5Screate_simple", Errc::internal));
  check(H5Dread(dset, mtype.get(), mspace.get(), fspace.get(), H5P_DEFAULT, dst),
        "cannot read data");
}

}  // namespace keras64::detail::h5
