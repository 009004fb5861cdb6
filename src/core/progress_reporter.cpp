#include "core/progress_reporter.hpp"

#include <string>

#include "core/lazy_log.hpp"

namespace ota::detail {

ProgressReporter::ProgressReporter(MqttChannel& channel, const Topics& topics, MessageIds& ids,
                                   const Clock& clock, ProgressPolicy policy, int qos) noexcept
    : channel_(channel), topics_(topics), ids_(ids), clock_(clock), qos_(qos), throttle_(policy) {}

void ProgressReporter::start_job() noexcept {
    throttle_.reset();
    failure_reported_ = false;
}

Status ProgressReporter::publish(int step, std::string_view desc, std::string_view module) {
    const std::string payload = encode_progress(ids_.next(), step, desc, module);
    return channel_.publish(topics_.progress, payload, qos_);
}

bool ProgressReporter::would_send(int step) const noexcept {
    return throttle_.should_send(step, clock_.now());
}

Error ProgressReporter::report(int step, std::string_view desc, std::string_view module) {
    if (step < 0 && failure_reported_) return {};
    const auto now = clock_.now();
    if (!throttle_.should_send(step, now)) return {};
    const Status s = publish(step, desc, module);
    if (s != Status::ok) return {s, "progress report not published"};
    throttle_.mark_sent(step, now);
    if (step < 0) failure_reported_ = true;
    return {};
}

Error ProgressReporter::report_own(int step, std::string_view desc, std::string_view module) {
    const bool must_arrive = step < 0 || step == kStepMax;
    if (step < 0 && failure_reported_) return {};
    if (!queued_.empty()) flush();
    const auto now = clock_.now();
    if (!throttle_.should_send(step, now)) return {};
    if (!must_arrive && !channel_.is_connected()) return {};  // QoS0 progress: dropped
    Status s = Status::not_connected;
    if (queued_.empty() && channel_.is_connected()) s = publish(step, desc, module);
    if (s == Status::not_connected && must_arrive) {
        enqueue(step, desc, module);
        s = Status::ok;
    }
    if (s != Status::ok) return {s, "progress report not published"};
    throttle_.mark_sent(step, now);
    if (step < 0) failure_reported_ = true;
    return {};
}

void ProgressReporter::enqueue(int step, std::string_view desc, std::string_view module) {
    if (queued_.size() >= kMaxQueued) {
        log(LogLevel::warning,
            "too many progress reports waiting for the broker: dropping "
            "the oldest (step " +
                std::to_string(queued_.front().step) + ")");
        queued_.pop_front();
    }
    queued_.push_back(Queued{step, std::string(desc), std::string(module)});
    if (log_enabled(LogLevel::info)) {
        log(LogLevel::info, "MQTT is down: progress step " + std::to_string(step) +
                                " will be reported after the reconnect");
    }
}

void ProgressReporter::flush() {
    while (!queued_.empty() && channel_.is_connected()) {
        const Queued& q = queued_.front();
        const Status s = publish(q.step, q.desc, q.module);
        if (s == Status::not_connected) return;
        if (s != Status::ok) {
            log(LogLevel::warning, "dropping progress step " + std::to_string(q.step) +
                                       " that waited for the broker: " + to_string(s));
        } else if (log_enabled(LogLevel::info)) {
            log(LogLevel::info,
                "reported progress step " + std::to_string(q.step) + " after the reconnect");
        }
        queued_.pop_front();
    }
}

}  // namespace ota::detail
