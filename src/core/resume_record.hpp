// The crash-resume record (ResumePolicy in ota/options.hpp): what the client stores through
// FirmwareSink::save_record. Internal: not part of the installed API. Header-only so that unit
// tests can check the format directly.
//
// Format (text, so that a record found on a device can be read by a person):
//   OTA-RESUME 1\n
//   version:<length>:<bytes>\n
//   size:<decimal>\n
//   digest:<md5|sha256>:<lower-case hex>\n
//   url:<length>:<bytes>\n          the URL without user info, query string and fragment
//   module:<length>:<bytes>\n
//   bytes:<decimal>\n               bytes of the image that were flushed before saving
//   check:<16 hex digits>\n         FNV-1a 64 of everything before this line
// Strings are length-prefixed, so no value can forge a line. The part up to `bytes:` is the job's
// identity; it is built once per job, and a record matches a job only when that part is
// byte-for-byte the same. The check line catches torn or corrupted records.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "common/ascii.hpp"
#include "ota/digest.hpp"
#include "ota/protocol.hpp"

namespace ota::detail {

inline constexpr std::string_view kResumeRecordMagic = "OTA-RESUME 1\n";
/// Room that finish_resume_record() needs after the identity.
inline constexpr std::size_t kResumeRecordTailMax = 64;

/// The URL part of the resume identity of every MQTT job (PROTOCOL.md 5b): a job pushed again
/// may get a new stream id, so version, size, digest and module alone identify the image.
inline constexpr std::string_view kMqttIdentityUrl = "mqtt";

/// `url` without user info, query string and fragment: stable across re-signed URLs of the same
/// object, and free of secrets.
[[nodiscard]] inline std::string url_identity(std::string_view url) {
    const auto cut = url.find_first_of("?#");
    if (cut != std::string_view::npos) url = url.substr(0, cut);
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) return std::string(url);
    const std::size_t authority = scheme_end + 3;
    std::size_t authority_end = url.find('/', authority);
    if (authority_end == std::string_view::npos) authority_end = url.size();
    const auto at = url.substr(authority, authority_end - authority).rfind('@');
    if (at == std::string_view::npos) return std::string(url);
    std::string out(url.substr(0, authority));
    out.append(url.substr(authority + at + 1));
    return out;
}

/// FNV-1a, 64 bits.
[[nodiscard]] inline std::uint64_t fnv1a64(std::string_view data) noexcept {
    std::uint64_t h = 0xCBF29CE484222325ULL;
    for (const char c : data) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001B3ULL;
    }
    return h;
}

/// The identity part of the record (everything before `bytes:`) for an image of `size` bytes
/// with `digest` at `url`, of job version `version` for `module`.
[[nodiscard]] inline std::string resume_identity(std::string_view version, std::uint64_t size,
                                                 const ExpectedDigest& digest, std::string_view url,
                                                 std::string_view module) {
    const auto field = [](std::string& out, std::string_view name, std::string_view value) {
        out.append(name);
        out += ':';
        out += std::to_string(value.size());
        out += ':';
        out.append(value);
        out += '\n';
    };
    std::string hex = digest.hex;
    for (char& c : hex) c = ascii_lower(c);
    std::string out(kResumeRecordMagic);
    field(out, "version", version);
    out += "size:" + std::to_string(size) + "\n";
    out += std::string("digest:") + to_string(digest.algorithm) + ":" + hex + "\n";
    field(out, "url", url_identity(url));
    field(out, "module", module);
    return out;
}

/// The identity part of the record for a single-image `job`. An MQTT job's URL part is the fixed
/// "mqtt" (its stream id may change when the job is pushed again).
[[nodiscard]] inline std::string resume_identity(const UpgradeJob& job) {
    const std::string_view url =
        job.protocol == DownloadProtocol::mqtt ? kMqttIdentityUrl : job.url;
    return resume_identity(job.version, job.size, job.digest, url, job.module);
}

/// Turns `record` (whose first `identity_len` characters are the identity) into a complete record
/// for `bytes` flushed bytes. Does not allocate when `record` has kResumeRecordTailMax characters
/// of spare capacity beyond the identity.
inline void finish_resume_record(std::string& record, std::size_t identity_len,
                                 std::uint64_t bytes) {
    record.resize(identity_len);
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, bytes);
    record.append("bytes:");
    record.append(digits, static_cast<std::size_t>(end - digits));
    record.append("\n");
    const std::uint64_t check = fnv1a64(record);
    char hex[16];
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 16; ++i) hex[i] = kHex[(check >> (60 - 4 * i)) & 0xFU];
    record.append("check:");
    record.append(hex, sizeof hex);
    record.append("\n");
    (void)ec;
}

/// The flushed byte count of `record` when it is a well-formed, intact record whose identity is
/// exactly `identity`; nullopt otherwise (another job, torn, corrupted, or not a record).
[[nodiscard]] inline std::optional<std::uint64_t> parse_resume_record(
    std::string_view record, std::string_view identity) noexcept {
    if (record.size() <= identity.size() || record.substr(0, identity.size()) != identity) {
        return std::nullopt;
    }
    std::string_view rest = record.substr(identity.size());
    constexpr std::string_view kBytes = "bytes:";
    if (rest.substr(0, kBytes.size()) != kBytes) return std::nullopt;
    rest.remove_prefix(kBytes.size());
    const auto nl = rest.find('\n');
    if (nl == std::string_view::npos || nl == 0 || nl > 20) return std::nullopt;
    std::uint64_t bytes = 0;
    const auto [p, ec] = std::from_chars(rest.data(), rest.data() + nl, bytes);
    if (ec != std::errc() || p != rest.data() + nl) return std::nullopt;
    rest.remove_prefix(nl + 1);
    const std::size_t checked_len = record.size() - rest.size();
    constexpr std::string_view kCheck = "check:";
    if (rest.size() != kCheck.size() + 17 || rest.substr(0, kCheck.size()) != kCheck ||
        rest.back() != '\n') {
        return std::nullopt;
    }
    std::uint64_t check = 0;
    const char* hex = rest.data() + kCheck.size();
    const auto [q, ec2] = std::from_chars(hex, hex + 16, check, 16);
    if (ec2 != std::errc() || q != hex + 16) return std::nullopt;
    if (check != fnv1a64(record.substr(0, checked_len))) return std::nullopt;
    return bytes;
}

}  // namespace ota::detail
