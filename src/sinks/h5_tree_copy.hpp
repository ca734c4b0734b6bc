// The structure-preserving outputs' copy of their input's tree (--to weights.h5, keras,
// legacy-h5): the input is read with keras64's own HDF5 reader (detail/hdf5/), never libhdf5,
// and written through libhdf5 (h5_write.hpp).
//
// Every group is recreated with its attributes (in name order); every dataset of the plan is
// handed to the caller, who creates it in its own dtype and layout; every other dataset is
// - widened to float64 (Options::widen_unplanned, float16/bfloat16/float32 data: optimizer or
//   metric state Keras would hold at float64), contiguous and unfiltered, or
// - recreated as it is: the same type, shape, layout (contiguous, compact or chunked with the
//   same chunk shape and filters), fill value and attributes, written by libhdf5 into a scratch
//   file and H5Ocopy'd from there (libhdf5 reads only what it wrote; the copy is laid out as
//   H5Ocopy of the input's own dataset was, so outputs are byte-identical to those keras64 made
//   when libhdf5 read its inputs: tests/integration/test_output_bytes.py).
// Groups split over several inputs (the shards of a sharded save) are merged; a dataset present
// in two inputs is Error{corrupt}.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>

#include "detail/h5.hpp"
#include "detail/hdf5/reader.hpp"
#include "keras64/source.hpp"

namespace keras64::detail {

class H5TreeCopy {
 public:
  /// Creates planned dataset `index` (of `obj`, read by `r`) as `name` in the group `out_parent`.
  using CreatePlanned =
      std::function<void(hdf5::Reader& r, const hdf5::Object& obj, hid_t out_parent,
                         const std::string& name, std::size_t index)>;
  /// `shown` names the output in messages; `planned` maps dataset paths ("/a/b") to plan indexes.
  H5TreeCopy(std::string shown, const std::map<std::string, std::size_t>& planned,
             bool widen_unplanned, CreatePlanned create_planned);

  /// Copies the root's attributes and the whole tree of `in` into the open file `out`.
  void copy(const NativeFile& in, hid_t out);

 private:
  void copy_group(hdf5::Reader& r, const hdf5::Object& in, hid_t out);
  void copy_child(hdf5::Reader& r, const hdf5::Object& obj, hid_t out, const std::string& name);
  // Options::widen_unplanned: a float64 copy of `d`, or false when it is no float to widen.
  bool copy_widened(hdf5::Reader& r, const hdf5::Object& obj, const hdf5::Dataset& d, hid_t out,
                    const std::string& name);
  void copy_as_is(hdf5::Reader& r, const hdf5::Object& obj, const hdf5::Dataset& d, hid_t out,
                  const std::string& name);

  std::string shown_;
  const std::map<std::string, std::size_t>& planned_;
  bool widen_unplanned_;
  CreatePlanned create_planned_;
};

}  // namespace keras64::detail
