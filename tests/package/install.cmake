# Script mode: `cmake --install BUILD --prefix PREFIX`, then checks the install tree: the files a
# consumer and a user need, the installed tool's --version, and the generated man page.
#   cmake -DBUILD=build -DPREFIX=dir -DVERSION=x.y.z -P install.cmake
foreach(_v BUILD PREFIX VERSION)
  if(NOT DEFINED ${_v})
    message(FATAL_ERROR "install.cmake: -D${_v}=... is required")
  endif()
endforeach()
file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD} --prefix ${PREFIX}
                OUTPUT_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install ${BUILD} --prefix ${PREFIX} failed (${rc})")
endif()

foreach(f bin/keras64 include/keras64/convert.hpp include/keras64/version.hpp
          share/man/man1/keras64.1 share/bash-completion/completions/keras64)
  if(NOT EXISTS ${PREFIX}/${f})
    message(FATAL_ERROR "not installed: ${PREFIX}/${f}")
  endif()
endforeach()
file(GLOB_RECURSE _found RELATIVE ${PREFIX} ${PREFIX}/*/libkeras64.a ${PREFIX}/*/keras64Config.cmake
     ${PREFIX}/*/keras64ConfigVersion.cmake ${PREFIX}/*/keras64Targets.cmake)
list(LENGTH _found n)
if(NOT n EQUAL 4)
  message(FATAL_ERROR "library and CMake package: found only ${_found}")
endif()

execute_process(COMMAND ${PREFIX}/bin/keras64 --version OUTPUT_VARIABLE out
                OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out STREQUAL "keras64 ${VERSION}")
  message(FATAL_ERROR "installed keras64 --version: '${out}' (${rc}), want 'keras64 ${VERSION}'")
endif()
# The man page was written from the tool's help: every subcommand's section and option is there.
file(READ ${PREFIX}/share/man/man1/keras64.1 man)
foreach(want ".TH KERAS64 1" ".SS \"keras64 convert\"" ".SS \"keras64 load\"" "\\-\\-to"
        "\\-\\-include\\-optimizer" "EXIT STATUS" ".B 130" "keras64 ${VERSION}")
  string(FIND "${man}" "${want}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "keras64.1 lacks '${want}'")
  endif()
endforeach()
message(STATUS "installed into ${PREFIX}: keras64 ${VERSION}")
