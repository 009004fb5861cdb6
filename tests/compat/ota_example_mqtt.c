/* The seed's basic OTA example (the C SDK v3.x guide's ota_example_mqtt.c walk-through),
 * completed as the SDK's own example file completes it: includes, the device triple, the MQTT
 * event handler, the declarations the guide leaves out and main(). Every line the guide shows is
 * kept exactly as written there (marked "seed:" where a block starts); this file must compile
 * as C99 with -Wall -Wextra -Werror against the compatibility headers (target ota::compat) and
 * link with the application's own HAL port file (hal_port.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infra_compat.h"
#include "mqtt_api.h"
#include "ota_api.h"
#include "wrappers.h"

#define PRODUCT_KEY "a1ExampleKey"
#define DEVICE_NAME "example1"
#define DEVICE_SECRET "ExampleDeviceSecretExampleSecret"

#define OTA_MQTT_MSGLEN (2048)
#define OTA_BUF_LEN (5000)

#define EXAMPLE_TRACE(...)                         \
    do {                                           \
        HAL_Printf("%s|%03d :: ", __func__, __LINE__); \
        HAL_Printf(__VA_ARGS__);                   \
        HAL_Printf("%s", "\r\n");                  \
    } while (0)

char g_product_key[IOTX_PRODUCT_KEY_LEN + 1];
char g_product_secret[IOTX_PRODUCT_SECRET_LEN + 1];
char g_device_name[IOTX_DEVICE_NAME_LEN + 1];
char g_device_secret[IOTX_DEVICE_SECRET_LEN + 1];
char g_firmware_version[IOTX_FIRMWARE_VER_LEN + 1] = "1.0.0";

/* Logs every event of the original's MQTT client by name. */
static void event_handle(void *pcontext, void *pclient, iotx_mqtt_event_msg_pt msg)
{
    uintptr_t packet_id = (uintptr_t)msg->msg;
    iotx_mqtt_topic_info_pt topic_info = (iotx_mqtt_topic_info_pt)msg->msg;

    (void)pcontext;
    (void)pclient;
    switch (msg->event_type) {
        case IOTX_MQTT_EVENT_UNDEF: EXAMPLE_TRACE("undefined event"); break;
        case IOTX_MQTT_EVENT_DISCONNECT: EXAMPLE_TRACE("MQTT disconnected"); break;
        case IOTX_MQTT_EVENT_RECONNECT: EXAMPLE_TRACE("MQTT reconnected"); break;
        case IOTX_MQTT_EVENT_SUBCRIBE_SUCCESS:
        case IOTX_MQTT_EVENT_SUBCRIBE_TIMEOUT:
        case IOTX_MQTT_EVENT_SUBCRIBE_NACK:
        case IOTX_MQTT_EVENT_UNSUBCRIBE_SUCCESS:
        case IOTX_MQTT_EVENT_UNSUBCRIBE_TIMEOUT:
        case IOTX_MQTT_EVENT_UNSUBCRIBE_NACK:
        case IOTX_MQTT_EVENT_PUBLISH_SUCCESS:
        case IOTX_MQTT_EVENT_PUBLISH_TIMEOUT:
        case IOTX_MQTT_EVENT_PUBLISH_NACK:
            EXAMPLE_TRACE("event %d, packet-id=%u", (int)msg->event_type, (unsigned int)packet_id);
            break;
        case IOTX_MQTT_EVENT_PUBLISH_RECEIVED:
            EXAMPLE_TRACE("message without a handler: topic=%.*s, payload=%.*s",
                          (int)topic_info->topic_len, topic_info->ptopic,
                          (int)topic_info->payload_len, topic_info->payload);
            break;
        default: EXAMPLE_TRACE("unknown event %d", (int)msg->event_type); break;
    }
}

static int _ota_mqtt_client(void)
{
    int rc = 0;
    void *pclient = NULL, *h_ota = NULL;
    iotx_conn_info_pt pconn_info;
    iotx_mqtt_param_t mqtt_params;
    char *msg_buf = NULL, *msg_readbuf = NULL;
    FILE *fp = NULL;
    char buf_ota[OTA_BUF_LEN];

    HAL_GetProductKey(g_product_key);
    HAL_GetDeviceName(g_device_name);
    HAL_GetDeviceSecret(g_device_secret);

    fp = fopen("ota.bin", "wb+");
    if (NULL == fp) {
        EXAMPLE_TRACE("open file failed");
        rc = -1;
        goto do_exit;
    }
    if (NULL == (msg_buf = (char *)HAL_Malloc(OTA_MQTT_MSGLEN)) ||
        NULL == (msg_readbuf = (char *)HAL_Malloc(OTA_MQTT_MSGLEN))) {
        EXAMPLE_TRACE("not enough memory");
        rc = -1;
        goto do_exit;
    }

    /* seed: */
    /* Device AUTH */
    if (0 != IOT_SetupConnInfo(g_product_key, g_device_name, g_device_secret, (void **)&pconn_info)) {
    EXAMPLE_TRACE("AUTH request failed!");
    rc = -1;
    goto do_exit;
    }
    /* Initialize MQTT parameter */
    memset(&mqtt_params, 0x0, sizeof(mqtt_params));
    mqtt_params.port = pconn_info->port;
    mqtt_params.host = pconn_info->host_name;
    mqtt_params.client_id = pconn_info->client_id;
    mqtt_params.username = pconn_info->username;
    mqtt_params.password = pconn_info->password;
    mqtt_params.pub_key = pconn_info->pub_key;
    mqtt_params.request_timeout_ms = 2000;
    mqtt_params.clean_session = 0;
    mqtt_params.keepalive_interval_ms = 60000;
    mqtt_params.read_buf_size = OTA_MQTT_MSGLEN;
    mqtt_params.write_buf_size = OTA_MQTT_MSGLEN;
    mqtt_params.handle_event.h_fp = event_handle;
    mqtt_params.handle_event.pcontext = NULL;
    /* Construct a MQTT client with specify parameter */
    pclient = IOT_MQTT_Construct(&mqtt_params);
    if (NULL == pclient) {
    EXAMPLE_TRACE("MQTT construct failed");
    rc = -1;
    goto do_exit;
    }
    /* seed: */
    h_ota = IOT_OTA_Init(PRODUCT_KEY, DEVICE_NAME, pclient);
    if (NULL == h_ota) {
    rc = -1;
    EXAMPLE_TRACE("initialize OTA failed");
    goto do_exit;
    }
    IOT_OTA_ReportVersion(h_ota, g_firmware_version);
    /* seed: */
    int ota_over = 0;
    do {
    uint32_t firmware_valid;
    EXAMPLE_TRACE("wait ota upgrade command....");
    /* 接收MQTT消息 */
    IOT_MQTT_Yield(pclient, 200);
    /* 判断接收到的消息中是否有固件升级的消息 */
    if (IOT_OTA_IsFetching(h_ota)) {
    uint32_t last_percent = 0, percent = 0;
    char md5sum[33];
    char version[128] = {0};
    int len, size_downloaded, size_file;
    /* seed: */
    do {
    /* 下载OTA固件 */
    len = IOT_OTA_FetchYield(h_ota, buf_ota, OTA_BUF_LEN, 1);
    if (len > 0) {
    if (1 != fwrite(buf_ota, len, 1, fp)) {
    EXAMPLE_TRACE("write data to file failed");
    rc = -1;
    break;
    }
    } else {
    /* 上报已下载进度 */
    IOT_OTA_ReportProgress(h_ota, IOT_OTAP_FETCH_FAILED, NULL);
    EXAMPLE_TRACE("ota fetch fail");
    }
    /* get OTA information */
    /* 获取已下载到的数据量, 文件总大小, md5信息, 版本号等信息 */
    IOT_OTA_Ioctl(h_ota, IOT_OTAG_FETCHED_SIZE, &size_downloaded, 4);
    IOT_OTA_Ioctl(h_ota, IOT_OTAG_FILE_SIZE, &size_file, 4);
    IOT_OTA_Ioctl(h_ota, IOT_OTAG_MD5SUM, md5sum, 33);
    IOT_OTA_Ioctl(h_ota, IOT_OTAG_VERSION, version, 128);
    last_percent = percent;
    percent = (size_downloaded * 100) / size_file;
    if (percent - last_percent > 0) {
    /* 上报已下载进度 */
    IOT_OTA_ReportProgress(h_ota, percent, NULL);
    IOT_OTA_ReportProgress(h_ota, percent, "hello");
    } IOT_MQTT_Yield(pclient, 100);
    /* 判断下载是否结束 */
    } while (!IOT_OTA_IsFetchFinish(h_ota));
    /* seed: */
    IOT_OTA_Ioctl(h_ota, IOT_OTAG_CHECK_FIRMWARE, &firmware_valid, 4);
    if (0 == firmware_valid) {
    EXAMPLE_TRACE("The firmware is invalid");
    } else {
    EXAMPLE_TRACE("The firmware is valid");
    }
    ota_over = 1;
    }
    } while (!ota_over);

do_exit:
    /* seed: */
    if (NULL != h_ota) {
    IOT_OTA_Deinit(h_ota);
    }
    if (NULL != pclient) {
    IOT_MQTT_Destroy(&pclient);
    }
    if (NULL != msg_buf) {
    HAL_Free(msg_buf);
    }
    if (NULL != msg_readbuf) {
    HAL_Free(msg_readbuf);
    }
    if (NULL != fp) {
    fclose(fp);
    }
    return rc;
}

int main(int argc, char *argv[]) {
    (void)argc;
    (void)argv;
    IOT_SetLogLevel(IOT_LOG_DEBUG);
    /* seed: */
    /**< get device info*/
    HAL_SetProductKey(PRODUCT_KEY);
    HAL_SetDeviceName(DEVICE_NAME);
    HAL_SetDeviceSecret(DEVICE_SECRET);
    /**< end*/
    _ota_mqtt_client();
    IOT_DumpMemoryStats(IOT_LOG_DEBUG);
    IOT_SetLogLevel(IOT_LOG_NONE);
    return 0;
}
