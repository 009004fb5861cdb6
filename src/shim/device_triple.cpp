// HAL_Set*/HAL_Get* (the device triple the C SDK keeps process-wide) and IOT_SetupConnInfo.
// The HAL functions are weak: an application's own HAL port file replaces them at link time, as
// with the original SDK. No exception crosses into C.
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>

#include "ota/auth.hpp"
#include "ota/c_api/iot_export_ota.h"
#include "ota/log.hpp"
#include "shim/ioctl_connection.hpp"

// The C header spells the triple's limits as #defines for C callers; auth.hpp is their source.
static_assert(IOTX_PRODUCT_KEY_LEN == ota::kMaxProductKeyLength,
              "IOTX_PRODUCT_KEY_LEN must equal ota::kMaxProductKeyLength");
static_assert(IOTX_DEVICE_NAME_LEN == ota::kMaxDeviceNameLength,
              "IOTX_DEVICE_NAME_LEN must equal ota::kMaxDeviceNameLength");
static_assert(IOTX_DEVICE_SECRET_LEN == ota::kMaxDeviceSecretLength,
              "IOTX_DEVICE_SECRET_LEN must equal ota::kMaxDeviceSecretLength");

namespace {

struct DeviceTriple {
    std::mutex mutex;
    std::string product_key;
    std::string device_name;
    std::string device_secret;
};

DeviceTriple& device_triple() {
    static DeviceTriple triple;
    return triple;
}

int hal_set(std::string DeviceTriple::*field, const char* value, std::size_t limit) {
    if (value == nullptr) return -1;
    const std::size_t n = std::strlen(value);
    if (n > limit) return -1;
    try {
        auto& t = device_triple();
        std::lock_guard<std::mutex> lock(t.mutex);
        t.*field = value;
    } catch (...) {
        return -1;
    }
    return static_cast<int>(n);
}

int hal_get(std::string DeviceTriple::*field, char* buf) {
    if (buf == nullptr) return -1;
    auto& t = device_triple();
    std::lock_guard<std::mutex> lock(t.mutex);
    const std::string& v = t.*field;
    std::memcpy(buf, v.c_str(), v.size() + 1);
    return static_cast<int>(v.size());
}

bool copy_field(char* dst, std::size_t cap, const std::string& src) {
    if (src.size() + 1 > cap) return false;
    std::memcpy(dst, src.c_str(), src.size() + 1);
    return true;
}

}  // namespace

extern "C" {

__attribute__((weak)) int HAL_SetProductKey(const char* product_key) {
    return hal_set(&DeviceTriple::product_key, product_key, IOTX_PRODUCT_KEY_LEN);
}
__attribute__((weak)) int HAL_SetDeviceName(const char* device_name) {
    return hal_set(&DeviceTriple::device_name, device_name, IOTX_DEVICE_NAME_LEN);
}
__attribute__((weak)) int HAL_SetDeviceSecret(const char* device_secret) {
    return hal_set(&DeviceTriple::device_secret, device_secret, IOTX_DEVICE_SECRET_LEN);
}
__attribute__((weak)) int HAL_GetProductKey(char* buf) {
    return hal_get(&DeviceTriple::product_key, buf);
}
__attribute__((weak)) int HAL_GetDeviceName(char* buf) {
    return hal_get(&DeviceTriple::device_name, buf);
}
__attribute__((weak)) int HAL_GetDeviceSecret(char* buf) {
    return hal_get(&DeviceTriple::device_secret, buf);
}

int IOT_SetupConnInfo(const char* product_key, const char* device_name, const char* device_secret,
                      void** info_ptr) {
    static std::mutex mutex;
    static iotx_conn_info_t info;
    static std::string pub_key;
    if (product_key == nullptr || device_name == nullptr || device_secret == nullptr ||
        info_ptr == nullptr) {
        ota::log(ota::LogLevel::error, "IOT_SetupConnInfo: NULL argument");
        return -1;
    }
    try {
        // As in the original, the region, domain, host and port set with IOT_Ioctl apply.
        const ota::shim::IoctlConnection ioctl = ota::shim::ioctl_connection();
        ota::ConnectionInfo ci;
        const ota::Error e =
            ota::make_connection_info({product_key, device_name, device_secret},
                                      ota::shim::connect_options_for(ioctl, product_key), ci);
        if (!e.ok()) {
            ota::log(ota::LogLevel::error, "IOT_SetupConnInfo: " + e.message());
            return -1;
        }
        // pub_key is the broker's CA as PEM text, as the original handed it on to
        // IOT_MQTT_Construct: the contents of the CA file set with IOT_Ioctl, else NULL (the
        // system's CA store).
        std::string pem;
        if (!ioctl.mqtt_ca_file.empty()) {
            std::ifstream in(ioctl.mqtt_ca_file, std::ios::binary);
            pem.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
            if (!in.good() && !in.eof()) pem.clear();
            if (pem.empty()) {
                ota::log(ota::LogLevel::error,
                         "IOT_SetupConnInfo: cannot read the CA file " + ioctl.mqtt_ca_file);
                return -1;
            }
        }
        std::lock_guard<std::mutex> lock(mutex);
        pub_key = std::move(pem);
        info = iotx_conn_info_t{};
        info.pub_key = pub_key.empty() ? nullptr : pub_key.c_str();
        info.port = ci.port;
        if (!copy_field(info.host_name, sizeof info.host_name, ci.host) ||
            !copy_field(info.client_id, sizeof info.client_id, ci.client_id) ||
            !copy_field(info.username, sizeof info.username, ci.username) ||
            !copy_field(info.password, sizeof info.password, ci.password)) {
            ota::log(ota::LogLevel::error, "IOT_SetupConnInfo: connection info too long");
            return -1;
        }
        *info_ptr = &info;
        return 0;
    } catch (...) {
        return -1;
    }
}

}  // extern "C"
