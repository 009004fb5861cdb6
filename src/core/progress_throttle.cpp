#include "core/progress_throttle.hpp"

namespace ota::detail {

bool ProgressThrottle::should_send(int step, Clock::time_point now) const noexcept {
    if (step <= 0 || step >= 100) return true;
    if (!has_sent_) return true;
    // Both conditions, as the official SDK: enough points AND enough time.
    if (step - last_step_ < policy_.min_points) return false;
    return now - last_time_ >= policy_.min_interval;
}

void ProgressThrottle::mark_sent(int step, Clock::time_point now) noexcept {
    if (step < 0) return;
    has_sent_ = true;
    last_step_ = step;
    last_time_ = now;
}

}  // namespace ota::detail
