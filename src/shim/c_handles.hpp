// The objects behind the void* handles of the IOT_MQTT_* / IOT_OTA_* C interface, and the error
// plumbing every entry point shares. Private to src/shim.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <new>
#include <string>
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

    /// Calls the application's event callback (if any) with `type`.
    void emit(iotx_mqtt_event_type_t type);

  private:
    iotx_mqtt_event_handle_t events_;
    void* client_;
    bool lost_ = false;
};

/// The MQTT handle's channel as the OTA client sees it: every call goes to the connected channel;
/// the outcome of a subscribe and of a QoS 1 publish becomes the original's
/// IOTX_MQTT_EVENT_SUBCRIBE_* / IOTX_MQTT_EVENT_PUBLISH_* event (SUCCESS when acknowledged, TIMEOUT
/// when no acknowledgement came in time, NACK when the broker refused or the connection failed
/// during the call). A call that never reached the broker (not connected, invalid topic) raises
/// no event, nor does a QoS 0 publish. The events are delivered inside yield(), like the
/// connection events, so the callback always runs on the application's thread inside a
/// library call; `msg` is NULL (the original passed a packet id, which this channel does not see).
class EventedChannel final : public MqttChannel {
  public:
    EventedChannel(std::unique_ptr<MqttChannel> inner, EventBridge& bridge) noexcept
        : inner_(std::move(inner)), bridge_(bridge) {}
    [[nodiscard]] Status publish(std::string_view topic, std::string_view payload,
                                 int qos) override;
    [[nodiscard]] Status subscribe(std::string_view topic_filter, int qos) override;
    void add_listener(ChannelListener& listener) override { inner_->add_listener(listener); }
    void remove_listener(ChannelListener& listener) noexcept override {
        inner_->remove_listener(listener);
    }
    [[nodiscard]] bool is_connected() const noexcept override { return inner_->is_connected(); }
    [[nodiscard]] Status yield(std::chrono::milliseconds timeout) override;

  private:
    /// Events kept for the next yield(); bounded (the oldest go) for an application that
    /// publishes without ever yielding.
    static constexpr std::size_t kMaxPending = 64;
    void queue(Status outcome, iotx_mqtt_event_type_t ok, iotx_mqtt_event_type_t timeout,
               iotx_mqtt_event_type_t nack);
    std::unique_ptr<MqttChannel> inner_;
    EventBridge& bridge_;
    std::deque<iotx_mqtt_event_type_t> pending_;
};

/// The live handles of each kind, for IOT_DumpMemoryStats.
inline std::atomic<int> g_live_mqtt_handles{0};
inline std::atomic<int> g_live_ota_handles{0};

/// A CA given as PEM text (iotx_mqtt_param_t.pub_key) written to a private temporary file,
/// because paho and libcurl take a CA bundle by path; removed when the last user is gone.
class PemFile {
  public:
    /// Writes `pem` to a new file under $TMPDIR (or /tmp); path() is empty on failure.
    explicit PemFile(std::string_view pem);
    ~PemFile();
    PemFile(const PemFile&) = delete;
    PemFile& operator=(const PemFile&) = delete;
    [[nodiscard]] const std::string& path() const noexcept { return path_; }

  private:
    std::string path_;
};

/// What IOT_MQTT_Construct returns: the channel and the bridge listening on it.
struct MqttHandle {
    MqttHandle() noexcept { ++g_live_mqtt_handles; }
    ~MqttHandle() { --g_live_mqtt_handles; }
    MqttHandle(const MqttHandle&) = delete;
    MqttHandle& operator=(const MqttHandle&) = delete;
    std::uint32_t tag = kMqttTag;
    std::unique_ptr<EventBridge> bridge;  // before channel: the channel refers to it
    std::unique_ptr<MqttChannel> channel;
    /// The broker's CA from pub_key, which IOT_OTA_Init also trusts for the firmware server
    /// unless told another (the original SDK used one root for both).
    std::shared_ptr<PemFile> pub_key_ca;
};

/// What IOT_OTA_Init(Ex) returns: a client on an MQTT handle's channel and its own byte source.
struct OtaHandle {
    OtaHandle() noexcept { ++g_live_ota_handles; }
    ~OtaHandle() { --g_live_ota_handles; }
    OtaHandle(const OtaHandle&) = delete;
    OtaHandle& operator=(const OtaHandle&) = delete;
    std::uint32_t tag = kOtaTag;
    std::shared_ptr<PemFile> http_ca;  ///< kept alive while the byte source may use its path
    std::unique_ptr<ByteSource> source;
    std::unique_ptr<OtaClient> client;
    const Clock* clock = nullptr;  ///< the client's (bounds IOT_OTA_FetchYield's wait)
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
