# `cmake --install` puts the four libraries, their headers and a CMake package
# under the prefix, so another project can find_package(tapegrad) and link
# tapegrad::tapegrad, or a single library such as tapegrad::ops. A build with
# MPI also installs distributed/ as tapegrad::distributed, in an export set of
# its own: tapegrad::tapegrad never links MPI, and the package loads
# tapegrad::distributed only where it finds MPI. Tests, tools, examples and
# bench are not installed.
include(CMakePackageConfigHelpers)

set(tapegrad_libraries core ops layers optim)
set(tapegrad_package_dir ${CMAKE_INSTALL_LIBDIR}/cmake/tapegrad)
# Read by tapegradConfig.cmake.in.
set(TAPEGRAD_PACKAGE_DISTRIBUTED OFF)
set(tapegrad_installed ${tapegrad_libraries})
if(TARGET tapegrad_distributed)
  set(TAPEGRAD_PACKAGE_DISTRIBUTED ON)
  list(APPEND tapegrad_installed distributed)
endif()

foreach(lib IN LISTS tapegrad_installed)
  set_target_properties(tapegrad_${lib} PROPERTIES EXPORT_NAME ${lib})
  # Every library's headers install into the one include directory.
  target_include_directories(tapegrad_${lib} PUBLIC $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  add_library(tapegrad::${lib} ALIAS tapegrad_${lib})
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${lib}/include/ TYPE INCLUDE)
endforeach()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ TYPE INCLUDE)

if(TAPEGRAD_SANITIZE)
  # Sanitized objects need the sanitizer runtimes in any program that links them.
  target_link_options(tapegrad_core INTERFACE
                      $<INSTALL_INTERFACE:${tapegrad_sanitize_link_flag}>)
endif()

install(TARGETS tapegrad tapegrad_core tapegrad_ops tapegrad_layers tapegrad_optim
        EXPORT tapegradTargets)
install(EXPORT tapegradTargets NAMESPACE tapegrad:: DESTINATION ${tapegrad_package_dir})
if(TAPEGRAD_PACKAGE_DISTRIBUTED)
  install(TARGETS tapegrad_distributed EXPORT tapegradDistributedTargets)
  install(EXPORT tapegradDistributedTargets NAMESPACE tapegrad::
          DESTINATION ${tapegrad_package_dir})
endif()

# tapegradConfig.cmake must find every imported target the libraries link,
# even privately (a static library hands those on to the program). Plain
# names such as dl need nothing. Warn when a link appears that it does not find.
set(found_by_config fmt::fmt nlohmann_json::nlohmann_json)
if(TAPEGRAD_PACKAGE_DISTRIBUTED)
  list(APPEND found_by_config MPI::MPI_CXX)  # for tapegrad::distributed only
endif()
foreach(lib IN LISTS tapegrad_installed)
  get_target_property(links tapegrad_${lib} LINK_LIBRARIES)
  foreach(link IN LISTS links)
    if(link MATCHES "::" AND NOT link IN_LIST found_by_config AND NOT link MATCHES "^tapegrad")
      message(WARNING "tapegrad_${lib} links ${link}, which the installed package does not "
                      "find: add it to cmake/tapegradConfig.cmake.in and cmake/install.cmake.")
    endif()
  endforeach()
endforeach()

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/tapegradConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/tapegradConfig.cmake
                              INSTALL_DESTINATION ${tapegrad_package_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tapegradConfigVersion.cmake
                                 COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tapegradConfig.cmake
              ${PROJECT_BINARY_DIR}/tapegradConfigVersion.cmake
        DESTINATION ${tapegrad_package_dir})
