// Parsing of the HTTP Content-Range response header (RFC 9110 section 14.4), used to validate a
// 206 reply to a resumed download. Internal: not part of the installed API.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ota::detail {

/// A satisfied byte range "bytes first-last/total"; `total` is empty for "bytes first-last/*".
struct ContentRange {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    std::optional<std::uint64_t> total;
};

/// Parses a Content-Range field value. Accepted: optional leading/trailing whitespace (SP/HTAB),
/// the unit "bytes" in any ASCII case, at least one SP/HTAB, then `first-last/total` or
/// `first-last/*` with decimal digits only (no signs, no inner whitespace). Rejected (nullopt):
/// other units, the unsatisfied form "bytes */total", numbers that do not fit 64 bits (or have more
/// than 20 digits), first > last, and last >= total. Never reads outside `value`.
[[nodiscard]] std::optional<ContentRange> parse_content_range(std::string_view value) noexcept;

}  // namespace ota::detail
