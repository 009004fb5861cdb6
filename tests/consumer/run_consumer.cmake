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
