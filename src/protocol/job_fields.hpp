// Field readers shared by the decoders of upgrade pushes (codec.cpp) and the rules of the MQTT
// download fields (job_fields.cpp). Internal to src/protocol.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "ota/protocol.hpp"

namespace ota::detail {

/// Set when a field refuses the job; the error names the field and never echoes its value.
using DecodeFailure = std::optional<DecodeError>;

/// "<field> <what>." with `code` and `field` (the whole payload when `field` is empty).
[[nodiscard]] DecodeFailure decode_failure(DecodeErrc code, std::string field,
                                           std::string_view what);

/// The member `key` of `obj`, or nullptr when it is absent. JSON null counts as absent.
[[nodiscard]] const nlohmann::json* json_member(const nlohmann::json& obj, const char* key);

/// The value of a non-negative integer given as a JSON number or as a string of decimal digits
/// (read_count's rules), nullopt for anything else. Shared with the MQTT block codec.
[[nodiscard]] std::optional<std::uint64_t> count_value(const nlohmann::json& v);

/// A non-negative integer given as a JSON number or, as Link SDK 4 tolerates, as a string of
/// decimal digits. The string form is strict: 1..20 digits, no sign, blank, exponent or
/// fraction, and no value above 2^64-1. `-0` as a number is 0.
[[nodiscard]] DecodeFailure read_count(const nlohmann::json* v, const std::string& field,
                                       std::uint64_t& out);

/// Reads `dProtocol`, `streamId` and `streamFileId` of `data` into `job.protocol`,
/// `job.stream_id` and `job.stream_file_id` (PROTOCOL.md 5b). The rules are in job_fields.cpp.
[[nodiscard]] DecodeFailure read_download_protocol(const nlohmann::json& data, UpgradeJob& job);

}  // namespace ota::detail
