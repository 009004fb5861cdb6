/* The C SDK v3.x header infra_defs.h, for code ported unchanged: the identity lengths, regions and
 * iotx_conn_info_t. Every v3.x name comes from ota_compat.h (see there why they share one file). */
#ifndef OTA_COMPAT_INFRA_DEFS_H
#define OTA_COMPAT_INFRA_DEFS_H

#include "ota_compat.h"

#endif /* OTA_COMPAT_INFRA_DEFS_H */
