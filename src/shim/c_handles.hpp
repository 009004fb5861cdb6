// The objects behind the void* handles of the IOT_MQTT_* / IOT_OTA_* C interface, and the error
// plumbing every entry point shares. Private to src/shim.
#pragma once

#include <cstdint>
#include <memory>
#include <new>
#include <string_view>

#include "ota/byte_source.hpp"
#include "ota/c_api/iot_export_ota.h"
#include "ota/channel.hpp"
#include "ota/client.hpp"
#include "ota/status.hpp"

namespace ota::shim {

// Tags that let the shim reject a handle of the wrong kind instead of crashing on it.
inline constexpr std::uint32_t kMqttTag = 0x4D515454U;  // "MQTT"
inline constexpr std::uint32_t kOtaTag = 0x4F54412EU;   // "OTA."

/// Forwards a channel's connection changes to the seed-style event callback of
/// iotx_mqtt_param_t: DISCONNECT when the connection is lost, RECONNECT when it comes back (not
/// on the first connect, which IOT_MQTT_Construct itself reports by returning a handle).
class EventBridge final : public ChannelListener {
  public:
    EventBridge(iotx_mqtt_event_handle_t events, void* client) : events_(events), client_(client) {}
    void on_message(std::string_view, std::string_view) override {}
    void on_connected() override;
    void on_connection_lost() override;

  private:
    void emit(iotx_mqtt_event_type_t type);
    iotx_mqtt_event_handle_t events_;
    void* client_;
    bool lost_ = false;
};

/// What IOT_MQTT_Construct returns: the channel and the bridge listening on it.
struct MqttHandle {
    std::uint32_t tag = kMqttTag;
    std::unique_ptr<MqttChannel> channel;
    std::unique_ptr<EventBridge> bridge;
};

/// What IOT_OTA_Init(Ex) returns: a client on an MQTT handle's channel and its own byte source.
struct OtaHandle {
    std::uint32_t tag = kOtaTag;
    std::unique_ptr<ByteSource> source;
    std::unique_ptr<OtaClient> client;
    int last_error = IOT_OTAE_NONE;
};

/// `handle` as an MQTT handle, or nullptr when it is NULL or not one.
[[nodiscard]] inline MqttHandle* as_mqtt(void* handle) noexcept {
    auto* h = static_cast<MqttHandle*>(handle);
    return (h != nullptr && h->tag == kMqttTag) ? h : nullptr;
}

/// `handle` as an OTA handle, or nullptr when it is NULL or not one.
[[nodiscard]] inline OtaHandle* as_ota(void* handle) noexcept {
    auto* h = static_cast<OtaHandle*>(handle);
    return (h != nullptr && h->tag == kOtaTag) ? h : nullptr;
}

/// The one place where library statuses become IOT_OTAE_* codes.
[[nodiscard]] int to_c_error(Status s) noexcept;

/// Records `code` as the handle's last error (when there is a handle) and returns it.
inline int fail(OtaHandle* h, int code) noexcept {
    if (h != nullptr) h->last_error = code;
    return code;
}

/// Logs `what: <error>` as a warning and records the error's IOT_OTAE_* code.
int fail(OtaHandle* h, const Error& e, const char* what);

/// Runs `body`, turning any escaping exception into an error code: none crosses into C.
template <typename F>
int guarded(OtaHandle* h, F&& body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc&) {
        return fail(h, IOT_OTAE_NOMEM);
    } catch (...) {
        return fail(h, IOT_OTAE_GENERAL);
    }
}

}  // namespace ota::shim
