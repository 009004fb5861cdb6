// Progress throttling (PROTOCOL.md section 4). Internal: not part of the installed API.
#pragma once

#include "ota/clock.hpp"
#include "ota/options.hpp"

namespace ota::detail {

/// Decides which progress steps reach the cloud under a ProgressPolicy. Steps 0, 100 and every
/// negative (failure) step always pass; a step in 1..99 passes only when it is at least
/// `min_points` above the last sent step AND at least `min_interval` after it (the first step of
/// a job passes). Holds no per-chunk state beyond two integers; never allocates.
class ProgressThrottle {
  public:
    explicit ProgressThrottle(ProgressPolicy policy = {}) noexcept : policy_(policy) {}

    /// True when `step` should be published at `now`.
    [[nodiscard]] bool should_send(int step, Clock::time_point now) const noexcept;

    /// Records that `step` was published at `now`. Failure steps do not move the baseline.
    void mark_sent(int step, Clock::time_point now) noexcept;

    /// Forgets the last sent step (call for every new job or restarted download).
    void reset() noexcept { has_sent_ = false; }

    [[nodiscard]] const ProgressPolicy& policy() const noexcept { return policy_; }

  private:
    ProgressPolicy policy_;
    bool has_sent_ = false;
    int last_step_ = 0;
    Clock::time_point last_time_{};
};

}  // namespace ota::detail
