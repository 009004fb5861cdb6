// libFuzzer target: the block protocol of MQTT downloads (src/protocol/file_download.cpp).
//
// The input is decoded as a block reply twice: as it is, and with its CRC trailer recomputed over
// the bytes the framing declares as the block (so that mutated headers and blocks also reach the
// checks behind the CRC). It is also decoded as a block request. Checked on every input:
// - the verdict matches what the payload holds: `ok` only when the payload is exactly
//   2 + header + bSize + 2 bytes, the code is 200, `block` is those bSize bytes inside the payload
//   and their CRC-16/ARC is the trailer; `malformed` carries no header; every other verdict
//   carries one, and a reason unless ok;
// - an ok reply re-encoded by encode_block_reply decodes to the same block, offset, length and
//   token; flipping a CRC byte or dropping the last byte of it never stays ok;
// - a decoded request survives encode_block_request -> decode_block_request unchanged.
// Any violation aborts, which libFuzzer reports as a crash with the input saved.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "ota/file_download.hpp"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

std::uint16_t crc_of(std::string_view bytes) {
    return ota::crc16_arc(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

/// The header length the 2-byte prefix declares, or nullopt when the payload has no prefix.
std::optional<std::size_t> declared_header_length(std::string_view payload) {
    if (payload.size() < 2) return std::nullopt;
    const auto* p = reinterpret_cast<const std::uint8_t*>(payload.data());
    return static_cast<std::size_t>(p[0]) << 8U | p[1];
}

void check_ok_reply(std::string_view payload, const ota::BlockReply& r) {
    check(r.header.has_value() && r.why.empty());
    const ota::BlockReplyHeader& h = *r.header;
    check(h.code == 200);
    check(r.block.size() == h.size);
    const std::optional<std::size_t> header_len = declared_header_length(payload);
    check(header_len.has_value());
    check(payload.size() == 2 + *header_len + r.block.size() + 2);
    // `block` lies inside the payload, right after the header.
    check(r.block.data() == payload.data() + 2 + *header_len);
    const std::string_view trailer = payload.substr(payload.size() - 2);
    const std::uint16_t crc = crc_of(r.block);
    check(static_cast<std::uint8_t>(trailer[0]) == (crc & 0xFFU));
    check(static_cast<std::uint8_t>(trailer[1]) == (crc >> 8U));

    // Re-encoded, the same block comes back (unless the canonical header, which adds the fields
    // the original left out, passes the header limit: then it must be refused as such).
    const std::string again = ota::encode_block_reply(h, r.block);
    const ota::BlockReply back = ota::decode_block_reply(again);
    if (declared_header_length(again).value_or(0) > ota::kMaxBlockReplyHeaderLength) {
        check(back.errc == ota::BlockReplyErrc::malformed);
        return;
    }
    check(back.errc == ota::BlockReplyErrc::ok && back.header.has_value());
    check(back.block == r.block);
    check(back.header->offset == h.offset && back.header->size == h.size);
    check(back.header->file_length == h.file_length && back.header->file_token == h.file_token);
    check(back.header->id == h.id);

    // A damaged trailer is never accepted.
    std::string flipped(payload);
    flipped[flipped.size() - 1] = static_cast<char>(flipped[flipped.size() - 1] ^ 0x01);
    check(ota::decode_block_reply(flipped).errc == ota::BlockReplyErrc::bad_crc);
    check(ota::decode_block_reply(payload.substr(0, payload.size() - 1)).errc !=
          ota::BlockReplyErrc::ok);
}

void check_reply(std::string_view payload) {
    const ota::BlockReply r = ota::decode_block_reply(payload);
    switch (r.errc) {
        case ota::BlockReplyErrc::ok:
            check_ok_reply(payload, r);
            return;
        case ota::BlockReplyErrc::malformed:
            check(!r.header.has_value());
            break;
        case ota::BlockReplyErrc::not_ok:
            check(r.header.has_value() && r.header->code != 200);
            break;
        case ota::BlockReplyErrc::length_mismatch:
        case ota::BlockReplyErrc::bad_crc:
            check(r.header.has_value() && r.header->code == 200);
            break;
    }
    check(!r.why.empty() && r.block.empty());
    check(std::string_view(ota::to_string(r.errc)).size() > 0);
}

/// `payload` with its last two bytes replaced by the CRC of the block its framing declares.
std::optional<std::string> with_fixed_crc(std::string_view payload) {
    const std::optional<std::size_t> header_len = declared_header_length(payload);
    if (!header_len || payload.size() < 2 + *header_len + 2) return std::nullopt;
    std::string out(payload);
    const std::size_t start = 2 + *header_len;
    const std::uint16_t crc = crc_of(payload.substr(start, payload.size() - 2 - start));
    out[out.size() - 2] = static_cast<char>(crc & 0xFFU);
    out[out.size() - 1] = static_cast<char>(crc >> 8U);
    return out;
}

void check_request(std::string_view payload) {
    std::string why;
    const std::optional<ota::BlockRequest> req = ota::decode_block_request(payload, &why);
    if (!req) {
        check(!why.empty());
        return;
    }
    check(req->file_token.size() <= ota::kMaxFileTokenLength);
    const std::string encoded = ota::encode_block_request(*req);
    const std::optional<ota::BlockRequest> back = ota::decode_block_request(encoded);
    if (encoded.size() > ota::kMaxBlockRequestLength) {
        check(!back.has_value());
        return;
    }
    check(back.has_value());
    check(back->id == req->id && back->file_token == req->file_token);
    check(back->stream_id == req->stream_id && back->file_id == req->file_id);
    check(back->offset == req->offset && back->size == req->size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view payload(reinterpret_cast<const char*>(data), size);
    check_reply(payload);
    if (const std::optional<std::string> fixed = with_fixed_crc(payload)) check_reply(*fixed);
    check_request(payload);
    return 0;
}
