// Decoding and encoding of the download-protocol fields of a push (`dProtocol`, `streamId`,
// `streamFileId`; PROTOCOL.md 3 and 5b).
#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "ota/protocol.hpp"

namespace ota {
namespace {

using nlohmann::json;

// A push captured from a device (issue 11), verbatim: an MQTT job with no url.
const std::string kCapturedMqttPush =
    R"({"code":"1000","data":{"size":3612,"streamId":25914,"sign":"2fe44e2dee3d50fb0478aaa2e5f184bc",)"
    R"("dProtocol":"mqtt","version":"VER-1.0.1-2025-09-06-18.00","signMethod":"Md5","streamFileId":1,)"
    R"("md5":"2fe44e2dee3d50fb0478aaa2e5f184bc"},"id":1757232295633,"message":"success"})";

constexpr const char* kMd5A = "0123456789abcdef0123456789abcdef";

/// A valid MQTT push's data, to be edited by each test.
json mqtt_data() {
    return {{"version", "1.2.0"},  {"size", 4096},      {"md5", kMd5A},
            {"dProtocol", "mqtt"}, {"streamId", 25914}, {"streamFileId", 1}};
}

std::string push_of(const json& data) {
    return json{{"code", "1000"}, {"data", data}, {"id", 7}, {"message", "success"}}.dump();
}

UpgradeJob decode_job(const json& data) {
    const DecodeResult r = decode_upgrade_push(push_of(data));
    EXPECT_FALSE(r.error.has_value()) << (r.error ? r.error->message : "");
    return r.job.value_or(UpgradeJob{});
}

void expect_refused(const json& data, DecodeErrc code, const std::string& field) {
    const DecodeResult r = decode_upgrade_push(push_of(data));
    EXPECT_FALSE(r.job.has_value()) << data.dump();
    ASSERT_TRUE(r.error.has_value()) << data.dump();
    EXPECT_EQ(r.error->code, code) << r.error->message;
    EXPECT_EQ(r.error->field, field) << r.error->message;
    EXPECT_NE(r.error->message.find(field), std::string::npos) << r.error->message;
}

TEST(DecodeMqtt, CapturedPushIsAnMqttJobWithoutUrl) {
    const DecodeResult r = decode_upgrade_push(kCapturedMqttPush);
    ASSERT_FALSE(r.error.has_value()) << r.error->message;
    ASSERT_TRUE(r.job.has_value());
    const UpgradeJob& job = *r.job;
    EXPECT_EQ(job.protocol, DownloadProtocol::mqtt);
    EXPECT_EQ(job.stream_id, 25914U);
    EXPECT_EQ(job.stream_file_id, 1U);
    EXPECT_EQ(job.size, 3612U);
    EXPECT_EQ(job.version, "VER-1.0.1-2025-09-06-18.00");
    EXPECT_EQ(job.digest.algorithm, DigestAlgorithm::md5);
    EXPECT_EQ(job.digest.hex, "2fe44e2dee3d50fb0478aaa2e5f184bc");
    EXPECT_TRUE(job.url.empty());
    EXPECT_TRUE(job.files.empty());
    EXPECT_EQ(job.message_id, "1757232295633");
}

TEST(DecodeMqtt, CapturedPushAsAGetReplyIsTheSameJob) {
    const DecodeResult r = decode_get_reply(kCapturedMqttPush);
    ASSERT_TRUE(r.job.has_value());
    EXPECT_EQ(r.job->protocol, DownloadProtocol::mqtt);
    EXPECT_EQ(r.job->stream_id, 25914U);
}

TEST(DecodeMqtt, AbsentOrNullDProtocolIsHttpsAndStreamIdsAreIgnored) {
    json data = mqtt_data();
    data.erase("dProtocol");
    data["url"] = "https://h/fw.bin";
    UpgradeJob job = decode_job(data);
    EXPECT_EQ(job.protocol, DownloadProtocol::https);
    EXPECT_EQ(job.url, "https://h/fw.bin");
    EXPECT_EQ(job.stream_id, 0U);
    EXPECT_EQ(job.stream_file_id, 0U);

    data["dProtocol"] = nullptr;
    job = decode_job(data);
    EXPECT_EQ(job.protocol, DownloadProtocol::https);
}

TEST(DecodeMqtt, ProtocolNamesAreCaseInsensitive) {
    for (const char* name : {"mqtt", "MQTT", "Mqtt"}) {
        json data = mqtt_data();
        data["dProtocol"] = name;
        EXPECT_EQ(decode_job(data).protocol, DownloadProtocol::mqtt) << name;
    }
    for (const char* name : {"https", "HTTPS", "Https"}) {
        json data = mqtt_data();
        data["dProtocol"] = name;
        data["url"] = "https://h/fw.bin";
        const UpgradeJob job = decode_job(data);
        EXPECT_EQ(job.protocol, DownloadProtocol::https) << name;
        EXPECT_EQ(job.stream_id, 0U) << name;
    }
}

TEST(DecodeMqtt, HttpsJobStillNeedsItsUrl) {
    json data = mqtt_data();
    data["dProtocol"] = "https";
    expect_refused(data, DecodeErrc::missing_field, "data.url");
}

TEST(DecodeMqtt, UnknownProtocolIsRefusedNamingTheField) {
    for (const char* name : {"ftp", "coap", "", "mqtts", "http", " mqtt"}) {
        json data = mqtt_data();
        data["dProtocol"] = name;
        data["url"] = "https://h/fw.bin";
        expect_refused(data, DecodeErrc::bad_value, "data.dProtocol");
    }
    json data = mqtt_data();
    data["dProtocol"] = 1;
    expect_refused(data, DecodeErrc::wrong_type, "data.dProtocol");
}

TEST(DecodeMqtt, MqttJobNeedsNoUrlAndLeavesAGivenUrlUnused) {
    json data = mqtt_data();
    data["url"] = "https://h/fw.bin?Signature=x";
    UpgradeJob job = decode_job(data);
    EXPECT_EQ(job.protocol, DownloadProtocol::mqtt);
    EXPECT_TRUE(job.url.empty());

    // Not even checked: the job has one source, the stream.
    data["url"] = "ftp://elsewhere/fw.bin";
    job = decode_job(data);
    EXPECT_EQ(job.protocol, DownloadProtocol::mqtt);
    EXPECT_TRUE(job.url.empty());
}

TEST(DecodeMqtt, MqttWithoutStreamIdButWithUrlIsAnHttpsJob) {
    json data = mqtt_data();
    data.erase("streamId");
    data.erase("streamFileId");
    data["url"] = "https://h/fw.bin";
    const UpgradeJob job = decode_job(data);
    EXPECT_EQ(job.protocol, DownloadProtocol::https);
    EXPECT_EQ(job.url, "https://h/fw.bin");
    EXPECT_EQ(job.stream_id, 0U);
}

TEST(DecodeMqtt, MqttWithoutStreamIdOrUrlIsRefused) {
    json data = mqtt_data();
    data.erase("streamId");
    expect_refused(data, DecodeErrc::missing_field, "data.streamId");
    data["streamId"] = nullptr;
    expect_refused(data, DecodeErrc::missing_field, "data.streamId");
}

TEST(DecodeMqtt, MqttJobNeedsStreamFileId) {
    json data = mqtt_data();
    data.erase("streamFileId");
    expect_refused(data, DecodeErrc::missing_field, "data.streamFileId");
    data["url"] = "https://h/fw.bin";  // a url does not excuse it once streamId is given
    expect_refused(data, DecodeErrc::missing_field, "data.streamFileId");
}

TEST(DecodeMqtt, StreamIdsAsDecimalStrings) {
    json data = mqtt_data();
    data["streamId"] = "25914";
    data["streamFileId"] = "2";
    const UpgradeJob job = decode_job(data);
    EXPECT_EQ(job.stream_id, 25914U);
    EXPECT_EQ(job.stream_file_id, 2U);

    data["streamId"] = "18446744073709551615";
    data["streamFileId"] = "0";
    EXPECT_EQ(decode_job(data).stream_id, 18446744073709551615ULL);
    data["streamId"] = std::uint64_t{18446744073709551615ULL};
    EXPECT_EQ(decode_job(data).stream_id, 18446744073709551615ULL);
}

TEST(DecodeMqtt, StreamIdsThatAreNotNonNegativeIntegersAreRefused) {
    for (const char* field : {"streamId", "streamFileId"}) {
        const std::string path = std::string("data.") + field;
        for (const json& bad : {json("-1"), json("+1"), json(" 1"), json("1 "), json("1e3"),
                                json("0x10"), json(""), json("1.0"), json("18446744073709551616"),
                                json("000000000000000000001"), json(-1), json(1.5), json(1e30)}) {
            json data = mqtt_data();
            data[field] = bad;
            expect_refused(data, DecodeErrc::bad_value, path);
        }
        for (const json& bad : {json(true), json::array({1}), json::object({{"id", 1}})}) {
            json data = mqtt_data();
            data[field] = bad;
            expect_refused(data, DecodeErrc::wrong_type, path);
        }
    }
}

TEST(DecodeMqtt, MultiFileMqttJobIsRefused) {
    json data = {{"version", "5.0"},
                 {"signMethod", "Md5"},
                 {"dProtocol", "mqtt"},
                 {"streamId", 1},
                 {"streamFileId", 1},
                 {"files", json::array({{{"fileName", "a.bin"},
                                         {"fileSize", 1},
                                         {"fileUrl", "https://h/a.bin"},
                                         {"fileSign", kMd5A}}})}};
    expect_refused(data, DecodeErrc::bad_value, "data.dProtocol");
    data.erase("streamId");  // the files' urls are not a fallback either
    expect_refused(data, DecodeErrc::bad_value, "data.dProtocol");
    data["dProtocol"] = "https";
    EXPECT_EQ(decode_job(data).files.size(), 1U);
}

TEST(EncodeMqtt, PushCarriesProtocolAndStreamIdsAndNoUrl) {
    UpgradeJob job;
    job.version = "1.2.0";
    job.size = 4096;
    job.digest = ExpectedDigest{DigestAlgorithm::md5, kMd5A};
    job.protocol = DownloadProtocol::mqtt;
    job.stream_id = 25914;
    job.stream_file_id = 3;
    const json d = json::parse(encode_upgrade_push(job, 9))["data"];
    EXPECT_EQ(d["dProtocol"], "mqtt");
    EXPECT_EQ(d["streamId"], 25914);
    EXPECT_EQ(d["streamFileId"], 3);
    EXPECT_FALSE(d.contains("url"));

    const DecodeResult r = decode_upgrade_push(encode_upgrade_push(job, 9));
    ASSERT_TRUE(r.job.has_value());
    EXPECT_EQ(r.job->protocol, DownloadProtocol::mqtt);
    EXPECT_EQ(r.job->stream_id, 25914U);
    EXPECT_EQ(r.job->stream_file_id, 3U);
    EXPECT_EQ(r.job->size, 4096U);
    EXPECT_EQ(r.job->digest.hex, kMd5A);
}

TEST(EncodeMqtt, HttpsPushCarriesNoProtocolFields) {
    UpgradeJob job;
    job.version = "1.2.0";
    job.size = 1;
    job.url = "https://h/fw.bin";
    job.digest = ExpectedDigest{DigestAlgorithm::md5, kMd5A};
    job.stream_id = 5;  // ignored: not an MQTT job
    const json d = json::parse(encode_upgrade_push(job, 1))["data"];
    EXPECT_FALSE(d.contains("dProtocol"));
    EXPECT_FALSE(d.contains("streamId"));
    EXPECT_FALSE(d.contains("streamFileId"));
    EXPECT_EQ(d["url"], "https://h/fw.bin");
}

}  // namespace
}  // namespace ota
