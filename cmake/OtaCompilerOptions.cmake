# Warning and sanitizer flags for the project's own targets (never exported to consumers).
add_library(ota_compiler_options INTERFACE)
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(ota_compiler_options INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    $<$<BOOL:${OTA_WARNINGS_AS_ERRORS}>:-Werror>)
endif()

if(OTA_SANITIZE)
  if(NOT OTA_SANITIZE MATCHES "^(address,undefined|undefined,address|address|undefined|thread)$")
    message(FATAL_ERROR "OTA_SANITIZE must be 'address,undefined' or 'thread', got '${OTA_SANITIZE}'")
  endif()
  # Applied globally so test binaries, gtest main and the library agree on the runtime.
  add_compile_options(-fsanitize=${OTA_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${OTA_SANITIZE})
endif()
