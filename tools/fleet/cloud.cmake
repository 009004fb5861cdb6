# FleetCloud (sim/fleet_cloud.*): the in-process cloud of `ota_fleet run --push-url ...`, a
# library of its own so that ota_fleet_sim and the tests link it. Included by
# tools/fleet/CMakeLists.txt.
add_library(ota_fleet_cloud STATIC ${CMAKE_CURRENT_LIST_DIR}/sim/fleet_cloud.cpp)
target_include_directories(ota_fleet_cloud PUBLIC ${CMAKE_CURRENT_LIST_DIR}/sim)
target_link_libraries(ota_fleet_cloud PUBLIC ota::ota ota_fleet_core PRIVATE ota_tools_common
                      ota_compiler_options)

# ota_fleet_cloud: the same cloud as a process of its own (cloud_main.cpp), beside an
# `ota_fleet run` without --push-url, so that it does not share that process's paho threads.
add_executable(ota_fleet_cloud_exe ${CMAKE_CURRENT_LIST_DIR}/cloud_main.cpp)
set_target_properties(ota_fleet_cloud_exe PROPERTIES OUTPUT_NAME ota_fleet_cloud)
target_link_libraries(ota_fleet_cloud_exe PRIVATE ota_fleet_cloud ota_fleet_core
                      nlohmann_json::nlohmann_json ota_compiler_options)
