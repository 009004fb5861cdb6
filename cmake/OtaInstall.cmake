# Installs the library, headers and a CMake package so consumers can
#   find_package(ota REQUIRED)  and  target_link_libraries(app PRIVATE ota::ota)
# or, for the core alone,  find_package(ota REQUIRED COMPONENTS core)  and  ota::core.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(OTA_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/ota")

install(TARGETS ota ota_core ota_paho ota_curl ota_hal_posix ota_c_api ota_compat EXPORT otaTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/ota DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT otaTargets NAMESPACE ota:: DESTINATION ${OTA_INSTALL_CMAKEDIR})

configure_package_config_file(cmake/otaConfig.cmake.in
  "${CMAKE_CURRENT_BINARY_DIR}/otaConfig.cmake"
  INSTALL_DESTINATION ${OTA_INSTALL_CMAKEDIR})
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/otaConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES
  "${CMAKE_CURRENT_BINARY_DIR}/otaConfig.cmake"
  "${CMAKE_CURRENT_BINARY_DIR}/otaConfigVersion.cmake"
  cmake/FindMbedTLS.cmake
  DESTINATION ${OTA_INSTALL_CMAKEDIR})
