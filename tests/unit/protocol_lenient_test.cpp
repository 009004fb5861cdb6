// The decoder is lenient where Link SDK 4 is (issue 11, PROTOCOL.md 3): counts as decimal
// strings, a non-object extData passed through as JSON text, unknown fields ignored; and strict
// where safety needs it (the decimal strings are digits only and never overflow).
#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "ota/protocol.hpp"
#include "ota/signature.hpp"

namespace ota {
namespace {

using nlohmann::json;

constexpr const char* kMd5A = "0123456789abcdef0123456789abcdef";

json base_data() {
    return {{"version", "1.0.1"}, {"size", 3612}, {"url", "https://h/fw.bin"}, {"md5", kMd5A}};
}

std::string push_of(const json& data) {
    return json{{"code", "1000"}, {"data", data}, {"id", 5}, {"message", "success"}}.dump();
}

UpgradeJob decode_job(const json& data) {
    const DecodeResult r = decode_upgrade_push(push_of(data));
    EXPECT_FALSE(r.error.has_value()) << data.dump() << ": " << (r.error ? r.error->message : "");
    return r.job.value_or(UpgradeJob{});
}

DecodeError decode_error(const json& data) {
    const DecodeResult r = decode_upgrade_push(push_of(data));
    EXPECT_FALSE(r.job.has_value()) << data.dump();
    return r.error.value_or(DecodeError{});
}

TEST(DecodeLenient, SizeAsADecimalString) {
    json data = base_data();
    const std::pair<const char*, std::uint64_t> cases[] = {
        {"3612", 3612U},
        {"0", 0U},
        {"007", 7U},
        {"5368709120", 5368709120ULL},
        {"18446744073709551615", 18446744073709551615ULL}};
    for (const auto& [text, value] : cases) {
        data["size"] = text;
        EXPECT_EQ(decode_job(data).size, value) << text;
    }
}

TEST(DecodeLenient, SizeStringsThatAreNotPlainDigitsAreRefused) {
    json data = base_data();
    for (const char* text :
         {"", "-1", "+1", "-0", " 1", "1 ", "1.0", "1e3", "0x10", "12a", "١٢",
          "18446744073709551616", "99999999999999999999", "000000000000000000001"}) {
        data["size"] = text;
        const DecodeError e = decode_error(data);
        EXPECT_EQ(e.code, DecodeErrc::bad_value) << text;
        EXPECT_EQ(e.field, "data.size") << text;
    }
}

TEST(DecodeLenient, FileSizeAsADecimalString) {
    const json data = {{"version", "5.0"},
                       {"signMethod", "Md5"},
                       {"files", json::array({{{"fileName", "a.bin"},
                                               {"fileSize", "300"},
                                               {"fileUrl", "https://h/a.bin"},
                                               {"fileSign", kMd5A}}})}};
    const UpgradeJob job = decode_job(data);
    ASSERT_EQ(job.files.size(), 1U);
    EXPECT_EQ(job.files[0].size, 300U);
    EXPECT_EQ(job.size, 300U);
}

TEST(DecodeLenient, IsDiffAsADecimalString) {
    json data = base_data();
    data["isDiff"] = "1";
    EXPECT_TRUE(decode_job(data).is_diff);
    data["isDiff"] = "0";
    EXPECT_FALSE(decode_job(data).is_diff);
    for (const char* text : {"2", "true", "", "-1", "01x"}) {
        data["isDiff"] = text;
        const DecodeError e = decode_error(data);
        EXPECT_EQ(e.code, DecodeErrc::bad_value) << text;
        EXPECT_EQ(e.field, "data.isDiff") << text;
    }
}

TEST(DecodeLenient, NonObjectExtDataIsKeptAsJsonText) {
    const std::pair<json, const char*> cases[] = {
        {json::array({1, 2}), "[1,2]"},
        {json(R"({"a":1})"), R"("{\"a\":1}")"},  // an object sent as a string stays a string
        {json("plain text"), R"("plain text")"},
        {json(7), "7"},
        {json(false), "false"},
        {json(""), R"("")"}};
    for (const auto& [ext, text] : cases) {
        json data = base_data();
        data["extData"] = ext;
        const UpgradeJob job = decode_job(data);
        EXPECT_EQ(job.ext_data_json, text);
        // encode_upgrade_push carries it on, so the local cloud and round trips keep it.
        const DecodeResult again = decode_upgrade_push(encode_upgrade_push(job, 1));
        ASSERT_TRUE(again.job.has_value()) << text;
        EXPECT_EQ(again.job->ext_data_json, text);
    }
}

TEST(DecodeLenient, NonObjectExtDataCarriesNoImageSignature) {
    for (const json& ext : {json::array({json{{"signature", {{"alg", "x"}}}}}),
                            json(R"({"signature":{"alg":"ES256","sig":"AAAA"}})")}) {
        json data = base_data();
        data["extData"] = ext;
        const SignatureParseResult r = parse_image_signature(decode_job(data).ext_data_json);
        EXPECT_FALSE(r.signature.has_value()) << ext.dump();
        EXPECT_FALSE(r.error.has_value()) << ext.dump();
    }
}

TEST(DecodeLenient, UnknownFieldsAreIgnored) {
    const UpgradeJob plain = decode_job(base_data());
    json data = base_data();
    data["foo"] = {{"bar", json::array({1, "x", nullptr})}};
    data["Size"] = "not a size";  // names are case-sensitive: not `size`
    data["URL"] = 5;
    data["dprotocol"] = "carrier-pigeon";
    data["streamid"] = -1;
    data["signmethod"] = "SHA1";
    json root = {{"code", 200},     {"data", data},      {"id", "5"},
                 {"message", "ok"}, {"method", "thing"}, {"params", json::array()},
                 {"version", 3}};
    const DecodeResult r = decode_upgrade_push(root.dump());
    ASSERT_TRUE(r.job.has_value()) << (r.error ? r.error->message : "");
    EXPECT_EQ(r.job->version, plain.version);
    EXPECT_EQ(r.job->size, plain.size);
    EXPECT_EQ(r.job->url, plain.url);
    EXPECT_EQ(r.job->digest.hex, plain.digest.hex);
    EXPECT_EQ(r.job->digest.algorithm, plain.digest.algorithm);
    EXPECT_EQ(r.job->protocol, DownloadProtocol::https);
    EXPECT_TRUE(r.job->ext_data_json.empty());
}

TEST(DecodeLenient, MqttPushWithEveryCountAsAString) {
    const std::string payload =
        R"({"code":"1000","data":{"size":"3612","streamId":"25914","streamFileId":"1",)"
        R"("dProtocol":"mqtt","version":"VER-1.0.1","signMethod":"Md5","isDiff":"0",)"
        R"("sign":"2fe44e2dee3d50fb0478aaa2e5f184bc","extData":"note"},"id":"1757232295633"})";
    const DecodeResult r = decode_upgrade_push(payload);
    ASSERT_TRUE(r.job.has_value()) << (r.error ? r.error->message : "");
    EXPECT_EQ(r.job->size, 3612U);
    EXPECT_EQ(r.job->protocol, DownloadProtocol::mqtt);
    EXPECT_EQ(r.job->stream_id, 25914U);
    EXPECT_EQ(r.job->stream_file_id, 1U);
    EXPECT_FALSE(r.job->is_diff);
    EXPECT_EQ(r.job->ext_data_json, R"("note")");
}

}  // namespace
}  // namespace ota
