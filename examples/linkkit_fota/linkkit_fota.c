/* The C SDK's advanced (linkkit) OTA example, ported: register a FOTA callback, connect, and when
 * the cloud announces new firmware, download it with IOT_Linkkit_Query into the persistence HAL
 * implemented below (a file). Differences from the original are marked "port:".
 *
 *   linkkit_fota PRODUCT_KEY DEVICE_NAME DEVICE_SECRET VERSION HOST PORT CA_FILE HTTP_CA_FILE
 *                OUTPUT [MODULE [FAIL_WRITE_AFTER_BYTES]]
 *
 * Exit status: 0 firmware received, verified and stored at OUTPUT; 1 otherwise; 2 usage. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ota/c_api/iot_export_linkkit.h"

#define EXAMPLE_TRACE(...)                     \
    do {                                       \
        printf("%s.%d: ", __func__, __LINE__); \
        printf(__VA_ARGS__);                   \
        printf("\n");                          \
        fflush(stdout);                        \
    } while (0)

#define EXAMPLE_MASTER_DEVID (0)

typedef struct {
    int master_devid;
    int fota_done;   /* 1 once a download attempt finished */
    int fota_result; /* 0 stored and verified, -1 failed */
} user_example_ctx_t;

static user_example_ctx_t g_user_example_ctx;
static const char* g_version;
static const char* g_output;
static char g_tmp_output[1024];
static FILE* g_fp;
static uint64_t g_written;
static long long g_fail_write_after = -1; /* port: lets the tests make a write fail */

/* ---- persistence HAL: the SDK calls these around a download ---- */

void HAL_Firmware_Persistence_Start(void) {
    g_written = 0;
    g_fp = fopen(g_tmp_output, "wb");
    EXAMPLE_TRACE("persistence start (%s)", g_fp != NULL ? "ok" : "cannot open file");
}

int HAL_Firmware_Persistence_Write(char* buffer, uint32_t length) {
    if (g_fp == NULL) {
        return -1;
    }
    if (g_fail_write_after >= 0 && (long long)(g_written + length) > g_fail_write_after) {
        EXAMPLE_TRACE("persistence write: simulated storage failure at %llu bytes",
                      (unsigned long long)g_written);
        return -1;
    }
    if (length > 0 && fwrite(buffer, length, 1, g_fp) != 1) {
        return -1;
    }
    g_written += length;
    return 0;
}

/* port: the extended Stop says whether the attempt succeeded; the image becomes visible under
 * OUTPUT only when it did. */
int HAL_Firmware_Persistence_StopEx(int succeeded) {
    int rc = 0;
    if (g_fp != NULL) {
        rc = fclose(g_fp);
        g_fp = NULL;
    }
    if (succeeded && rc == 0) {
        rc = rename(g_tmp_output, g_output);
    } else {
        remove(g_tmp_output);
    }
    EXAMPLE_TRACE("persistence stop: %s (%llu bytes)", succeeded ? "succeeded" : "failed",
                  (unsigned long long)g_written);
    return rc == 0 ? 0 : -1;
}

int HAL_Firmware_Persistence_Stop(void) {
    return HAL_Firmware_Persistence_StopEx(0);
}

int HAL_GetFirmwareVersion(char* version) {
    size_t n = strlen(g_version);
    if (n == 0 || n > 64) {
        return -1;
    }
    memcpy(version, g_version, n + 1);
    return (int)n;
}

/* ---- the FOTA callbacks ---- */

static int user_fota_event_handler(int type, const char* version) {
    /* 0 - new firmware exist, query the new firmware */
    if (type == 0) {
        EXAMPLE_TRACE("New Firmware Version: %s", version);
        /* port: the query's result tells whether the image was stored (the original returned
         * nothing useful); no buffer is needed. */
        g_user_example_ctx.fota_result =
            IOT_Linkkit_Query(EXAMPLE_MASTER_DEVID, ITM_MSG_QUERY_FOTA_DATA, NULL, 0);
        g_user_example_ctx.fota_done = 1;
    }
    return 0;
}

static int user_fota_module_event_handler(int type, const char* version, const char* module) {
    if (type == 0) {
        EXAMPLE_TRACE("New Firmware Version: %s, module: %s", version, module);
        g_user_example_ctx.fota_result =
            IOT_Linkkit_Query(EXAMPLE_MASTER_DEVID, ITM_MSG_QUERY_FOTA_DATA, NULL, 0);
        g_user_example_ctx.fota_done = 1;
    }
    return 0;
}

int main(int argc, char* argv[]) {
    int res = 0, domain_type = 0, dynamic_register = 0, post_reply_need = 0, port = 0, i = 0;
    iotx_linkkit_dev_meta_info_t master_meta_info;
    const char* module = NULL;

    if (argc < 10) {
        fprintf(stderr,
                "usage: %s PRODUCT_KEY DEVICE_NAME DEVICE_SECRET VERSION HOST PORT CA_FILE "
                "HTTP_CA_FILE OUTPUT [MODULE [FAIL_WRITE_AFTER_BYTES]]\n",
                argv[0]);
        return 2;
    }
    g_version = argv[4];
    g_output = argv[9];
    snprintf(g_tmp_output, sizeof g_tmp_output, "%s.download", g_output);
    if (argc > 10 && argv[10][0] != '\0') {
        module = argv[10];
    }
    if (argc > 11) {
        g_fail_write_after = atoll(argv[11]);
    }

    memset(&g_user_example_ctx, 0, sizeof(user_example_ctx_t));
    memset(&master_meta_info, 0, sizeof(iotx_linkkit_dev_meta_info_t));
    /* port: strncpy into the fixed-size fields (the original memcpy'd strlen bytes) */
    strncpy(master_meta_info.product_key, argv[1], sizeof master_meta_info.product_key - 1);
    strncpy(master_meta_info.device_name, argv[2], sizeof master_meta_info.device_name - 1);
    strncpy(master_meta_info.device_secret, argv[3], sizeof master_meta_info.device_secret - 1);

    /* Register Callback */
    if (module != NULL) {
        IOT_RegisterCallback(ITE_FOTA_MODULE, user_fota_module_event_handler);
        IOT_Ioctl(IOTX_IOCTL_SET_MODULE, (void*)module);
    } else {
        IOT_RegisterCallback(ITE_FOTA, user_fota_event_handler);
    }

    domain_type = IOTX_CLOUD_REGION_SHANGHAI;
    IOT_Ioctl(IOTX_IOCTL_SET_DOMAIN, (void*)&domain_type);
    /* Choose Login Method */
    dynamic_register = 0;
    IOT_Ioctl(IOTX_IOCTL_SET_DYNAMIC_REGISTER, (void*)&dynamic_register);
    /* post reply doesn't need */
    post_reply_need = 1;
    IOT_Ioctl(IOTX_IOCTL_RECV_EVENT_REPLY, (void*)&post_reply_need);
    /* port: a loopback broker and explicit CA files instead of the cloud endpoint */
    port = atoi(argv[6]);
    IOT_Ioctl(IOTX_IOCTL_SET_MQTT_HOST, (void*)argv[5]);
    IOT_Ioctl(IOTX_IOCTL_SET_MQTT_PORT, (void*)&port);
    IOT_Ioctl(IOTX_IOCTL_SET_MQTT_CA_FILE, strcmp(argv[7], "-") == 0 ? NULL : (void*)argv[7]);
    IOT_Ioctl(IOTX_IOCTL_SET_HTTP_CA_FILE, strcmp(argv[8], "-") == 0 ? NULL : (void*)argv[8]);

    /* Create Master Device Resources */
    g_user_example_ctx.master_devid =
        IOT_Linkkit_Open(IOTX_LINKKIT_DEV_TYPE_MASTER, &master_meta_info);
    if (g_user_example_ctx.master_devid < 0) {
        EXAMPLE_TRACE("IOT_Linkkit_Open Failed\n");
        return 1;
    }

    /* Start Connect Aliyun Server */
    res = IOT_Linkkit_Connect(g_user_example_ctx.master_devid);
    if (res < 0) {
        EXAMPLE_TRACE("IOT_Linkkit_Connect Failed\n");
        IOT_Linkkit_Close(g_user_example_ctx.master_devid);
        return 1;
    }
    EXAMPLE_TRACE("connected, firmware version %s, waiting for FOTA", g_version);

    /* port: bounded (the original loops forever): 600 x 200 ms = 2 minutes */
    for (i = 0; i < 600 && !g_user_example_ctx.fota_done; i++) {
        IOT_Linkkit_Yield(200);
    }

    IOT_Linkkit_Close(g_user_example_ctx.master_devid);
    if (!g_user_example_ctx.fota_done) {
        EXAMPLE_TRACE("no firmware announced");
        return 1;
    }
    EXAMPLE_TRACE("FOTA %s", g_user_example_ctx.fota_result == 0 ? "succeeded" : "failed");
    return g_user_example_ctx.fota_result == 0 ? 0 : 1;
}
