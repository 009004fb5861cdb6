#include "core/retry_schedule.hpp"

#include <random>

namespace ota::detail {

namespace {

std::uint64_t jitter_seed(std::uint64_t configured) noexcept {
    if (configured != 0) return configured;
    try {
        std::random_device rd;
        return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    } catch (...) {
        // No entropy source: the time still spreads devices that start at different moments.
        return static_cast<std::uint64_t>(
            std::chrono::steady_clock::now().time_since_epoch().count());
    }
}

}  // namespace

RetrySchedule::RetrySchedule(const RetryPolicy& policy, std::uint64_t seed)
    : policy_(policy), random_(jitter_seed(seed)) {}

void RetrySchedule::start(Clock::time_point now) noexcept {
    clear();
    started_ = now;
}

void RetrySchedule::clear() noexcept {
    failures_in_row_ = 0;
    high_water_ = 0;
}

RetryDecision RetrySchedule::after_failure(std::uint64_t fetched, Clock::time_point now,
                                           std::optional<std::chrono::seconds> retry_after) {
    if (fetched > high_water_) {  // this attempt stored new bytes
        high_water_ = fetched;
        failures_in_row_ = 0;
    }
    ++failures_in_row_;
    RetryDecision d;
    d.failures_in_row = failures_in_row_;
    if (failures_in_row_ >= policy_.max_attempts) {
        d.kind = RetryDecision::Kind::out_of_attempts;
        return d;
    }
    d.delay = backoff_delay(policy_, failures_in_row_, random_.next_unit(), retry_after);
    d.at = now + d.delay;
    if (d.at - started_ > policy_.total_deadline) d.kind = RetryDecision::Kind::out_of_time;
    return d;
}

}  // namespace ota::detail
