// Strict decoding of the messages devices send to the cloud side (PROTOCOL.md sections 2 and 3):
// ota_console's device bridge and ota_fleet's cloud.
//
// Why strict and separate from its users: a device message is untrusted input that ends up in the
// console's store or a fleet run's records. Every check (topic levels, JSON shape, field types and
// ranges) lives in one pure function that unit tests feed with bad input directly; whatever it
// refuses never reaches the engine.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/device_key.hpp"
#include "ota/file_download.hpp"

namespace ota_tools {

/// Longest payload decoded (a version report is well under 1 KiB).
inline constexpr std::size_t kMaxDeviceMessageBytes = 64 * 1024;
/// Longest product key / device name accepted from a topic.
inline constexpr std::size_t kMaxTopicNameLength = 64;
/// Longest version and module (PROTOCOL.md: version 1..64 characters).
inline constexpr std::size_t kMaxVersionLength = 64;
/// A progress desc longer than this is cut (at a UTF-8 character boundary).
inline constexpr std::size_t kMaxDescLength = 512;

/// Which device topic a message came on.
enum class DeviceMessageKind { inform, progress, firmware_get, block_request };

/// "inform", "progress", "firmware_get" or "block_request".
[[nodiscard]] const char* to_string(DeviceMessageKind k) noexcept;

/// One decoded, validated device message.
struct DeviceMessage {
    DeviceMessageKind kind = DeviceMessageKind::inform;
    DeviceKey device;
    std::string module = kDefaultModule;  ///< params.module, default "default"
    std::string version;                  ///< inform: 1..64 characters
    int step = 0;                         ///< progress: -4..100
    std::string desc;                     ///< progress: may be empty
    std::string request_id;               ///< the message's "id" as text ("" when absent)
    ota::BlockRequest block;              ///< block_request: the decoded request (PROTOCOL.md 5b)
};

/// A decoded message, or why the message was refused.
struct DecodeResult {
    std::optional<DeviceMessage> message;
    std::string error;  ///< set when message is empty; names the field, never echoes the payload
};

/// Decodes a message from `topic` (one of /ota/device/inform/{pk}/{dn},
/// /ota/device/progress/{pk}/{dn}, /sys/{pk}/{dn}/thing/ota/firmware/get, exactly these levels)
/// with `payload` (a JSON object with a "params" object: inform needs a version string of 1..64
/// characters; progress a step as a string or number holding an integer in [-4, 100] and an
/// optional desc string; every kind an optional module string of 1..64 characters), or a block
/// request on /sys/{pk}/{dn}/thing/file/download (decoded by ota::decode_block_request).
[[nodiscard]] DecodeResult decode_device_message(std::string_view topic, std::string_view payload);

/// The topic of the get_reply to a firmware/get of `device`.
[[nodiscard]] std::string get_reply_topic(const DeviceKey& device);

/// The topic of the reply to a block request of `device`
/// (/sys/{pk}/{dn}/thing/file/download_reply).
[[nodiscard]] std::string block_reply_topic(const DeviceKey& device);

}  // namespace ota_tools
