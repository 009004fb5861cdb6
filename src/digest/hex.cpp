// Digest metadata and hex helpers (no Mbed TLS dependency).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/ascii.hpp"
#include "ota/digest.hpp"

namespace ota {
namespace {

using detail::ascii_lower;

constexpr char kHexDigits[] = "0123456789abcdef";

constexpr bool is_hex_char(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

const char* to_string(DigestAlgorithm alg) noexcept {
    switch (alg) {
        case DigestAlgorithm::md5:
            return "md5";
        case DigestAlgorithm::sha256:
            return "sha256";
    }
    return "unknown";
}

std::size_t digest_size(DigestAlgorithm alg) noexcept {
    return alg == DigestAlgorithm::sha256 ? 32U : 16U;
}

std::string to_hex(const std::uint8_t* data, std::size_t len) {
    std::string out;
    out.reserve(len * 2);
    for (std::size_t i = 0; i < len; ++i) {
        out.push_back(kHexDigits[data[i] >> 4]);
        out.push_back(kHexDigits[data[i] & 0x0F]);
    }
    return out;
}

bool hex_equal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (!is_hex_char(a[i]) || !is_hex_char(b[i])) return false;
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    }
    return true;
}

bool is_hex_digest(std::string_view s, DigestAlgorithm alg) noexcept {
    if (s.size() != digest_size(alg) * 2) return false;
    for (char c : s) {
        if (!is_hex_char(c)) return false;
    }
    return true;
}

}  // namespace ota
