# Script mode: install, configure the consumer, build it, run it. Fails on the first error.
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${what}: ok\n${out}")
endfunction()

set(config_args "")
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
run_step("install" ${CMAKE_COMMAND} --install "${OTA_BUILD_DIR}" --prefix "${prefix}" ${config_args})
if(NOT EXISTS "${prefix}/lib/cmake/ota/otaConfig.cmake" AND NOT EXISTS "${prefix}/lib64/cmake/ota/otaConfig.cmake"
   AND NOT EXISTS "${prefix}/lib/x86_64-linux-gnu/cmake/ota/otaConfig.cmake")
  file(GLOB_RECURSE found "${prefix}/*otaConfig.cmake")
  if(NOT found)
    message(FATAL_ERROR "install produced no otaConfig.cmake")
  endif()
endif()
run_step("configure consumer" ${CMAKE_COMMAND} -S "${CONSUMER_SOURCE_DIR}" -B "${WORK_DIR}/build"
         -G "${GENERATOR}" "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_BUILD_TYPE=Release)
run_step("build consumer" ${CMAKE_COMMAND} --build "${WORK_DIR}/build" -j 2)
run_step("run consumer" "${WORK_DIR}/build/consumer")

# The core-only consumer: its own channel, byte source and sink on ota::core.
set(core_build "${WORK_DIR}/core-build")
run_step("configure core consumer" ${CMAKE_COMMAND} -S "${CORE_CONSUMER_SOURCE_DIR}"
         -B "${core_build}" -G "${GENERATOR}" "-DCMAKE_PREFIX_PATH=${prefix}"
         -DCMAKE_BUILD_TYPE=Release -DCMAKE_VERBOSE_MAKEFILE=ON)
execute_process(COMMAND ${CMAKE_COMMAND} --build "${core_build}" -j 2 --verbose
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "build core consumer failed (${rc}):\n${out}\n${err}")
endif()
string(REGEX MATCH "[^\n]*-o core_consumer[^\n]*" link_line "${out}")
message(STATUS "core consumer link line:\n${link_line}")
if(link_line MATCHES "paho|curl|ota_paho|ota_curl|ota_hal_posix|ota_c_api")
  message(FATAL_ERROR "the core consumer's link line names more than ota::core: ${link_line}")
endif()
set(core_bin "${core_build}/core_consumer")
# No libcurl or paho library may be needed at run time, and no symbol of theirs linked in.
execute_process(COMMAND readelf -d "${core_bin}" OUTPUT_VARIABLE dyn RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf -d ${core_bin} failed")
endif()
if(dyn MATCHES "libcurl|libpaho")
  message(FATAL_ERROR "the core consumer needs libcurl or paho at run time:\n${dyn}")
endif()
execute_process(COMMAND nm -C "${core_bin}" OUTPUT_VARIABLE syms RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm ${core_bin} failed")
endif()
string(REGEX MATCHALL "[^\n]*(curl_|MQTTAsync|mqtt::|PahoChannel|CurlByteSource|FileSink)[^\n]*"
       foreign "${syms}")
if(foreign)
  message(FATAL_ERROR "the core consumer links symbols beyond ota::core:\n${foreign}")
endif()
message(STATUS "core consumer: no paho, libcurl or file-sink symbol linked")
run_step("run core consumer" "${core_bin}")
