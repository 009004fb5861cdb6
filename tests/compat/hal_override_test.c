/* Shows which HAL definition the library ends up calling. Built twice: with the application's
 * port file (hal_port.c, OTA_WITH_HAL_PORT defined), where the port's strong definitions must
 * win over the library's weak ones; and without it, where the library's POSIX defaults must do
 * the job. Exit 0 = as expected; the failing check is printed otherwise. */
#include <stdio.h>
#include <string.h>

#include "infra_compat.h"
#include "wrappers.h"

#define CHECK(cond)                                                \
    do {                                                           \
        if (!(cond)) {                                             \
            fprintf(stderr, "check failed line %d: %s\n", __LINE__, #cond); \
            return 1;                                              \
        }                                                          \
    } while (0)

#ifdef OTA_WITH_HAL_PORT
extern int g_hal_port_calls;
#endif

int main(void)
{
    char pk[IOTX_PRODUCT_KEY_LEN + 1];
    char buf[16];
    void *p;
    uint64_t t0;

    CHECK(HAL_SetProductKey("a1Override") == 10);
    CHECK(HAL_GetProductKey(pk) == 10 && strcmp(pk, "a1Override") == 0);
    CHECK(HAL_Snprintf(buf, sizeof buf, "%d-%s", 7, "x") == 3 && strcmp(buf, "7-x") == 0);
    p = HAL_Malloc(32);
    CHECK(p != NULL);
    HAL_Free(p);
    t0 = HAL_UptimeMs();
    HAL_SleepMs(20);
    CHECK(HAL_UptimeMs() - t0 >= 20);
#ifdef OTA_WITH_HAL_PORT
    {
        /* Library code (IOT_DumpMemoryStats prints through HAL_Printf) reaches the port. */
        const int before = g_hal_port_calls;
        CHECK(before >= 8);
        IOT_DumpMemoryStats(IOT_LOG_DEBUG);
        CHECK(g_hal_port_calls == before + 1);
    }
#else
    IOT_DumpMemoryStats(IOT_LOG_DEBUG);
#endif
    printf("hal override test passed\n");
    return 0;
}
