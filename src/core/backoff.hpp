// Retry delays of the download (RetryPolicy in ota/options.hpp). Internal: not part of the
// installed API. Header-only so that unit tests can check the arithmetic directly.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>

#include "ota/options.hpp"

namespace ota::detail {

/// A small, seedable pseudo-random generator (SplitMix64) for backoff jitter: deterministic for
/// a given seed, no allocation, no global state. Not for anything security-related.
class JitterRandom {
  public:
    explicit JitterRandom(std::uint64_t seed = 0) noexcept : state_(seed) {}

    /// The next 64 random bits.
    std::uint64_t next() noexcept {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }

    /// A uniformly distributed value in [0, 1).
    double next_unit() noexcept {
        return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0);  // 2^-53
    }

  private:
    std::uint64_t state_;
};

/// The delay before the next attempt after `failures_in_row` (>= 1) failed attempts in a row:
/// min(max_backoff, initial_backoff * multiplier^(failures_in_row - 1)), shortened by
/// `unit` * jitter of itself (`unit` in [0, 1)), then raised to the server's Retry-After capped at
/// max_backoff. Never below 1 ms. The policy must be valid (see validate_options).
[[nodiscard]] inline std::chrono::milliseconds backoff_delay(
    const RetryPolicy& policy, int failures_in_row, double unit,
    std::optional<std::chrono::seconds> retry_after) noexcept {
    const double cap = static_cast<double>(policy.max_backoff.count());
    double base = static_cast<double>(policy.initial_backoff.count());
    // Grows step by step and stops at the cap: no pow() overflow for large counts.
    for (int i = 1; i < failures_in_row && base < cap; ++i) base *= policy.multiplier;
    base = std::min(base, cap);
    const double unit_clamped = std::clamp(unit, 0.0, 1.0);
    const double jittered = base * (1.0 - policy.jitter * unit_clamped);
    auto delay = std::chrono::milliseconds(std::max<long long>(1, std::llround(jittered)));
    if (retry_after) {
        // Compared in seconds first so that an absurd header value cannot overflow the cast.
        const auto cap_s = std::chrono::ceil<std::chrono::seconds>(policy.max_backoff);
        const auto asked = *retry_after >= cap_s
                               ? policy.max_backoff
                               : std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::max(*retry_after, std::chrono::seconds(0)));
        delay = std::max(delay, std::min(asked, policy.max_backoff));
    }
    return delay;
}

}  // namespace ota::detail
