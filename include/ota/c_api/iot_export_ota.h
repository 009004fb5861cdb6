/* The C SDK's basic OTA interface (IOT_OTA_*, SDK v3.2 numbering) and the connection helpers its
 * examples use, implemented over this library's C++ classes. Compiles as C99 and as C++.
 *
 * Differences from the original, all additive: 64-bit size getters, a correctly spelled
 * IOT_OTAP_CHECK_FAILED, explicit TLS settings for the broker (iotx_mqtt_param_t.ca_file,
 * .plain_tcp) and the firmware server (IOT_OTA_InitEx), any number of handles per process,
 * and no exception or abort ever crossing this boundary.
 *
 * Sizes on 32-bit targets (armhf, where size_t and long are 32 bits) are the same as on 64-bit
 * ones: the library keeps image sizes and offsets in 64 bits throughout (jobs up to
 * iotx_ota_options_t.max_image_size, 8 GiB by default). Only these C types limit them:
 * IOT_OTAG_FILE_SIZE and IOT_OTAG_FETCHED_SIZE answer a uint32_t, as in the original, and fail
 * with IOT_OTAE_STR_TOO_LONG above 4 GiB - 1 (use the _64 queries); IOT_OTA_FetchYield copies at
 * most min(buf_len, INT_MAX) bytes per call (its result is an int). */
#ifndef OTA_IOT_EXPORT_OTA_H
#define OTA_IOT_EXPORT_OTA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors, states, progress steps, Ioctl commands (PROTOCOL.md section 6) ---- */

typedef enum {
    IOT_OTAE_OSC_FAILED = -7,   /* a system call or library call failed */
    IOT_OTAE_NOMEM = -6,        /* out of memory */
    IOT_OTAE_FETCH_FAILED = -5, /* download failed */
    IOT_OTAE_STR_TOO_LONG = -4, /* a string does not fit the caller's buffer */
    IOT_OTAE_INVALID_STATE = -3,
    IOT_OTAE_INVALID_PARAM = -2,
    IOT_OTAE_GENERAL = -1,
    IOT_OTAE_NONE = 0
} IOT_OTA_Err_t;

typedef enum {
    IOT_OTAS_UNINITED = 0,
    IOT_OTAS_INITED = 1,
    IOT_OTAS_PUSHED = 2,
    IOT_OTAS_FETCHING = 3,
    IOT_OTAS_FETCHED = 4
} IOT_OTA_State_t;

typedef enum {
    IOT_OTAP_BURN_FAILED = -4,
    IOT_OTAP_CHECK_FALIED = -3, /* the original SDK's spelling, kept for ported code */
    IOT_OTAP_CHECK_FAILED = -3,
    IOT_OTAP_FETCH_FAILED = -2,
    IOT_OTAP_GENERAL_FAILED = -1,
    IOT_OTAP_FETCH_PERCENTAGE_MIN = 0,
    IOT_OTAP_FETCH_PERCENTAGE_MAX = 100
} IOT_OTA_Progress_t;

/* What IOT_OTAG_OTA_TYPE reports. Only firmware OTA is supported. */
typedef enum { IOT_OTAT_NONE = 0, IOT_OTAT_COTA = 1, IOT_OTAT_FOTA = 2 } IOT_OTA_Type_t;

typedef enum {
    IOT_OTAG_COTA_CONFIG_ID = 0, /* config OTA: not supported, IOT_OTAE_INVALID_PARAM */
    IOT_OTAG_COTA_CONFIG_SIZE,
    IOT_OTAG_COTA_SIGN,
    IOT_OTAG_COTA_SIGN_METHOD,
    IOT_OTAG_COTA_URL,
    IOT_OTAG_COTA_GETTYPE,
    IOT_OTAG_OTA_TYPE,           /* uint32_t, len 4: IOT_OTA_Type_t */
    IOT_OTAG_FETCHED_SIZE,       /* uint32_t, len 4 (STR_TOO_LONG above 4 GiB: use _64) */
    IOT_OTAG_FILE_SIZE,          /* uint32_t, len 4 (STR_TOO_LONG above 4 GiB: use _64) */
    IOT_OTAG_MD5SUM,             /* char[33] for MD5 jobs, char[65] for SHA-256 jobs */
    IOT_OTAG_VERSION,            /* char buffer, NUL-terminated; too small = STR_TOO_LONG */
    IOT_OTAG_MODULE,             /* char buffer, NUL-terminated; too small = STR_TOO_LONG */
    IOT_OTAG_CHECK_FIRMWARE,     /* uint32_t, len 4: 1 valid, 0 invalid (reports -3 itself) */
    IOT_OTAG_CHECK_CONFIG,       /* config OTA: not supported, IOT_OTAE_INVALID_PARAM */
    IOT_OTAG_RESET_FETCHED_SIZE, /* restart the download from byte 0 (buf unused) */
    IOT_OTAG_RESET_STATE,        /* drop the job, back to INITED (buf unused) */
    /* Extensions of this library. */
    IOT_OTAG_FETCHED_SIZE_64 = 100, /* uint64_t, len 8 */
    IOT_OTAG_FILE_SIZE_64 = 101     /* uint64_t, len 8 */
} IOT_OTA_CmdType_t;

/* ---- device identity and connection (the seed's preamble) ---- */

#define IOTX_PRODUCT_KEY_LEN 20
#define IOTX_DEVICE_NAME_LEN 32
#define IOTX_DEVICE_SECRET_LEN 64

/* Store the device triple for IOT_SetupConnInfo callers that use HAL_Get*. Returns the stored
 * length, or -1 when the value is NULL or too long. The library's definitions are weak, so an
 * application's own HAL port file replaces them at link time.
 *
 * The original SDK declares these three with `char *`; in C the two prototypes are conflicting
 * types, so only one may be visible in a translation unit. The compatibility headers
 * (include/ota/compat, target ota::compat) define OTA_COMPAT_ORIGINAL_HAL_PROTOTYPES and
 * declare the `char *` form instead; both forms name the same C symbol. */
#ifndef OTA_COMPAT_ORIGINAL_HAL_PROTOTYPES
#define OTA_C_API_HAL_SET_TAKES_CONST 1
int HAL_SetProductKey(const char* product_key);
int HAL_SetDeviceName(const char* device_name);
int HAL_SetDeviceSecret(const char* device_secret);
#endif
/* Copy the stored value into `buf` (which must hold the length limit + 1); returns its length. */
int HAL_GetProductKey(char* buf);
int HAL_GetDeviceName(char* buf);
int HAL_GetDeviceSecret(char* buf);

typedef struct {
    uint16_t port;       /* 443 */
    char host_name[128]; /* {pk}.iot-as-mqtt.cn-shanghai.aliyuncs.com */
    char client_id[256];
    char username[128];
    char password[65];   /* secret */
    const char* pub_key; /* the broker's CA as PEM text: the file set with
                            IOTX_IOCTL_SET_MQTT_CA_FILE, else NULL (system store) */
} iotx_conn_info_t;
typedef iotx_conn_info_t* iotx_conn_info_pt;

/* Computes the connection info (TLS, hmacsha256; region cn-shanghai unless IOT_Ioctl set a
 * region, MQTT domain, host or port) into storage owned by the library and points *info_ptr at
 * it. 0 on success, -1 on bad input (logged). */
int IOT_SetupConnInfo(const char* product_key, const char* device_name, const char* device_secret,
                      void** info_ptr);

/* Events of the original SDK's MQTT client, with its numbering (the original spells SUBSCRIBE
 * as SUBCRIBE). handle_event.h_fp receives, inside IOT_MQTT_Yield (or another library call that
 * serves the connection): DISCONNECT and RECONNECT; SUBCRIBE_SUCCESS / _TIMEOUT / _NACK for the
 * library's subscribes; PUBLISH_SUCCESS / _TIMEOUT / _NACK for its QoS 1 publishes (acknowledged,
 * no acknowledgement in time, refused or failed on the way). A call that never reached the broker
 * (not connected) raises none, and msg->msg is NULL for all of them (the original passed a packet
 * id). UNSUBCRIBE_* and PUBLISH_RECEIVED are never raised; they exist so that handlers written
 * for the original compile. */
typedef enum {
    IOTX_MQTT_EVENT_UNDEF = 0,
    IOTX_MQTT_EVENT_DISCONNECT = 1,
    IOTX_MQTT_EVENT_RECONNECT = 2,
    IOTX_MQTT_EVENT_SUBCRIBE_SUCCESS = 3,
    IOTX_MQTT_EVENT_SUBCRIBE_TIMEOUT = 4,
    IOTX_MQTT_EVENT_SUBCRIBE_NACK = 5,
    IOTX_MQTT_EVENT_UNSUBCRIBE_SUCCESS = 6,
    IOTX_MQTT_EVENT_UNSUBCRIBE_TIMEOUT = 7,
    IOTX_MQTT_EVENT_UNSUBCRIBE_NACK = 8,
    IOTX_MQTT_EVENT_PUBLISH_SUCCESS = 9,
    IOTX_MQTT_EVENT_PUBLISH_TIMEOUT = 10,
    IOTX_MQTT_EVENT_PUBLISH_NACK = 11,
    IOTX_MQTT_EVENT_PUBLISH_RECEIVED = 12
} iotx_mqtt_event_type_t;

/* What `msg` points at for IOTX_MQTT_EVENT_PUBLISH_RECEIVED in the original (for the other
 * events it carries a packet id); the layout is the original's. */
typedef struct {
    uint16_t packet_id;
    uint8_t qos;
    uint8_t dup;
    uint8_t retain;
    uint16_t topic_len;
    uint32_t payload_len;
    const char* ptopic;
    const char* payload;
} iotx_mqtt_topic_info_t;
typedef iotx_mqtt_topic_info_t* iotx_mqtt_topic_info_pt;

typedef struct {
    iotx_mqtt_event_type_t event_type;
    void* msg;
} iotx_mqtt_event_msg_t;
typedef iotx_mqtt_event_msg_t* iotx_mqtt_event_msg_pt;

typedef struct {
    void (*h_fp)(void* pcontext, void* pclient, iotx_mqtt_event_msg_t* msg);
    void* pcontext;
} iotx_mqtt_event_handle_t;

typedef struct {
    uint16_t port;
    const char* host;
    const char* client_id;
    const char* username;
    const char* password;
    const char* pub_key;         /* the broker's CA as PEM text (used when ca_file is NULL);
                                    IOT_OTA_Init trusts it for the firmware server too unless
                                    iotx_ota_options_t.http_ca_file names another */
    uint32_t request_timeout_ms; /* bound on connect; 0 = 10000 */
    uint8_t clean_session;
    uint32_t keepalive_interval_ms; /* 0 = 60000 */
    uint32_t read_buf_size;         /* ignored (no fixed-size buffers) */
    uint32_t write_buf_size;        /* ignored */
    iotx_mqtt_event_handle_t handle_event;
    /* Extensions. */
    const char* ca_file; /* PEM bundle for the broker; NULL = the system's CA store */
    uint8_t plain_tcp;   /* 1 = MQTT without TLS (must be chosen explicitly) */
} iotx_mqtt_param_t;

/* Connects (blocking, bounded by request_timeout_ms) and returns a handle, or NULL (the reason
 * is logged). Reconnects automatically afterwards. */
void* IOT_MQTT_Construct(iotx_mqtt_param_t* pInitParams);
/* Handles queued messages and connection events on the calling thread, waiting up to timeout_ms.
 * 0 on success, negative on error. */
int IOT_MQTT_Yield(void* handle, int timeout_ms);
/* Disconnects, frees the handle and sets *phandle to NULL. */
int IOT_MQTT_Destroy(void** phandle);

/* ---- the OTA interface ---- */

/* Creates an OTA client on the MQTT handle `ch_signal` (from IOT_MQTT_Construct) and subscribes
 * the device's OTA topics. NULL on error. */
void* IOT_OTA_Init(const char* product_key, const char* device_name, void* ch_signal);
/* Frees the client; 0, or IOT_OTAE_INVALID_PARAM for NULL. */
int IOT_OTA_Deinit(void* handle);
/* Reports the running firmware version (1..64 characters). */
int IOT_OTA_ReportVersion(void* handle, const char* version);
/* Reports a progress step (-4..100) with an optional message (NULL = none). Throttled like the
 * original: >= 5 points and >= 50 ms apart, 100 and failures always sent (one failure per job:
 * after a failed download, which the library reports itself, a -2 is not sent again). A -2
 * while the download runs or after it completed is refused (IOT_OTAE_INVALID_STATE, nothing
 * sent). The library itself reports step 0 when a download starts. */
int IOT_OTA_ReportProgress(void* handle, IOT_OTA_Progress_t progress, const char* msg);
/* Asks the cloud for the pending job (firmware/get); `version` is the running version (may be
 * NULL) and is reported first when given. */
int IOT_OTA_RequestImage(void* handle, const char* version);
/* 1 when a job was pushed and is being fetched (PUSHED or FETCHING), else 0. */
int IOT_OTA_IsFetching(void* handle);
/* 1 when the download has ended (FETCHED): the whole image is there, or the download failed
 * for good (then IOT_OTAG_CHECK_FIRMWARE answers 0), else 0. */
int IOT_OTA_IsFetchFinish(void* handle);
/* Copies the next piece of the image into buf. > 0: that many bytes. While the download is
 * healthy it does not return 0: it waits for bytes, serving the MQTT connection every timeout_s
 * seconds (0: every 200 ms), through dropped connections that the library resumes, within the
 * retry policy (so the wait is bounded). < 0: the download failed for good (already reported to
 * the cloud, once); the handle is then FETCHED with the job's size and identity still readable
 * and IOT_OTAG_CHECK_FIRMWARE answering 0. 0 only when the end of the image was confirmed
 * without new bytes (IsFetchFinish is then 1), or if the client has neither bytes nor a verdict
 * after its retry policy's whole budget (a safety net; logged). */
int IOT_OTA_FetchYield(void* handle, char* buf, uint32_t buf_len, uint32_t timeout_s);
/* Queries or commands the client; see IOT_OTA_CmdType_t for each buffer's type and length. */
int IOT_OTA_Ioctl(void* handle, IOT_OTA_CmdType_t type, void* buf, int buf_len);
/* The IOT_OTA_Err_t of the last failed call on this handle (IOT_OTAE_NONE if none). */
int IOT_OTA_GetLastError(void* handle);

/* Extension: IOT_OTA_Init with options. A NULL `options` (or zeroed fields) means the defaults. */
typedef struct {
    const char* http_ca_file; /* PEM bundle for the firmware server; NULL = the system's bundle
                                 (separate from the broker's CA) */
    int allow_http;           /* 1 accepts plain http:// image URLs; default 0 (https only) */
    const char* module;       /* module this client updates; NULL = the default module */
    uint64_t max_image_size;  /* jobs announcing more bytes are refused; 0 = default (8 GiB) */
} iotx_ota_options_t;

void* IOT_OTA_InitEx(const char* product_key, const char* device_name, void* ch_signal,
                     const iotx_ota_options_t* options);

#ifdef __cplusplus
}
#endif

#endif /* OTA_IOT_EXPORT_OTA_H */
