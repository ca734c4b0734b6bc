# Included by the top-level CMakeLists.txt before option(KERAS64_BUILD_PYTHON): finds the Python
# the module is built for (Debian's /usr/bin/python3, the one with numpy, unless
# KERAS64_PYTHON says otherwise) and pybind11, and sets KERAS64_PYTHON_DEFAULT to ON when both
# are there, so the Python module and its tests are part of the default build.
set(KERAS64_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with numpy and h5py (Debian's)")
set(KERAS64_PYTHON_DEFAULT OFF)
if(EXISTS "${KERAS64_PYTHON}" AND NOT DEFINED Python_EXECUTABLE)
  set(Python_EXECUTABLE "${KERAS64_PYTHON}" CACHE FILEPATH "Python the module is built for")
endif()
find_package(Python 3.8 QUIET COMPONENTS Interpreter Development.Module)
if(Python_FOUND)
  find_package(pybind11 2.6 CONFIG QUIET)
  if(pybind11_FOUND)
    set(KERAS64_PYTHON_DEFAULT ON)
  endif()
endif()
