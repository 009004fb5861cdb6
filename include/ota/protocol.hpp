// Topics and JSON payloads of the platform's OTA protocol (PROTOCOL.md sections 2-4).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ota/digest.hpp"
#include "ota/status.hpp"

namespace ota {

/// Limits applied while decoding (PROTOCOL.md section 3).
inline constexpr std::size_t kMaxVersionLength = 64;
inline constexpr std::size_t kMaxModuleLength = 64;
inline constexpr std::size_t kMaxUrlLength = 8192;       ///< at least 4 KiB must be accepted
inline constexpr std::size_t kMaxPayloadLength = 65536;  ///< larger pushes are rejected unparsed
inline constexpr std::size_t kMaxFilesPerJob = 64;

/// Progress steps (PROTOCOL.md section 4).
inline constexpr int kStepBurnFailed = -4;
inline constexpr int kStepCheckFailed = -3;
inline constexpr int kStepFetchFailed = -2;
inline constexpr int kStepGeneralFailed = -1;
inline constexpr int kStepMin = -4;
inline constexpr int kStepMax = 100;

/// The device's MQTT topics for one product key / device name.
struct Topics {
    std::string inform;        ///< /ota/device/inform/{pk}/{dn}
    std::string progress;      ///< /ota/device/progress/{pk}/{dn}
    std::string upgrade;       ///< /ota/device/upgrade/{pk}/{dn}
    std::string firmware_get;  ///< /sys/{pk}/{dn}/thing/ota/firmware/get
    std::string get_reply;     ///< /sys/{pk}/{dn}/thing/ota/firmware/get_reply
};

/// Builds the topic set. Does not validate its inputs (auth does).
[[nodiscard]] Topics make_topics(std::string_view product_key, std::string_view device_name);

/// The digest a job announces.
struct ExpectedDigest {
    DigestAlgorithm algorithm = DigestAlgorithm::md5;
    std::string hex;  ///< as received (case preserved); compare with hex_equal
};

/// One file of an SDK 4 multi-file job (`files[]`).
struct JobFile {
    std::string name;
    std::uint64_t size = 0;
    std::string url;
    ExpectedDigest digest;  ///< algorithm from the job's signMethod
};

/// How a job's image is fetched (`dProtocol`).
enum class DownloadProtocol {
    https,  ///< GET of `url` (the default when `dProtocol` is absent)
    mqtt,   ///< block requests over the device's MQTT connection (`streamId`, `streamFileId`)
};

/// "https" or "mqtt".
[[nodiscard]] const char* to_string(DownloadProtocol protocol) noexcept;

/// A decoded upgrade job (an upgrade push or a non-empty firmware/get reply).
struct UpgradeJob {
    std::string version;
    std::uint64_t size = 0;      ///< bytes; the sum of files[].size for multi-file jobs
    std::string url;             ///< empty for multi-file jobs and MQTT jobs
    ExpectedDigest digest;       ///< of the single image; unused for multi-file jobs
    std::string module;          ///< empty when the job has none
    std::string ext_data_json;   ///< `extData` as compact JSON text (any JSON value; a
                                 ///< non-object is passed through too), empty when absent
    bool is_diff = false;        ///< `isDiff` == 1
    std::vector<JobFile> files;  ///< SDK 4 multi-file list; empty for single-image jobs
    std::string message_id;      ///< the push's `id` as text (informational)
    DownloadProtocol protocol = DownloadProtocol::https;  ///< `dProtocol`
    std::uint64_t stream_id = 0;       ///< `streamId` of an MQTT job (PROTOCOL.md 5b), else 0
    std::uint64_t stream_file_id = 0;  ///< `streamFileId` of an MQTT job, else 0
};

/// Why a payload was rejected.
enum class DecodeErrc {
    too_large,      ///< payload above kMaxPayloadLength
    not_json,       ///< not parseable JSON
    wrong_type,     ///< a field has the wrong JSON type
    missing_field,  ///< a required field is absent
    bad_value,      ///< a field has the right type but an invalid value
    too_long,       ///< a string field exceeds its limit
};

/// A typed decode error naming the offending field (e.g. "data.size", "data.files[2].fileUrl").
struct DecodeError {
    DecodeErrc code = DecodeErrc::bad_value;
    std::string field;    ///< JSON path of the field; empty for whole-payload errors
    std::string message;  ///< one sentence, suitable as a progress desc; no secrets
};

/// Result of decoding a push or a get_reply: exactly one of `job`, `error` is set, or neither
/// (a get_reply meaning "no pending job").
struct DecodeResult {
    std::optional<UpgradeJob> job;
    std::optional<DecodeError> error;
};

/// Decodes an upgrade push (`/ota/device/upgrade/...`). An empty or absent `data` is an error.
/// `dProtocol` "mqtt" (any case) with `streamId` and `streamFileId` gives an MQTT job without a
/// url; "mqtt" without `streamId` but with a `url` stays an HTTPS job; any other dProtocol, and
/// "mqtt" on a multi-file job, is refused.
[[nodiscard]] DecodeResult decode_upgrade_push(std::string_view payload);

/// Decodes a `firmware/get_reply`. An empty or absent `data` means no pending job.
[[nodiscard]] DecodeResult decode_get_reply(std::string_view payload);

/// `{"id":"<id>","params":{"version":"<v>"[,"module":"<m>"]}}`
[[nodiscard]] std::string encode_inform(std::uint64_t id, std::string_view version,
                                        std::string_view module = {});

/// `{"id":"<id>","params":{"step":"<step>","desc":"<desc>"[,"module":"<m>"]}}`; strings escaped.
[[nodiscard]] std::string encode_progress(std::uint64_t id, int step, std::string_view desc,
                                          std::string_view module = {});

/// `{"id":"<id>","params":{}}` or with `"module"` inside params.
[[nodiscard]] std::string encode_firmware_get(std::uint64_t id, std::string_view module = {});

/// Builds an upgrade push (`code` "1000", `message` "success") for `job`; used by the local
/// cloud tool and tests. Single-image jobs carry `md5` (when MD5) and `sign`+`signMethod`; MQTT
/// jobs carry `dProtocol` "mqtt", `streamId` and `streamFileId` (and `url` only when set).
[[nodiscard]] std::string encode_upgrade_push(const UpgradeJob& job, std::uint64_t id);

}  // namespace ota
