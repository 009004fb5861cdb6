/* The C SDK v3.x header dev_model_api.h, for code ported unchanged: the linkkit interface
 * IOT_Linkkit_*, IOT_RegisterCallback and its ITE_* events. Every v3.x name comes from ota_compat.h
 * (see there why they share one file). */
#ifndef OTA_COMPAT_DEV_MODEL_API_H
#define OTA_COMPAT_DEV_MODEL_API_H

#include "ota_compat.h"

#endif /* OTA_COMPAT_DEV_MODEL_API_H */
