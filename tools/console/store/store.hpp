// The console's persistence seam: records in, records out.
//
// Why record-level and not one method per use case: the rollout engine keeps every decision in C++
// (testable with a fake clock over a fake store), and the two real stores (SQLite, PostgreSQL)
// then only have to agree on one schema and a small set of queries. Every method either completes
// or throws (std::runtime_error for the database, ApiError for a caller's mistake); nothing is
// half-written: a method is one statement or runs inside a transaction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/model.hpp"

namespace console {

/// Cursor pagination: the records with id (or seq) above `after`, at most `limit` of them, in
/// increasing id order. The next page starts after the last id returned.
struct Page {
    std::int64_t after = 0;
    std::size_t limit = 100;
};

/// Which devices GET /devices lists. Empty / unset criteria match everything.
struct DeviceFilter {
    std::string product_key;
    std::string module = kDefaultModule;  ///< the module `version` refers to
    std::string version;
    std::optional<bool> online;  ///< online = last_seen_at >= online_since
    Millis online_since = 0;
    std::string tag;
};

/// Which tasks a listing returns. Empty / unset criteria match everything.
struct TaskFilter {
    std::int64_t rollout_id = 0;  ///< 0 = any rollout
    std::optional<TaskState> state;
    std::optional<std::uint32_t> phase;
    std::optional<DeviceKey> device;
};

/// (phase, state) -> number of tasks.
using TaskCounts = std::map<std::pair<std::uint32_t, TaskState>, std::int64_t>;

class Store {
  public:
    virtual ~Store() = default;

    /// Runs `fn` in one transaction: committed when it returns, rolled back when it throws (the
    /// exception then propagates). A call inside `fn` joins the running transaction.
    virtual void transaction(const std::function<void()>& fn) = 0;

    // --- firmware ---
    /// Stores a new record and returns its id. ApiError 409 "conflict" when the product already
    /// has this module at this version.
    virtual std::int64_t add_firmware(const Firmware& f) = 0;
    [[nodiscard]] virtual std::optional<Firmware> firmware(std::int64_t id) = 0;
    /// All products when product_key is empty.
    [[nodiscard]] virtual std::vector<Firmware> list_firmware(const std::string& product_key,
                                                              Page page) = 0;
    /// ApiError 404 "not_found" for an unknown id.
    virtual void set_firmware_verified(std::int64_t id, bool verified) = 0;

    // --- devices ---
    /// Registers a device; false (and nothing changed) when it is registered already.
    virtual bool add_device(const Device& d) = 0;
    [[nodiscard]] virtual std::optional<Device> device(const DeviceKey& key) = 0;
    /// Ordered by (product_key, device_name); `after_key` is the cursor (the last key returned).
    [[nodiscard]] virtual std::vector<Device> list_devices(
        const DeviceFilter& filter, const std::optional<DeviceKey>& after_key,
        std::size_t limit) = 0;
    /// Every device of a product (for rollout selection), ordered by name.
    [[nodiscard]] virtual std::vector<Device> devices_of_product(
        const std::string& product_key) = 0;
    /// Records a version report; also sets last_seen_at. No-op for an unregistered device.
    virtual void set_device_version(const DeviceKey& key, const std::string& module,
                                    const std::string& version, Millis at) = 0;
    /// Sets last_seen_at. No-op for an unregistered device.
    virtual void touch_device(const DeviceKey& key, Millis at) = 0;
    /// Replaces the tags (read back sorted, without duplicates). No-op for an unregistered device.
    virtual void set_device_tags(const DeviceKey& key, const std::vector<std::string>& tags) = 0;
    /// Number of devices per version of a module of a product (the page's chart).
    [[nodiscard]] virtual std::map<std::string, std::int64_t> version_distribution(
        const std::string& product_key, const std::string& module) = 0;

    // --- rollouts ---
    /// Stores a new rollout and returns its id.
    virtual std::int64_t add_rollout(const Rollout& r) = 0;
    /// Overwrites the record with r.id; ApiError 404 "not_found" for an unknown id.
    virtual void update_rollout(const Rollout& r) = 0;
    [[nodiscard]] virtual std::optional<Rollout> rollout(std::int64_t id) = 0;
    [[nodiscard]] virtual std::vector<Rollout> list_rollouts(Page page) = 0;
    /// scheduled, running, paused and canceling rollouts, by id.
    [[nodiscard]] virtual std::vector<Rollout> active_rollouts() = 0;

    // --- tasks ---
    /// Stores new tasks and sets their ids.
    virtual void add_tasks(std::vector<Task>& tasks) = 0;
    /// Overwrites the record with t.id; ApiError 404 "not_found" for an unknown id.
    virtual void update_task(const Task& t) = 0;
    [[nodiscard]] virtual std::optional<Task> task(std::int64_t id) = 0;
    [[nodiscard]] virtual std::vector<Task> tasks(const TaskFilter& filter, Page page) = 0;
    /// The device's task that is not final yet for this module (at most one exists: the engine
    /// never makes a second), if any.
    [[nodiscard]] virtual std::optional<Task> open_task(const DeviceKey& key,
                                                        const std::string& module) = 0;
    /// Tasks of `rollout_id` in `state` with queued_at <= now, oldest queued_at first (pushes due).
    [[nodiscard]] virtual std::vector<Task> due_queued(std::int64_t rollout_id, Millis now,
                                                       std::size_t limit) = 0;
    /// notified or in_progress tasks (any rollout) with 0 < deadline_at <= now.
    [[nodiscard]] virtual std::vector<Task> expired(Millis now, std::size_t limit) = 0;
    [[nodiscard]] virtual TaskCounts task_counts(std::int64_t rollout_id) = 0;
    /// The device's tasks (every rollout and module), newest (highest id) first, at most `limit`
    /// (the device page: its recent history without reading all of it).
    [[nodiscard]] virtual std::vector<Task> device_tasks(const DeviceKey& key,
                                                         std::size_t limit) = 0;

    // --- events ---
    /// Stores the event and returns its seq (also written to e.seq).
    virtual std::int64_t append_event(Event& e) = 0;
    [[nodiscard]] virtual std::vector<Event> events_after(std::int64_t seq, std::size_t limit) = 0;
    /// Deletes events older than `before` (bounded table).
    virtual void prune_events(Millis before) = 0;
    /// The highest seq stored, 0 when the table is empty (an SSE stream without `after` starts
    /// here: every event committed later has a higher seq).
    [[nodiscard]] virtual std::int64_t last_event_seq() = 0;

    // --- settings ---
    /// The value stored under `name`; when there is none, stores make() under it first, atomically
    /// (console processes racing on one database all get the value of the first to commit; make()
    /// may run in each of them). For secrets shared by all consoles on a database (e.g. the signed
    /// URLs' key). ApiError 400 for an empty name; std::runtime_error when make() returns "".
    [[nodiscard]] virtual std::string shared_secret(const std::string& name,
                                                    const std::function<std::string()>& make) = 0;

    // --- several console processes ---
    /// True when this process is (or just became) the scheduler: a PostgreSQL session advisory
    /// lock held on a dedicated connection; SQLite (one process per data directory): always true.
    [[nodiscard]] virtual bool try_become_scheduler() = 0;
    /// "sqlite" or "postgresql".
    [[nodiscard]] virtual const char* kind() const noexcept = 0;
};

/// Opens the store a console is started with: "sqlite:<dir>/console.db" paths come from --data,
/// postgresql://... URLs from --db. Runs the numbered migrations. Throws std::runtime_error with
/// the reason when the database cannot be opened or migrated.
std::unique_ptr<Store> open_store(const std::string& data_dir, const std::string& db_url);

}  // namespace console
