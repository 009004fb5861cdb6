/* The C SDK v3.x header infra_config.h, for code ported unchanged: the build configuration (nothing
 * to configure here). Every v3.x name comes from ota_compat.h (see there why they share one file).
 */
#ifndef OTA_COMPAT_INFRA_CONFIG_H
#define OTA_COMPAT_INFRA_CONFIG_H

#include "ota_compat.h"

#endif /* OTA_COMPAT_INFRA_CONFIG_H */
