#include "numbers.hpp"

#include <charconv>
#include <cmath>
#include <limits>

namespace ota::fleet::detail {

bool parse_u64(std::string_view text, std::uint64_t& out) noexcept {
    if (text.empty() || text.front() < '0' || text.front() > '9') return false;
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) return false;
    out = value;
    return true;
}

bool parse_double(std::string_view text, double& out) noexcept {
    // from_chars takes a leading '-' only; reject a '+', spaces and "inf"/"nan" by the first char.
    if (text.empty()) return false;
    const char c = text.front();
    if (!(c == '-' || c == '.' || (c >= '0' && c <= '9'))) return false;
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) {
        return false;
    }
    out = value;
    return true;
}

bool parse_scaled_u64(std::string_view text, std::uint64_t& out) noexcept {
    std::uint64_t scale = 1;
    if (!text.empty()) {
        switch (text.back()) {
            case 'k':
            case 'K':
                scale = 1024;
                break;
            case 'm':
            case 'M':
                scale = 1024ULL * 1024;
                break;
            case 'g':
            case 'G':
                scale = 1024ULL * 1024 * 1024;
                break;
            default:
                break;
        }
        if (scale != 1) text.remove_suffix(1);
    }
    std::uint64_t value = 0;
    if (!parse_u64(text, value)) return false;
    if (value > std::numeric_limits<std::uint64_t>::max() / scale) return false;
    out = value * scale;
    return true;
}

std::string_view trim(std::string_view text) noexcept {
    const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
    while (!text.empty() && space(text.front())) text.remove_prefix(1);
    while (!text.empty() && space(text.back())) text.remove_suffix(1);
    return text;
}

}  // namespace ota::fleet::detail
