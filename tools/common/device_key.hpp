// A device as the cloud side of the protocol names it: product key + device name, as in its MQTT
// topics. Shared by the host tools (ota_console's records, the device-message decoder, ota_fleet's
// cloud).
#pragma once

#include <string>

namespace ota_tools {

/// The module of a device's main firmware (a version report without "module").
inline constexpr const char* kDefaultModule = "default";

/// A device: product key + device name, as in its MQTT topics.
struct DeviceKey {
    std::string product_key;
    std::string device_name;

    friend bool operator==(const DeviceKey& a, const DeviceKey& b) {
        return a.product_key == b.product_key && a.device_name == b.device_name;
    }
    friend bool operator!=(const DeviceKey& a, const DeviceKey& b) { return !(a == b); }
    friend bool operator<(const DeviceKey& a, const DeviceKey& b) {
        return a.product_key != b.product_key ? a.product_key < b.product_key
                                              : a.device_name < b.device_name;
    }
};

}  // namespace ota_tools
