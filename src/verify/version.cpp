// Version ordering (see include/ota/version.hpp for the rules) and the anti-downgrade check.
//
// Everything works on string_views and digit runs compared by length then bytes, so numbers of
// any length compare correctly without converting them, and nothing allocates.
#include "ota/version.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace ota {
namespace {

constexpr std::size_t kMaxVersionInDetail = 64;

bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

bool is_ident_char(char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

int sign_of(int v) noexcept {
    return (v > 0) - (v < 0);
}

/// Compares two runs of decimal digits as numbers (either may be empty, meaning 0).
int compare_digit_runs(std::string_view x, std::string_view y) noexcept {
    while (!x.empty() && x.front() == '0') x.remove_prefix(1);
    while (!y.empty() && y.front() == '0') y.remove_prefix(1);
    if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
    return sign_of(x.compare(y));
}

/// Rule 1: "v1.2" -> "1.2".
std::string_view strip_v(std::string_view s) noexcept {
    if (s.size() >= 2 && (s[0] == 'v' || s[0] == 'V') && is_digit(s[1])) s.remove_prefix(1);
    return s;
}

bool has_digit(std::string_view s) noexcept {
    for (const char c : s) {
        if (is_digit(c)) return true;
    }
    return false;
}

/// A dotted numeric version split into its core ("1.2.3") and pre-release ("rc.1", may be empty).
struct Dotted {
    std::string_view core;
    std::string_view pre;
    bool has_pre = false;
};

/// True when every dot-separated identifier of `s` is non-empty and made of `allowed` chars.
template <typename Pred>
bool dot_separated(std::string_view s, Pred allowed) noexcept {
    if (s.empty()) return false;
    bool at_start = true;
    for (const char c : s) {
        if (c == '.') {
            if (at_start) return false;
            at_start = true;
        } else if (allowed(c)) {
            at_start = false;
        } else {
            return false;
        }
    }
    return !at_start;
}

/// Rule 2's grammar: digits ('.' digits)* ['-' pre] ['+' build].
bool parse_dotted(std::string_view s, Dotted& out) noexcept {
    std::size_t core_end = 0;
    while (core_end < s.size() && s[core_end] != '-' && s[core_end] != '+') ++core_end;
    out.core = s.substr(0, core_end);
    if (!dot_separated(out.core, is_digit)) return false;
    std::string_view rest = s.substr(core_end);
    out.has_pre = false;
    out.pre = {};
    if (!rest.empty() && rest.front() == '-') {
        const std::size_t plus = rest.find('+');
        out.pre =
            rest.substr(1, plus == std::string_view::npos ? std::string_view::npos : plus - 1);
        if (!dot_separated(out.pre, is_ident_char)) return false;
        out.has_pre = true;
        rest = plus == std::string_view::npos ? std::string_view() : rest.substr(plus);
    }
    if (!rest.empty()) {  // build metadata: validated, then ignored
        if (rest.front() != '+') return false;
        if (!dot_separated(rest.substr(1), is_ident_char)) return false;
    }
    return true;
}

/// Takes the next dot-separated field off `s` (empty once `s` is exhausted).
std::string_view next_field(std::string_view& s) noexcept {
    const std::size_t dot = s.find('.');
    const std::string_view field = s.substr(0, dot);
    s = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
    return field;
}

bool all_digits(std::string_view s) noexcept {
    for (const char c : s) {
        if (!is_digit(c)) return false;
    }
    return !s.empty();
}

/// The next maximal run of digits or of non-digits taken off `s`.
std::string_view next_run(std::string_view& s) noexcept {
    std::size_t n = 1;
    const bool digits = is_digit(s[0]);
    while (n < s.size() && is_digit(s[n]) == digits) ++n;
    const std::string_view run = s.substr(0, n);
    s.remove_prefix(n);
    return run;
}

/// Alphanumeric pre-release identifiers: digit runs as numbers, other runs bytewise.
int compare_natural(std::string_view x, std::string_view y) noexcept {
    while (!x.empty() && !y.empty()) {
        const std::string_view rx = next_run(x);
        const std::string_view ry = next_run(y);
        const bool dx = is_digit(rx[0]);
        const bool dy = is_digit(ry[0]);
        int c = 0;
        if (dx && dy) {
            c = compare_digit_runs(rx, ry);
        } else if (dx != dy) {
            c = static_cast<unsigned char>(rx[0]) < static_cast<unsigned char>(ry[0]) ? -1 : 1;
        } else {
            c = sign_of(rx.compare(ry));
        }
        if (c != 0) return c;
    }
    if (x.empty() && y.empty()) return 0;
    return x.empty() ? -1 : 1;
}

int compare_pre_identifiers(std::string_view x, std::string_view y) noexcept {
    const bool nx = all_digits(x);
    const bool ny = all_digits(y);
    if (nx && ny) return compare_digit_runs(x, y);
    if (nx != ny) return nx ? -1 : 1;  // numeric identifiers sort before alphanumeric ones
    return compare_natural(x, y);
}

int compare_dotted(const Dotted& a, const Dotted& b) noexcept {
    std::string_view ca = a.core;
    std::string_view cb = b.core;
    while (!ca.empty() || !cb.empty()) {
        const int c = compare_digit_runs(next_field(ca), next_field(cb));
        if (c != 0) return c;
    }
    if (a.has_pre != b.has_pre) return a.has_pre ? -1 : 1;
    std::string_view pa = a.pre;
    std::string_view pb = b.pre;
    while (!pa.empty() && !pb.empty()) {
        const int c = compare_pre_identifiers(next_field(pa), next_field(pb));
        if (c != 0) return c;
    }
    if (pa.empty() && pb.empty()) return 0;
    return pa.empty() ? -1 : 1;
}

/// The next run of digits in `s` (empty when there is none), consuming `s` up to its end.
std::string_view next_digit_run(std::string_view& s) noexcept {
    std::size_t start = 0;
    while (start < s.size() && !is_digit(s[start])) ++start;
    std::size_t end = start;
    while (end < s.size() && is_digit(s[end])) ++end;
    const std::string_view run = s.substr(start, end - start);
    s.remove_prefix(end);
    return run;
}

int compare_free_form(std::string_view a, std::string_view b) noexcept {
    for (;;) {
        const std::string_view ra = next_digit_run(a);
        const std::string_view rb = next_digit_run(b);
        if (ra.empty() && rb.empty()) return 0;
        const int c = compare_digit_runs(ra, rb);
        if (c != 0) return c;
    }
}

std::string shorten(std::string_view v) {
    if (v.size() <= kMaxVersionInDetail) return std::string(v);
    std::string out(v.substr(0, kMaxVersionInDetail));
    out += "...";
    return out;
}

}  // namespace

int compare_versions(std::string_view a, std::string_view b) noexcept {
    a = strip_v(a);
    b = strip_v(b);
    Dotted da;
    Dotted db;
    if (parse_dotted(a, da) && parse_dotted(b, db)) return compare_dotted(da, db);
    const bool ha = has_digit(a);
    const bool hb = has_digit(b);
    if (ha && hb) return compare_free_form(a, b);
    if (ha != hb) return ha ? 1 : -1;
    return sign_of(a.compare(b));
}

const char* to_string(DowngradePolicy policy) noexcept {
    switch (policy) {
        case DowngradePolicy::allow:
            return "allow";
        case DowngradePolicy::refuse_older:
            return "refuse_older";
        case DowngradePolicy::refuse_older_or_equal:
            return "refuse_older_or_equal";
    }
    return "unknown";
}

Error check_upgrade_allowed(DowngradePolicy policy, std::string_view running,
                            std::string_view offered) {
    if (policy == DowngradePolicy::allow || running.empty()) return {};
    const int c = compare_versions(offered, running);
    if (policy == DowngradePolicy::refuse_older && c < 0) {
        return {Status::invalid_argument, "offered version " + shorten(offered) +
                                              " is older than the running " + shorten(running) +
                                              " (downgrades are refused)"};
    }
    if (policy == DowngradePolicy::refuse_older_or_equal && c <= 0) {
        return {Status::invalid_argument, "offered version " + shorten(offered) +
                                              " is not newer than the running " + shorten(running) +
                                              " (downgrades are refused)"};
    }
    return {};
}

}  // namespace ota
