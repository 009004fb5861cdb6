// The block protocol of MQTT downloads (PROTOCOL.md section 5b). Replies come from the network:
// the framing is checked before the header is parsed, the header's depth and length are bounded,
// and no exception leaves this file.
#include "ota/file_download.hpp"

#include <cstdint>
#include <limits>
#include <new>
#include <nlohmann/json.hpp>
#include <string>

#include "ota/protocol.hpp"
#include "protocol/job_fields.hpp"

namespace ota {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

/// Bytes of the header-length prefix and of the CRC trailer.
constexpr std::size_t kPrefixBytes = 2;
constexpr std::size_t kCrcBytes = 2;
/// `id` as text: a string as is, a number in decimal; anything else is empty.
std::string id_text(const Json* v) {
    if (v == nullptr) return {};
    if (v->is_string()) return v->get<std::string>();
    if (v->is_number_unsigned()) return std::to_string(v->get<std::uint64_t>());
    if (v->is_number_integer()) return std::to_string(v->get<std::int64_t>());
    return {};
}

/// Reads `obj.key` as a lenient count into `out`; false (with `why`) when absent or malformed.
bool count_field(const Json& obj, const char* key, const char* field, std::uint64_t& out,
                 std::string& why) {
    const Json* v = detail::json_member(obj, key);
    if (v == nullptr) {
        why = std::string(field) + " is missing.";
        return false;
    }
    const auto n = detail::count_value(*v);
    if (!n) {
        why = std::string(field) + " is not a non-negative integer.";
        return false;
    }
    out = *n;
    return true;
}

bool token_field(const Json& obj, std::string& out, const char* field, std::string& why) {
    const Json* v = detail::json_member(obj, "fileToken");
    if (v == nullptr) return true;
    if (!v->is_string()) {
        why = std::string(field) + " is not a string.";
        return false;
    }
    if (v->get_ref<const std::string&>().size() > kMaxFileTokenLength) {
        why = std::string(field) + " is too long.";
        return false;
    }
    out = v->get<std::string>();
    return true;
}

BlockReply malformed(std::string why) {
    BlockReply r;
    r.errc = BlockReplyErrc::malformed;
    r.why = std::move(why);
    return r;
}

/// Parses the JSON header of a reply into `r`; false when it is malformed (r says why).
bool parse_reply_header(std::string_view text, BlockReply& r) {
    const Json j = Json::parse(text.begin(), text.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        r = malformed("block reply header is not a JSON object.");
        return false;
    }
    BlockReplyHeader h;
    const Json* code = detail::json_member(j, "code");
    const auto code_value = code != nullptr ? detail::count_value(*code) : std::nullopt;
    if (!code_value || *code_value > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
        r = malformed("block reply code is missing or not an integer.");
        return false;
    }
    h.code = static_cast<int>(*code_value);
    h.id = id_text(detail::json_member(j, "id"));
    if (const Json* m = detail::json_member(j, "message"); m != nullptr && m->is_string()) {
        h.message = m->get<std::string>().substr(0, 128);
    }
    const Json* data = detail::json_member(j, "data");
    std::string why;
    if (h.code != 200) {
        // Best effort: an error reply may still say which block it refuses.
        if (data != nullptr && data->is_object()) {
            std::uint64_t n = 0;
            if (count_field(*data, "bOffset", "", n, why)) h.offset = n;
            if (count_field(*data, "fileLength", "", n, why)) h.file_length = n;
            (void)token_field(*data, h.file_token, "", why);
        }
        r.errc = BlockReplyErrc::not_ok;
        r.why = "block reply code " + std::to_string(h.code) + ".";
        r.header = std::move(h);
        return false;
    }
    if (data == nullptr || !data->is_object()) {
        r = malformed("block reply data is missing or not an object.");
        return false;
    }
    if (!count_field(*data, "bSize", "block reply data.bSize", h.size, why) ||
        !count_field(*data, "bOffset", "block reply data.bOffset", h.offset, why) ||
        !token_field(*data, h.file_token, "block reply data.fileToken", why)) {
        r = malformed(why);
        return false;
    }
    if (detail::json_member(*data, "fileLength") != nullptr &&
        !count_field(*data, "fileLength", "block reply data.fileLength", h.file_length, why)) {
        r = malformed(why);
        return false;
    }
    r.header = std::move(h);
    return true;
}

}  // namespace

const char* to_string(DownloadProtocol protocol) noexcept {
    return protocol == DownloadProtocol::mqtt ? "mqtt" : "https";
}

const char* to_string(BlockReplyErrc errc) noexcept {
    switch (errc) {
        case BlockReplyErrc::ok:
            return "ok";
        case BlockReplyErrc::malformed:
            return "malformed";
        case BlockReplyErrc::not_ok:
            return "code other than 200";
        case BlockReplyErrc::length_mismatch:
            return "length mismatch";
        case BlockReplyErrc::bad_crc:
            return "bad CRC";
    }
    return "unknown";
}

FileDownloadTopics make_file_download_topics(std::string_view product_key,
                                             std::string_view device_name) {
    std::string base = "/sys/";
    base.append(product_key).append("/").append(device_name).append("/thing/file/download");
    return FileDownloadTopics{base, base + "_reply"};
}

std::uint16_t crc16_arc(const std::uint8_t* data, std::size_t len, std::uint16_t crc) noexcept {
    for (std::size_t i = 0; i < len; ++i) {
        crc = static_cast<std::uint16_t>(crc ^ data[i]);
        for (int bit = 0; bit < 8; ++bit) {
            crc = (crc & 1U) != 0 ? static_cast<std::uint16_t>((crc >> 1U) ^ 0xA001U)
                                  : static_cast<std::uint16_t>(crc >> 1U);
        }
    }
    return crc;
}

std::string encode_block_request(const BlockRequest& request) {
    OrderedJson params = OrderedJson::object();
    params["fileToken"] = request.file_token;
    params["fileInfo"] = {{"streamId", request.stream_id}, {"fileId", request.file_id}};
    params["fileBlock"] = {{"size", request.size}, {"offset", request.offset}};
    OrderedJson j = OrderedJson::object();
    j["id"] = request.id;
    j["version"] = "1.0";
    j["params"] = std::move(params);
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<BlockRequest> decode_block_request(std::string_view payload, std::string* why) {
    std::string reason;
    auto refuse = [&](std::string text) -> std::optional<BlockRequest> {
        if (why != nullptr) *why = std::move(text);
        return std::nullopt;
    };
    if (payload.size() > kMaxBlockRequestLength) return refuse("block request is too large.");
    try {
        const Json j = Json::parse(payload.begin(), payload.end(), nullptr, false);
        if (j.is_discarded() || !j.is_object())
            return refuse("block request is not a JSON object.");
        BlockRequest out;
        out.id = id_text(detail::json_member(j, "id"));
        const Json* params = detail::json_member(j, "params");
        if (params == nullptr || !params->is_object()) {
            return refuse("block request params is missing or not an object.");
        }
        const Json* info = detail::json_member(*params, "fileInfo");
        const Json* block = detail::json_member(*params, "fileBlock");
        if (info == nullptr || !info->is_object()) {
            return refuse("block request params.fileInfo is missing or not an object.");
        }
        if (block == nullptr || !block->is_object()) {
            return refuse("block request params.fileBlock is missing or not an object.");
        }
        if (!token_field(*params, out.file_token, "block request params.fileToken", reason) ||
            !count_field(*info, "streamId", "block request fileInfo.streamId", out.stream_id,
                         reason) ||
            !count_field(*info, "fileId", "block request fileInfo.fileId", out.file_id, reason) ||
            !count_field(*block, "size", "block request fileBlock.size", out.size, reason) ||
            !count_field(*block, "offset", "block request fileBlock.offset", out.offset, reason)) {
            return refuse(reason);
        }
        return out;
    } catch (const std::bad_alloc&) {
        return refuse("block request could not be decoded: out of memory.");
    } catch (const std::exception&) {
        return refuse("block request could not be decoded.");
    }
}

std::string encode_block_reply(const BlockReplyHeader& header, std::string_view block) {
    OrderedJson j = OrderedJson::object();
    j["code"] = header.code;
    if (header.code == 200) {
        j["data"] = {{"fileToken", header.file_token},
                     {"fileLength", header.file_length},
                     {"bSize", block.size()},
                     {"bOffset", header.offset}};
    }
    j["id"] = header.id;
    j["message"] = header.message.empty() ? std::string("success") : header.message;
    const std::string text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::string out;
    out.reserve(kPrefixBytes + text.size() + block.size() + kCrcBytes);
    out.push_back(static_cast<char>((text.size() >> 8U) & 0xFFU));
    out.push_back(static_cast<char>(text.size() & 0xFFU));
    out += text;
    out.append(block);
    const auto crc = crc16_arc(reinterpret_cast<const std::uint8_t*>(block.data()), block.size());
    out.push_back(static_cast<char>(crc & 0xFFU));
    out.push_back(static_cast<char>(crc >> 8U));
    return out;
}

BlockReply decode_block_reply(std::string_view payload) {
    try {
        if (payload.size() < kPrefixBytes) return malformed("block reply is shorter than 2 bytes.");
        const auto* p = reinterpret_cast<const std::uint8_t*>(payload.data());
        const std::size_t header_len = static_cast<std::size_t>(p[0]) << 8U | p[1];
        if (header_len == 0 || header_len > kMaxBlockReplyHeaderLength ||
            header_len > payload.size() - kPrefixBytes) {
            return malformed("block reply header length " + std::to_string(header_len) +
                             " does not fit the payload of " + std::to_string(payload.size()) +
                             " bytes.");
        }
        BlockReply r;
        if (!parse_reply_header(payload.substr(kPrefixBytes, header_len), r)) return r;
        const BlockReplyHeader& h = *r.header;
        const std::size_t body = payload.size() - kPrefixBytes - header_len;
        if (body < kCrcBytes || h.size != body - kCrcBytes) {
            r.errc = BlockReplyErrc::length_mismatch;
            r.why = "block reply of " + std::to_string(payload.size()) +
                    " bytes does not match bSize " + std::to_string(h.size) + " (header " +
                    std::to_string(header_len) + " bytes).";
            return r;
        }
        const std::size_t start = kPrefixBytes + header_len;
        const auto expected = crc16_arc(p + start, static_cast<std::size_t>(h.size));
        const std::size_t crc_at = start + static_cast<std::size_t>(h.size);
        const auto got = static_cast<std::uint16_t>(p[crc_at] | p[crc_at + 1] << 8U);
        if (got != expected) {
            r.errc = BlockReplyErrc::bad_crc;
            r.why = "block at offset " + std::to_string(h.offset) + " failed its CRC check.";
            return r;
        }
        r.errc = BlockReplyErrc::ok;
        r.block = payload.substr(start, static_cast<std::size_t>(h.size));
        return r;
    } catch (const std::bad_alloc&) {
        return malformed("block reply could not be decoded: out of memory.");
    } catch (const std::exception&) {
        return malformed("block reply could not be decoded.");
    }
}

}  // namespace ota
