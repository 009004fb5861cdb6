/* The lab part of the application's HAL port for running the seed's examples against the test
 * lab (tests/integration/seed_examples_test.cpp) without changing a line of them. The seed
 * connects wherever IOT_SetupConnInfo (basic example) or IOT_Linkkit_Connect (linkkit example)
 * point it, and both honour IOT_Ioctl's connection options; so before main() this file passes
 * on OTA_SEED_MQTT_HOST, OTA_SEED_MQTT_PORT, OTA_SEED_CA_FILE (the broker's CA; the basic API
 * trusts it, as pub_key, for the firmware server too) and OTA_SEED_HTTP_CA_FILE (the firmware
 * server's CA for the linkkit API). Unset variables change nothing. */
#include <stdlib.h>

#include "infra_compat.h"

static void seed_lab_connection(void) __attribute__((constructor));

static void seed_lab_connection(void)
{
    const char *host = getenv("OTA_SEED_MQTT_HOST");
    const char *port = getenv("OTA_SEED_MQTT_PORT");
    const char *ca = getenv("OTA_SEED_CA_FILE");
    const char *http_ca = getenv("OTA_SEED_HTTP_CA_FILE");
    if (host != NULL) {
        IOT_Ioctl(IOTX_IOCTL_SET_MQTT_HOST, (void *)host);
    }
    if (port != NULL) {
        int p = atoi(port);
        IOT_Ioctl(IOTX_IOCTL_SET_MQTT_PORT, &p);
    }
    if (ca != NULL) {
        IOT_Ioctl(IOTX_IOCTL_SET_MQTT_CA_FILE, (void *)ca);
    }
    if (http_ca != NULL) {
        IOT_Ioctl(IOTX_IOCTL_SET_HTTP_CA_FILE, (void *)http_ca);
    }
}
