/* An application's own HAL port file, as a team moving from the C SDK v3.x keeps it: strong
 * definitions of the HAL functions the library also defines weakly. Linking it with the library
 * must not give "multiple definition" errors, and these definitions must win (the unit test
 * compat_hal_override_test checks that). Each function counts its calls in g_hal_port_calls so
 * a test can tell the port's code ran. */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "infra_compat.h"
#include "wrappers.h"

int g_hal_port_calls = 0;

static char s_product_key[IOTX_PRODUCT_KEY_LEN + 1];
static char s_product_secret[IOTX_PRODUCT_SECRET_LEN + 1];
static char s_device_name[IOTX_DEVICE_NAME_LEN + 1];
static char s_device_secret[IOTX_DEVICE_SECRET_LEN + 1];

static int store(char *dst, size_t cap, const char *src)
{
    size_t n;
    ++g_hal_port_calls;
    if (src == NULL || (n = strlen(src)) >= cap) {
        return -1;
    }
    memcpy(dst, src, n + 1);
    return (int)n;
}

static int load(char *dst, const char *src)
{
    ++g_hal_port_calls;
    strcpy(dst, src);
    return (int)strlen(src);
}

void *HAL_Malloc(uint32_t size) { ++g_hal_port_calls; return malloc(size); }
void HAL_Free(void *ptr) { ++g_hal_port_calls; free(ptr); }

void HAL_Printf(const char *fmt, ...)
{
    va_list args;
    ++g_hal_port_calls;
    printf("[port] ");
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    fflush(stdout);
}

int HAL_Snprintf(char *str, const int len, const char *fmt, ...)
{
    va_list args;
    int n;
    ++g_hal_port_calls;
    va_start(args, fmt);
    n = vsnprintf(str, (size_t)len, fmt, args);
    va_end(args);
    return n;
}

void HAL_SleepMs(uint32_t ms)
{
    struct timespec ts;
    ++g_hal_port_calls;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

uint64_t HAL_UptimeMs(void)
{
    struct timespec ts;
    ++g_hal_port_calls;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int HAL_SetProductKey(char *product_key) { return store(s_product_key, sizeof s_product_key, product_key); }
int HAL_SetDeviceName(char *device_name) { return store(s_device_name, sizeof s_device_name, device_name); }
int HAL_SetDeviceSecret(char *device_secret) { return store(s_device_secret, sizeof s_device_secret, device_secret); }
int HAL_SetProductSecret(char *product_secret) { return store(s_product_secret, sizeof s_product_secret, product_secret); }
int HAL_GetProductKey(char *product_key) { return load(product_key, s_product_key); }
int HAL_GetDeviceName(char *device_name) { return load(device_name, s_device_name); }
int HAL_GetDeviceSecret(char *device_secret) { return load(device_secret, s_device_secret); }
int HAL_GetProductSecret(char *product_secret) { return load(product_secret, s_product_secret); }

int HAL_GetFirmwareVersion(char *version)
{
    return load(version, "1.0.0");
}
