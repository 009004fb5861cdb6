// The device side of the engine: what a version report, a progress report and a firmware/get
// request do to the device's task.
//
// Why each message costs a fixed, small number of store calls: 2,000 devices reporting every
// second must not make the console scan tasks, and on PostgreSQL every call is a round trip. A
// progress report reads its one open task (Store::open_task) and writes it only when something
// visible changes (see on_progress); last_seen_at is written at most every touch_interval_ms per
// device. Only a version report of a device with no open task looks at the active rollouts (a
// handful), for dynamic joins.
//
// Decisions where the protocol is silent (a production service's behaviour):
// - The one exception to "success only after the download": a report of the target version
//   succeeds the task even without a download report. The device runs the version (installed
//   by other means, or its progress messages were lost); that is also how the platform closes
//   a push for a version the device already runs (PROTOCOL.md 3). The task's reason then says
//   "already at the version: no download". A queued task whose device reports the target
//   version succeeds the same way without a push.
// - Any other version after step 100 fails the task "rolled back to <v>" (retried by policy);
//   before step 100 a version report only records the version (a reconnect).
// - Progress for a queued task (not pushed in this attempt) is ignored; the next push starts it.
// - Messages for final tasks find no open task and change nothing but the device's last_seen.
#include <algorithm>
#include <cstdlib>
#include <limits>

#include "engine/engine.hpp"
#include "engine/internal.hpp"
#include "engine/selection.hpp"
#include "model/json.hpp"

namespace console {

using namespace engine_detail;

namespace {

bool pushed(TaskState s) {
    return s == TaskState::notified || s == TaskState::in_progress;
}

}  // namespace

bool Engine::on_inform(const DeviceKey& device, const std::string& module,
                       const std::string& version) {
    const std::lock_guard<std::recursive_mutex> lock(mutex_);
    bool applied = false;
    store_.transaction([&] {
        std::optional<Device> d = store_.device(device);
        if (!d || version.empty()) return;
        applied = true;
        const Millis now = clock_.now();
        store_.set_device_version(device, module, version, now);  // sets last_seen_at too
        last_touch_[device.product_key + "/" + device.device_name] = now;
        d->versions[module] = version;
        d->last_seen_at = now;
        std::optional<Task> t = store_.open_task(device, module);
        if (!t) {
            try_dynamic_join(*d, module, now);
            return;
        }
        const Rollout r = store_.rollout(t->rollout_id).value();
        const Firmware f = store_.firmware(r.firmware_id).value();
        if (version == f.version) {
            if (!pushed(t->state)) {
                t->reason = "already at the version: no download (no push was needed)";
            } else if (!t->downloaded) {
                t->reason = "already at the version: no download (reported after the push)";
            } else {
                t->reason.clear();
            }
            t->state = TaskState::succeeded;
            t->finished_at = now;
            t->deadline_at = 0;
            save_task(*t, now);
        } else if (pushed(t->state) && t->downloaded) {
            end_attempt(*t, r, TaskState::failed, "rolled back to " + version, now);
        }
    });
    return applied;
}

bool Engine::touch_due(const DeviceKey& device, Millis now) {
    const Millis interval = std::min(options_.touch_interval_ms, options_.online_window_ms / 2);
    // Bounded: past a million devices the cache starts again (a few early writes).
    if (last_touch_.size() > 1000000) last_touch_.clear();
    Millis& last = last_touch_[device.product_key + "/" + device.device_name];
    if (last != 0 && now >= last && now - last < interval) return false;
    last = now;
    return true;
}

bool Engine::on_progress(const DeviceKey& device, const std::string& module, int step,
                         const std::string& desc) {
    const std::lock_guard<std::recursive_mutex> lock(mutex_);
    bool applied = false;
    store_.transaction([&] {
        // As few round trips as possible (2,000 devices report every second): the task, and a
        // write only when something visible changes. An unregistered device has no task, and
        // touch_device does nothing for it.
        const Millis now = clock_.now();
        if (touch_due(device, now)) store_.touch_device(device, now);
        if (step < -4 || step > 100) return;
        std::optional<Task> t = store_.open_task(device, module);
        if (!t || !pushed(t->state)) return;
        applied = true;
        if (step < 0) {
            const Rollout r = store_.rollout(t->rollout_id).value();
            end_attempt(*t, r, TaskState::failed, step_reason(step, desc), now);
            return;
        }
        // Written (with its event) only on a state change, the first progress, the download's
        // end (100), or a move of 10 steps or more since the stored step; other reports change
        // nothing anyone sees (so thousands of devices reporting every second cost one read
        // each, not a write and an event).
        const bool first = t->first_progress_at == 0;
        const bool state_change = t->state != TaskState::in_progress;
        const bool completes = step == 100 && !t->downloaded;
        const bool moved = std::abs(step - t->last_step) >= 10;
        if (!first && !state_change && !completes && !moved) return;
        t->state = TaskState::in_progress;
        if (first) {
            const Rollout r = store_.rollout(t->rollout_id).value();
            t->first_progress_at = now;
            t->deadline_at = now + seconds_ms(r.policy.task_timeout_s);
        }
        t->last_step = step;
        if (step == 100) t->downloaded = true;
        save_task(*t, now);
    });
    return applied;
}

std::string Engine::on_firmware_get(const DeviceKey& device, const std::string& module,
                                    const std::string& request_id) {
    const std::lock_guard<std::recursive_mutex> lock(mutex_);
    std::string reply;
    store_.transaction([&] {
        const Millis now = clock_.now();
        if (touch_due(device, now)) store_.touch_device(device, now);
        std::optional<Task> t = store_.open_task(device, module);  // none when unregistered
        if (!t) return;
        const Rollout r = store_.rollout(t->rollout_id).value();
        const Firmware f = store_.firmware(r.firmware_id).value();
        if (pushed(t->state)) {
            reply = get_reply_payload(f, url_for_(f), request_id, r.policy.download_protocol);
            return;
        }
        // A due task of a running rollout is pushed now, through this reply (rate permitting).
        if (r.state == RolloutState::running && !past_end(r, now) && t->queued_at <= now &&
            rate_budget(r, now) > 0) {
            mark_notified(*t, r, now);
            if (r.policy.push_rate_per_minute != 0) recent_pushes_[r.id].push_back(now);
            if (options_.metrics != nullptr) ++options_.metrics->pushes_sent;
            reply = get_reply_payload(f, url_for_(f), request_id, r.policy.download_protocol);
        }
    });
    return reply.empty() ? empty_get_reply(request_id) : reply;
}

std::optional<Firmware> Engine::stream_firmware(const DeviceKey& device, std::uint64_t stream_id) {
    if (stream_id == 0 ||
        stream_id > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return std::nullopt;
    const std::lock_guard<std::recursive_mutex> lock(mutex_);
    std::optional<Firmware> out;
    store_.transaction([&] {
        std::optional<Firmware> f = store_.firmware(static_cast<std::int64_t>(stream_id));
        if (!f) return;
        const std::optional<Task> t = store_.open_task(device, f->module);
        if (!t || !pushed(t->state)) return;
        const std::optional<Rollout> r = store_.rollout(t->rollout_id);
        if (!r || r->firmware_id != f->id || r->policy.download_protocol != "mqtt") return;
        out = std::move(f);
    });
    return out;
}

void Engine::mark_notified(Task& t, const Rollout& r, Millis now) {
    ++t.attempt;
    t.state = TaskState::notified;
    t.notified_at = now;
    t.deadline_at = now + seconds_ms(r.policy.task_timeout_s);
    t.first_progress_at = 0;
    t.downloaded = false;
    t.last_step = 0;
    t.finished_at = 0;
    save_task(t, now);
}

std::optional<std::uint32_t> Engine::join_phase(const Rollout& r) {
    const TaskCounts counts = store_.task_counts(r.id);
    std::int64_t total = 0;
    for (const auto& entry : counts) total += entry.second;
    // Each phase's size as if the rollout had started with its tasks and this device.
    const auto n = static_cast<std::uint64_t>(total) + 1;
    for (std::uint32_t i = r.current_phase; i < r.phases.size(); ++i) {
        const Phase& p = r.phases[i];
        std::uint64_t size = std::numeric_limits<std::uint64_t>::max();  // "the rest"
        if (p.devices > 0) {
            size = p.devices;
        } else if (p.percent > 0) {
            size = (p.percent * n + 99) / 100;
        }
        if (static_cast<std::uint64_t>(phase_counts(counts, i).total) < size) return i;
    }
    return std::nullopt;
}

void Engine::try_dynamic_join(const Device& device, const std::string& module, Millis now) {
    for (Rollout& r : store_.active_rollouts()) {
        if (!r.dynamic || (r.state != RolloutState::running && r.state != RolloutState::paused)) {
            continue;
        }
        if (past_end(r, now)) continue;
        if (r.selection.product_key != device.key.product_key) continue;
        const std::optional<Firmware> f = store_.firmware(r.firmware_id);
        if (!f || f->module != module) continue;
        const auto v = device.versions.find(module);
        if (v != device.versions.end() && v->second == f->version) continue;
        if (!selection_matches(r.selection, module, device)) continue;
        TaskFilter mine;
        mine.rollout_id = r.id;
        mine.device = device.key;
        if (!store_.tasks(mine, Page{0, 1}).empty()) continue;  // one task per device and rollout
        const std::optional<std::uint32_t> phase = join_phase(r);
        if (!phase) continue;  // every phase from the current one on is full
        std::vector<Task> tasks(1);
        Task& t = tasks[0];
        t.rollout_id = r.id;
        t.device = device.key;
        t.module = module;
        t.phase = *phase;
        if (v != device.versions.end()) t.from_version = v->second;
        // A later phase's task waits for its phase to start (release_phase).
        t.queued_at = *phase == r.current_phase ? now : kNotDue;
        t.updated_at = now;
        store_.add_tasks(tasks);
        emit("task", r.id, to_json(tasks[0]).dump(), now);
        return;  // at most one open task per device and module
    }
}

}  // namespace console
