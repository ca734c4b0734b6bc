# Script mode: configures, builds and runs the consumer project in this folder, then checks what it
# wrote against the model with `keras64 diff` (the built CLI). Run by ctest (find_package mode,
# against the `cmake --install` prefix of the build tree) and by scripts/test-package.sh (both
# modes, and against the installed .deb).
#   cmake -DMODE=find_package|add_subdirectory -DWORK=dir -DMODEL=x.keras -DVERSION=x.y.z
#         -DCLI=keras64 [-DPREFIX=dir] [-DSOURCE_DIR=keras64 source] [-DGENERATOR=Ninja]
#         [-DCXX=c++] [-DFLAGS=-fsanitize=...] -P consumer.cmake
foreach(_v MODE WORK MODEL VERSION CLI)
  if(NOT DEFINED ${_v})
    message(FATAL_ERROR "consumer.cmake: -D${_v}=... is required")
  endif()
endforeach()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${cmd}")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK})
set(args -S ${CMAKE_CURRENT_LIST_DIR} -B ${WORK} -DKERAS64_CONSUMER_MODE=${MODE}
    -DKERAS64_EXPECTED_VERSION=${VERSION} -DKERAS64_EXPECTED_BUILD_TYPE=)
if(GENERATOR)
  list(APPEND args -G ${GENERATOR})
endif()
if(CXX)
  list(APPEND args -DCMAKE_CXX_COMPILER=${CXX})
endif()
if(FLAGS)  # a sanitized keras64 needs its consumer linked with the same runtime
  list(APPEND args "-DCMAKE_CXX_FLAGS=${FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${FLAGS}")
endif()
if(PREFIX)
  list(APPEND args -DCMAKE_PREFIX_PATH=${PREFIX})
endif()
if(SOURCE_DIR)
  list(APPEND args -DKERAS64_SOURCE_DIR=${SOURCE_DIR})
endif()
run(${CMAKE_COMMAND} ${args})
run(${CMAKE_COMMAND} --build ${WORK})
run(${WORK}/consumer ${MODEL} ${WORK}/out.npz ${VERSION})
# The consumer's float64 weights equal the model's, value for value.
run(${CLI} diff ${MODEL} ${WORK}/out.npz)
