// Whole percent of a download, in 64-bit arithmetic. Internal. Its own header so that the
// large-image unit tests check the very function the client uses.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

namespace ota::detail {

/// Whole percent (0..100, rounded down) of `done` out of `total` bytes; 0 when `total` is 0,
/// 100 from `done >= total` on (never before). Exact while `done * 100` fits 64 bits; beyond
/// that `done / (total / 100)`, off by far less than one percent (total is then above 2^57).
[[nodiscard]] inline int percent_of(std::uint64_t done, std::uint64_t total) noexcept {
    if (total == 0) return 0;
    if (done >= total) return 100;
    constexpr std::uint64_t kLimit = std::numeric_limits<std::uint64_t>::max() / 100;
    const std::uint64_t p = done <= kLimit ? done * 100 / total : done / (total / 100);
    // done < total here, so never 100 (the approximation can reach it near UINT64_MAX).
    return static_cast<int>(std::min<std::uint64_t>(p, 99));
}

}  // namespace ota::detail
