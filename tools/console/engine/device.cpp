// The device side of the engine: what a version report, a progress report and a firmware/get
// request do to the device's task.
//
// Why each message costs a fixed number of store calls: 2,000 devices reporting every second
// must not make the console scan tasks. A message looks up its device and its one open task
// (Store::open_task) and writes that task; only a version report of a device with no open task
// looks at the active rollouts (a handful), for dynamic joins.
//
// Decisions where the protocol is silent (a production service's behaviour):
// - A report of the target version succeeds the task even without a download report: the
//   device runs the version (installed by other means, or its progress messages were lost);
//   that is also how the platform closes a push for a version the device already runs
//   (PROTOCOL.md 3). The task's reason then says "no download report". A queued task whose
//   device reports the target version succeeds without a push.
// - Any other version after step 100 fails the task "rolled back to <v>" (retried by policy);
//   before step 100 a version report only records the version (a reconnect).
// - Progress for a queued task (not pushed in this attempt) is ignored; the next push starts it.
// - Messages for final tasks find no open task and change nothing but the device's last_seen.
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
        store_.set_device_version(device, module, version, now);
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
                t->reason = "at the version already; no push needed";
            } else if (!t->downloaded) {
                t->reason = "reported the version without a download report";
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

bool Engine::on_progress(const DeviceKey& device, const std::string& module, int step,
                         const std::string& desc) {
    const std::lock_guard<std::recursive_mutex> lock(mutex_);
    bool applied = false;
    store_.transaction([&] {
        if (!store_.device(device)) return;
        const Millis now = clock_.now();
        store_.touch_device(device, now);
        if (step < -4 || step > 100) return;
        std::optional<Task> t = store_.open_task(device, module);
        if (!t || !pushed(t->state)) return;
        applied = true;
        const Rollout r = store_.rollout(t->rollout_id).value();
        if (step < 0) {
            end_attempt(*t, r, TaskState::failed, step_reason(step, desc), now);
            return;
        }
        const TaskState old_state = t->state;
        const std::int32_t old_step = t->last_step;
        if (old_state == TaskState::in_progress && old_step == step) return;  // a duplicate
        t->state = TaskState::in_progress;
        if (t->first_progress_at == 0) {
            t->first_progress_at = now;
            t->deadline_at = now + seconds_ms(r.policy.task_timeout_s);
        }
        t->last_step = step;
        if (step == 100) t->downloaded = true;
        // Events only when the state changes or the step crosses a multiple of 10 (or is 100),
        // so thousands of devices reporting every second do not flood the event table.
        const bool event =
            old_state != TaskState::in_progress || step == 100 || step / 10 != old_step / 10;
        save_task(*t, now, event);
    });
    return applied;
}

std::string Engine::on_firmware_get(const DeviceKey& device, const std::string& module,
                                    const std::string& request_id) {
    const std::lock_guard<std::recursive_mutex> lock(mutex_);
    std::string reply;
    store_.transaction([&] {
        if (!store_.device(device)) return;
        const Millis now = clock_.now();
        store_.touch_device(device, now);
        std::optional<Task> t = store_.open_task(device, module);
        if (!t) return;
        const Rollout r = store_.rollout(t->rollout_id).value();
        const Firmware f = store_.firmware(r.firmware_id).value();
        if (pushed(t->state)) {
            reply = get_reply_payload(f, url_for_(f), request_id);
            return;
        }
        // A due task of a running rollout is pushed now, through this reply (rate permitting).
        const bool ended = r.policy.end_at != 0 && now >= r.policy.end_at;
        if (r.state == RolloutState::running && !ended && t->queued_at <= now &&
            rate_budget(r, now) > 0) {
            reply = notify(*t, f, r, now, request_id);
        }
    });
    return reply.empty() ? empty_get_reply(request_id) : reply;
}

std::string Engine::notify(Task& t, const Firmware& f, const Rollout& r, Millis now,
                           const std::string& request_id) {
    ++t.attempt;
    t.state = TaskState::notified;
    t.notified_at = now;
    t.deadline_at = now + seconds_ms(r.policy.task_timeout_s);
    t.first_progress_at = 0;
    t.downloaded = false;
    t.last_step = 0;
    save_task(t, now);
    if (r.policy.push_rate_per_minute != 0) recent_pushes_[r.id].push_back(now);
    if (options_.metrics != nullptr) ++options_.metrics->pushes_sent;
    return get_reply_payload(f, url_for_(f), request_id);
}

void Engine::try_dynamic_join(const Device& device, const std::string& module, Millis now) {
    for (Rollout& r : store_.active_rollouts()) {
        if (!r.dynamic || (r.state != RolloutState::running && r.state != RolloutState::paused)) {
            continue;
        }
        if (r.policy.end_at != 0 && now >= r.policy.end_at) continue;
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
        std::vector<Task> tasks(1);
        Task& t = tasks[0];
        t.rollout_id = r.id;
        t.device = device.key;
        t.module = module;
        t.phase = r.current_phase;
        if (v != device.versions.end()) t.from_version = v->second;
        t.queued_at = now;
        t.updated_at = now;
        store_.add_tasks(tasks);
        emit("task", r.id, to_json(tasks[0]).dump(), now);
        return;  // at most one open task per device and module
    }
}

}  // namespace console
