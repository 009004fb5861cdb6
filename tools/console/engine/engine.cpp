// The engine's shared helpers: events, saving records, ending an attempt (retry or final).
//
// Why every save goes through here: each state change must be written together with its event
// (the SSE stream and other console processes see exactly what was stored), and the retry rule
// must be the same for a negative step, a rollback and a timeout.
#include "engine/engine.hpp"

#include <utility>

#include "engine/internal.hpp"
#include "model/json.hpp"

namespace console {

using namespace engine_detail;

Engine::Engine(Store& store, const WallClock& clock, Publisher& publisher, UrlFor url_for,
               EngineOptions options)
    : store_(store),
      clock_(clock),
      publisher_(publisher),
      url_for_(std::move(url_for)),
      options_(options) {}

void Engine::batch(const std::function<void()>& fn) {
    const std::lock_guard<std::recursive_mutex> lock(mutex_);
    store_.transaction(fn);
}

void Engine::emit(const char* type, std::int64_t rollout_id, const std::string& json, Millis now) {
    Event e;
    e.at = now;
    e.type = type;
    e.rollout_id = rollout_id;
    e.json = json;
    store_.append_event(e);
}

void Engine::save_task(Task& t, Millis now, bool event) {
    t.updated_at = now;
    store_.update_task(t);
    if (event) emit("task", t.rollout_id, to_json(t).dump(), now);
}

void Engine::save_rollout(Rollout& r, Millis now) {
    r.updated_at = now;
    store_.update_rollout(r);
    emit("rollout", r.id, to_json(r).dump(), now);
}

void Engine::end_attempt(Task& t, const Rollout& r, TaskState state, const std::string& reason,
                         Millis now) {
    const bool rollout_open = r.state == RolloutState::running || r.state == RolloutState::paused;
    t.reason = reason;
    t.deadline_at = 0;
    if (rollout_open && !past_end(r, now) && t.attempt <= r.policy.retry_count) {
        // A retry: the same task goes back to the queue; `attempt` keeps counting pushes.
        t.state = TaskState::queued;
        t.queued_at = now + seconds_ms(r.policy.retry_interval_s);
        t.downloaded = false;
        t.last_step = 0;
        t.first_progress_at = 0;
    } else {
        t.state = state;
        t.finished_at = now;
    }
    save_task(t, now);
}

std::vector<Task> Engine::all_tasks(const TaskFilter& filter) {
    std::vector<Task> out;
    Page page{0, kPage};
    for (;;) {
        std::vector<Task> part = store_.tasks(filter, page);
        if (part.empty()) break;
        page.after = part.back().id;
        const bool last = part.size() < page.limit;
        out.insert(out.end(), std::make_move_iterator(part.begin()),
                   std::make_move_iterator(part.end()));
        if (last) break;
    }
    return out;
}

bool Engine::busy(const DeviceKey& device, const std::string& module) {
    return store_.open_task(device, module).has_value();
}

}  // namespace console
