// The download-protocol fields of an upgrade push (`dProtocol`, `streamId`, `streamFileId`,
// PROTOCOL.md 5b) and the helpers codec.cpp shares with them.
//
// Rules, checked against Link SDK 4's push parser and the platform's documentation:
// - `dProtocol` absent or "https" (any case): the image is fetched from `url`; stream ids, if
//   any, are ignored like other fields this job does not use.
// - "mqtt" (any case) with `streamId`: the image is fetched block by block over MQTT. SDK 4
//   refuses such a push without `streamFileId`, and a guessed file id would ask the cloud for
//   another file of the stream, so `streamFileId` is required too. A `url` next to them is not
//   used (nor checked): the job has exactly one source.
// - "mqtt" without `streamId` but with a `url`: fetched from the url over HTTPS, as this SDK did
//   before it knew MQTT downloads. Lenient on purpose: the push still names a usable source.
// - "mqtt" with neither: refused, naming data.streamId.
// - "mqtt" with `files`: refused. Multi-file MQTT jobs carry per-file stream ids this SDK does not
//   implement, and falling back to the files' URLs would hide that.
// - any other value: refused, naming data.dProtocol (SDK 4 silently uses HTTPS; a clear -1 text
//   tells the operator why the job fails instead of a misleading "url is missing").
#include "protocol/job_fields.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "common/ascii.hpp"

namespace ota::detail {

namespace {

/// Decimal strings of more digits than this cannot be a 64-bit count.
constexpr std::size_t kMaxDecimalDigits = 20;

/// The value of a string of decimal digits, nullopt for anything else or on overflow.
std::optional<std::uint64_t> parse_decimal(const std::string& s) {
    if (s.empty() || s.size() > kMaxDecimalDigits) return std::nullopt;
    std::uint64_t out = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (out > (std::numeric_limits<std::uint64_t>::max() - digit) / 10U) return std::nullopt;
        out = out * 10U + digit;
    }
    return out;
}

}  // namespace

DecodeFailure decode_failure(DecodeErrc code, std::string field, std::string_view what) {
    DecodeError e;
    e.code = code;
    e.message = field.empty() ? std::string("payload") : field;
    e.message += ' ';
    e.message += what;
    e.message += '.';
    e.field = std::move(field);
    return e;
}

const nlohmann::json* json_member(const nlohmann::json& obj, const char* key) {
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
}

std::optional<std::uint64_t> count_value(const nlohmann::json& v) {
    if (v.is_number_unsigned()) return v.get<std::uint64_t>();
    if (v.is_number_integer() && v.get<std::int64_t>() == 0) return 0;  // "-0"
    if (v.is_string()) return parse_decimal(v.get_ref<const std::string&>());
    return std::nullopt;
}

DecodeFailure read_count(const nlohmann::json* v, const std::string& field, std::uint64_t& out) {
    if (v == nullptr) return decode_failure(DecodeErrc::missing_field, field, "is missing");
    if (const auto n = count_value(*v)) {
        out = *n;
        return std::nullopt;
    }
    if (v->is_string()) {
        return decode_failure(DecodeErrc::bad_value, field,
                              "must be a non-negative integer (a string of at most 20 decimal "
                              "digits below 2^64)");
    }
    if (v->is_number()) {
        return decode_failure(DecodeErrc::bad_value, field,
                              "must be a non-negative integer below 2^64");
    }
    return decode_failure(DecodeErrc::wrong_type, field, "must be a number or a decimal string");
}

DecodeFailure read_download_protocol(const nlohmann::json& data, UpgradeJob& job) {
    job.protocol = DownloadProtocol::https;
    job.stream_id = 0;
    job.stream_file_id = 0;
    const nlohmann::json* dp = json_member(data, "dProtocol");
    if (dp == nullptr) return std::nullopt;
    if (!dp->is_string()) {
        return decode_failure(DecodeErrc::wrong_type, "data.dProtocol", "must be a string");
    }
    const auto& name = dp->get_ref<const std::string&>();
    if (iequals(name, "https")) return std::nullopt;
    if (!iequals(name, "mqtt")) {
        return decode_failure(DecodeErrc::bad_value, "data.dProtocol",
                              "must be https or mqtt (other download protocols are not supported)");
    }
    if (json_member(data, "files") != nullptr) {
        return decode_failure(DecodeErrc::bad_value, "data.dProtocol",
                              "mqtt is not supported for multi-file jobs (data.files)");
    }
    const nlohmann::json* stream_id = json_member(data, "streamId");
    if (stream_id == nullptr) {
        if (json_member(data, "url") != nullptr) return std::nullopt;  // HTTPS from the url
        return decode_failure(DecodeErrc::missing_field, "data.streamId",
                              "is missing (a dProtocol mqtt job needs it, or a url)");
    }
    std::uint64_t id = 0;
    std::uint64_t file_id = 0;
    if (auto f = read_count(stream_id, "data.streamId", id)) return f;
    if (auto f = read_count(json_member(data, "streamFileId"), "data.streamFileId", file_id)) {
        return f;
    }
    job.protocol = DownloadProtocol::mqtt;
    job.stream_id = id;
    job.stream_file_id = file_id;
    return std::nullopt;
}

}  // namespace ota::detail
