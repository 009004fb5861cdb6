// The rate limit on the step -1 reports of refused and malformed pushes. Internal.
//
// A flood of bad pushes (a misbehaving cloud, a replayed queue) must not turn into a flood of
// reports: the cloud needs to learn that pushes are being refused, not how many. So at most one
// such report goes out per interval; the others are logged and counted, and the count is told
// with the next report that goes out.
#pragma once

#include <chrono>
#include <cstdint>

#include "ota/clock.hpp"

namespace ota::detail {

/// Decides which refusal reports are published: the first one, then one per `interval` at most.
/// Never allocates.
class RefusalLimit {
  public:
    /// One report per second: what issue 10 asks of a device flooded with bad pushes.
    static constexpr std::chrono::milliseconds kDefaultInterval{1000};

    explicit RefusalLimit(std::chrono::milliseconds interval = kDefaultInterval) noexcept
        : interval_(interval) {}

    /// True when a report may be published at `now` (and counts it as published); false when it
    /// must only be logged (and counts it as suppressed).
    [[nodiscard]] bool allow(Clock::time_point now) noexcept;

    /// Reports suppressed since the last one allowed; reset by take_suppressed().
    [[nodiscard]] std::uint64_t suppressed() const noexcept { return suppressed_; }

    /// Returns suppressed() and starts counting afresh (call when a report was allowed, to say
    /// how many were left out before it).
    std::uint64_t take_suppressed() noexcept;

    /// Reports suppressed since this limit was made.
    [[nodiscard]] std::uint64_t suppressed_total() const noexcept { return suppressed_total_; }

  private:
    std::chrono::milliseconds interval_;
    bool has_sent_ = false;
    Clock::time_point last_sent_{};
    std::uint64_t suppressed_ = 0;
    std::uint64_t suppressed_total_ = 0;
};

}  // namespace ota::detail
