/* The C SDK v3.x header wrappers.h, for code ported unchanged: the HAL_* functions an application
 * ports. Every v3.x name comes from ota_compat.h (see there why they share one file). */
#ifndef OTA_COMPAT_WRAPPERS_H
#define OTA_COMPAT_WRAPPERS_H

#include "ota_compat.h"

#endif /* OTA_COMPAT_WRAPPERS_H */
