// The rollout engine: selections, phases, gates, push rate, timeouts, retries, cancel, and what a
// device's messages do to its task.
//
// Why it keeps nothing in memory between calls: every state change is written to the Store before
// the action it causes (a task is "notified" in the store before its push is published), so a
// console killed at any moment and started again continues from the store alone. The engine is
// driven from outside: the REST API calls the rollout operations, the MQTT side calls on_inform /
// on_progress / on_firmware_get, and one scheduler thread calls tick() (only in the process that
// holds the scheduler role). Calls may come from several threads; the engine serialises them.
// Two things are kept in memory. The push-rate budget (push times of the last minute per
// rollout) is read back from the tasks' notified_at when a console starts again (a task pushed
// twice within that minute counts once then: one extra push at most per such task). When each
// device's last_seen_at was last written (EngineOptions::touch_interval_ms): informational, so a
// restart only writes it again early; a write rolled back after the cache noted it (a failed
// batch) leaves last_seen_at up to one interval old.
//
// Semantics (issue 12, items 4 and 5; where the issue is silent, what an operator of a production
// OTA service expects):
// - Selection: registered devices of the firmware's product meeting every non-empty criterion
//   (names, source versions of the firmware's module, tag, percent = 32-bit FNV-1a of "pk/dn"
//   mod 100 < percent). Devices at the target version already, or with an open task of the module
//   in any rollout, get no task; the start's "rollout" event counts them (skipped_at_target,
//   skipped_busy). Tasks are ordered by device name into phases.
// - Phases: size = devices, or ceil(percent % of the selected devices), or (0/0, last phase only)
//   the rest; devices beyond the sum of the sizes are not taken. A static rollout makes every task
//   at its start; tasks of later phases wait with queued_at = kNotDue until their phase starts.
//   A dynamic rollout also takes a device that reports a matching version later (never a device
//   that already had a task in it) into the first phase, from the current one on, with room: a
//   phase's size counted as if the rollout had started with its tasks and this device (devices,
//   or ceil(percent %), or the rest); none with room = not taken. After its last phase passes it
//   stays running for later joins until its end time or a cancel.
// - Gates, checked by tick() on the current phase: more than max_failures final failures
//   (failed + timed_out) -> paused; all tasks final -> at least success_percent succeeded (a phase
//   without tasks passes, except an empty sized phase of a dynamic rollout, which waits for
//   joins) -> next phase, or paused when the phase is manual and not the last; below -> paused.
//   Resume accepts what stopped it: a phase whose tasks are all final moves on; under an abort
//   gate the failures so far become the phase's max_failures (only a new failure pauses again).
//   Last phase passed -> completed. A verify rollout has no gate: all tasks final -> completed,
//   its firmware verified when every task succeeded (event "firmware"), else "not verified".
// - Pushes: in tick(), in the transaction that re-reads the rollout (so a pause or cancel from
//   another process is seen), the due tasks are written notified (attempt + 1, notified_at,
//   deadline = now + timeout); after the commit the engine's lock is released and the pushes
//   are published. A push the client refuses goes back to the queue 5 s later, its attempt not
//   counted, if the task is still notified by that push (a device's answer or a cancel in
//   between stands). A canceling rollout cancels its queued tasks at every tick. At most
//   push_rate_per_minute pushes in any 60 s per rollout (0 = unlimited) and
//   EngineOptions::max_pushes_per_tick per tick. Paused rollouts push nothing.
// - Device messages apply to the device's open task whatever the rollout's state (paused,
//   canceling); late messages for final tasks change nothing. See device.cpp for the version
//   report rules (the target version succeeds the task; another version after step 100 is
//   "rolled back to <v>"). A failure or timeout is retried retry_count times, each
//   retry_interval_s later (back to queued), unless the rollout is canceling or past its end.
// - Timeouts: notified or in-progress tasks whose deadline passed end timed_out (canceled when the
//   rollout is canceling); the deadline restarts once, at the first progress.
// - End time: no push after it; queued tasks end canceled; the rollout completes when every task
//   is final. A scheduled rollout whose end passed before its start completes without tasks.
// - pause: running only (a paused one: no change). resume: paused only. cancel: scheduled,
//   running, paused (canceling: no change). retry_failed: running, paused or completed, before
//   the end time; a device now busy in another rollout is skipped.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/metrics.hpp"
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
    /// A device message writes the device's last_seen_at at most this often (half the online
    /// window when that is shorter): last_seen_at is informational, and at 2,000 reports a
    /// second one write each would cost more than the reports themselves.
    Millis touch_interval_ms = 30 * 1000;
    /// Counters shown by /metrics (pushes_sent, ticks); nullptr = none.
    Metrics* metrics = nullptr;
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
    /// What create_rollout(spec) would take now (POST /rollouts/preview): validates the spec
    /// like create_rollout (same ApiErrors, force rule included) and counts the devices it
    /// would make tasks for (matching, not at the firmware's version, not busy). Stores nothing.
    [[nodiscard]] std::int64_t preview(Rollout spec);

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
    /// engine, then store: never call the engine from inside Store::transaction. A get_reply
    /// returned inside `fn` may have notified a task: publish it after batch() returns (when
    /// the notification is committed), as tick() does with pushes.
    void batch(const std::function<void()>& fn);

    /// MQTT downloads (PROTOCOL.md 5b): the firmware with id `stream_id` when `device` has a
    /// notified or in-progress task of a rollout of it whose policy is download_protocol "mqtt";
    /// nullopt otherwise (the console then serves no block). Reads only (its own short
    /// transaction); call it outside batch().
    [[nodiscard]] std::optional<Firmware> stream_firmware(const DeviceKey& device,
                                                          std::uint64_t stream_id);

    // --- scheduler ---
    /// Starts due rollouts (making their tasks), sends due pushes at the push rate, times out
    /// expired tasks, re-queues retries, applies phase gates and end times, finishes rollouts.
    void tick();

  private:
    struct Validated;  // create_rollout's checked spec and its firmware (rollouts.cpp)
    Validated validate(Rollout spec);
    // helpers shared by the parts (engine.cpp)
    void emit(const char* type, std::int64_t rollout_id, const std::string& json, Millis now);
    void save_task(Task& t, Millis now, bool event = true);
    void save_rollout(Rollout& r, Millis now);
    void end_attempt(Task& t, const Rollout& r, TaskState state, const std::string& reason,
                     Millis now);
    std::vector<Task> all_tasks(const TaskFilter& filter);
    bool busy(const DeviceKey& device, const std::string& module);
    /// The devices a rollout of `f` would make tasks for now, ordered by name; counts the
    /// matching devices it leaves out (at the version already / an open task elsewhere).
    std::vector<Device> eligible_devices(const Rollout& r, const Firmware& f,
                                         std::int64_t& at_target, std::int64_t& busy_count);
    // scheduler steps (scheduler.cpp)
    void start_rollout(Rollout& r, const Firmware& f, Millis now);
    void release_phase(Rollout& r, Millis now);
    void step_rollout(Rollout& r, Millis now);
    bool advance_phase(Rollout& r, const Firmware& f, Millis now);
    void expire_tasks(Millis now);
    /// A push decided in a committed transaction, published after it (tick()).
    struct PendingPush {
        std::int64_t task_id = 0;
        Millis notified_at = 0;
        std::string topic;
        std::string payload;
    };
    void tick_locked(std::vector<PendingPush>& pushes);
    void mark_due_notified(const Rollout& r, std::size_t limit, Millis now,
                           std::vector<PendingPush>& out);
    void publish_pushes(const std::vector<PendingPush>& pushes);
    void cancel_queued(const Rollout& r, const std::string& reason, Millis now);
    std::size_t rate_budget(const Rollout& r, Millis now);
    // device side (device.cpp)
    void try_dynamic_join(const Device& device, const std::string& module, Millis now);
    /// The one way a task becomes notified (a push or a get_reply follows the commit).
    void mark_notified(Task& t, const Rollout& r, Millis now);
    /// True when the device's last_seen_at is due for a write (see touch_interval_ms).
    bool touch_due(const DeviceKey& device, Millis now);
    /// The phase a dynamic join goes to, or nullopt when no phase has room.
    std::optional<std::uint32_t> join_phase(const Rollout& r);

    Store& store_;
    const WallClock& clock_;
    Publisher& publisher_;
    UrlFor url_for_;
    EngineOptions options_;
    std::recursive_mutex mutex_;
    /// Push times of the last minute per rollout: the only state kept between calls (rebuilt
    /// from the store at a rollout's first push in this process).
    std::map<std::int64_t, std::deque<Millis>> recent_pushes_;
    /// When this process last wrote each device's last_seen_at (informational: a restart or
    /// another console process only writes it again a little early).
    std::unordered_map<std::string, Millis> last_touch_;
};

/// The upgrade push payload for a firmware (the platform's format, PROTOCOL.md 3).
std::string push_payload(const Firmware& firmware, const std::string& url, std::int64_t id);

/// The same with the rollout's download protocol: "mqtt" gives `dProtocol:"mqtt"`, `streamId` =
/// the firmware id and `streamFileId` 1 instead of the url (PROTOCOL.md 5b); else as above.
std::string push_payload(const Firmware& firmware, const std::string& url, std::int64_t id,
                         const std::string& protocol);

/// A firmware/get reply with no job: `{"code":"1000","data":{},"id":"<id>","message":"success"}`
/// (the request's id echoed as a string).
std::string empty_get_reply(const std::string& request_id);

/// queued_at of the tasks of phases that have not started yet (year 9999): due_queued() never
/// returns them; the phase's start sets queued_at to its start time.
inline constexpr Millis kNotDue = 253402300799000;

}  // namespace console
