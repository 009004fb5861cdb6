// libFuzzer target: the Content-Range parser (src/core/content_range.hpp).
//
// Every input is parsed twice: by the library and by an independent reference written from the
// header's contract (trim, "bytes" in any case, whitespace, then first-last/total or first-last/*
// with 1..20 digits that fit 64 bits). The verdicts and values must agree, an accepted range must
// satisfy first <= last < total, and its canonical spelling must parse back to the same range.
// ASan catches any read outside the input (libFuzzer hands over an exactly sized heap copy).
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "core/content_range.hpp"

namespace {

using ota::detail::ContentRange;

bool is_ows(char c) {
    return c == ' ' || c == '\t';
}

std::optional<std::uint64_t> reference_number(std::string_view s) {
    if (s.empty() || s.size() > 20) return std::nullopt;
    for (const char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
    }
    std::uint64_t v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
    return v;
}

std::optional<ContentRange> reference_parse(std::string_view s) {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    if (s.size() < 5) return std::nullopt;
    for (std::size_t i = 0; i < 5; ++i) {
        const char c = s[i] >= 'A' && s[i] <= 'Z' ? static_cast<char>(s[i] - 'A' + 'a') : s[i];
        if (c != "bytes"[i]) return std::nullopt;
    }
    s.remove_prefix(5);
    if (s.empty() || !is_ows(s.front())) return std::nullopt;
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);

    const auto dash = s.find('-');
    const auto slash = s.find('/');
    if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash) {
        return std::nullopt;
    }
    const auto first = reference_number(s.substr(0, dash));
    const auto last = reference_number(s.substr(dash + 1, slash - dash - 1));
    if (!first || !last) return std::nullopt;
    ContentRange r;
    r.first = *first;
    r.last = *last;
    const std::string_view total = s.substr(slash + 1);
    if (total != "*") {
        const auto t = reference_number(total);
        if (!t) return std::nullopt;
        r.total = *t;
    }
    if (r.first > r.last) return std::nullopt;
    if (r.total && r.last >= *r.total) return std::nullopt;
    return r;
}

bool same(const std::optional<ContentRange>& a, const std::optional<ContentRange>& b) {
    if (a.has_value() != b.has_value()) return false;
    if (!a) return true;
    return a->first == b->first && a->last == b->last && a->total == b->total;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view value(reinterpret_cast<const char*>(data), size);
    const std::optional<ContentRange> got = ota::detail::parse_content_range(value);

    if (!same(got, reference_parse(value))) std::abort();
    if (!got) return 0;

    if (got->first > got->last) std::abort();
    if (got->total && got->last >= *got->total) std::abort();

    std::string canonical = "bytes " + std::to_string(got->first) + "-" +
                            std::to_string(got->last) + "/" +
                            (got->total ? std::to_string(*got->total) : std::string("*"));
    if (!same(ota::detail::parse_content_range(canonical), got)) std::abort();
    return 0;
}
