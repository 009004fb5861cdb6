# ota_fleet against the lab (label integration, the `lab` fixture of tests/integration): the
# in-process cloud on its own (fleet_cloud_test.cpp) and real `ota_fleet` processes
# (fleet_run_test.cpp, once the ota_fleet executable exists) and the connect waker
# (connect_waker_test.cpp), ota_fleet_cloud as a process (fleet_cloud_process_test.cpp).
# Included by tests/fleet/CMakeLists.txt.
if(TARGET ota_fleet_cloud AND COMMAND ota_add_integration_test)
  set(_ota_fleet_it_sources ${CMAKE_CURRENT_LIST_DIR}/fleet_cloud_test.cpp)
  if(TARGET ota_fleet)
    list(APPEND _ota_fleet_it_sources ${CMAKE_CURRENT_LIST_DIR}/fleet_lab.cpp
                                      ${CMAKE_CURRENT_LIST_DIR}/fleet_run_test.cpp
                                      ${CMAKE_CURRENT_LIST_DIR}/fleet_stop_test.cpp
                                      ${CMAKE_CURRENT_LIST_DIR}/connect_waker_test.cpp
                                      ${CMAKE_CURRENT_LIST_DIR}/fleet_cloud_process_test.cpp)
  endif()
  ota_add_integration_test(ota_it_fleet ${_ota_fleet_it_sources})
  target_link_libraries(ota_it_fleet PRIVATE ota_fleet_cloud ota_fleet_core
                        nlohmann_json::nlohmann_json)
  if(TARGET ota_fleet)
    target_link_libraries(ota_it_fleet PRIVATE ota_fleet_waker)
  endif()
  target_compile_definitions(ota_it_fleet PRIVATE
    OTA_LAB_SCRIPT_PATH="${PROJECT_SOURCE_DIR}/scripts/lab.sh")
  if(TARGET ota_fleet)
    add_dependencies(ota_it_fleet ota_fleet ota_fleet_cloud_exe)
  endif()
endif()
