// Progress reports to the cloud (PROTOCOL.md section 4): the throttle, the queue that carries the
// client's own final and failure reports across broker outages, and the one-failure-per-job rule.
// Internal. It publishes through the channel and returns what happened; it never calls back into
// the client.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "core/progress_throttle.hpp"
#include "ota/channel.hpp"
#include "ota/clock.hpp"
#include "ota/options.hpp"
#include "ota/protocol.hpp"
#include "ota/status.hpp"

namespace ota::detail {

/// The message ids of one client: every message it publishes takes the next one.
class MessageIds {
  public:
    /// The next id (1, 2, ...).
    std::uint64_t next() noexcept { return next_++; }

  private:
    std::uint64_t next_ = 1;
};

/// Reports progress steps of one client on its progress topic.
///
/// Two kinds of reports: the application's (report(): under the throttle, never queued, a
/// disconnected channel is the application's problem) and the client's own (report_own(): 0..99
/// are dropped while the channel is down, 100 and failure steps are queued, at most
/// kMaxQueued of them, and published oldest first once it is back). At most one failure step is
/// sent per job, whoever sends it.
class ProgressReporter {
  public:
    /// Final (100) and failure reports waiting for the broker; older ones are dropped beyond this.
    static constexpr std::size_t kMaxQueued = 8;

    /// `channel`, `topics`, `ids` and `clock` must outlive the reporter; `topics` may be filled
    /// in later (before the first report).
    ProgressReporter(MqttChannel& channel, const Topics& topics, MessageIds& ids,
                     const Clock& clock, ProgressPolicy policy, int qos) noexcept;

    /// A new job: throttle and failure budget start afresh.
    void start_job() noexcept;
    /// The same job's download restarts from byte 0: only the throttle starts afresh.
    void restart() noexcept { throttle_.reset(); }

    /// The application's report of `step` for `module`. ok also when the policy suppressed it.
    [[nodiscard]] Error report(int step, std::string_view desc, std::string_view module);

    /// The client's own report of `step` for `module` (see the class comment). Informational:
    /// a report the policy suppressed or that was queued counts as made (ok).
    [[nodiscard]] Error report_own(int step, std::string_view desc, std::string_view module);

    /// True when the throttle would let `step` through now (to skip composing a report).
    [[nodiscard]] bool would_send(int step) const noexcept;

    /// Publishes `step` without any policy (refused jobs and malformed messages).
    [[nodiscard]] Status publish(int step, std::string_view desc, std::string_view module);

    /// Publishes the queued reports, oldest first, while the channel takes them. Each is sent
    /// once: one that fails for another reason than the connection is dropped (logged).
    void flush();

    /// Forgets the queued reports (deinit).
    void clear_queue() noexcept { queued_.clear(); }

    /// How many reports wait for the broker.
    [[nodiscard]] std::size_t queued() const noexcept { return queued_.size(); }

    /// True once a failure step was reported (or queued) for the current job.
    [[nodiscard]] bool failure_reported() const noexcept { return failure_reported_; }

  private:
    struct Queued {
        int step = 0;
        std::string desc;
        std::string module;
    };

    void enqueue(int step, std::string_view desc, std::string_view module);

    MqttChannel& channel_;
    const Topics& topics_;
    MessageIds& ids_;
    const Clock& clock_;
    int qos_;
    ProgressThrottle throttle_;
    bool failure_reported_ = false;
    std::deque<Queued> queued_;
};

}  // namespace ota::detail
