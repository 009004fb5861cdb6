// The API side of the engine: create (with its checks), pause, resume, cancel, retry, view.
//
// Why the checks live here and not in the HTTP layer: the rules (force for unverified firmware,
// verify rollouts of 1..10 named devices, the last-phase-only "rest" size) are the engine's, and
// the same ApiError reaches the REST client whoever calls.
#include <algorithm>
#include <utility>

#include "engine/engine.hpp"
#include "engine/internal.hpp"
#include "engine/selection.hpp"
#include "model/json.hpp"

namespace console {

using namespace engine_detail;

struct Engine::Validated {
    Rollout spec;
    Firmware firmware;
};

namespace {

[[noreturn]] void invalid(const std::string& field, const std::string& what) {
    throw ApiError(400, "invalid_argument", field + ": " + what);
}
[[noreturn]] void precondition(const std::string& field, const std::string& what) {
    throw ApiError(409, "failed_precondition", field + ": " + what);
}

}  // namespace

Engine::Validated Engine::validate(Rollout spec) {
    const std::optional<Firmware> fw = store_.firmware(spec.firmware_id);
    if (!fw) {
        throw ApiError(404, "not_found",
                       "firmware_id: no firmware " + std::to_string(spec.firmware_id));
    }
    Selection& sel = spec.selection;
    if (sel.product_key.empty()) sel.product_key = fw->product_key;
    if (sel.product_key != fw->product_key) {
        invalid("selection.product_key",
                "must be the firmware's product \"" + fw->product_key + "\"");
    }
    if (sel.percent < 1 || sel.percent > 100) invalid("selection.percent", "must be 1..100");
    if (spec.phases.empty()) spec.phases.push_back(Phase{});
    if (spec.kind == RolloutKind::verify) {
        if (sel.device_names.empty() || sel.device_names.size() > 10) {
            invalid("selection.device_names", "a verify rollout names 1 to 10 devices");
        }
        if (spec.phases.size() != 1) invalid("phases", "a verify rollout has one phase");
        for (const std::string& name : sel.device_names) {
            if (!store_.device(DeviceKey{sel.product_key, name})) {
                invalid("selection.device_names", "device \"" + name + "\" is not registered");
            }
        }
        spec.phases[0] = Phase{};  // every named device, all must succeed
        spec.dynamic = false;
    } else if (!fw->verified && !spec.force) {
        precondition("force", "firmware " + std::to_string(fw->id) + " (" + fw->version +
                                  ") is not verified: run a verify rollout first or set force");
    }
    for (std::size_t i = 0; i < spec.phases.size(); ++i) {
        const Phase& p = spec.phases[i];
        const std::string field = "phases[" + std::to_string(i) + "]";
        if (p.devices > 0 && p.percent > 0) invalid(field, "set devices or percent, not both");
        if (p.percent > 100) invalid(field + ".percent", "must be 0..100");
        if (p.success_percent > 100) invalid(field + ".success_percent", "must be 0..100");
        if (p.devices == 0 && p.percent == 0 && i + 1 != spec.phases.size()) {
            invalid(field,
                    "a phase of all remaining devices (devices and percent 0) must be "
                    "the last one");
        }
    }
    if (spec.policy.task_timeout_s == 0) invalid("policy.task_timeout_s", "must be at least 1");
    const Millis now = clock_.now();
    if (spec.policy.end_at != 0) {
        if (spec.policy.end_at <= now) invalid("policy.end_at", "is in the past");
        if (spec.policy.end_at <= spec.policy.start_at) {
            invalid("policy.end_at", "must be after policy.start_at");
        }
    }
    if (spec.name.empty()) spec.name = std::string(to_string(spec.kind)) + " " + fw->version;
    spec.id = 0;
    spec.state = RolloutState::scheduled;
    spec.current_phase = 0;
    spec.reason.clear();
    spec.created_at = now;
    spec.updated_at = now;
    spec.finished_at = 0;
    return Validated{std::move(spec), *fw};
}

std::vector<Device> Engine::eligible_devices(const Rollout& r, const Firmware& f,
                                             std::int64_t& at_target, std::int64_t& busy_count) {
    std::vector<Device> out;
    at_target = 0;
    busy_count = 0;
    const SelectionMatcher matcher(r.selection, f.module);
    for (Device& d : store_.devices_of_product(f.product_key)) {
        if (!matcher.matches(d)) continue;
        const auto v = d.versions.find(f.module);
        if (v != d.versions.end() && v->second == f.version) {
            ++at_target;
        } else if (busy(d.key, f.module)) {
            ++busy_count;
        } else {
            out.push_back(std::move(d));
        }
    }
    std::sort(out.begin(), out.end(),
              [](const Device& a, const Device& b) { return a.key < b.key; });
    return out;
}

Rollout Engine::create_rollout(Rollout spec) {
    const std::lock_guard<std::recursive_mutex> lock(mutex_);
    Validated v = validate(std::move(spec));
    store_.transaction([&] {
        v.spec.id = store_.add_rollout(v.spec);
        emit("rollout", v.spec.id, to_json(v.spec).dump(), v.spec.created_at);
    });
    return v.spec;
}

std::int64_t Engine::preview(Rollout spec) {
    const std::lock_guard<std::recursive_mutex> lock(mutex_);
    const Validated v = validate(std::move(spec));
    std::int64_t at_target = 0;
    std::int64_t busy_count = 0;
    const std::vector<Device> devices = eligible_devices(v.spec, v.firmware, at_target, busy_count);
    const std::vector<std::size_t> sizes = phase_sizes(v.spec.phases, devices.size());
    std::size_t total = 0;
    for (const std::size_t n : sizes) total += n;
    return static_cast<std::int64_t>(total);
}

namespace {

Rollout must_exist(Store& store, std::int64_t id) {
    std::optional<Rollout> r = store.rollout(id);
    if (!r) throw ApiError(404, "not_found", "rollout_id: no rollout " + std::to_string(id));
    return *r;
}

}  // namespace

Rollout Engine::pause(std::int64_t rollout_id) {
    const std::lock_guard<std::recursive_mutex> lock(mutex_);
    Rollout r;
    store_.transaction([&] {
        r = must_exist(store_, rollout_id);
        if (r.state == RolloutState::paused) return;
        if (r.state != RolloutState::running) {
            precondition("state", std::string("a ") + to_string(r.state) +
                                      " rollout cannot be paused (only a running one)");
        }
        r.state = RolloutState::paused;
        r.reason = "paused by an operator";
        save_rollout(r, clock_.now());
    });
    return r;
}

Rollout Engine::resume(std::int64_t rollout_id) {
    const std::lock_guard<std::recursive_mutex> lock(mutex_);
    Rollout r;
    store_.transaction([&] {
        r = must_exist(store_, rollout_id);
        if (r.state == RolloutState::running) return;
        if (r.state != RolloutState::paused) {
            precondition("state", std::string("a ") + to_string(r.state) +
                                      " rollout cannot be resumed (only a paused one)");
        }
        const Millis now = clock_.now();
        const Firmware f = store_.firmware(r.firmware_id).value();
        r.state = RolloutState::running;
        r.reason.clear();
        // The operator's resume accepts what stopped the rollout: a phase whose tasks are all
        // final moves on (manual gate, or a success gate that was missed); an abort gate takes
        // the failures so far as allowed, so only a new failure pauses again.
        const PhaseCounts c = phase_counts(store_.task_counts(r.id), r.current_phase);
        Phase& phase = r.phases[r.current_phase];
        if (c.open == 0) {
            advance_phase(r, f, now);
        } else if (c.failures > static_cast<std::int64_t>(phase.max_failures)) {
            phase.max_failures = static_cast<std::uint32_t>(c.failures);
        }
        save_rollout(r, now);
    });
    return r;
}

Rollout Engine::cancel(std::int64_t rollout_id) {
    const std::lock_guard<std::recursive_mutex> lock(mutex_);
    Rollout r;
    store_.transaction([&] {
        r = must_exist(store_, rollout_id);
        if (r.state == RolloutState::canceling) return;
        if (r.state == RolloutState::completed || r.state == RolloutState::canceled) {
            precondition("state", std::string("the rollout is ") + to_string(r.state));
        }
        const Millis now = clock_.now();
        cancel_queued(r, "canceled by an operator", now);
        r.reason = "canceled by an operator";
        if (open_tasks(store_.task_counts(r.id)) == 0) {
            r.state = RolloutState::canceled;
            r.finished_at = now;
        } else {
            r.state = RolloutState::canceling;  // ends when the pushed tasks end (deadline)
        }
        save_rollout(r, now);
    });
    return r;
}

Rollout Engine::retry_failed(std::int64_t rollout_id) {
    const std::lock_guard<std::recursive_mutex> lock(mutex_);
    Rollout r;
    store_.transaction([&] {
        r = must_exist(store_, rollout_id);
        if (r.state != RolloutState::running && r.state != RolloutState::paused &&
            r.state != RolloutState::completed) {
            precondition("state",
                         std::string("a ") + to_string(r.state) + " rollout has no tasks to retry");
        }
        const Millis now = clock_.now();
        if (past_end(r, now)) {
            precondition("policy.end_at", "the rollout's end time has passed");
        }
        for (const TaskState s : {TaskState::failed, TaskState::timed_out}) {
            TaskFilter filter;
            filter.rollout_id = r.id;
            filter.state = s;
            for (Task& t : all_tasks(filter)) {
                if (busy(t.device, t.module)) continue;  // another rollout has it now
                t.state = TaskState::queued;
                t.queued_at = now;
                t.reason.clear();
                t.finished_at = 0;
                t.deadline_at = 0;
                t.downloaded = false;
                t.last_step = 0;
                t.first_progress_at = 0;
                save_task(t, now);
            }
        }
        r.state = RolloutState::running;
        r.reason.clear();
        r.finished_at = 0;
        save_rollout(r, now);
    });
    return r;
}

RolloutView Engine::view(std::int64_t rollout_id) {
    const std::lock_guard<std::recursive_mutex> lock(mutex_);
    RolloutView v;
    store_.transaction([&] {
        v.rollout = must_exist(store_, rollout_id);
        v.firmware = store_.firmware(v.rollout.firmware_id).value_or(Firmware{});
        v.counts = store_.task_counts(rollout_id);
        for (const TaskState s : {TaskState::failed, TaskState::timed_out}) {
            TaskFilter filter;
            filter.rollout_id = rollout_id;
            filter.state = s;
            for (const Task& t : all_tasks(filter)) ++v.failure_reasons[t.reason];
        }
    });
    return v;
}

}  // namespace console
