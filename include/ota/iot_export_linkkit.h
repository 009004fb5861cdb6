/* Compatibility: this header moved to "ota/c_api/iot_export_linkkit.h" (the ota::c_api target's
 * folder). Code that includes it by its old name keeps compiling; new code includes the new path.
 */
#ifndef OTA_COMPAT_IOT_EXPORT_LINKKIT_H
#define OTA_COMPAT_IOT_EXPORT_LINKKIT_H
#include "ota/c_api/iot_export_linkkit.h"
#endif
