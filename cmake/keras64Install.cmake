# `cmake --install` and `cpack -G DEB` (fmt is the model). Two components:
#   cli  the keras64 tool, its man page keras64.1 and its bash completion (the .deb "keras64")
#   dev  the static library, the public headers and the CMake package, so that
#        find_package(keras64) gives keras64::keras64 (the .deb "keras64-dev")
include(CMakePackageConfigHelpers)
set(KERAS64_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/keras64)

install(TARGETS keras64 EXPORT keras64Targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
# `cmake --install --strip` and cpack strip executables only; the library's debug information
# (about 9/10 of a RelWithDebInfo libkeras64.a) goes too, its symbols stay.
install(CODE "if(CMAKE_INSTALL_DO_STRIP)
  execute_process(COMMAND \"${CMAKE_STRIP}\" --strip-debug
    \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/$<TARGET_FILE_NAME:keras64>\")
endif()" COMPONENT dev)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/keras64 ${PROJECT_BINARY_DIR}/include/keras64
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
        FILES_MATCHING PATTERN "*.hpp")
install(EXPORT keras64Targets NAMESPACE keras64:: DESTINATION ${KERAS64_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/keras64Config.cmake.in
  ${PROJECT_BINARY_DIR}/keras64Config.cmake INSTALL_DESTINATION ${KERAS64_CMAKE_DIR})
# 0.x: a minor release may change the API, so only the same MAJOR.MINOR is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/keras64ConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/keras64Config.cmake ${PROJECT_BINARY_DIR}/keras64ConfigVersion.cmake
        DESTINATION ${KERAS64_CMAKE_DIR} COMPONENT dev)

if(TARGET keras64_cli)
  install(TARGETS keras64_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT cli)
  # Generated at build time from the built tool's own --help (tools/keras64/CMakeLists.txt).
  install(FILES ${KERAS64_MAN_PAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT cli)
  install(FILES ${KERAS64_BASH_COMPLETION} DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
          RENAME keras64 COMPONENT cli)
endif()

include(cmake/keras64Package.cmake)
