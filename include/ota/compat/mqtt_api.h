/* The C SDK v3.x header mqtt_api.h, for code ported unchanged: IOT_MQTT_Construct/Yield/Destroy,
 * iotx_mqtt_param_t and the IOTX_MQTT_EVENT_* events. Every v3.x name comes from ota_compat.h (see
 * there why they share one file). */
#ifndef OTA_COMPAT_MQTT_API_H
#define OTA_COMPAT_MQTT_API_H

#include "ota_compat.h"

#endif /* OTA_COMPAT_MQTT_API_H */
