// Response head parsing (see http_head.hpp).
#include "fetch/http_head.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <system_error>

#include "common/ascii.hpp"

namespace ota::detail {
namespace {

// Retry-After is capped at a day: the client caps it much lower anyway.
constexpr std::uint64_t kMaxRetryAfterSeconds = 86400;

}  // namespace

std::string_view trim_header_text(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() &&
           (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
        s.remove_suffix(1);
    }
    return s;
}

std::string_view header_value(std::string_view raw_line, std::string_view name) noexcept {
    const std::string_view line = trim_header_text(raw_line);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return {};
    if (!iequals(trim_header_text(line.substr(0, colon)), name)) return {};
    return trim_header_text(line.substr(colon + 1));
}

void parse_header_line(std::string_view raw_line, ResponseHead& head) {
    const std::string_view line = trim_header_text(raw_line);
    if (line.size() >= 5 && line.compare(0, 5, "HTTP/") == 0) {
        head = ResponseHead{};
        const auto sp = line.find(' ');
        if (sp != std::string_view::npos) {
            const std::string_view code = line.substr(sp + 1, 3);
            int value = 0;
            const auto [p, ec] = std::from_chars(code.data(), code.data() + code.size(), value);
            if (ec == std::errc() && p == code.data() + code.size()) head.http_status = value;
        }
        return;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return;
    const std::string_view name = trim_header_text(line.substr(0, colon));
    const std::string_view value = trim_header_text(line.substr(colon + 1));
    if (iequals(name, "Content-Range")) {
        head.content_range.assign(value);
    } else if (iequals(name, "Retry-After")) {
        // Only the delta-seconds form; an HTTP-date is ignored (the client's own backoff applies).
        std::uint64_t v = 0;
        const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
        if (ec == std::errc() && p == value.data() + value.size() && !value.empty()) {
            head.retry_after = std::chrono::seconds(std::min(v, kMaxRetryAfterSeconds));
        } else if (ec == std::errc::result_out_of_range) {
            head.retry_after = std::chrono::seconds(kMaxRetryAfterSeconds);
        }
    } else if (iequals(name, "Content-Length")) {
        std::uint64_t v = 0;
        const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
        if (ec == std::errc() && p == value.data() + value.size()) {
            head.content_length = v;
        } else {
            head.content_length.reset();
        }
    }
}

}  // namespace ota::detail
