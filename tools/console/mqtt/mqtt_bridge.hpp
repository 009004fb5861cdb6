// The console's device side: MQTT messages from devices in, pushes and get_replies out.
//
// Why a pump thread, a bounded queue and one worker: paho hands messages over on the thread that
// calls MqttChannel::yield() (the pump), which must never wait for the database, or the broker's
// messages pile up in paho. The pump only decodes (strictly; refused messages never go further)
// and queues; one worker takes what is queued and applies it through Engine::batch, so a burst of
// 2,000 progress reports costs a few commits instead of 2,000.
//
// Back-pressure instead of drops: when the queue is full (queue_capacity), the pump waits for the
// worker to make room before it takes the next message from the channel, so a QoS 1 message the
// console has accepted is not thrown away because the store is slow. Memory stays bounded: this
// queue, plus what the channel holds (PahoChannel: one batch being delivered and its inbox of at
// most MqttOptions::max_queued_messages, 65,536 in ota_console). What can still be lost, all
// bounded and visible:
// - paho acknowledges a QoS 1 message when it queues it in the channel's inbox, so the broker
//   does not hold it back: when the inbox is full (the pump waited long enough for 65,536 more
//   messages), the inbox replaces the oldest message that a newer one on the same topic
//   supersedes (an older progress or version report of the same device; the newest is kept),
//   and only with more than 65,536 topics queued the oldest one. The channel logs both; they
//   are not counted here.
// - stop() with a full queue: messages the pump still delivers are not applied; counted in
//   Metrics::mqtt_messages_dropped (and whatever the channel's inbox still held is gone with
//   the process). The protocol tolerates both: devices report their version again on every
//   reconnect, and the engine's timeouts end tasks whose devices go silent.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/device_message.hpp"
#include "engine/engine.hpp"
#include "model/metrics.hpp"
#include "ota/channel.hpp"
#include "ota/status.hpp"

namespace console {

// The device-message decoder (tools/common), under the names the bridge uses.
using ota_tools::block_reply_topic;
using ota_tools::decode_device_message;
using ota_tools::DecodeResult;
using ota_tools::DeviceMessage;
using ota_tools::DeviceMessageKind;
using ota_tools::get_reply_topic;

/// Where decoded device messages go: the Engine (EngineTarget) in the console, a fake in tests.
class DeviceMessageTarget {
  public:
    virtual ~DeviceMessageTarget() = default;
    /// Runs `fn` as one batch (Engine::batch: one lock, one store transaction); throws when the
    /// batch could not be committed.
    virtual void batch(const std::function<void()>& fn) = 0;
    /// True when the device is registered (messages of other devices change nothing).
    virtual bool is_registered(const DeviceKey& device) = 0;
    /// Engine::on_inform.
    virtual bool on_inform(const DeviceKey& device, const std::string& module,
                           const std::string& version) = 0;
    /// Engine::on_progress.
    virtual bool on_progress(const DeviceKey& device, const std::string& module, int step,
                             const std::string& desc) = 0;
    /// Engine::on_firmware_get: the get_reply's payload.
    virtual std::string on_firmware_get(const DeviceKey& device, const std::string& module,
                                        const std::string& request_id) = 0;
    /// Engine::stream_firmware: the firmware `device` may download over MQTT as stream
    /// `stream_id`, or nullopt (the default: this target serves no MQTT downloads). Called
    /// outside batch().
    virtual std::optional<Firmware> stream_firmware(const DeviceKey& device,
                                                    std::uint64_t stream_id) {
        (void)device;
        (void)stream_id;
        return std::nullopt;
    }
};

/// The production target: the Engine, and the Store for the registration check (a registered
/// device is remembered: devices are never deleted).
class EngineTarget final : public DeviceMessageTarget {
  public:
    EngineTarget(Engine& engine, Store& store) : engine_(engine), store_(store) {}
    void batch(const std::function<void()>& fn) override;
    bool is_registered(const DeviceKey& device) override;
    bool on_inform(const DeviceKey& device, const std::string& module,
                   const std::string& version) override;
    bool on_progress(const DeviceKey& device, const std::string& module, int step,
                     const std::string& desc) override;
    std::string on_firmware_get(const DeviceKey& device, const std::string& module,
                                const std::string& request_id) override;
    std::optional<Firmware> stream_firmware(const DeviceKey& device,
                                            std::uint64_t stream_id) override;

  private:
    Engine& engine_;
    Store& store_;
    std::mutex known_mutex_;
    std::vector<DeviceKey> known_;  // sorted
};

/// Tunables of the bridge.
struct MqttBridgeOptions {
    /// Shared-subscription group: filters are "$share/<group>/<topic>"; "" = plain subscriptions
    /// (one console process per broker).
    std::string share_group = "ota_console";
    /// Device messages queued for the worker at most (default 20,000: ten seconds of 2,000
    /// devices reporting every second); 1..1,000,000. When full, the pump waits for room.
    std::size_t queue_capacity = 20000;
    /// Messages applied in one Engine::batch at most; 1..100,000.
    std::size_t batch_max = 500;
    /// Back-off of the first connection attempts (later reconnects are the channel's own).
    std::chrono::milliseconds connect_retry_min{500};
    std::chrono::milliseconds connect_retry_max{30000};
    /// The file of a firmware (ota_console: <data>/files/<sha256>) for MQTT downloads; empty =
    /// block requests are refused (code 404).
    std::function<std::string(const Firmware&)> file_path;
    /// Largest block served (PROTOCOL.md 5b: 128 KiB); larger requests get code 400.
    std::size_t max_block = 128 * 1024;
};

/// Result codes of block replies the console sends (the header's `code`).
inline constexpr int kBlockBadRequest = 400;  ///< size 0 or above max_block, offset past the end
inline constexpr int kBlockForbidden = 403;   ///< no notified / in-progress mqtt task for it
inline constexpr int kBlockNotFound = 404;    ///< file id other than 1, or no file resolver
inline constexpr int kBlockReadFailed = 500;  ///< the firmware's file could not be read

/// The device side of one console process (see the file comment). Publisher for the Engine.
///
/// Use: construct it on a channel (not connected yet), build the Engine with it as publisher,
/// attach() the target, then start() the threads with the channel's connect function. Tests
/// instead call pump() and apply_pending() on their own thread. stop() (or the destructor)
/// ends both threads.
class MqttBridge final : public Publisher, private ota::ChannelListener {
  public:
    /// The channel and metrics must outlive the bridge.
    MqttBridge(ota::MqttChannel& channel, Metrics& metrics, MqttBridgeOptions options = {});
    ~MqttBridge() override;
    MqttBridge(const MqttBridge&) = delete;
    MqttBridge& operator=(const MqttBridge&) = delete;

    /// The four subscription filters (inform, progress, firmware/get, file/download) (QoS 1), with
    /// the $share prefix when a group is set.
    [[nodiscard]] std::vector<std::string> topic_filters() const;

    /// Sets where messages go (must outlive the bridge's threads) and subscribes (the channel
    /// remembers the filters and restores them on every reconnect).
    void attach(DeviceMessageTarget& target);

    /// Starts the pump thread, which calls `connect` until it succeeds (back-off from
    /// connect_retry_min doubling to connect_retry_max) and then yields the channel, and the
    /// worker thread. Call once, after attach().
    void start(std::function<ota::Error()> connect);

    /// Stops both threads (messages still queued are applied first). Idempotent.
    void stop() noexcept;

    /// True between on_connected (subscriptions in place) and a connection loss.
    [[nodiscard]] bool connected() const noexcept { return connected_.load(); }

    /// QoS 1 publish; false (and counted) while disconnected or when the broker does not
    /// acknowledge. Thread-safe when the channel's publish is.
    bool publish(const std::string& topic, const std::string& payload) override;

    // --- single steps (tests; the threads call these) ---
    /// Hands the channel's queued events to the decoder (MqttChannel::yield). Blocks while the
    /// queue is full until apply_pending() (another thread) makes room or stop() is called.
    void pump(std::chrono::milliseconds timeout);
    /// Applies up to batch_max queued messages now; returns how many were taken.
    std::size_t apply_pending();
    /// The reply payload to a block request (PROTOCOL.md 5b), "" = no reply (unregistered
    /// device). Reads the task through the target (not inside a batch) and then the file.
    [[nodiscard]] std::string serve_block(const DeviceMessage& m);
    /// Messages queued for the worker.
    [[nodiscard]] std::size_t queued() const;

  private:
    void on_message(std::string_view topic, std::string_view payload) override;
    void on_connected() override;
    void on_connection_lost() override;

    void pump_loop(const std::function<ota::Error()>& connect) noexcept;
    void worker_loop() noexcept;
    void apply(std::vector<DeviceMessage>& batch);
    /// The messages other than block requests, as one Engine::batch.
    void apply_batch(std::vector<DeviceMessage>& batch);
    /// Applies one message inside a batch; replies collects get_replies to publish after commit.
    void apply_one(const DeviceMessage& m,
                   std::vector<std::pair<std::string, std::string>>& replies,
                   std::int64_t& processed, std::int64_t& unknown);
    bool sleep_unless_stopped(std::chrono::milliseconds d);

    ota::MqttChannel& channel_;
    Metrics& metrics_;
    const MqttBridgeOptions options_;
    DeviceMessageTarget* target_ = nullptr;

    mutable std::mutex queue_mutex_;
    std::condition_variable queue_cv_;  ///< the worker waits for messages (or stopping_)
    std::condition_variable room_cv_;   ///< the pump waits for room (or stopping_)
    std::deque<DeviceMessage> queue_;
    bool stopping_ = false;

    std::atomic<bool> connected_{false};
    std::atomic<bool> stop_{false};
    std::thread pump_thread_;
    std::thread worker_thread_;
};

}  // namespace console
