// h5::file_access(): libhdf5's metadata cache stays at kMetadataCacheBytes however many objects
// a file gets (issue #18: with libhdf5's default it grew with the number of datasets, and so did
// the peak memory of every HDF5 output).
#include <gtest/gtest.h>

#include <string>

#include "detail/h5.hpp"
#include "scratch_dir.hpp"

namespace h5 = keras64::detail::h5;
using keras64::test::ScratchDir;

namespace {

struct CacheSize {
  std::size_t max = 0, current = 0;
};

// Creates `datasets` small datasets, 16 per group, each with an attribute (the shape of a Keras
// weights file), and returns the cache's size with all of them created and the file still open.
CacheSize cache_after_creating(const std::string& path, hid_t fapl, int datasets) {
  h5::Id f(h5::check(H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl), "H5Fcreate"));
  h5::Id space(h5::check(H5Screate(H5S_SCALAR), "H5Screate"));
  h5::Id group;
  for (int i = 0; i < datasets; ++i) {
    if (i % 16 == 0)
      group = h5::Id(h5::check(H5Gcreate2(f.get(), ("g" + std::to_string(i)).c_str(), H5P_DEFAULT,
                                          H5P_DEFAULT, H5P_DEFAULT),
                               "H5Gcreate2"));
    h5::Id d(h5::check(H5Dcreate2(group.get(), std::to_string(i).c_str(), H5T_IEEE_F64LE,
                                  space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                       "H5Dcreate2"));
    h5::Id a(h5::check(
        H5Acreate2(d.get(), "keras64.crc32c", H5T_STD_U32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
        "H5Acreate2"));
  }
  size_t max = 0, min_clean = 0, current = 0;
  int entries = 0;
  h5::check(H5Fget_mdc_size(f.get(), &max, &min_clean, &current, &entries), "H5Fget_mdc_size");
  return {max, current};
}

}  // namespace

TEST(H5FileAccess, MetadataCacheStaysAtItsCapWhateverTheNumberOfDatasets) {
  ScratchDir dir;
  const h5::Id fapl = h5::file_access();
  const CacheSize capped =
      cache_after_creating((dir.path() / "capped.h5").string(), fapl.get(), 4000);
  EXPECT_EQ(capped.max, h5::kMetadataCacheBytes);
  EXPECT_LE(capped.current, h5::kMetadataCacheBytes);
  // libhdf5's default, for the same file, holds more: the cap is what keeps the bound.
  const CacheSize defaults =
      cache_after_creating((dir.path() / "default.h5").string(), H5P_DEFAULT, 4000);
  EXPECT_GT(defaults.current, h5::kMetadataCacheBytes);
}

TEST(H5FileAccess, FileClosesEveryObjectWithIt) {
  const h5::Id fapl = h5::file_access();
  H5F_close_degree_t degree{};
  ASSERT_GE(H5Pget_fclose_degree(fapl.get(), &degree), 0);
  EXPECT_EQ(degree, H5F_CLOSE_STRONG);
}
