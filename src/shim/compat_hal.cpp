// The original SDK's HAL (wrappers.h) as weak POSIX defaults, and IOT_SetLogLevel /
// IOT_DumpMemoryStats (infra_compat.h). Weak so that an application keeping its own HAL port
// file links without "multiple definition" errors: its strong definitions win. This file sees
// the compatibility header's `char *` prototypes, so it never includes ota/c_api directly.
#include <time.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "ota/compat/ota_compat.h"
#include "ota/log.hpp"
#include "shim/c_handles.hpp"

namespace {

std::mutex g_secret_mutex;
std::string g_product_secret;

// No level of ota::LogLevel is above error, so NONE is a threshold past the last level.
constexpr int kSilent = static_cast<int>(ota::LogLevel::error) + 1;

int to_min_level(IOT_LogLevel level) {
    switch (level) {
        case IOT_LOG_NONE:
            return kSilent;
        case IOT_LOG_CRIT:
        case IOT_LOG_ERROR:
            return static_cast<int>(ota::LogLevel::error);
        case IOT_LOG_WARNING:
            return static_cast<int>(ota::LogLevel::warning);
        case IOT_LOG_INFO:
            return static_cast<int>(ota::LogLevel::info);
        case IOT_LOG_DEBUG:
            return static_cast<int>(ota::LogLevel::debug);
    }
    return static_cast<int>(ota::LogLevel::warning);
}

}  // namespace

extern "C" {

__attribute__((weak)) void* HAL_Malloc(uint32_t size) {
    return std::malloc(size);
}

__attribute__((weak)) void HAL_Free(void* ptr) {
    std::free(ptr);
}

__attribute__((weak)) void HAL_Printf(const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    std::vprintf(fmt, args);
    va_end(args);
    std::fflush(stdout);
}

__attribute__((weak)) int HAL_Snprintf(char* str, const int len, const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    const int n = std::vsnprintf(str, len > 0 ? static_cast<std::size_t>(len) : 0, fmt, args);
    va_end(args);
    return n;
}

__attribute__((weak)) void HAL_SleepMs(uint32_t ms) {
    timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
        // interrupted by a signal: sleep for the rest
    }
}

__attribute__((weak)) uint64_t HAL_UptimeMs(void) {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000U + static_cast<uint64_t>(ts.tv_nsec) / 1000000U;
}

__attribute__((weak)) int HAL_SetProductSecret(char* product_secret) {
    if (product_secret == nullptr) return -1;
    const std::size_t n = std::strlen(product_secret);
    if (n > IOTX_PRODUCT_SECRET_LEN) return -1;
    try {
        std::lock_guard<std::mutex> lock(g_secret_mutex);
        g_product_secret.assign(product_secret, n);
    } catch (...) {
        return -1;
    }
    return static_cast<int>(n);
}

__attribute__((weak)) int HAL_GetProductSecret(char* product_secret) {
    if (product_secret == nullptr) return -1;
    std::lock_guard<std::mutex> lock(g_secret_mutex);
    std::memcpy(product_secret, g_product_secret.c_str(), g_product_secret.size() + 1);
    return static_cast<int>(g_product_secret.size());
}

void IOT_SetLogLevel(IOT_LogLevel level) {
    ota::set_log_level(static_cast<ota::LogLevel>(to_min_level(level)));
}

void IOT_DumpMemoryStats(IOT_LogLevel level) {
    if (level == IOT_LOG_NONE) return;
    const int min = static_cast<int>(ota::log_level());
    const char* name = min >= kSilent ? "none" : ota::to_string(ota::log_level());
    HAL_Printf(
        "ota memory stats: %d MQTT handle(s), %d OTA handle(s) alive; log level %s; "
        "allocations use the C++ heap, not HAL_Malloc, so no byte counts\r\n",
        ota::shim::g_live_mqtt_handles.load(), ota::shim::g_live_ota_handles.load(), name);
}

}  // extern "C"
