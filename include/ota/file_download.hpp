// The block protocol of MQTT downloads (`dProtocol: "mqtt"`, PROTOCOL.md section 5b): the device
// asks for a block of a stream on `thing/file/download`; the cloud answers on
// `thing/file/download_reply` with a binary payload
//
//   [2 bytes: header length L, big-endian][L bytes: JSON header][bSize bytes][CRC-16/ARC, LE]
//
// Both directions are here: the device's MqttByteSource encodes requests and decodes replies, the
// local cloud tool (ota_cloud) and the tests decode requests and encode replies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ota {

/// A reply header longer than this is refused unparsed (real headers are about 150 bytes).
inline constexpr std::size_t kMaxBlockReplyHeaderLength = 4096;
/// A request payload longer than this is refused unparsed (real ones are about 160 bytes).
inline constexpr std::size_t kMaxBlockRequestLength = 4096;
/// `fileToken` longer than this is refused (SDK 4 keeps at most 128 characters).
inline constexpr std::size_t kMaxFileTokenLength = 128;

/// The two topics of MQTT downloads for one device.
struct FileDownloadTopics {
    std::string request;  ///< /sys/{pk}/{dn}/thing/file/download
    std::string reply;    ///< /sys/{pk}/{dn}/thing/file/download_reply
};

/// Builds the topics. Does not validate its inputs (auth does).
[[nodiscard]] FileDownloadTopics make_file_download_topics(std::string_view product_key,
                                                           std::string_view device_name);

/// CRC-16/IBM, also called CRC-16/ARC: reflected polynomial 0xA001, initial value 0, no final
/// XOR. Pass the previous result as `crc` to continue over several pieces. crc16_arc("123456789")
/// is 0xBB3D.
[[nodiscard]] std::uint16_t crc16_arc(const std::uint8_t* data, std::size_t len,
                                      std::uint16_t crc = 0) noexcept;

/// One block request (device -> cloud).
struct BlockRequest {
    std::string id;          ///< the message id, as text
    std::string file_token;  ///< chosen by the device, echoed in the reply; may be empty
    std::uint64_t stream_id = 0;
    std::uint64_t file_id = 0;  ///< the job's `streamFileId`
    std::uint64_t offset = 0;
    std::uint64_t size = 0;  ///< bytes asked for
};

/// `{"id":"<id>","version":"1.0","params":{"fileToken":"<t>","fileInfo":{"streamId":<s>,
/// "fileId":<f>},"fileBlock":{"size":<n>,"offset":<o>}}}`; strings escaped.
[[nodiscard]] std::string encode_block_request(const BlockRequest& request);

/// Decodes a block request (the cloud's side). Numbers may come as decimal strings; an absent
/// fileToken is empty. nullopt with `why` (one sentence naming the field) when malformed.
[[nodiscard]] std::optional<BlockRequest> decode_block_request(std::string_view payload,
                                                               std::string* why = nullptr);

/// The JSON header of a block reply.
struct BlockReplyHeader {
    int code = 200;                 ///< 200 = the block follows
    std::string id;                 ///< the reply's `id` as text (the request's id, when echoed)
    std::string message;            ///< informational
    std::string file_token;         ///< `data.fileToken`, empty when absent
    std::uint64_t file_length = 0;  ///< `data.fileLength`: the whole file's size
    std::uint64_t offset = 0;       ///< `data.bOffset`
    std::uint64_t size = 0;         ///< `data.bSize`
};

/// Builds a reply payload: the header (code, id, message and, with code 200, data), `block`
/// (its size is written as bSize) and the CRC-16/ARC of `block`, low byte first.
[[nodiscard]] std::string encode_block_reply(const BlockReplyHeader& header,
                                             std::string_view block);

/// How a reply payload was judged.
enum class BlockReplyErrc {
    ok,               ///< `block` holds bSize bytes whose CRC matched
    malformed,        ///< too short, header length beyond the payload, header not a JSON object
                      ///< or a field of the wrong type: nothing in `header` can be trusted
    not_ok,           ///< `code` other than 200; `header` holds what could be read
    length_mismatch,  ///< payload length is not 2 + header + bSize + 2
    bad_crc,          ///< the CRC does not match the block
};

/// "ok", "malformed", "code other than 200", "length mismatch", "bad CRC".
[[nodiscard]] const char* to_string(BlockReplyErrc errc) noexcept;

/// A decoded reply. `block` points into the payload given to decode_block_reply().
struct BlockReply {
    BlockReplyErrc errc = BlockReplyErrc::malformed;
    /// Set for every errc except malformed: for not_ok the fields that were present, else the
    /// whole header (with bOffset and bSize) so that the caller knows which block came wrong.
    std::optional<BlockReplyHeader> header;
    std::string_view block;  ///< the bSize bytes (ok only)
    std::string why;         ///< one sentence for logs (no payload bytes), empty when ok
};

/// Decodes a reply (the device's side). Never throws; lenient where SDK 4 is (code, numbers and
/// id as numbers or decimal strings, unknown fields ignored), strict on framing: the length rule
/// and the CRC are always checked.
[[nodiscard]] BlockReply decode_block_reply(std::string_view payload);

}  // namespace ota
