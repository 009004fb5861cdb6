/* Compiled as C99 into the C interface's unit test: proves that every public C header is plain C
 * (a C++ construct outside `#ifdef __cplusplus` fails this build) and lets the test compare the
 * struct layouts the C compiler sees with those of the C++ side. */
#include "ota/c_api/iot_export_linkkit.h"
#include "ota/c_api/iot_export_ota.h"
#include "ota/c_api/ota_flash.h"
#include "ota/c_api/ota_persistence.h"

size_t ota_c_sizeof(int which);

/* sizeof of the public structs as C sees them; 0 for an unknown index. */
size_t ota_c_sizeof(int which) {
    switch (which) {
        case 0:
            return sizeof(iotx_mqtt_param_t);
        case 1:
            return sizeof(iotx_conn_info_t);
        case 2:
            return sizeof(iotx_ota_options_t);
        case 3:
            return sizeof(iotx_linkkit_dev_meta_info_t);
        case 4:
            return sizeof(ota_persistence_hal_t);
        case 5:
            return sizeof(ota_flash_hal_t);
        case 6:
            return sizeof(ota_ab_boot_info_t);
        default:
            return 0;
    }
}
