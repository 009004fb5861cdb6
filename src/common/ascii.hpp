// ASCII-only character and case rules shared by every part that checks or compares protocol text
// (header names, URL schemes, digest names, topic levels). Locale-independent on purpose: the
// protocol is ASCII, and std::tolower would change behaviour with the process locale.
#pragma once

#include <cstddef>
#include <string_view>

namespace ota::detail {

/// 'A'..'Z' -> 'a'..'z'; every other byte unchanged.
[[nodiscard]] constexpr char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

/// A C0 control character or DEL.
[[nodiscard]] constexpr bool is_control(unsigned char c) noexcept {
    return c < 0x20 || c == 0x7F;
}

/// True when `s` holds a control character (is_control).
[[nodiscard]] constexpr bool has_control_char(std::string_view s) noexcept {
    for (const char c : s) {
        if (is_control(static_cast<unsigned char>(c))) return true;
    }
    return false;
}

/// `s` starts with `prefix`, ignoring ASCII case on both sides.
[[nodiscard]] constexpr bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (ascii_lower(s[i]) != ascii_lower(prefix[i])) return false;
    }
    return true;
}

/// `a` equals `b`, ignoring ASCII case.
[[nodiscard]] constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && istarts_with(a, b);
}

}  // namespace ota::detail
