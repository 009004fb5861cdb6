/* The C SDK v3.x header infra_types.h, for code ported unchanged: the fixed-width integer types.
 * Every v3.x name comes from ota_compat.h (see there why they share one file). */
#ifndef OTA_COMPAT_INFRA_TYPES_H
#define OTA_COMPAT_INFRA_TYPES_H

#include "ota_compat.h"

#endif /* OTA_COMPAT_INFRA_TYPES_H */
