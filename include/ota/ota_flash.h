/* Compatibility: this header moved to "ota/c_api/ota_flash.h" (the ota::c_api target's folder).
 * Code that includes it by its old name keeps compiling; new code includes the new path. */
#ifndef OTA_COMPAT_OTA_FLASH_H
#define OTA_COMPAT_OTA_FLASH_H
#include "ota/c_api/ota_flash.h"
#endif
