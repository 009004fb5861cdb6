/* Calls a C application may make but C++ cannot express without undefined behaviour: enum
 * arguments outside the enumerators (in C they are plain ints). */
#include "ota/c_api/iot_export_linkkit.h"

int ota_c_open_device_type(int dev_type, iotx_linkkit_dev_meta_info_t* meta);
int ota_c_query_message_type(int devid, int msg_type);

/* IOT_Linkkit_Open with an arbitrary device type. */
int ota_c_open_device_type(int dev_type, iotx_linkkit_dev_meta_info_t* meta) {
    return IOT_Linkkit_Open((iotx_linkkit_dev_type_t)dev_type, meta);
}

/* IOT_Linkkit_Query with an arbitrary message type and no payload. */
int ota_c_query_message_type(int devid, int msg_type) {
    return IOT_Linkkit_Query(devid, (iotx_linkkit_msg_type_t)msg_type, NULL, 0);
}
