# `cpack -G DEB` in the build directory: keras64_<version>_<arch>.deb (the tool) and
# keras64-dev_<version>_<arch>.deb (library, headers, CMake package). Run-time dependencies of
# the tool are computed by dpkg-shlibdeps from what the binary links (libhdf5, libisal, ...);
# the -dev package names the -dev packages a consumer of the static library links against.
# scripts/test-package.sh builds both and installs them with apt-get.
set(CPACK_PACKAGE_NAME keras64)
set(CPACK_PACKAGE_VENDOR "keras64")
set(CPACK_PACKAGE_CONTACT "keras64 developers <keras64@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION
    "keras64 reads Keras models and weights of every generation (.keras, .weights.h5, sharded
.weights.json, legacy .h5) and writes their weights as float64 (npy, npz, memmap, safetensors,
weights.h5, .keras, legacy .h5), streaming in bounded memory.")
set(CPACK_RESOURCE_FILE_README ${PROJECT_SOURCE_DIR}/README.md)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
set(CPACK_STRIP_FILES TRUE)  # the tool only: CMake runs no strip on static libraries

set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL cli dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_CLI_PACKAGE_NAME keras64)
set(CPACK_DEBIAN_CLI_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_CLI_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME keras64-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "libhdf5-dev, zlib1g-dev, libdeflate-dev, libisal-dev, libprotobuf-dev, libsnappy-dev, pkg-config")
set(CPACK_DEBIAN_DEV_DESCRIPTION
    "C++20 library of keras64 (static), headers and CMake package\nfind_package(keras64) gives the target keras64::keras64.")
include(CPack)
