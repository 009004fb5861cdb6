/* The C SDK's basic OTA example (ota_example_mqtt.c), ported to this library. It reads almost
 * line for line like the original; the differences are marked "port:".
 *
 *   ota_example_c PRODUCT_KEY DEVICE_NAME DEVICE_SECRET VERSION HOST PORT CA_FILE HTTP_CA_FILE
 *                 [OUTPUT]
 *
 * port: the original compiles the triple and the endpoint in; here they come from the command
 * line so the integration tests can point it at a loopback broker. CA_FILE / HTTP_CA_FILE may be
 * "-" for the system store. Exit status: 0 valid firmware stored, 1 otherwise. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ota/c_api/iot_export_ota.h"

#define OTA_BUF_LEN (5000)
#define EXAMPLE_TRACE(...)                         \
    do {                                           \
        printf("%s|%03d :: ", __func__, __LINE__); \
        printf(__VA_ARGS__);                       \
        printf("\r\n");                            \
        fflush(stdout);                            \
    } while (0)

static const char* g_version;
static const char* g_host;
static uint16_t g_port;
static const char* g_ca_file;
static const char* g_http_ca_file;
static const char* g_output = "ota.bin";

static void event_handle(void* pcontext, void* pclient, iotx_mqtt_event_msg_t* msg) {
    (void)pcontext;
    (void)pclient;
    EXAMPLE_TRACE("event_type=%d", (int)msg->event_type);
}

static int _ota_mqtt_client(void) {
    int rc = 1, ota_over = 0;
    void *pclient = NULL, *h_ota = NULL;
    iotx_conn_info_pt pconn_info;
    iotx_mqtt_param_t mqtt_params;
    iotx_ota_options_t ota_options;
    FILE* fp = NULL;
    char buf_ota[OTA_BUF_LEN];
    char product_key[IOTX_PRODUCT_KEY_LEN + 1];
    char device_name[IOTX_DEVICE_NAME_LEN + 1];
    char device_secret[IOTX_DEVICE_SECRET_LEN + 1];

    HAL_GetProductKey(product_key);
    HAL_GetDeviceName(device_name);
    HAL_GetDeviceSecret(device_secret);

    /* port: the image is written to a temporary name and renamed only once it is valid. */
    char tmp_name[1024];
    snprintf(tmp_name, sizeof tmp_name, "%s.download", g_output);
    if (NULL == (fp = fopen(tmp_name, "wb+"))) {
        EXAMPLE_TRACE("open file failed");
        goto do_exit;
    }

    /* Device AUTH */
    if (0 != IOT_SetupConnInfo(product_key, device_name, device_secret, (void**)&pconn_info)) {
        EXAMPLE_TRACE("AUTH request failed!");
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
    mqtt_params.read_buf_size = OTA_BUF_LEN;
    mqtt_params.write_buf_size = OTA_BUF_LEN;
    mqtt_params.handle_event.h_fp = event_handle;
    mqtt_params.handle_event.pcontext = NULL;
    /* port: a loopback broker instead of the cloud endpoint, and an explicit CA file. */
    mqtt_params.host = g_host;
    mqtt_params.port = g_port;
    mqtt_params.ca_file = g_ca_file;

    /* Construct a MQTT client with specify parameter */
    pclient = IOT_MQTT_Construct(&mqtt_params);
    if (NULL == pclient) {
        EXAMPLE_TRACE("MQTT construct failed");
        goto do_exit;
    }

    /* port: IOT_OTA_InitEx names the firmware server's CA (the original trusted a built-in one). */
    memset(&ota_options, 0, sizeof ota_options);
    ota_options.http_ca_file = g_http_ca_file;
    h_ota = IOT_OTA_InitEx(product_key, device_name, pclient, &ota_options);
    if (NULL == h_ota) {
        EXAMPLE_TRACE("initialize OTA failed");
        goto do_exit;
    }

    if (0 != IOT_OTA_ReportVersion(h_ota, g_version)) {
        EXAMPLE_TRACE("report OTA version failed");
        goto do_exit;
    }

    /* port: bounded wait (the original loops forever): 600 x 200 ms = 2 minutes. */
    int waits = 0;
    do {
        uint32_t firmware_valid;

        EXAMPLE_TRACE("wait ota upgrade command....");

        /* handle the MQTT packet received from TCP or SSL connection */
        IOT_MQTT_Yield(pclient, 200);

        if (IOT_OTA_IsFetching(h_ota)) {
            uint32_t last_percent = 0, percent = 0;
            char md5sum[65];
            char version[128] = {0};
            uint32_t len, size_downloaded, size_file;
            do {
                int got = IOT_OTA_FetchYield(h_ota, buf_ota, OTA_BUF_LEN, 1);
                if (got > 0) {
                    len = (uint32_t)got;
                    if (1 != fwrite(buf_ota, len, 1, fp)) {
                        EXAMPLE_TRACE("write data to file failed");
                        IOT_OTA_ReportProgress(h_ota, IOT_OTAP_BURN_FAILED, "write failed");
                        goto do_exit;
                    }
                } else if (got < 0) {
                    /* port: a failed download is final for this job (the client already
                     * reported it; the handle is FETCHED, its check answers invalid): leave. */
                    IOT_OTA_ReportProgress(h_ota, IOT_OTAP_FETCH_FAILED, NULL);
                    EXAMPLE_TRACE("ota fetch fail");
                    goto do_exit;
                }

                /* get OTA information */
                IOT_OTA_Ioctl(h_ota, IOT_OTAG_FETCHED_SIZE, &size_downloaded, 4);
                IOT_OTA_Ioctl(h_ota, IOT_OTAG_FILE_SIZE, &size_file, 4);
                IOT_OTA_Ioctl(h_ota, IOT_OTAG_MD5SUM, md5sum, sizeof md5sum);
                IOT_OTA_Ioctl(h_ota, IOT_OTAG_VERSION, version, 128);

                last_percent = percent;
                /* port: 64-bit percent math (32-bit overflows above ~43 MB). */
                percent = (uint32_t)(((uint64_t)size_downloaded * 100) / size_file);
                if (percent - last_percent > 0) {
                    IOT_OTA_ReportProgress(h_ota, (IOT_OTA_Progress_t)percent, NULL);
                    IOT_OTA_ReportProgress(h_ota, (IOT_OTA_Progress_t)percent, "hello");
                }
                IOT_MQTT_Yield(pclient, 100);
            } while (!IOT_OTA_IsFetchFinish(h_ota));

            IOT_OTA_Ioctl(h_ota, IOT_OTAG_CHECK_FIRMWARE, &firmware_valid, 4);
            if (0 == firmware_valid) {
                EXAMPLE_TRACE("The firmware is invalid");
            } else {
                EXAMPLE_TRACE("The firmware is valid");
                /* port: publish the image under its final name only now. */
                if (0 == fflush(fp) && 0 == fclose(fp)) {
                    fp = NULL;
                    if (0 == rename(tmp_name, g_output)) {
                        EXAMPLE_TRACE("firmware %s stored at %s", version, g_output);
                        rc = 0;
                    }
                }
            }
            ota_over = 1;
        }
    } while (!ota_over && ++waits < 600);

do_exit:
    if (NULL != h_ota) {
        IOT_OTA_Deinit(h_ota);
    }
    if (NULL != pclient) {
        IOT_MQTT_Destroy(&pclient);
    }
    if (NULL != fp) {
        fclose(fp);
    }
    if (0 != rc) {
        remove(tmp_name);
    }
    return rc;
}

int main(int argc, char* argv[]) {
    if (argc < 9) {
        fprintf(stderr,
                "usage: %s PRODUCT_KEY DEVICE_NAME DEVICE_SECRET VERSION HOST PORT CA_FILE "
                "HTTP_CA_FILE [OUTPUT]\n",
                argv[0]);
        return 2;
    }
    /**< get device info*/
    HAL_SetProductKey(argv[1]);
    HAL_SetDeviceName(argv[2]);
    HAL_SetDeviceSecret(argv[3]);
    /**< end*/
    g_version = argv[4];
    g_host = argv[5];
    g_port = (uint16_t)atoi(argv[6]);
    g_ca_file = strcmp(argv[7], "-") == 0 ? NULL : argv[7];
    g_http_ca_file = strcmp(argv[8], "-") == 0 ? NULL : argv[8];
    if (argc > 9) {
        g_output = argv[9];
    }

    return _ota_mqtt_client();
}
