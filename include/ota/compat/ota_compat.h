/* Everything the original C SDK v3.x headers gave an application that used the OTA and linkkit
 * examples, in one place. The v3.x header names (infra_compat.h, mqtt_api.h, ota_api.h,
 * dev_model_api.h, wrappers.h, infra_defs.h, infra_types.h, infra_config.h) all include this
 * file: the original headers include one another too, so code written against any subset of
 * them compiles unchanged. Link the target ota::compat, whose include folder is this one.
 *
 * The one deliberate difference from ota/c_api: HAL_SetProductKey/DeviceName/DeviceSecret are
 * declared with `char *`, as in the original. In C a `char *` and a `const char *` prototype of
 * the same function conflict, so a translation unit sees either these headers or
 * ota/c_api/iot_export_ota.h alone first; both prototypes name the same C symbol, so objects
 * compiled either way link together. */
#ifndef OTA_COMPAT_OTA_COMPAT_H
#define OTA_COMPAT_OTA_COMPAT_H

#if defined(OTA_C_API_HAL_SET_TAKES_CONST)
#error \
    "ota/c_api/iot_export_ota.h was included before the compatibility headers: include \
infra_compat.h (or another v3.x header) first, so HAL_Set* get the original char * prototypes"
#endif
#ifndef OTA_COMPAT_ORIGINAL_HAL_PROTOTYPES
#define OTA_COMPAT_ORIGINAL_HAL_PROTOTYPES 1
#endif

#include <stddef.h>
#include <stdint.h>

#include "ota/c_api/iot_export_linkkit.h"
#include "ota/c_api/iot_export_ota.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- infra_defs.h: lengths of the device identity (the triple's are in iot_export_ota.h) ---- */

#define IOTX_PRODUCT_SECRET_LEN 64
#define IOTX_FIRMWARE_VER_LEN 32

/* ---- infra_compat.h: log level and memory statistics ---- */

/* The original's log levels, most quiet first. */
typedef enum {
    IOT_LOG_NONE = 0,
    IOT_LOG_CRIT = 1,
    IOT_LOG_ERROR = 2,
    IOT_LOG_WARNING = 3,
    IOT_LOG_INFO = 4,
    IOT_LOG_DEBUG = 5
} IOT_LogLevel;

/* Sets the level of the library's log sink (ota::set_log_level): DEBUG and INFO map to the same
 * names, WARNING to warning, ERROR and CRIT to error, NONE silences the library. */
void IOT_SetLogLevel(IOT_LogLevel level);

/* Prints, through HAL_Printf, what the library knows about its resources: the live MQTT and OTA
 * handles, whether the linkkit device is open, and the log level. The library allocates with
 * the C++ heap, not HAL_Malloc, so there are no per-module byte counts as in the original;
 * nothing is printed when `level` is IOT_LOG_NONE. */
void IOT_DumpMemoryStats(IOT_LogLevel level);

/* ---- wrappers.h: the HAL the original SDK asked the application to port ----
 *
 * The library defines every one of these weakly with POSIX defaults, so an application's own
 * HAL port file (strong definitions) replaces them at link time without "multiple definition"
 * errors, and an application without one still links. */

/* malloc/free. */
void* HAL_Malloc(uint32_t size);
void HAL_Free(void* ptr);
/* printf to stdout (flushed). */
void HAL_Printf(const char* fmt, ...);
/* vsnprintf into `str` (room for `len` bytes); returns what vsnprintf returns. */
int HAL_Snprintf(char* str, const int len, const char* fmt, ...);
/* Sleeps `ms` milliseconds. */
void HAL_SleepMs(uint32_t ms);
/* Milliseconds of a monotonic clock (CLOCK_MONOTONIC). */
uint64_t HAL_UptimeMs(void);

/* The device identity, in the original's form. The defaults keep it in process memory; Set*
 * return the stored length or -1 (NULL or too long), Get* copy it into a buffer that holds the
 * length limit + 1 and return its length. */
int HAL_SetProductKey(char* product_key);
int HAL_SetDeviceName(char* device_name);
int HAL_SetDeviceSecret(char* device_secret);
int HAL_SetProductSecret(char* product_secret);
int HAL_GetProductSecret(char* product_secret);

/* HAL_GetProductKey/DeviceName/DeviceSecret (iot_export_ota.h) and HAL_GetFirmwareVersion and
 * HAL_Firmware_Persistence_* (iot_export_linkkit.h) already have the original prototypes. */

#ifdef __cplusplus
}
#endif

#endif /* OTA_COMPAT_OTA_COMPAT_H */
