/* The C SDK v3.x header infra_compat.h, for code ported unchanged: IOT_SetupConnInfo, IOT_Ioctl and
 * its IOTX_IOCTL_* options, IOT_SetLogLevel, IOT_DumpMemoryStats. Every v3.x name comes from
 * ota_compat.h (see there why they share one file). */
#ifndef OTA_COMPAT_INFRA_COMPAT_H
#define OTA_COMPAT_INFRA_COMPAT_H

#include "ota_compat.h"

#endif /* OTA_COMPAT_INFRA_COMPAT_H */
