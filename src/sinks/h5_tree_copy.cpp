#include "sinks/h5_tree_copy.hpp"

#include <algorithm>
#include <vector>

#include "detail/temp_file.hpp"
#include "keras64/convert.hpp"
#include "keras64/error.hpp"
#include "sinks/h5_write.hpp"

namespace keras64::detail {
namespace {

// Data move in bounded pieces: optimizer state can be twice the model's size.
constexpr std::uint64_t kPiece = 1u << 16;

h5::Id create_dataset(hid_t parent, const std::string& name, hid_t type, const Shape& shape,
                      hid_t dcpl) {
  const h5::Id lcpl = h5w::link_plist(name);
  h5::Id space = h5w::dataspace(shape);
  return h5::Id(
      h5::check(H5Dcreate2(parent, name.c_str(), type, space.get(), lcpl.get(), dcpl, H5P_DEFAULT),
                "cannot create dataset", Errc::io));
}

}  // namespace

H5TreeCopy::H5TreeCopy(std::string shown, const std::map<std::string, std::size_t>& planned,
                       bool widen_unplanned, CreatePlanned create_planned)
    : shown_(std::move(shown)),
      planned_(planned),
      widen_unplanned_(widen_unplanned),
      create_planned_(std::move(create_planned)) {}

void H5TreeCopy::copy(const NativeFile& in, hid_t out) {
  hdf5::Reader r = in.size ? hdf5::Reader(in.path.string(), in.offset, in.size, in.label)
                           : hdf5::Reader(in.path.string(), in.label);
  const hdf5::Object root = r.root();
  h5w::copy_attributes(r, root, out, false);
  copy_group(r, root, out);
}

void H5TreeCopy::copy_group(hdf5::Reader& r, const hdf5::Object& in, hid_t out) {
  for (const hdf5::Link& link : r.links(in)) copy_child(r, r.child(in, link), out, link.name);
}

void H5TreeCopy::copy_child(hdf5::Reader& r, const hdf5::Object& obj, hid_t out,
                            const std::string& name) {
  // Errors of the input name it (the reader's "model.weights.h5:/a/b: ..."); errors of the
  // output name the output and the object's path.
  const std::string& input = r.where().file;
  try {
    if (obj.kind == hdf5::Kind::group) {
      h5::Id g_out;
      if (H5Lexists(out, name.c_str(), H5P_DEFAULT) > 0) {
        g_out = h5::open_group(out, name);  // a group split over several shards
      } else {
        const h5::Id lcpl = h5w::link_plist(name);
        h5::Id gcpl = h5w::plist(H5P_GROUP_CREATE);
        H5Pset_obj_track_times(gcpl.get(), false);
        g_out = h5::Id(h5::check(H5Gcreate2(out, name.c_str(), lcpl.get(), gcpl.get(), H5P_DEFAULT),
                                 "cannot create group", Errc::io));
      }
      h5w::copy_attributes(r, obj, g_out.get(), false);
      copy_group(r, obj, g_out.get());
      return;
    }
    if (obj.kind != hdf5::Kind::dataset)
      throw Error(Errc::unsupported, "unsupported HDF5 feature: committed datatype");
    if (H5Lexists(out, name.c_str(), H5P_DEFAULT) > 0)
      throw Error(Errc::corrupt, "present in two input files");
    if (const auto p = planned_.find(obj.path); p != planned_.end()) {
      create_planned_(r, obj, out, name, p->second);
      return;
    }
    const hdf5::Dataset d = r.dataset(obj);
    if (widen_unplanned_ && copy_widened(r, obj, d, out, name)) return;
    // Everything else is kept as it is: datasets not in the plan (integers, optimizer state
    // when it is not converted).
    copy_as_is(r, obj, d, out, name);
  } catch (const Error& e) {
    if (!input.empty() && e.file() == input) throw;
    throw e.within({shown_, "", obj.path});
  }
}

bool H5TreeCopy::copy_widened(hdf5::Reader& r, const hdf5::Object& obj, const hdf5::Dataset& d,
                              hid_t out, const std::string& name) {
  const DType from = d.info.dtype;
  if (!info(from).is_float || from == DType::f64) return false;
  h5::Id type = h5w::file_type(DType::f64);
  h5::Id dcpl = h5w::plist(H5P_DATASET_CREATE);
  H5Pset_obj_track_times(dcpl.get(), false);
  h5::Id dset = create_dataset(out, name, type.get(), d.info.shape, dcpl.get());
  h5w::copy_attributes(r, obj, dset.get(), true);
  const std::uint64_t n = element_count(d.info.shape);
  std::vector<unsigned char> raw(kPiece * info(from).size);
  std::vector<double> wide(kPiece);
  for (std::uint64_t first = 0; first < n; first += kPiece) {
    const std::uint64_t count = std::min(kPiece, n - first);
    r.read(d, first, count, raw.data());
    widen_to_f64(from, raw.data(), static_cast<std::size_t>(count), wide.data());
    h5w::write_range(dset.get(), type.get(), d.info.shape, first, count, wide.data());
  }
  return true;
}

void H5TreeCopy::copy_as_is(hdf5::Reader& r, const hdf5::Object& obj, const hdf5::Dataset& d,
                            hid_t out, const std::string& name) {
  h5::Id type = h5w::file_type(d.type);
  h5::Id dcpl = h5w::plist(H5P_DATASET_CREATE);
  H5Pset_obj_track_times(dcpl.get(), false);
  if (d.layout.cls == hdf5::Layout::compact) {
    h5::check(H5Pset_layout(dcpl.get(), H5D_COMPACT), "H5Pset_layout", Errc::internal);
  } else if (d.layout.cls == hdf5::Layout::chunked) {
    // The layout's chunk dimensions end with the element size.
    std::vector<hsize_t> chunk(d.layout.chunk.begin(), d.layout.chunk.end() - 1);
    if (chunk.size() != d.info.shape.size())
      throw Error(Errc::corrupt, "chunks of rank " + std::to_string(chunk.size()) +
                                     " in a dataset of rank " +
                                     std::to_string(d.info.shape.size()));
    h5::check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()),
              "cannot set chunking", Errc::internal);
    for (const hdf5::Filter& f : d.filters) {
      if (f.id == 1)
        h5::check(H5Pset_deflate(dcpl.get(), f.client.empty() ? 6 : std::min(f.client[0], 9u)),
                  "cannot set the deflate filter", Errc::internal);
      else if (f.id == 2)
        h5::check(H5Pset_shuffle(dcpl.get()), "cannot set the shuffle filter", Errc::internal);
      else if (f.id == 3)
        h5::check(H5Pset_fletcher32(dcpl.get()), "cannot set fletcher32", Errc::internal);
    }
  }
  if (d.fill.size() == d.type.size)
    h5::check(H5Pset_fill_value(dcpl.get(), type.get(), d.fill.data()), "cannot set fill value",
              Errc::internal);
  // The dataset is made in a scratch file and H5Ocopy'd from there: libhdf5 reads only what it
  // wrote itself, and the copy is laid out exactly as H5Ocopy laid out the input's own dataset
  // when libhdf5 still read inputs (an object header just large enough for its messages), so
  // the output's bytes are the same.
  TempFile scratch_file("h5copy");
  h5::Id scratch(
      h5::check(H5Fcreate(scratch_file.path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                "cannot create a scratch HDF5 file", Errc::io));
  h5::Id dset = create_dataset(scratch.get(), "d", type.get(), d.info.shape, dcpl.get());
  // The reader gives little-endian elements: the memory type is the file type, little-endian.
  hdf5::Datatype le = d.type;
  le.big_endian = false;
  h5::Id mtype = h5w::file_type(le);
  const bool allocated =
      d.layout.cls != hdf5::Layout::contiguous || d.layout.address != hdf5::kUndefined;
  const std::uint64_t n = allocated ? element_count(d.info.shape) : 0;
  std::vector<unsigned char> buf(kPiece * d.type.size);
  for (std::uint64_t first = 0; first < n; first += kPiece) {
    const std::uint64_t count = std::min(kPiece, n - first);
    r.read(d, first, count, buf.data());
    h5w::write_range(dset.get(), mtype.get(), d.info.shape, first, count, buf.data());
  }
  h5w::copy_attributes(r, obj, dset.get(), false, true);
  dset = h5::Id();
  const h5::Id lcpl = h5w::link_plist(name);
  h5::check(H5Ocopy(scratch.get(), "d", out, name.c_str(), H5P_DEFAULT, lcpl.get()), "cannot copy",
            Errc::io);
}

}  // namespace keras64::detail
