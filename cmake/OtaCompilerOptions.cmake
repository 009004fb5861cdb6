# Warning, sanitizer and fuzzer flags for the project's own targets (never exported to consumers).
add_library(ota_compiler_options INTERFACE)
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(ota_compiler_options INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    $<$<BOOL:${OTA_WARNINGS_AS_ERRORS}>:-Werror>)
endif()
# GCC on 32-bit ARM notes every function taking certain aggregates (std iterators, nlohmann
# maps) by value that their passing changed in GCC 7.1. That matters only when linking C++ code
# built by GCC < 7.1; the whole build uses one compiler, and the C interface passes structs only
# by pointer. Hundreds of such notes would bury real warnings in a cross build's log.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_SYSTEM_PROCESSOR MATCHES "^arm")
  target_compile_options(ota_compiler_options INTERFACE -Wno-psabi)
endif()

if(OTA_SANITIZE)
  if(NOT OTA_SANITIZE MATCHES "^(address,undefined|undefined,address|address|undefined|thread)$")
    message(FATAL_ERROR "OTA_SANITIZE must be 'address,undefined' or 'thread', got '${OTA_SANITIZE}'")
  endif()
  if(OTA_BUILD_FUZZERS)
    message(FATAL_ERROR "OTA_BUILD_FUZZERS brings its own sanitizers (address,undefined); "
                        "configure it in a build directory without OTA_SANITIZE")
  endif()
  # Applied globally so test binaries, gtest main and the library agree on the runtime.
  add_compile_options(-fsanitize=${OTA_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${OTA_SANITIZE})
endif()

if(OTA_BUILD_FUZZERS)
  # libFuzzer ships with clang only (-fsanitize=fuzzer); GCC has no equivalent.
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang" OR NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "OTA_BUILD_FUZZERS needs clang for C and C++ "
                        "(configure with CC=clang CXX=clang++), got ${CMAKE_CXX_COMPILER_ID}")
  endif()
  # Everything (library included) gets coverage instrumentation for the fuzzer plus ASan+UBSan,
  # so a bad read inside the library aborts the run. Only the fuzz targets link the libFuzzer
  # main (-fsanitize=fuzzer, in tests/fuzz); other binaries link the sanitizer runtimes alone.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()
