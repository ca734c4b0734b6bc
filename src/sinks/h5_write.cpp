#include "sinks/h5_write.hpp"

#include <algorithm>
#include <vector>

#include "keras64/error.hpp"

namespace keras64::detail::h5w {
namespace {

h5::Id copy(hid_t base) {
  return h5::Id(h5::check(H5Tcopy(base), "H5Tcopy", Errc::internal));
}

h5::Id string_type(const hdf5::Datatype& t, bool variable) {
  h5::Id st = copy(H5T_C_S1);
  h5::check(H5Tset_size(st.get(), variable ? H5T_VARIABLE : t.size), "H5Tset_size", Errc::internal);
  h5::check(H5Tset_cset(st.get(), t.utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII), "H5Tset_cset",
            Errc::internal);
  const H5T_str_t pad = t.string_pad == 0   ? H5T_STR_NULLTERM
                        : t.string_pad == 1 ? H5T_STR_NULLPAD
                                            : H5T_STR_SPACEPAD;
  h5::check(H5Tset_strpad(st.get(), pad), "H5Tset_strpad", Errc::internal);
  return st;
}

bool is_bf16_tag(hdf5::Reader& r, const hdf5::Object& obj, const hdf5::Attribute& a) {
  if (a.type.cls != hdf5::Datatype::string && a.type.cls != hdf5::Datatype::vlen_string)
    return false;
  const std::vector<std::string> s = r.strings(obj, a);
  return s.size() == 1 && s.front() == "bfloat16";
}

void write_attribute(hdf5::Reader& r, const hdf5::Object& obj, const hdf5::Attribute& a,
                     hid_t out) {
  const std::string what = "attribute " + a.name;
  h5::Id type = file_type(a.type);
  h5::Id space = dataspace(Shape(a.space.dims.begin(), a.space.dims.end()));
  // The bytes as they are in the input (its own type is the memory type: nothing converts),
  // except variable-length strings, whose global heap references become the strings.
  std::vector<std::string> strings;
  std::vector<const char*> pointers;
  const unsigned char none = 0;
  const void* buf = a.data.empty() ? &none : static_cast<const void*>(a.data.data());
  if (a.type.cls == hdf5::Datatype::vlen_string) {
    strings = r.strings(obj, a);
    for (const auto& s : strings) pointers.push_back(s.c_str());
    if (!pointers.empty()) buf = pointers.data();
  }
  h5::Id acpl = plist(H5P_ATTRIBUTE_CREATE);
  H5Pset_char_encoding(acpl.get(), H5T_CSET_UTF8);
  h5::Id attr(
      h5::check(H5Acreate2(out, a.name.c_str(), type.get(), space.get(), acpl.get(), H5P_DEFAULT),
                "cannot create " + what, Errc::io));
  h5::check(H5Awrite(attr.get(), type.get(), buf), "cannot write " + what, Errc::io);
}

}  // namespace

h5::Id plist(hid_t cls) {
  return h5::Id(h5::check(H5Pcreate(cls), "H5Pcreate", Errc::internal));
}

h5::Id link_plist(const std::string& name) {
  h5::Id p = plist(H5P_LINK_CREATE);
  const bool ascii = std::all_of(name.begin(), name.end(),
                                 [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  h5::check(H5Pset_char_encoding(p.get(), ascii ? H5T_CSET_ASCII : H5T_CSET_UTF8),
            "H5Pset_char_encoding", Errc::internal);
  return p;
}

h5::Id dataspace(const Shape& shape) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  return h5::Id(h5::check(
      shape.empty() ? H5Screate(H5S_SCALAR)
                    : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
      "cannot create dataspace", Errc::internal));
}

h5::Id file_type(DType t) {
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

h5::Id file_type(const hdf5::Datatype& t) {
  using D = hdf5::Datatype;
  auto ordered = [&](h5::Id ty) {
    if (t.big_endian)
      h5::check(H5Tset_order(ty.get(), H5T_ORDER_BE), "H5Tset_order", Errc::internal);
    return ty;
  };
  switch (t.cls) {
    case D::integer: {
      const int bits = static_cast<int>(t.size) * 8;
      const DType d = t.is_signed ? (bits == 8    ? DType::i8
                                     : bits == 16 ? DType::i16
                                     : bits == 32 ? DType::i32
                                                  : DType::i64)
                                  : (bits == 8    ? DType::u8
                                     : bits == 16 ? DType::u16
                                     : bits == 32 ? DType::u32
                                                  : DType::u64);
      return ordered(file_type(d));
    }
    case D::floating:
      return ordered(file_type(t.size == 2 ? DType::f16 : t.size == 4 ? DType::f32 : DType::f64));
    case D::string:
      return string_type(t, false);
    case D::vlen_string:
      return string_type(t, true);
    case D::opaque: {
      h5::Id ty(h5::check(H5Tcreate(H5T_OPAQUE, t.size), "H5Tcreate", Errc::internal));
      if (!t.tag.empty())
        h5::check(H5Tset_tag(ty.get(), t.tag.c_str()), "H5Tset_tag", Errc::internal);
      return ty;
    }
    case D::enumeration:
      if (t.size == 1 && t.is_signed) return file_type(DType::boolean);
      throw Error(Errc::unsupported,
                  "unsupported HDF5 feature: enum of " + std::to_string(t.size) + " bytes");
  }
  throw Error(Errc::internal, "unknown datatype class");
}

void copy_attributes(hdf5::Reader& r, const hdf5::Object& obj, hid_t out, bool skip_bf16_tag,
                     bool same_bytes) {
  std::vector<hdf5::Attribute> attrs = r.attributes(obj);
  std::stable_sort(
      attrs.begin(), attrs.end(),
      [](const hdf5::Attribute& a, const hdf5::Attribute& b) { return a.name < b.name; });
  for (const auto& a : attrs) {
    if ((a.name == kCrcAttr && !same_bytes) || h5::has_attr(out, a.name)) continue;
    if (skip_bf16_tag && a.name == "dtype" && is_bf16_tag(r, obj, a)) continue;
    write_attribute(r, obj, a, out);
  }
}

void write_range(hid_t dset, hid_t mtype, const Shape& shape, std::uint64_t first,
                 std::uint64_t count, const void* buf) {
  h5::Id fspace(h5::check(H5Dget_space(dset), "cannot get dataspace", Errc::internal));
  h5::select_flat_range(fspace.get(), shape, first, count);
  const hsize_t c = count;
  h5::Id mspace(h5::check(H5Screate_simple(1, &c, nullptr), "H5Screate_simple", Errc::internal));
  h5::check(H5Dwrite(dset, mtype, mspace.get(), fspace.get(), H5P_DEFAULT, buf),
            "cannot write data", Errc::io);
}

void write_string_attr(hid_t obj, const std::string& name, const std::string& value) {
  h5::Id st = copy(H5T_C_S1);
  h5::check(H5Tset_size(st.get(), H5T_VARIABLE), "H5Tset_size", Errc::internal);
  h5::check(H5Tset_cset(st.get(), H5T_CSET_UTF8), "H5Tset_cset", Errc::internal);
  h5::Id scalar(h5::check(H5Screate(H5S_SCALAR), "H5Screate", Errc::internal));
  h5::Id a(
      h5::check(H5Acreate2(obj, name.c_str(), st.get(), scalar.get(), H5P_DEFAULT, H5P_DEFAULT),
                "cannot create attribute " + name, Errc::io));
  const char* ptr = value.c_str();
  h5::check(H5Awrite(a.get(), st.get(), &ptr), "cannot write attribute " + name, Errc::io);
}

}  // namespace keras64::detail::h5w
