// The block protocol of MQTT downloads: CRC, request and reply framing, every way a reply can be
// wrong, and the leniency SDK 4 has (numbers and code as decimal strings).
#include "ota/file_download.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "ota/protocol.hpp"

namespace ota {
namespace {

std::string header_bytes(const std::string& json) {
    std::string out;
    out.push_back(static_cast<char>(json.size() >> 8U));
    out.push_back(static_cast<char>(json.size() & 0xFFU));
    return out + json;
}

std::string crc_bytes(std::string_view block) {
    const auto crc = crc16_arc(reinterpret_cast<const std::uint8_t*>(block.data()), block.size());
    return std::string{static_cast<char>(crc & 0xFFU), static_cast<char>(crc >> 8U)};
}

BlockReplyHeader ok_header(std::uint64_t offset) {
    BlockReplyHeader h;
    h.id = "7";
    h.file_token = "tok";
    h.file_length = 100;
    h.offset = offset;
    return h;
}

TEST(Crc16Arc, MatchesTheCatalogueCheckValue) {
    const std::string check = "123456789";
    EXPECT_EQ(crc16_arc(reinterpret_cast<const std::uint8_t*>(check.data()), check.size()), 0xBB3D);
    EXPECT_EQ(crc16_arc(nullptr, 0), 0);
}

TEST(Crc16Arc, ContinuesAcrossPieces) {
    const std::string a = "12345";
    const std::string b = "6789";
    const auto first = crc16_arc(reinterpret_cast<const std::uint8_t*>(a.data()), a.size());
    EXPECT_EQ(crc16_arc(reinterpret_cast<const std::uint8_t*>(b.data()), b.size(), first), 0xBB3D);
}

TEST(FileDownloadTopics, FollowThePlatformsPattern) {
    const auto t = make_file_download_topics("pk1", "dev1");
    EXPECT_EQ(t.request, "/sys/pk1/dev1/thing/file/download");
    EXPECT_EQ(t.reply, "/sys/pk1/dev1/thing/file/download_reply");
}

TEST(BlockRequest, EncodesThePlatformsShapeAndDecodesBack) {
    BlockRequest r;
    r.id = "12";
    r.file_token = "a\"b";
    r.stream_id = 25914;
    r.file_id = 1;
    r.offset = 65536;
    r.size = 32768;
    const std::string text = encode_block_request(r);
    EXPECT_EQ(text, R"({"id":"12","version":"1.0","params":{"fileToken":"a\"b","fileInfo":)"
                    R"({"streamId":25914,"fileId":1},"fileBlock":{"size":32768,"offset":65536}}})");
    const auto back = decode_block_request(text);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->id, "12");
    EXPECT_EQ(back->file_token, "a\"b");
    EXPECT_EQ(back->stream_id, 25914U);
    EXPECT_EQ(back->file_id, 1U);
    EXPECT_EQ(back->offset, 65536U);
    EXPECT_EQ(back->size, 32768U);
}

TEST(BlockRequest, AcceptsDecimalStringsAndAMissingToken) {
    const auto r =
        decode_block_request(R"({"id":5,"params":{"fileInfo":{"streamId":"9","fileId":"2"},)"
                             R"("fileBlock":{"size":"10","offset":"0"},"extra":true}})");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->id, "5");
    EXPECT_EQ(r->file_token, "");
    EXPECT_EQ(r->stream_id, 9U);
    EXPECT_EQ(r->size, 10U);
}

TEST(BlockRequest, RefusesMalformedRequestsNamingTheField) {
    std::string why;
    EXPECT_FALSE(decode_block_request("not json", &why));
    EXPECT_NE(why.find("not a JSON object"), std::string::npos);
    EXPECT_FALSE(
        decode_block_request(R"({"params":{"fileInfo":{"streamId":1,"fileId":1}}})", &why));
    EXPECT_NE(why.find("fileBlock"), std::string::npos);
    EXPECT_FALSE(decode_block_request(
        R"({"params":{"fileInfo":{"streamId":-1,"fileId":1},"fileBlock":{"size":1,"offset":0}}})",
        &why));
    EXPECT_NE(why.find("streamId"), std::string::npos);
    EXPECT_FALSE(decode_block_request(
        R"({"params":{"fileInfo":{"streamId":1,"fileId":1},"fileBlock":{"size":"1x","offset":0}}})",
        &why));
    EXPECT_NE(why.find("size"), std::string::npos);
    EXPECT_FALSE(decode_block_request(std::string(kMaxBlockRequestLength + 1, ' '), &why));
}

TEST(BlockReply, RoundTripsABlock) {
    const std::string block("firmware\0bytes", 14);
    const std::string payload = encode_block_reply(ok_header(30), block);
    const BlockReply r = decode_block_reply(payload);
    ASSERT_EQ(r.errc, BlockReplyErrc::ok) << r.why;
    ASSERT_TRUE(r.header.has_value());
    EXPECT_EQ(r.header->offset, 30U);
    EXPECT_EQ(r.header->size, block.size());
    EXPECT_EQ(r.header->file_length, 100U);
    EXPECT_EQ(r.header->file_token, "tok");
    EXPECT_EQ(r.header->id, "7");
    EXPECT_EQ(r.block, block);
    EXPECT_TRUE(r.why.empty());
}

TEST(BlockReply, CarriesBinaryBytesIncludingZeros) {
    std::string block(256, '\0');
    for (std::size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>(i);
    // BlockReply::block points into the payload: keep it alive while the block is read.
    const std::string payload = encode_block_reply(ok_header(0), block);
    const BlockReply r = decode_block_reply(payload);
    ASSERT_EQ(r.errc, BlockReplyErrc::ok);
    EXPECT_EQ(r.block, block);
}

TEST(BlockReply, AcceptsTheHandWrittenPlatformShapeWithStringNumbers) {
    const std::string block = "abc";
    const std::string payload =
        header_bytes(R"({"code":"200","data":{"fileToken":"t","fileLength":"3","bSize":"3",)"
                     R"("bOffset":"0","unknown":[1]},"id":1757232295633,"message":"success"})") +
        block + crc_bytes(block);
    const BlockReply r = decode_block_reply(payload);
    ASSERT_EQ(r.errc, BlockReplyErrc::ok) << r.why;
    EXPECT_EQ(r.header->id, "1757232295633");
    EXPECT_EQ(r.block, "abc");
}

TEST(BlockReply, WrongCrcIsBadCrcWithTheHeaderKept) {
    std::string payload = encode_block_reply(ok_header(64), "abcdef");
    payload[payload.size() - 1] = static_cast<char>(payload.back() ^ 0x01);
    const BlockReply r = decode_block_reply(payload);
    EXPECT_EQ(r.errc, BlockReplyErrc::bad_crc);
    ASSERT_TRUE(r.header.has_value());
    EXPECT_EQ(r.header->offset, 64U);
    EXPECT_TRUE(r.block.empty());
    EXPECT_NE(r.why.find("CRC"), std::string::npos);
}

TEST(BlockReply, CorruptedBlockByteFailsTheCrc) {
    std::string payload = encode_block_reply(ok_header(0), "abcdef");
    payload[payload.size() - 4] = 'X';
    EXPECT_EQ(decode_block_reply(payload).errc, BlockReplyErrc::bad_crc);
}

TEST(BlockReply, ShortOrLongPayloadIsALengthMismatch) {
    const std::string payload = encode_block_reply(ok_header(0), "abcdef");
    const BlockReply shorter = decode_block_reply(payload.substr(0, payload.size() - 1));
    EXPECT_EQ(shorter.errc, BlockReplyErrc::length_mismatch);
    ASSERT_TRUE(shorter.header.has_value());
    EXPECT_EQ(decode_block_reply(payload + "x").errc, BlockReplyErrc::length_mismatch);
    // Cut inside the CRC trailer and right after the header.
    const std::size_t header_end =
        2 + (static_cast<std::uint8_t>(payload[0]) << 8U | static_cast<std::uint8_t>(payload[1]));
    EXPECT_EQ(decode_block_reply(payload.substr(0, header_end)).errc,
              BlockReplyErrc::length_mismatch);
    EXPECT_EQ(decode_block_reply(payload.substr(0, header_end + 1)).errc,
              BlockReplyErrc::length_mismatch);
}

TEST(BlockReply, CodeOtherThan200IsNotOkWithWhatCouldBeRead) {
    BlockReplyHeader h = ok_header(96);
    h.code = 500;
    h.message = "stream expired";
    const BlockReply r = decode_block_reply(encode_block_reply(h, ""));
    EXPECT_EQ(r.errc, BlockReplyErrc::not_ok);
    ASSERT_TRUE(r.header.has_value());
    EXPECT_EQ(r.header->code, 500);
    EXPECT_EQ(r.header->id, "7");
    EXPECT_EQ(r.header->message, "stream expired");
    EXPECT_NE(r.why.find("500"), std::string::npos);

    const std::string with_data =
        header_bytes(R"({"code":404,"data":{"bOffset":32,"fileToken":"t"},"id":"3"})");
    const BlockReply r2 = decode_block_reply(with_data);
    ASSERT_EQ(r2.errc, BlockReplyErrc::not_ok);
    EXPECT_EQ(r2.header->offset, 32U);
    EXPECT_EQ(r2.header->file_token, "t");
}

TEST(BlockReply, MalformedFramingOrHeaderIsMalformed) {
    EXPECT_EQ(decode_block_reply("").errc, BlockReplyErrc::malformed);
    EXPECT_EQ(decode_block_reply("\x00").errc, BlockReplyErrc::malformed);
    EXPECT_EQ(decode_block_reply(std::string("\x00\x00", 2)).errc, BlockReplyErrc::malformed);
    EXPECT_EQ(decode_block_reply(std::string("\x00\x10{}", 4)).errc, BlockReplyErrc::malformed);
    EXPECT_EQ(decode_block_reply(header_bytes("[1,2]")).errc, BlockReplyErrc::malformed);
    EXPECT_EQ(decode_block_reply(header_bytes("{\"code\":200")).errc, BlockReplyErrc::malformed);
    EXPECT_EQ(decode_block_reply(header_bytes(R"({"data":{"bSize":0,"bOffset":0}})")).errc,
              BlockReplyErrc::malformed);
    EXPECT_EQ(decode_block_reply(header_bytes(R"({"code":200})")).errc, BlockReplyErrc::malformed);
    EXPECT_EQ(
        decode_block_reply(header_bytes(R"({"code":200,"data":{"bSize":-1,"bOffset":0}})")).errc,
        BlockReplyErrc::malformed);
    EXPECT_EQ(decode_block_reply(
                  header_bytes(R"({"code":200,"data":{"bSize":0,"bOffset":0,"fileToken":5}})"))
                  .errc,
              BlockReplyErrc::malformed);
    const std::string long_header(kMaxBlockReplyHeaderLength + 1, ' ');
    EXPECT_EQ(decode_block_reply(header_bytes(long_header)).errc, BlockReplyErrc::malformed);
}

TEST(BlockReply, EmptyBlockWithItsCrcIsOk) {
    const BlockReply r = decode_block_reply(encode_block_reply(ok_header(100), ""));
    ASSERT_EQ(r.errc, BlockReplyErrc::ok);
    EXPECT_EQ(r.header->size, 0U);
}

TEST(BlockReplyErrc, HasReadableNames) {
    EXPECT_STREQ(to_string(BlockReplyErrc::bad_crc), "bad CRC");
    EXPECT_STREQ(to_string(BlockReplyErrc::not_ok), "code other than 200");
    EXPECT_STREQ(to_string(DownloadProtocol::mqtt), "mqtt");
    EXPECT_STREQ(to_string(DownloadProtocol::https), "https");
}

}  // namespace
}  // namespace ota
