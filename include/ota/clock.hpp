// The clock seam: lets tests drive time-based policies (progress throttling, deadlines).
#pragma once

#include <chrono>

namespace ota {

/// A monotonic clock.
class Clock {
  public:
    using time_point = std::chrono::steady_clock::time_point;
    virtual ~Clock() = default;
    /// The current time; never goes backwards.
    [[nodiscard]] virtual time_point now() const noexcept = 0;
};

/// The process-wide std::chrono::steady_clock adapter.
[[nodiscard]] const Clock& steady_clock() noexcept;

}  // namespace ota
