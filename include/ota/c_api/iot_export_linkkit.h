/* The C SDK's advanced (linkkit) OTA interface, as the seed's second example uses it: a FOTA
 * callback announces new firmware, IOT_Linkkit_Query runs the whole download synchronously into
 * the HAL_Firmware_Persistence_* hooks, and IOT_Ioctl configures the connection. Compiles as C99
 * and as C++. One linkkit device per process (as in the original); the C++ class ota::FotaAgent
 * has no such limit.
 *
 * Differences from the original: only the OTA part of linkkit exists (no device model), the
 * connection can be pointed at any broker (IOTX_IOCTL_SET_MQTT_* extensions), and
 * HAL_Firmware_Persistence_StopEx tells the application whether the attempt succeeded. */
#ifndef OTA_IOT_EXPORT_LINKKIT_H
#define OTA_IOT_EXPORT_LINKKIT_H

#include <stdint.h>

#include "ota/c_api/iot_export_ota.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- callbacks: IOT_RegisterCallback(ITE_FOTA, handler) as in the original ---- */

/* type 0 = new firmware available; `version` is the offered version. Return value ignored. */
typedef int (*iotx_fota_callback_t)(int type, const char* version);
/* The module variant: also told the job's module ("" for the default module). */
typedef int (*iotx_fota_module_callback_t)(int type, const char* version, const char* module);

int iotx_register_for_ITE_FOTA(iotx_fota_callback_t callback);
int iotx_register_for_ITE_FOTA_MODULE(iotx_fota_module_callback_t callback);

/* Connection events, as in the original: ITE_CONNECT_SUCC after IOT_Linkkit_Connect connected
 * and after every reconnect, ITE_DISCONNECTED when the connection is lost,
 * ITE_INITIALIZE_COMPLETED (with the devid) once the device is connected and subscribed. They run
 * on the thread that calls IOT_Linkkit_Connect or IOT_Linkkit_Yield. Return values ignored. */
typedef int (*iotx_connect_callback_t)(void);
typedef int (*iotx_initialized_callback_t)(const int devid);
int iotx_register_for_ITE_CONNECT_SUCC(iotx_connect_callback_t callback);
int iotx_register_for_ITE_DISCONNECTED(iotx_connect_callback_t callback);
int iotx_register_for_ITE_INITIALIZE_COMPLETED(iotx_initialized_callback_t callback);
#define IOT_RegisterCallback(evt, cb) iotx_register_for_##evt(cb)

/* ---- configuration ---- */

typedef enum {
    IOTX_CLOUD_REGION_SHANGHAI = 0, /* cn-shanghai (default) */
    IOTX_CLOUD_REGION_SINGAPORE,    /* ap-southeast-1 */
    IOTX_CLOUD_REGION_JAPAN,        /* ap-northeast-1 */
    IOTX_CLOUD_REGION_USA_WEST,     /* us-west-1 */
    IOTX_CLOUD_REGION_GERMANY       /* eu-central-1 */
} iotx_cloud_region_types_t;

typedef enum {
    IOTX_IOCTL_SET_DOMAIN = 0,       /* int *: iotx_cloud_region_types_t */
    IOTX_IOCTL_SET_DYNAMIC_REGISTER, /* int *: must be 0 (dynamic registration unsupported) */
    IOTX_IOCTL_RECV_EVENT_REPLY,     /* int *: accepted and ignored (OTA has no event replies) */
    IOTX_IOCTL_SET_MODULE,           /* const char *: the module this device updates */
    /* Extensions of this library. */
    IOTX_IOCTL_SET_MQTT_HOST = 100,  /* const char *: broker host (overrides the domain) */
    IOTX_IOCTL_SET_MQTT_PORT,        /* int *: broker port (default 443) */
    IOTX_IOCTL_SET_MQTT_CA_FILE,     /* const char *: broker CA bundle; NULL = system store */
    IOTX_IOCTL_SET_MQTT_PLAIN_TCP,   /* int *: 1 = MQTT without TLS */
    IOTX_IOCTL_SET_HTTP_CA_FILE,     /* const char *: firmware server CA bundle; NULL = system */
    IOTX_IOCTL_SET_ALLOW_HTTP,       /* int *: 1 = accept plain http:// image URLs */
    IOTX_IOCTL_SET_FIRMWARE_VERSION, /* const char *: version reported on connect (else
                                        HAL_GetFirmwareVersion) */
    /* Original names numbered after the extensions (the original's numbers differ). */
    IOTX_IOCTL_SET_REGION = 200, /* int *: same as IOTX_IOCTL_SET_DOMAIN */
    IOTX_IOCTL_SET_MQTT_DOMAIN   /* const char *: broker domain; the host becomes
                                    "{product_key}.{domain}" (NULL = back to the region) */
} iotx_ioctl_option_t;

/* Sets an option before IOT_Linkkit_Connect (IOT_SetupConnInfo honours the region, domain, host
 * and port options too). 0 on success, -1 for an unknown option or bad
 * value (logged). String values are copied. */
int IOT_Ioctl(int option, void* data);

/* ---- device lifecycle ---- */

typedef enum { IOTX_LINKKIT_DEV_TYPE_MASTER = 0 } iotx_linkkit_dev_type_t;

typedef struct {
    char product_key[IOTX_PRODUCT_KEY_LEN + 1];
    char product_secret[64 + 1]; /* unused: dynamic registration is not supported */
    char device_name[IOTX_DEVICE_NAME_LEN + 1];
    char device_secret[IOTX_DEVICE_SECRET_LEN + 1];
} iotx_linkkit_dev_meta_info_t;

typedef enum {
    ITM_MSG_QUERY_FOTA_DATA = 0,   /* download the announced firmware now (payload unused) */
    ITM_MSG_REQUEST_FOTA_IMAGE = 1 /* ask the cloud for the pending job; payload = running
                                      version (may be NULL) */
} iotx_linkkit_msg_type_t;

/* Registers the device; returns its devid (0) or -1. Only the master device is supported. */
int IOT_Linkkit_Open(iotx_linkkit_dev_type_t dev_type, iotx_linkkit_dev_meta_info_t* meta_info);
/* Connects to the broker, subscribes the OTA topics and reports the firmware version.
 * 0 on success, -1 on failure (the reason is logged). */
int IOT_Linkkit_Connect(int devid);
/* Handles incoming messages for up to timeout_ms and runs the FOTA callbacks. */
int IOT_Linkkit_Yield(int timeout_ms);
/* QUERY_FOTA_DATA: downloads and verifies the pending image through the persistence hooks
 * (Start, Write..., StopEx); 0 when the image was verified and stored, -1 otherwise (failures are
 * reported to the cloud: -2 download, -3 digest, -4 a Write < 0).
 * REQUEST_FOTA_IMAGE: publishes firmware/get. */
int IOT_Linkkit_Query(int devid, iotx_linkkit_msg_type_t msg_type, unsigned char* payload,
                      int payload_len);
/* Disconnects and frees the device. */
int IOT_Linkkit_Close(int devid);

/* ---- HAL the application implements (the library has weak defaults) ---- */

/* Copies the running firmware version (1..64 chars + NUL) into `version`; returns its length.
 * Default: -1 (set IOTX_IOCTL_SET_FIRMWARE_VERSION instead). */
int HAL_GetFirmwareVersion(char* version);
/* Called before the first byte of an image. Default: logs that no persistence HAL exists. */
void HAL_Firmware_Persistence_Start(void);
/* Stores the next `length` bytes (sequentially). < 0 = failure: the download stops, -4 is
 * reported. Default: -1. `length` is one piece (at most the download buffer); the image itself
 * may exceed 4 GiB, also on 32-bit targets: count its bytes in 64 bits. */
int HAL_Firmware_Persistence_Write(char* buffer, uint32_t length);
/* Called once on every exit path after Start. Default: 0. */
int HAL_Firmware_Persistence_Stop(void);
/* Extended Stop: `succeeded` is 1 when the image was completely received and verified, 0 when
 * the attempt failed (the stored bytes must not be used). The default calls
 * HAL_Firmware_Persistence_Stop(). Implement this one to learn the outcome. */
int HAL_Firmware_Persistence_StopEx(int succeeded);

#ifdef __cplusplus
}
#endif

#endif /* OTA_IOT_EXPORT_LINKKIT_H */
