// The rollout engine: selections, phases, gates, push rate, timeouts, retries, cancel, and what a
// device's messages do to its task.
//
// Why it keeps nothing in memory between calls: every state change is written to the Store before
// the action it causes (a task is "notified" in the store before its push is published), so a
// console killed at any moment and started again continues from the store alone. The engine is
// driven from outside: the REST API calls the rollout operations, the MQTT side calls on_inform /
// on_progress / on_firmware_get, and one scheduler thread calls tick() (only in the process that
// holds the scheduler role). Calls may come from several threads; the engine serialises them.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "model/model.hpp"
#include "store/store.hpp"

namespace console {

/// Wall-clock source; tests use a fake.
class WallClock {
  public:
    virtual ~WallClock() = default;
    [[nodiscard]] virtual Millis now() const = 0;
};

/// std::chrono::system_clock in milliseconds.
const WallClock& system_wall_clock();

/// Where the engine's MQTT messages go (the paho side, or a fake in tests).
class Publisher {
  public:
    virtual ~Publisher() = default;
    /// Publishes at QoS 1; false when it could not be handed to the client (not connected).
    virtual bool publish(const std::string& topic, const std::string& payload) = 0;
};

/// The URL a device downloads a firmware from (signed with an expiry, or under
/// --public-base-url). Called when a push is built.
using UrlFor = std::function<std::string(const Firmware&)>;

struct EngineOptions {
    /// A device counts as online when its last message is at most this old.
    Millis online_window_ms = 10 * 60 * 1000;
    /// Most pushes one tick() sends (per rollout the push rate applies as well).
    std::size_t max_pushes_per_tick = 5000;
};

/// What GET /rollouts/{id} shows besides the record.
struct RolloutView {
    Rollout rollout;
    Firmware firmware;
    TaskCounts counts;
    /// Failure reasons of failed / timed-out tasks, reason -> number of tasks.
    std::map<std::string, std::int64_t> failure_reasons;
};

class Engine {
  public:
    Engine(Store& store, const WallClock& clock, Publisher& publisher, UrlFor url_for,
           EngineOptions options = {});

    // --- API side (each throws ApiError for a bad request or an unknown id) ---
    /// Validates and stores a rollout (state scheduled; tasks are made when it starts, in
    /// tick()). Checks: firmware exists; selection's product is the firmware's; phases valid;
    /// a verify rollout names 1..10 devices and has one phase; a normal rollout of an
    /// unverified firmware needs force. Returns the stored record.
    Rollout create_rollout(Rollout spec);
    Rollout pause(std::int64_t rollout_id);
    Rollout resume(std::int64_t rollout_id);
    /// Queued tasks end as canceled now; notified / in-progress ones end as canceled at their
    /// deadline unless the device finishes first. The rollout is canceling, then canceled.
    Rollout cancel(std::int64_t rollout_id);
    /// Re-queues every failed and timed-out task of the rollout (now), resuming it if paused.
    Rollout retry_failed(std::int64_t rollout_id);
    [[nodiscard]] RolloutView view(std::int64_t rollout_id);
    /// How many registered devices a selection matches now (the page's live count).
    [[nodiscard]] std::int64_t count_matching(const Selection& selection,
                                              const std::string& module);

    // --- device side (never throws for a device's bad input; returns false = ignored) ---
    /// A version report. Ends the device's task: succeeded when the version is the
    /// firmware's after a download, failed ("rolled back to X") when the old one after a
    /// download. Dynamic rollouts take the device when it now matches.
    bool on_inform(const DeviceKey& device, const std::string& module, const std::string& version);
    /// A progress report: 0..100 moves the task to in_progress (first progress restarts the
    /// deadline; 100 sets downloaded), -1..-4 fail it with the desc as reason.
    bool on_progress(const DeviceKey& device, const std::string& module, int step,
                     const std::string& desc);
    /// A firmware/get request: the payload of the get_reply (the task's push when one is
    /// notified or in progress, else an empty data object).
    std::string on_firmware_get(const DeviceKey& device, const std::string& module,
                                const std::string& request_id);

    /// Runs `fn` (calls of this engine) holding the engine's lock, inside one store transaction:
    /// the MQTT side applies a batch of device messages with one commit. Lock order is always
    /// engine, then store: never call the engine from inside Store::transaction.
    void batch(const std::function<void()>& fn);

    // --- scheduler ---
    /// Starts due rollouts (making their tasks), sends due pushes at the push rate, times out
    /// expired tasks, re-queues retries, applies phase gates and end times, finishes rollouts.
    void tick();

  private:
    Store& store_;
    const WallClock& clock_;
    Publisher& publisher_;
    UrlFor url_for_;
    EngineOptions options_;
    std::recursive_mutex mutex_;
};

/// The upgrade push payload for a firmware (the platform's format, PROTOCOL.md 3).
std::string push_payload(const Firmware& firmware, const std::string& url, std::int64_t id);

}  // namespace console
