// The benchmark's steps against a running console: set-up (devices, version reports, a
// firmware) and the two measured scenarios, "push" and "progress" (see ota_console_load's usage).
//
// Why each step waits on something the console shows (versions per product, pushes seen on the
// broker, /metrics) instead of sleeping: on a shared machine a fixed sleep is either too short
// or wastes the run; every wait is bounded and says what it waited for when it gives up.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "console_http.hpp"
#include "load_core.hpp"
#include "mqtt_fleet.hpp"

namespace console_load {

/// A step that could not be done (console error, timeout); the run stops with its message.
class LoadError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// What the steps share.
struct Run {
    LoadOptions options;
    std::string token;
    std::string product_key;
    BrokerOptions broker;
    ota_cloud::ConsoleHttp* http = nullptr;  ///< the main thread's connection
    Fleet* fleet = nullptr;
    CountingSubscriber* pushes = nullptr;    ///< /ota/device/upgrade/+/+
    CountingSubscriber* baseline = nullptr;  ///< /ota/device/progress/<pk>/+
    std::int64_t firmware_id = 0;
};

/// "push-00000".. and "prog-00000".. device names.
[[nodiscard]] std::vector<std::string> device_names(const std::string& prefix, std::uint32_t n);

/// POST /devices in chunks; returns {"devices": N, "seconds": s}.
nlohmann::json register_devices(Run& run, const std::vector<std::string>& names);

/// Publishes version 1.0.0 for each device (QoS 1) and waits until GET /versions shows them.
nlohmann::json report_versions(Run& run, const std::vector<std::string>& names);

/// Uploads a small image as version 2.0.0 of the run's product; sets run.firmware_id.
void upload_firmware(Run& run);

/// A force rollout of `names` at an unlimited push rate: the POST's latency, the first and last
/// push seen after it and how many devices got one within push_timeout_s.
nlohmann::json run_push(Run& run, const std::vector<std::string>& names, const std::string& name);

/// The progress flow of `names` (after a rollout of them) with API latency, /metrics samples
/// and the plain subscriber's count.
nlohmann::json run_progress(Run& run, const std::vector<std::string>& names);

}  // namespace console_load
