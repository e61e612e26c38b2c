# What `cmake --install` and `cpack -G DEB` put in place: the library, its public headers, the
# CMake package (find_package(molt)), pkg-config files and the molt command.
include(CMakePackageConfigHelpers)

set(MOLT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/molt)
install(TARGETS molt molt_httplib EXPORT moltTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/src/molt/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/molt
        FILES_MATCHING PATTERN "*.hpp")
install(FILES ${PROJECT_BINARY_DIR}/generated/molt/version.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/molt)
install(EXPORT moltTargets NAMESPACE molt:: DESTINATION ${MOLT_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/moltConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/package/moltConfig.cmake
                              INSTALL_DESTINATION ${MOLT_CMAKE_DIR})
# 0.x: a minor version may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/package/moltConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/package/moltConfig.cmake
              ${PROJECT_BINARY_DIR}/package/moltConfigVersion.cmake
        DESTINATION ${MOLT_CMAKE_DIR})

# Relocatable: the prefix is found from where the .pc file lies.
file(RELATIVE_PATH MOLT_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
foreach(pc molt molt-httplib)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/${pc}.pc.in ${PROJECT_BINARY_DIR}/package/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/package/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()

if(MOLT_BUILD_CLI)
  install(TARGETS molt-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR})

# cpack -G DEB: one package with the command, the headers, the static libraries and the CMake and
# pkg-config files. The command's shared libraries come from dpkg-shlibdeps; the rest is what a
# program built on molt needs to compile and link (headers, static libraries), and libcurl and
# libcrypto (libssl-dev brings libssl3), which molt loads at run time to fetch over HTTP(S) and
# S3 and to check and make signatures.
set(CPACK_PACKAGE_NAME molt)
set(CPACK_PACKAGE_VENDOR "molt")
set(CPACK_PACKAGE_CONTACT "molt maintainers <molt@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libspdlog-dev, libssl-dev, zlib1g-dev, libcpp-httplib-dev, pkg-config, libcurl4, libzstd1")
include(CPack)
