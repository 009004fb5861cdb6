// Strict number parsing shared by the command line and the spec parsers (private to core/).
//
// Why not std::stoul/strtod: they accept leading spaces, signs on unsigned values and trailing
// garbage ("12abc"), and strtod follows the locale; std::from_chars does none of that.
#pragma once

#include <cstdint>
#include <string_view>

namespace ota::fleet::detail {

/// Whole of `text` as a decimal unsigned integer (no sign, no spaces); false otherwise.
[[nodiscard]] bool parse_u64(std::string_view text, std::uint64_t& out) noexcept;

/// Whole of `text` as a finite decimal number ("5", "2.5", no exponent needed); false otherwise.
[[nodiscard]] bool parse_double(std::string_view text, double& out) noexcept;

/// A byte count or rate with an optional k/m/g suffix (x1024, either case), e.g. "64k"; false for
/// anything else or an overflow.
[[nodiscard]] bool parse_scaled_u64(std::string_view text, std::uint64_t& out) noexcept;

/// `text` without leading and trailing spaces, tabs and CRs.
[[nodiscard]] std::string_view trim(std::string_view text) noexcept;

}  // namespace ota::fleet::detail
