# FleetCloud (sim/fleet_cloud.*): the in-process cloud of `ota_fleet run --push-url ...`, a
# library of its own so that ota_fleet_sim and the tests link it. Included by
# tools/fleet/CMakeLists.txt.
add_library(ota_fleet_cloud STATIC ${CMAKE_CURRENT_LIST_DIR}/sim/fleet_cloud.cpp)
target_include_directories(ota_fleet_cloud PUBLIC ${CMAKE_CURRENT_LIST_DIR}/sim)
target_link_libraries(ota_fleet_cloud PUBLIC ota::ota ota_fleet_core PRIVATE nlohmann_json::nlohmann_json
                      ota_compiler_options)
