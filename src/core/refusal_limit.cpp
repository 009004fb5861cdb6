#include "core/refusal_limit.hpp"

#include <utility>

namespace ota::detail {

bool RefusalLimit::allow(Clock::time_point now) noexcept {
    if (has_sent_ && now - last_sent_ < interval_) {
        ++suppressed_;
        ++suppressed_total_;
        return false;
    }
    has_sent_ = true;
    last_sent_ = now;
    return true;
}

std::uint64_t RefusalLimit::take_suppressed() noexcept {
    return std::exchange(suppressed_, 0);
}

}  // namespace ota::detail
