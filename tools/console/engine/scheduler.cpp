// The scheduler side of the engine: tick() starts rollouts, times tasks out, applies the phase
// gates and the end time, and sends the due pushes at the push rate.
//
// Why pushes are written before they are published: a task is "notified" (attempt, deadline) in
// a committed transaction first, then its push goes out. A console killed in between leaves a
// notified task whose push never left: it times out at its deadline and is retried like any
// unanswered push (and the device's firmware/get returns it meanwhile). The other order could
// push a device twice for one recorded attempt, or push with nothing recorded at all.
#include <algorithm>
#include <exception>
#include <limits>

#include "engine/engine.hpp"
#include "engine/internal.hpp"
#include "engine/selection.hpp"
#include "model/json.hpp"

namespace console {

using namespace engine_detail;

PhaseCounts engine_detail::phase_counts(const TaskCounts& counts, std::uint32_t phase) {
    PhaseCounts c;
    for (const auto& [key, n] : counts) {
        if (key.first != phase) continue;
        c.total += n;
        if (!is_final(key.second)) c.open += n;
        if (key.second == TaskState::succeeded) c.succeeded += n;
        if (key.second == TaskState::failed || key.second == TaskState::timed_out) {
            c.failures += n;
        }
    }
    return c;
}

std::int64_t engine_detail::open_tasks(const TaskCounts& counts) {
    std::int64_t open = 0;
    for (const auto& [key, n] : counts) {
        if (!is_final(key.second)) open += n;
    }
    return open;
}

void Engine::tick() {
    std::vector<PendingPush> pushes;  // of committed transactions only
    std::exception_ptr error;
    {
        const std::lock_guard<std::recursive_mutex> lock(mutex_);
        try {
            tick_locked(pushes);
        } catch (...) {
            error = std::current_exception();  // the pushes committed before it still go out
        }
    }
    // Published without the engine's lock: a publish may wait for the broker's PUBACK, and the
    // device messages (the MQTT worker) and the API must not wait for that.
    publish_pushes(pushes);
    if (error) std::rethrow_exception(error);
}

void Engine::tick_locked(std::vector<PendingPush>& pushes) {
    const Millis now = clock_.now();
    if (options_.metrics != nullptr) ++options_.metrics->ticks;
    expire_tasks(now);
    std::size_t pushes_left = options_.max_pushes_per_tick;
    std::map<std::int64_t, std::deque<Millis>> still_active;
    for (Rollout& r : store_.active_rollouts()) {
        std::vector<PendingPush> mine;
        store_.transaction([&] {
            // Read again inside the transaction: another console process may have paused or
            // canceled it since the list was read (the PostgreSQL store). The pushes are decided
            // in the same transaction, on this state.
            r = store_.rollout(r.id).value_or(r);
            step_rollout(r, now);
            if (r.state == RolloutState::running && !past_end(r, now) && pushes_left > 0) {
                const std::size_t limit = std::min(pushes_left, rate_budget(r, now));
                if (limit > 0) mark_due_notified(r, limit, now, mine);
            }
        });
        // Committed: these pushes count against the rate and the tick's maximum.
        pushes_left -= mine.size();
        if (r.policy.push_rate_per_minute != 0) {
            for (std::size_t i = 0; i < mine.size(); ++i) recent_pushes_[r.id].push_back(now);
        }
        for (PendingPush& p : mine) pushes.push_back(std::move(p));
        const auto it = recent_pushes_.find(r.id);
        if (it != recent_pushes_.end()) still_active[r.id] = std::move(it->second);
    }
    recent_pushes_ = std::move(still_active);  // forget finished rollouts
}

void Engine::publish_pushes(const std::vector<PendingPush>& pushes) {
    std::size_t sent = 0;
    for (; sent < pushes.size(); ++sent) {
        if (!publisher_.publish(pushes[sent].topic, pushes[sent].payload)) break;
        if (options_.metrics != nullptr) ++options_.metrics->pushes_sent;
    }
    if (sent == pushes.size()) return;
    // Not handed to the client (disconnected): back to the queue, the attempt not counted. Only
    // a task still notified by this push: a device may have answered (firmware/get) or the
    // rollout been canceled meanwhile, and those writes stand.
    const std::lock_guard<std::recursive_mutex> lock(mutex_);
    const Millis now = clock_.now();
    store_.transaction([&] {
        for (std::size_t i = sent; i < pushes.size(); ++i) {
            std::optional<Task> t = store_.task(pushes[i].task_id);
            if (!t || t->state != TaskState::notified || t->notified_at != pushes[i].notified_at) {
                continue;
            }
            --t->attempt;
            t->state = TaskState::queued;
            t->queued_at = now + kRepushDelayMs;
            t->notified_at = 0;
            t->deadline_at = 0;
            save_task(*t, now);
        }
    });
}

void Engine::expire_tasks(Millis now) {
    store_.transaction([&] {
        // Read inside the transaction, so a device's report handled in between is not undone.
        const std::vector<Task> expired = store_.expired(now, kExpireBatch);
        std::map<std::int64_t, Rollout> rollouts;
        for (Task t : expired) {
            auto it = rollouts.find(t.rollout_id);
            if (it == rollouts.end()) {
                it = rollouts.emplace(t.rollout_id, store_.rollout(t.rollout_id).value()).first;
            }
            const Rollout& r = it->second;
            if (r.state == RolloutState::canceling || r.state == RolloutState::canceled) {
                t.state = TaskState::canceled;
                t.reason = "canceled by an operator; the device did not finish by its deadline";
                t.finished_at = now;
                t.deadline_at = 0;
                save_task(t, now);
                continue;
            }
            const std::string reason =
                t.first_progress_at == 0
                    ? "no progress within " + std::to_string(r.policy.task_timeout_s) +
                          " s of the push"
                    : "not finished within " + std::to_string(r.policy.task_timeout_s) +
                          " s of the first progress (last step " + std::to_string(t.last_step) +
                          ")";
            end_attempt(t, r, TaskState::timed_out, reason, now);
        }
    });
}

void Engine::start_rollout(Rollout& r, const Firmware& f, Millis now) {
    std::int64_t at_target = 0;
    std::int64_t busy_count = 0;
    const std::vector<Device> devices = eligible_devices(r, f, at_target, busy_count);
    const std::vector<std::size_t> sizes = phase_sizes(r.phases, devices.size());
    std::vector<Task> tasks;
    std::size_t next = 0;
    for (std::size_t phase = 0; phase < sizes.size(); ++phase) {
        for (std::size_t i = 0; i < sizes[phase]; ++i, ++next) {
            const Device& d = devices[next];
            Task t;
            t.rollout_id = r.id;
            t.device = d.key;
            t.module = f.module;
            t.phase = static_cast<std::uint32_t>(phase);
            const auto v = d.versions.find(f.module);
            if (v != d.versions.end()) t.from_version = v->second;
            t.queued_at = phase == 0 ? now : kNotDue;
            t.updated_at = now;
            tasks.push_back(std::move(t));
        }
    }
    if (!tasks.empty()) store_.add_tasks(tasks);
    for (const Task& t : tasks) emit("task", r.id, to_json(t).dump(), now);
    r.state = RolloutState::running;
    r.current_phase = 0;
    r.updated_at = now;
    store_.update_rollout(r);
    nlohmann::json j = to_json(r);
    j["tasks"] = tasks.size();
    j["skipped_at_target"] = at_target;  // matching devices already at the version
    j["skipped_busy"] = busy_count;      // matching devices with an open task elsewhere
    emit("rollout", r.id, j.dump(), now);
}

void Engine::cancel_queued(const Rollout& r, const std::string& reason, Millis now) {
    TaskFilter queued;
    queued.rollout_id = r.id;
    queued.state = TaskState::queued;
    for (Task& t : all_tasks(queued)) {
        t.state = TaskState::canceled;
        t.reason = reason;
        t.finished_at = now;
        t.deadline_at = 0;
        save_task(t, now);
    }
}

void Engine::release_phase(Rollout& r, Millis now) {
    TaskFilter filter;
    filter.rollout_id = r.id;
    filter.state = TaskState::queued;
    filter.phase = r.current_phase;
    for (Task& t : all_tasks(filter)) {
        if (t.queued_at != kNotDue) continue;
        t.queued_at = now;
        save_task(t, now);
    }
}

bool Engine::advance_phase(Rollout& r, const Firmware& f, Millis now) {
    if (r.current_phase + 1 < r.phases.size()) {
        ++r.current_phase;
        release_phase(r, now);
        return true;
    }
    if (r.dynamic) return false;  // stays running for later joins until its end time or a cancel
    // Tasks of earlier phases may still be open (re-queued by retry_failed): not done yet.
    if (open_tasks(store_.task_counts(r.id)) > 0) return false;
    r.state = RolloutState::completed;
    r.finished_at = now;
    if (r.kind == RolloutKind::verify) {
        const PhaseCounts c = phase_counts(store_.task_counts(r.id), 0);
        if (c.total > 0 && c.succeeded == c.total) {
            store_.set_firmware_verified(f.id, true);
            Firmware verified = f;
            verified.verified = true;
            emit("firmware", r.id, to_json(verified).dump(), now);
        } else {
            r.reason = c.total == 0 ? "not verified: no task (every named device was at the "
                                      "version already or busy)"
                                    : "not verified: not every device succeeded";
        }
    }
    return true;
}

void Engine::step_rollout(Rollout& r, Millis now) {
    const Firmware f = store_.firmware(r.firmware_id).value();
    bool changed = false;
    switch (r.state) {
        case RolloutState::scheduled:
            if (past_end(r, now)) {
                r.state = RolloutState::completed;
                r.finished_at = now;
                r.reason = "the end time passed before the start";
                changed = true;
            } else if (now >= r.policy.start_at) {
                start_rollout(r, f, now);  // writes the rollout and its event itself
            }
            break;
        case RolloutState::running:
        case RolloutState::paused: {
            if (past_end(r, now)) {
                // After the end time: no new push; queued tasks end now, pushed ones run out.
                cancel_queued(r, "the rollout's end time passed", now);
                if (open_tasks(store_.task_counts(r.id)) == 0) {
                    r.state = RolloutState::completed;
                    r.finished_at = now;
                    r.reason = "the end time passed";
                    changed = true;
                }
                break;
            }
            if (r.state != RolloutState::running) break;
            for (std::size_t guard = 0; guard <= r.phases.size(); ++guard) {
                const Phase& phase = r.phases[r.current_phase];
                const PhaseCounts c = phase_counts(store_.task_counts(r.id), r.current_phase);
                const std::string name = "phase " + std::to_string(r.current_phase + 1);
                if (r.kind == RolloutKind::verify) {
                    // No gate: it ends when its tasks do, verified only if all succeeded.
                    if (c.open > 0 || !advance_phase(r, f, now)) break;
                    changed = true;
                    break;
                }
                if (r.dynamic && c.total == 0 && (phase.devices > 0 || phase.percent > 0)) {
                    break;  // an empty sized phase waits for joins (or the end time, a person)
                }
                if (c.failures > static_cast<std::int64_t>(phase.max_failures)) {
                    r.state = RolloutState::paused;
                    r.reason = name + ": " + std::to_string(c.failures) +
                               " tasks failed, more than the " +
                               std::to_string(phase.max_failures) + " allowed";
                    changed = true;
                    break;
                }
                if (c.open > 0) break;
                if (c.total > 0 && c.succeeded * 100 <
                                       static_cast<std::int64_t>(phase.success_percent) * c.total) {
                    r.state = RolloutState::paused;
                    r.reason = name + ": " + std::to_string(c.succeeded * 100 / c.total) +
                               " % succeeded, below the gate's " +
                               std::to_string(phase.success_percent) + " %";
                    changed = true;
                    break;
                }
                if (phase.manual && r.current_phase + 1 < r.phases.size()) {
                    r.state = RolloutState::paused;
                    r.reason = name + " passed its gate; resume to start the next phase";
                    changed = true;
                    break;
                }
                if (!advance_phase(r, f, now)) break;
                changed = true;
                if (r.state != RolloutState::running) break;
            }
            break;
        }
        case RolloutState::canceling:
            // A task may be queued again after the cancel (a push the client refused, a retry
            // decided in another process): it ends here, so a cancel always ends.
            cancel_queued(r, "canceled by an operator", now);
            if (open_tasks(store_.task_counts(r.id)) == 0) {
                r.state = RolloutState::canceled;
                r.finished_at = now;
                changed = true;
            }
            break;
        case RolloutState::completed:
        case RolloutState::canceled:
            break;
    }
    if (changed) save_rollout(r, now);
}

std::size_t Engine::rate_budget(const Rollout& r, Millis now) {
    if (r.policy.push_rate_per_minute == 0) return std::numeric_limits<std::size_t>::max();
    auto it = recent_pushes_.find(r.id);
    if (it == recent_pushes_.end()) {
        // First use in this process (a new rollout, or a console started again): the pushes of
        // the last minute as the store has them (a task pushed twice within the minute counts
        // once: its notified_at is the newest push).
        std::vector<Millis> recent;
        TaskFilter mine;
        mine.rollout_id = r.id;
        for (const Task& t : all_tasks(mine)) {
            if (t.notified_at > now - 60000 && t.notified_at <= now)
                recent.push_back(t.notified_at);
        }
        std::sort(recent.begin(), recent.end());
        it = recent_pushes_.emplace(r.id, std::deque<Millis>(recent.begin(), recent.end())).first;
    }
    std::deque<Millis>& times = it->second;
    while (!times.empty() && times.front() <= now - 60000) times.pop_front();
    const std::size_t rate = r.policy.push_rate_per_minute;
    return times.size() >= rate ? 0 : rate - times.size();
}

void Engine::mark_due_notified(const Rollout& r, std::size_t limit, Millis now,
                               std::vector<PendingPush>& out) {
    const Firmware f = store_.firmware(r.firmware_id).value();
    std::vector<Task> due = store_.due_queued(r.id, now, limit);
    if (due.empty()) return;
    const std::string url = url_for_(f);
    for (Task& t : due) {
        mark_notified(t, r, now);
        out.push_back(
            PendingPush{t.id, t.notified_at,
                        "/ota/device/upgrade/" + t.device.product_key + "/" + t.device.device_name,
                        push_payload(f, url, t.notified_at, r.policy.download_protocol)});
    }
}

}  // namespace console
