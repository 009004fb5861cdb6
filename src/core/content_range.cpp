#include "core/content_range.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

#include "common/ascii.hpp"

namespace ota::detail {
namespace {

constexpr std::size_t kMaxDigits = 20;  // UINT64_MAX has 20 decimal digits

constexpr bool is_ows(char c) noexcept {
    return c == ' ' || c == '\t';
}
constexpr bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

/// A cursor over the header value; every access is bounds-checked.
class Cursor {
  public:
    explicit Cursor(std::string_view s) noexcept : s_(s) {}

    [[nodiscard]] bool done() const noexcept { return pos_ >= s_.size(); }
    [[nodiscard]] char peek() const noexcept { return done() ? '\0' : s_[pos_]; }

    bool consume(char c) noexcept {
        if (done() || s_[pos_] != c) return false;
        ++pos_;
        return true;
    }

    /// Skips SP/HTAB; returns how many were skipped.
    std::size_t skip_ows() noexcept {
        std::size_t n = 0;
        while (!done() && is_ows(s_[pos_])) {
            ++pos_;
            ++n;
        }
        return n;
    }

    /// Consumes `word` compared case-insensitively.
    bool consume_word_nocase(std::string_view word) noexcept {
        if (s_.size() - pos_ < word.size()) return false;
        for (std::size_t i = 0; i < word.size(); ++i) {
            if (ascii_lower(s_[pos_ + i]) != word[i]) return false;
        }
        pos_ += word.size();
        return true;
    }

    /// Consumes 1..20 decimal digits that fit in 64 bits.
    std::optional<std::uint64_t> number() noexcept {
        constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
        std::uint64_t value = 0;
        std::size_t digits = 0;
        while (!done() && is_digit(s_[pos_])) {
            if (++digits > kMaxDigits) return std::nullopt;
            const auto d = static_cast<std::uint64_t>(s_[pos_] - '0');
            if (value > (kMax - d) / 10) return std::nullopt;
            value = value * 10 + d;
            ++pos_;
        }
        if (digits == 0) return std::nullopt;
        return value;
    }

  private:
    std::string_view s_;
    std::size_t pos_ = 0;
};

}  // namespace

std::optional<ContentRange> parse_content_range(std::string_view value) noexcept {
    Cursor cur(value);
    cur.skip_ows();
    if (!cur.consume_word_nocase("bytes")) return std::nullopt;
    if (cur.skip_ows() == 0) return std::nullopt;

    const auto first = cur.number();
    if (!first || !cur.consume('-')) return std::nullopt;
    const auto last = cur.number();
    if (!last || !cur.consume('/')) return std::nullopt;

    ContentRange range;
    range.first = *first;
    range.last = *last;
    if (!cur.consume('*')) {
        const auto total = cur.number();
        if (!total) return std::nullopt;
        range.total = *total;
    }
    cur.skip_ows();
    if (!cur.done()) return std::nullopt;

    if (range.first > range.last) return std::nullopt;
    if (range.total && range.last >= *range.total) return std::nullopt;
    return range;
}

}  // namespace ota::detail
