/* The C SDK v3.x header ota_api.h, for code ported unchanged: the basic OTA interface IOT_OTA_*.
 * Every v3.x name comes from ota_compat.h (see there why they share one file). */
#ifndef OTA_COMPAT_OTA_API_H
#define OTA_COMPAT_OTA_API_H

#include "ota_compat.h"

#endif /* OTA_COMPAT_OTA_API_H */
