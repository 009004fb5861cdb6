// When the next download attempt starts, or that there is none (RetryPolicy in ota/options.hpp).
// Internal. Holds the counters of one job's download and the jitter generator of the client.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "core/backoff.hpp"
#include "ota/clock.hpp"
#include "ota/options.hpp"

namespace ota::detail {

/// What RetrySchedule::after_failure() decided.
struct RetryDecision {
    /// retry: the next attempt starts at `at` (after `delay`). out_of_attempts: max_attempts
    /// attempts in a row brought no new byte. out_of_time: the next attempt would start after
    /// the total deadline.
    enum class Kind { retry, out_of_attempts, out_of_time };
    Kind kind = Kind::retry;
    std::chrono::milliseconds delay{0};
    Clock::time_point at{};
    int failures_in_row = 0;  ///< failed attempts since the last one that brought new bytes
};

/// Backoff, total deadline and failures in a row of one job's download.
class RetrySchedule {
  public:
    /// `policy` must be valid (RetryPolicy::validate) and outlive the schedule; `seed` as
    /// RetryPolicy::jitter_seed (0 = a different seed per schedule).
    RetrySchedule(const RetryPolicy& policy, std::uint64_t seed);

    /// A new download starts at `now`: no failures yet, nothing fetched before.
    void start(Clock::time_point now) noexcept;
    /// Forgets the failures in a row (the job's download restarts) without moving the deadline.
    void clear() noexcept;
    /// `fetched` bytes are already there before the first attempt (a resumed image): only
    /// attempts that go beyond them count as progress.
    void set_baseline(std::uint64_t fetched) noexcept { high_water_ = fetched; }

    /// An attempt failed at `now` with `fetched` bytes stored in all; `retry_after` is the
    /// server's wish, if any.
    [[nodiscard]] RetryDecision after_failure(std::uint64_t fetched, Clock::time_point now,
                                              std::optional<std::chrono::seconds> retry_after);

  private:
    const RetryPolicy& policy_;
    JitterRandom random_;
    int failures_in_row_ = 0;
    std::uint64_t high_water_ = 0;  // most bytes fetched before the current attempt
    Clock::time_point started_{};
};

}  // namespace ota::detail
