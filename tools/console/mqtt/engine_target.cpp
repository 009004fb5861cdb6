// EngineTarget: the bridge's device messages applied to the Engine (see mqtt_bridge.hpp). Its own
// file so that tests of the bridge with a fake target do not need the engine linked.
#include <algorithm>

#include "mqtt/mqtt_bridge.hpp"

namespace console {

void EngineTarget::batch(const std::function<void()>& fn) {
    engine_.batch(fn);
}

bool EngineTarget::is_registered(const DeviceKey& device) {
    {
        std::lock_guard<std::mutex> lock(known_mutex_);
        if (std::binary_search(known_.begin(), known_.end(), device)) return true;
    }
    if (!store_.device(device)) return false;
    std::lock_guard<std::mutex> lock(known_mutex_);
    known_.insert(std::lower_bound(known_.begin(), known_.end(), device), device);
    return true;
}

bool EngineTarget::on_inform(const DeviceKey& device, const std::string& module,
                             const std::string& version) {
    return engine_.on_inform(device, module, version);
}

bool EngineTarget::on_progress(const DeviceKey& device, const std::string& module, int step,
                               const std::string& desc) {
    return engine_.on_progress(device, module, step, desc);
}

std::string EngineTarget::on_firmware_get(const DeviceKey& device, const std::string& module,
                                          const std::string& request_id) {
    return engine_.on_firmware_get(device, module, request_id);
}

std::optional<Firmware> EngineTarget::stream_firmware(const DeviceKey& device,
                                                      std::uint64_t stream_id) {
    return engine_.stream_firmware(device, stream_id);
}

}  // namespace console
