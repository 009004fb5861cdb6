# ota_fleet against the lab (label integration, the `lab` fixture of tests/integration): the
# in-process cloud on its own (fleet_cloud_test.cpp) and real `ota_fleet` processes
# (fleet_run_test.cpp). Included by tests/fleet/CMakeLists.txt.
if(TARGET ota_fleet_cloud AND COMMAND ota_add_integration_test)
  set(_ota_fleet_it_sources ${CMAKE_CURRENT_LIST_DIR}/fleet_cloud_test.cpp)
  if(TARGET ota_fleet AND EXISTS ${CMAKE_CURRENT_LIST_DIR}/fleet_run_test.cpp)
    list(APPEND _ota_fleet_it_sources ${CMAKE_CURRENT_LIST_DIR}/fleet_run_test.cpp)
  endif()
  ota_add_integration_test(ota_it_fleet ${_ota_fleet_it_sources})
  target_link_libraries(ota_it_fleet PRIVATE ota_fleet_cloud nlohmann_json::nlohmann_json)
  if(TARGET ota_fleet)
    add_dependencies(ota_it_fleet ota_fleet)
  endif()
endif()
