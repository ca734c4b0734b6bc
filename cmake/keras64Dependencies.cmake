# Every dependency comes from Debian's -dev packages (scripts/install-deps.sh installs them).
# The library's own dependencies are listed once more in keras64Config.cmake.in, for consumers of
# the installed static library: keep the two lists in step.
find_package(HDF5 REQUIRED COMPONENTS C)  # FindHDF5's imported target hdf5::hdf5
find_package(nlohmann_json 3.10 REQUIRED)
find_package(ZLIB REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBDEFLATE REQUIRED IMPORTED_TARGET libdeflate)
# ISA-L (libisal-dev): fast parallel deflate for npz-deflate and CRC-32 (issue #6).
pkg_check_modules(ISAL REQUIRED IMPORTED_TARGET libisal)
find_package(Threads REQUIRED)
if(KERAS64_BUILD_CLI)
  find_package(CLI11 REQUIRED)
endif()
# TensorFlow checkpoints and SavedModels (issue #14): protobuf (libprotobuf-dev + protobuf-compiler)
# decodes the index entries and object graphs from src/proto/*.proto; snappy (libsnappy-dev)
# decompresses the table blocks TF wrote compressed.
find_package(Protobuf REQUIRED)
find_package(Snappy CONFIG REQUIRED)
