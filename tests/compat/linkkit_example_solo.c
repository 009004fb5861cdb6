/* The seed's advanced OTA example (the C SDK v3.x guide's linkkit_example_solo.c walk-through),
 * completed as the SDK's own example file completes it: includes, the device triple, the context
 * struct, the connection callbacks, the persistence HAL and main(). Every line the guide shows is
 * kept exactly as written there (marked "seed:" where a block starts); compiled as C99 with
 * -Wall -Wextra -Werror against ota::compat and linked with hal_port.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infra_types.h"
#include "infra_defs.h"
#include "infra_compat.h"
#include "dev_model_api.h"
#include "wrappers.h"

#define PRODUCT_KEY "a1ExampleKey"
#define PRODUCT_SECRET "ExampleProductSecret"
#define DEVICE_NAME "example1"
#define DEVICE_SECRET "ExampleDeviceSecretExampleSecret"

#define EXAMPLE_TRACE(...)                          \
    do {                                            \
        HAL_Printf("%s.%d: ", __func__, __LINE__);  \
        HAL_Printf(__VA_ARGS__);                    \
        HAL_Printf("\r\n");                         \
    } while (0)

#define EXAMPLE_MASTER_DEVID (0)
#define EXAMPLE_YIELD_TIMEOUT_MS (200)

typedef struct {
    int master_devid;
    int cloud_connected;
    int master_initialized;
} user_example_ctx_t;

static user_example_ctx_t g_user_example_ctx;
static FILE *g_image;

static int user_connected_event_handler(void)
{
    EXAMPLE_TRACE("Cloud Connected");
    g_user_example_ctx.cloud_connected = 1;
    return 0;
}

static int user_disconnected_event_handler(void)
{
    EXAMPLE_TRACE("Cloud Disconnected");
    g_user_example_ctx.cloud_connected = 0;
    return 0;
}

static int user_initialized(const int devid)
{
    EXAMPLE_TRACE("Device Initialized, devid %d", devid);
    g_user_example_ctx.master_initialized = 1;
    return 0;
}

/* seed: */
int user_fota_event_handler(int type, const char *version){
char buffer[128] = {0};
int buffer_length = 128;
/* 0 - new firmware exist, query the new firmware */
if (type == 0) {
EXAMPLE_TRACE("New Firmware Version: %s", version);
IOT_Linkkit_Query(EXAMPLE_MASTER_DEVID, ITM_MSG_QUERY_FOTA_DATA, (unsigned char *)buffer, buffer_length);
}
return 0;
}

/* The persistence HAL: the image goes to ota.bin. */
void HAL_Firmware_Persistence_Start(void)
{
    g_image = fopen("ota.bin", "wb");
}

int HAL_Firmware_Persistence_Write(char *buffer, uint32_t length)
{
    if (g_image == NULL || fwrite(buffer, 1, length, g_image) != length) {
        return -1;
    }
    return 0;
}

int HAL_Firmware_Persistence_Stop(void)
{
    int rc = 0;
    if (g_image != NULL) {
        rc = fclose(g_image) == 0 ? 0 : -1;
        g_image = NULL;
    }
    return rc;
}

/* Asks the cloud for a pending job, as the guide's last step shows. */
static void user_request_fota_image(void)
{
    user_example_ctx_t *user_example_ctx = &g_user_example_ctx;
    /* seed: */
    IOT_Linkkit_Query(user_example_ctx->master_devid, ITM_MSG_REQUEST_FOTA_IMAGE,
    (unsigned char *)("app-1.0.0-20180101.1001"), 30);
}

int main(int argc, char *argv[])
{
    int loops = 0;
    (void)argv;
    IOT_SetLogLevel(IOT_LOG_DEBUG);
    {
    /* seed: */
    int res = 0;
    int domain_type = 0, dynamic_register = 0, post_reply_need = 0;
    iotx_linkkit_dev_meta_info_t master_meta_info;
    memset(&g_user_example_ctx, 0, sizeof(user_example_ctx_t));
    memset(&master_meta_info, 0, sizeof(iotx_linkkit_dev_meta_info_t));
    memcpy(master_meta_info.product_key, PRODUCT_KEY, strlen(PRODUCT_KEY));
    memcpy(master_meta_info.product_secret, PRODUCT_SECRET, strlen(PRODUCT_SECRET));
    memcpy(master_meta_info.device_name, DEVICE_NAME, strlen(DEVICE_NAME));
    memcpy(master_meta_info.device_secret, DEVICE_SECRET, strlen(DEVICE_SECRET));
    /* Register Callback */
    IOT_RegisterCallback(ITE_CONNECT_SUCC, user_connected_event_handler);
    IOT_RegisterCallback(ITE_DISCONNECTED, user_disconnected_event_handler);
    IOT_RegisterCallback(ITE_INITIALIZE_COMPLETED, user_initialized);
    IOT_RegisterCallback(ITE_FOTA, user_fota_event_handler);
    domain_type = IOTX_CLOUD_REGION_SHANGHAI;
    IOT_Ioctl(IOTX_IOCTL_SET_DOMAIN, (void *)&domain_type);
    /* Choose Login Method */
    dynamic_register = 0;
    IOT_Ioctl(IOTX_IOCTL_SET_DYNAMIC_REGISTER, (void *)&dynamic_register);
    /* post reply doesn't need */
    post_reply_need = 1;IOT_Ioctl(IOTX_IOCTL_RECV_EVENT_REPLY, (void *)&post_reply_need);
    /* Create Master Device Resources */
    g_user_example_ctx.master_devid = IOT_Linkkit_Open(IOTX_LINKKIT_DEV_TYPE_MASTER, &master_meta_info);
    if (g_user_example_ctx.master_devid < 0) {
    EXAMPLE_TRACE("IOT_Linkkit_Open Failed\n");
    return -1;}
    /* Start Connect Aliyun Server */
    res = IOT_Linkkit_Connect(g_user_example_ctx.master_devid);
    if (res < 0) {
    EXAMPLE_TRACE("IOT_Linkkit_Connect Failed\n");
    return -1;
    }
    }
    user_request_fota_image();
    /* auto_quit as in the original: stop after an hour of 200 ms yields. */
    while (argc < 2 || strcmp(argv[1], "auto_quit") != 0 || ++loops <= 18000) {
        IOT_Linkkit_Yield(EXAMPLE_YIELD_TIMEOUT_MS);
    }
    IOT_Linkkit_Close(g_user_example_ctx.master_devid);
    IOT_DumpMemoryStats(IOT_LOG_DEBUG);
    IOT_SetLogLevel(IOT_LOG_NONE);
    return 0;
}
