# Every dependency comes from Debian's -dev packages (scripts/install-deps.sh installs them).
find_package(HDF5 REQUIRED COMPONENTS C)
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
