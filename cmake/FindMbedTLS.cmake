# FindMbedTLS
# -----------
# Locates Mbed TLS 2.x/3.x (Debian ships no CMake package config for 2.28).
#
# Imported targets (each only when its library is found):
#   MbedTLS::mbedcrypto  - hashes, HMAC, public-key primitives
#   MbedTLS::mbedx509    - certificate parsing (depends on mbedcrypto)
#   MbedTLS::mbedtls     - the TLS stack (depends on mbedx509)
# Result variables:
#   MbedTLS_FOUND, MbedTLS_INCLUDE_DIR, MbedTLS_VERSION
# Hints: MbedTLS_ROOT (standard <Package>_ROOT handling).

find_path(MbedTLS_INCLUDE_DIR NAMES mbedtls/md.h)

foreach(_ota_mbed_lib IN ITEMS mbedcrypto mbedx509 mbedtls)
  find_library(MbedTLS_${_ota_mbed_lib}_LIBRARY NAMES ${_ota_mbed_lib})
  mark_as_advanced(MbedTLS_${_ota_mbed_lib}_LIBRARY)
endforeach()

set(MbedTLS_VERSION "")
foreach(_ota_mbed_hdr IN ITEMS mbedtls/build_info.h mbedtls/version.h)
  if(MbedTLS_INCLUDE_DIR AND EXISTS "${MbedTLS_INCLUDE_DIR}/${_ota_mbed_hdr}" AND NOT MbedTLS_VERSION)
    file(STRINGS "${MbedTLS_INCLUDE_DIR}/${_ota_mbed_hdr}" _ota_mbed_ver
         REGEX "^#define[ \t]+MBEDTLS_VERSION_STRING[ \t]+\"[0-9.]+\"")
    if(_ota_mbed_ver)
      string(REGEX REPLACE ".*\"([0-9.]+)\".*" "\\1" MbedTLS_VERSION "${_ota_mbed_ver}")
    endif()
  endif()
endforeach()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(MbedTLS
  REQUIRED_VARS MbedTLS_mbedcrypto_LIBRARY MbedTLS_INCLUDE_DIR
  VERSION_VAR MbedTLS_VERSION)
mark_as_advanced(MbedTLS_INCLUDE_DIR)

if(MbedTLS_FOUND)
  set(_ota_mbed_prev "")
  foreach(_ota_mbed_lib IN ITEMS mbedcrypto mbedx509 mbedtls)
    if(MbedTLS_${_ota_mbed_lib}_LIBRARY AND NOT TARGET MbedTLS::${_ota_mbed_lib})
      add_library(MbedTLS::${_ota_mbed_lib} UNKNOWN IMPORTED)
      set_target_properties(MbedTLS::${_ota_mbed_lib} PROPERTIES
        IMPORTED_LOCATION "${MbedTLS_${_ota_mbed_lib}_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${MbedTLS_INCLUDE_DIR}")
      if(_ota_mbed_prev)
        set_property(TARGET MbedTLS::${_ota_mbed_lib} APPEND PROPERTY
          INTERFACE_LINK_LIBRARIES MbedTLS::${_ota_mbed_prev})
      endif()
    endif()
    set(_ota_mbed_prev ${_ota_mbed_lib})
  endforeach()
endif()
