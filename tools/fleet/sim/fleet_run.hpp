// `ota_fleet run`: builds the devices of one process's range, runs them on the scheduler until the
// run ends, and turns what they measured into the summary (H3's FleetSummary).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connect_waker.hpp"
#include "core/options.hpp"
#include "core/stats.hpp"
#include "ota/status.hpp"
#include "scheduler.hpp"

namespace ota::fleet {

/// Why a run ended.
enum class RunEnd {
    settled,      ///< every device reached a final outcome
    duration,     ///< --duration elapsed
    job_timeout,  ///< --job-timeout elapsed after the last job arrived, devices still busy
    signal,       ///< SIGINT/SIGTERM (the stop flag)
    /// In-process cloud: no device got a job 60 s after every device connected or gave up.
    no_job,
};
/// "settled", "duration", "job-timeout", "signal", "no-job".
[[nodiscard]] const char* to_string(RunEnd end) noexcept;

/// Exit status of `ota_fleet run` for a run that ended so: 0 when it completed as planned
/// (settled, duration, or stopped by a signal: a stop is not a failure), 3 for job_timeout and
/// no_job.
[[nodiscard]] int exit_code_for(RunEnd end) noexcept;

/// One `ota_fleet run`.
class FleetRun {
  public:
    /// A run with parsed options; nothing happens until run().
    explicit FleetRun(RunOptions options);
    ~FleetRun();
    FleetRun(const FleetRun&) = delete;
    FleetRun& operator=(const FleetRun&) = delete;

    /// Loads the identities, creates the devices (and the in-process cloud with --push-url),
    /// runs until the run ends (see RunEnd; `stop` is polled every 100 ms) and builds the
    /// summary. Errors: invalid_argument for identities or device options, the cloud's start()
    /// errors; in that case nothing ran.
    [[nodiscard]] Error run(const std::atomic<bool>& stop);
    /// Why the run ended (after run() returned ok).
    [[nodiscard]] RunEnd end() const noexcept { return end_; }
    /// The summary (after run() returned ok).
    [[nodiscard]] const FleetSummary& summary() const noexcept { return summary_; }
    /// The scheduler's counters at the end of the run (for the report's diagnostics line).
    [[nodiscard]] const Scheduler::Stats& scheduler_stats() const noexcept { return stats_; }
    /// The connect waker's counters at the end of the run (nullopt: --no-connect-waker).
    [[nodiscard]] const std::optional<ConnectWakerStats>& waker_stats() const noexcept {
        return waker_stats_;
    }

  private:
    struct State;
    RunOptions options_;
    RunEnd end_ = RunEnd::settled;
    FleetSummary summary_;
    Scheduler::Stats stats_;
    std::optional<ConnectWakerStats> waker_stats_;
};

}  // namespace ota::fleet
