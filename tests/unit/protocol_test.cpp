// Topics, payload encoders and the defensive decoders of upgrade pushes / get_replies.
#include "ota/protocol.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ota {
namespace {

using nlohmann::json;

// The upgrade push from the seed document's device log, verbatim (the platform's log masks
// characters with '*', so the digests are neither hex nor the right length).
const std::string kSeedMasked =
    R"({"code":"1000","data":{"size":143360,"module":"mcu","sign":"867f1536fb********a2205436252",)"
    R"("version":"111","url":"https://iotx-******ily.oss-cn-shanghai.aliyuncs.com/ota/)"
    R"(338ac9db05545dcab9*********52/ck75mi***********5xbgz61vl.tar?Expires=1582951757&)"
    R"(OSSAccessKeyId=aS4***********j6Gy&Signature=urw%2F9WAlizQui*************0A%3D",)"
    R"("signMethod":"Md5","md5":"867f1536fb*********436252"},"id":1582865357795,"message":"success"})";

// The same push with the masks filled in plausibly: the sign and md5 fragments agree on one
// 32-digit MD5, and the result is exactly the 431 bytes the log reports (`len=431`).
const std::string kSeedUrl =
    "https://iotx-ota-daily.oss-cn-shanghai.aliyuncs.com/ota/338ac9db05545dcab97e1f0c4d2a6b52/"
    "ck75miq3x0a0001r5xbgz61vl.tar?Expires=1582951757&OSSAccessKeyId=aS4Hq7Lm2Xp9j6Gy&"
    "Signature=urw%2F9WAlizQuiXk3Jd8Rt5Ywb0A%3D";
const std::string kSeedPush =
    R"({"code":"1000","data":{"size":143360,"module":"mcu","sign":"867f1536fb3c9e07d41b8a2205436252",)"
    R"("version":"111","url":")" +
    kSeedUrl +
    R"(","signMethod":"Md5","md5":"867f1536fb3c9e07d41b8a2205436252"},"id":1582865357795,)"
    R"("message":"success"})";

constexpr const char* kMd5A = "0123456789abcdef0123456789abcdef";
constexpr const char* kSha256A = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
constexpr const char* kSha256B = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";
// Every URL in the malformed cases carries this query; no error message may repeat it.
constexpr const char* kSecretQuery = "?Expires=1582951757&Signature=SECRETSIG%3D";

std::string url_with_secret(const std::string& base) {
    return base + kSecretQuery;
}

DecodeResult decode_ok(const std::string& payload) {
    DecodeResult r = decode_upgrade_push(payload);
    EXPECT_FALSE(r.error.has_value()) << (r.error ? r.error->field + ": " + r.error->message : "");
    EXPECT_TRUE(r.job.has_value());
    return r;
}

// ---------------------------------------------------------------------------------------------
// Topics

TEST(Topics, AllFiveTopicsForOneDevice) {
    const Topics t = make_topics("a1X2bEnP82z", "example1");
    EXPECT_EQ(t.inform, "/ota/device/inform/a1X2bEnP82z/example1");
    EXPECT_EQ(t.progress, "/ota/device/progress/a1X2bEnP82z/example1");
    EXPECT_EQ(t.upgrade, "/ota/device/upgrade/a1X2bEnP82z/example1");
    EXPECT_EQ(t.firmware_get, "/sys/a1X2bEnP82z/example1/thing/ota/firmware/get");
    EXPECT_EQ(t.get_reply, "/sys/a1X2bEnP82z/example1/thing/ota/firmware/get_reply");
}

TEST(Topics, DifferentDevicesGetDifferentTopics) {
    const Topics a = make_topics("pk", "dev-a");
    const Topics b = make_topics("pk", "dev-b");
    EXPECT_NE(a.upgrade, b.upgrade);
    EXPECT_EQ(b.get_reply, "/sys/pk/dev-b/thing/ota/firmware/get_reply");
}

// ---------------------------------------------------------------------------------------------
// Encoders

TEST(Encode, InformWithoutModule) {
    EXPECT_EQ(encode_inform(1, "1.0.0"), R"({"id":"1","params":{"version":"1.0.0"}})");
}

TEST(Encode, InformWithModuleAfterVersion) {
    EXPECT_EQ(encode_inform(42, "app-1.0.0-20180101.1001", "mcu"),
              R"({"id":"42","params":{"version":"app-1.0.0-20180101.1001","module":"mcu"}})");
}

TEST(Encode, IdIsTheDecimalNumberAsAString) {
    EXPECT_EQ(encode_inform(0, "v"), R"({"id":"0","params":{"version":"v"}})");
    EXPECT_EQ(encode_inform(4294967295U, "v"), R"({"id":"4294967295","params":{"version":"v"}})");
    EXPECT_EQ(encode_inform(std::numeric_limits<std::uint64_t>::max(), "v"),
              R"({"id":"18446744073709551615","params":{"version":"v"}})");
}

TEST(Encode, InformEscapesTheVersion) {
    EXPECT_EQ(encode_inform(3, "1.0 \"beta\"\\x"),
              R"({"id":"3","params":{"version":"1.0 \"beta\"\\x"}})");
}

TEST(Encode, ProgressPercentStepIsAString) {
    EXPECT_EQ(encode_progress(7, 35, "downloading"),
              R"({"id":"7","params":{"step":"35","desc":"downloading"}})");
}

TEST(Encode, ProgressFailureStepsAndEmptyDesc) {
    EXPECT_EQ(encode_progress(8, kStepCheckFailed, ""),
              R"({"id":"8","params":{"step":"-3","desc":""}})");
    EXPECT_EQ(encode_progress(9, kStepBurnFailed, "flash write failed", "mcu"),
              R"({"id":"9","params":{"step":"-4","desc":"flash write failed","module":"mcu"}})");
}

TEST(Encode, ProgressEscapesQuotesBackslashesAndControlCharacters) {
    const std::string desc = std::string("say \"hi\" C:\\tmp\nline2\ttab") + '\x01' + '\x1f';
    EXPECT_EQ(
        encode_progress(1, -1, desc),
        R"({"id":"1","params":{"step":"-1","desc":"say \"hi\" C:\\tmp\nline2\ttab\u0001\u001f"}})");
}

TEST(Encode, ProgressKeepsUnicodeAsUtf8) {
    // "下载失败" (download failed) and an emoji stay UTF-8; the result is still valid JSON.
    const std::string desc = "\xE4\xB8\x8B\xE8\xBD\xBD\xE5\xA4\xB1\xE8\xB4\xA5 \xF0\x9F\x98\x80";
    const std::string out = encode_progress(2, -2, desc);
    EXPECT_EQ(out, R"({"id":"2","params":{"step":"-2","desc":")" + desc + R"("}})");
    EXPECT_EQ(json::parse(out)["params"]["desc"].get<std::string>(), desc);
}

TEST(Encode, ProgressWithInvalidUtf8StillProducesValidJson) {
    const std::string out = encode_progress(2, -1, std::string("bad \xFF byte"));
    const json parsed = json::parse(out, nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << out;
    EXPECT_EQ(parsed["params"]["step"], "-1");
}

TEST(Encode, FirmwareGetWithAndWithoutModule) {
    EXPECT_EQ(encode_firmware_get(5), R"({"id":"5","params":{}})");
    EXPECT_EQ(encode_firmware_get(6, "mcu"), R"({"id":"6","params":{"module":"mcu"}})");
}

TEST(Encode, UpgradePushExactBytesForAnMd5Job) {
    UpgradeJob job;
    job.version = "2.0";
    job.size = 1024;
    job.url = "https://fw.example.com/a.bin";
    job.digest = {DigestAlgorithm::md5, kMd5A};
    EXPECT_EQ(encode_upgrade_push(job, 1582865357795ULL),
              std::string(R"({"code":"1000","data":{"size":1024,"version":"2.0",)") +
                  R"("url":"https://fw.example.com/a.bin","signMethod":"Md5","sign":")" + kMd5A +
                  R"(","md5":")" + kMd5A + R"("},"id":1582865357795,"message":"success"})");
}

TEST(Encode, UpgradePushSha256CarriesNoMd5AndOptionalFields) {
    UpgradeJob job;
    job.version = "3.1";
    job.size = 10;
    job.url = "https://fw.example.com/b.bin";
    job.digest = {DigestAlgorithm::sha256, kSha256B};
    job.module = "wifi";
    job.ext_data_json = R"({"k":"v"})";
    job.is_diff = true;
    const json j = json::parse(encode_upgrade_push(job, 9));
    EXPECT_EQ(j["code"], "1000");
    EXPECT_EQ(j["message"], "success");
    EXPECT_EQ(j["id"], 9);
    const json& d = j["data"];
    EXPECT_EQ(d["signMethod"], "SHA256");
    EXPECT_EQ(d["sign"], kSha256B);
    EXPECT_FALSE(d.contains("md5"));
    EXPECT_EQ(d["module"], "wifi");
    EXPECT_EQ(d["extData"], json::parse(R"({"k":"v"})"));
    EXPECT_EQ(d["isDiff"], 1);
    EXPECT_FALSE(d.contains("files"));
}

// ---------------------------------------------------------------------------------------------
// Decoding real and representative pushes

TEST(DecodeSeed, ReconstructedPushFromTheLogDecodes) {
    ASSERT_EQ(kSeedPush.size(), 431U);  // the log line says len=431
    const DecodeResult r = decode_ok(kSeedPush);
    ASSERT_TRUE(r.job);
    const UpgradeJob& job = *r.job;
    EXPECT_EQ(job.version, "111");
    EXPECT_EQ(job.size, 143360U);
    EXPECT_EQ(job.module, "mcu");
    EXPECT_EQ(job.url, kSeedUrl);
    EXPECT_EQ(job.digest.algorithm, DigestAlgorithm::md5);
    EXPECT_EQ(job.digest.hex, "867f1536fb3c9e07d41b8a2205436252");
    EXPECT_EQ(job.message_id, "1582865357795");
    EXPECT_FALSE(job.is_diff);
    EXPECT_TRUE(job.files.empty());
    EXPECT_TRUE(job.ext_data_json.empty());
}

TEST(DecodeSeed, LiteralMaskedPushIsRejectedOnTheDigest) {
    const DecodeResult r = decode_upgrade_push(kSeedMasked);
    EXPECT_FALSE(r.job.has_value());
    ASSERT_TRUE(r.error.has_value());
    EXPECT_EQ(r.error->code, DecodeErrc::bad_value);
    EXPECT_EQ(r.error->field, "data.sign");
    EXPECT_EQ(r.error->message.find("Signature"), std::string::npos);
}

TEST(Decode, SdkV2StyleMd5Only) {
    const std::string payload =
        R"({"code":"1000","data":{"size":2048,"md5":"ABCDEF0123456789abcdef0123456789",)"
        R"("version":"v2.0.1","url":"http://ota.example.com/fw.bin"},"id":17,"message":"success"})";
    const DecodeResult r = decode_ok(payload);
    ASSERT_TRUE(r.job);
    EXPECT_EQ(r.job->version, "v2.0.1");
    EXPECT_EQ(r.job->size, 2048U);
    EXPECT_EQ(r.job->url, "http://ota.example.com/fw.bin");  // http is the client's decision
    EXPECT_EQ(r.job->digest.algorithm, DigestAlgorithm::md5);
    EXPECT_EQ(r.job->digest.hex, "ABCDEF0123456789abcdef0123456789");  // case preserved
    EXPECT_TRUE(r.job->module.empty());
    EXPECT_EQ(r.job->message_id, "17");
}

TEST(Decode, Sdk4StyleSha256WithNumericCodeExtDataAndModule) {
    const std::string payload =
        std::string(R"({"code":200,"data":{"size":93952,"sign":")") + kSha256A +
        R"(","signMethod":"SHA256","version":"4.2.0","module":"ble",)"
        R"("url":"https://ota.example.com/ble.bin?x=1","isDiff":1,)"
        R"("dProtocol":"mqtt","streamId":1234,"streamFileId":1,)"
        R"("extData":{"key1":"value1","n":[1,2]}},)"
        R"("id":"987654","message":"success","method":"thing.ota.upgrade"})";
    const DecodeResult r = decode_ok(payload);
    ASSERT_TRUE(r.job);
    EXPECT_EQ(r.job->digest.algorithm, DigestAlgorithm::sha256);
    EXPECT_EQ(r.job->digest.hex, kSha256A);
    EXPECT_EQ(r.job->module, "ble");
    EXPECT_EQ(r.job->version, "4.2.0");
    EXPECT_EQ(r.job->size, 93952U);
    EXPECT_TRUE(r.job->is_diff);
    EXPECT_EQ(r.job->message_id, "987654");
    EXPECT_EQ(json::parse(r.job->ext_data_json), json::parse(R"({"key1":"value1","n":[1,2]})"));
    EXPECT_EQ(r.job->ext_data_json.find(' '), std::string::npos);  // compact
}

TEST(Decode, SignMethodSpellingsAreCaseInsensitive) {
    struct Spelling {
        const char* method;
        const char* sign;
        DigestAlgorithm alg;
    };
    for (const Spelling& s : {Spelling{"Md5", kMd5A, DigestAlgorithm::md5},
                              Spelling{"MD5", kMd5A, DigestAlgorithm::md5},
                              Spelling{"md5", kMd5A, DigestAlgorithm::md5},
                              Spelling{"SHA256", kSha256A, DigestAlgorithm::sha256},
                              Spelling{"Sha256", kSha256A, DigestAlgorithm::sha256},
                              Spelling{"sha256", kSha256B, DigestAlgorithm::sha256}}) {
        const json j = {{"code", "1000"},
                        {"data",
                         {{"version", "1"},
                          {"size", 1},
                          {"url", "https://h/x"},
                          {"sign", s.sign},
                          {"signMethod", s.method}}}};
        const DecodeResult r = decode_upgrade_push(j.dump());
        ASSERT_TRUE(r.job) << s.method;
        EXPECT_EQ(r.job->digest.algorithm, s.alg) << s.method;
        EXPECT_EQ(r.job->digest.hex, s.sign) << s.method;
    }
}

TEST(Decode, SignWinsOverMd5WhenBothArePresent) {
    const json j = {{"data",
                     {{"version", "1"},
                      {"size", 1},
                      {"url", "https://h/x"},
                      {"md5", "ffffffffffffffffffffffffffffffff"},
                      {"sign", kMd5A},
                      {"signMethod", "Md5"}}}};
    const DecodeResult r = decode_ok(j.dump());
    ASSERT_TRUE(r.job);
    EXPECT_EQ(r.job->digest.hex, kMd5A);
}

TEST(Decode, SignWithoutSignMethodIsIgnoredWhenMd5IsPresent) {
    const json j = {{"data",
                     {{"version", "1"},
                      {"size", 1},
                      {"url", "https://h/x"},
                      {"md5", kMd5A},
                      {"sign", kSha256A}}}};
    const DecodeResult r = decode_ok(j.dump());
    ASSERT_TRUE(r.job);
    EXPECT_EQ(r.job->digest.algorithm, DigestAlgorithm::md5);
    EXPECT_EQ(r.job->digest.hex, kMd5A);
}

TEST(Decode, InformationalFieldsOfAnyTypeDoNotFailTheDecode) {
    const json j = {
        {"code", json::object({{"x", 1}})},
        {"message", 5},
        {"id", true},
        {"data", {{"version", "1"}, {"size", 1}, {"url", "https://h/x"}, {"md5", kMd5A}}}};
    const DecodeResult r = decode_ok(j.dump());
    ASSERT_TRUE(r.job);
    EXPECT_TRUE(r.job->message_id.empty());
}

TEST(Decode, NullOptionalFieldsCountAsAbsent) {
    const json j = {{"data",
                     {{"version", "1"},
                      {"size", 1},
                      {"url", "https://h/x"},
                      {"md5", kMd5A},
                      {"module", nullptr},
                      {"extData", nullptr},
                      {"isDiff", nullptr},
                      {"signMethod", nullptr},
                      {"files", nullptr}}}};
    const DecodeResult r = decode_ok(j.dump());
    ASSERT_TRUE(r.job);
    EXPECT_TRUE(r.job->module.empty());
    EXPECT_TRUE(r.job->ext_data_json.empty());
    EXPECT_FALSE(r.job->is_diff);
    EXPECT_EQ(r.job->digest.hex, kMd5A);
}

TEST(Decode, IsDiffAcceptsZeroOneAndBooleans) {
    for (const json& v : {json(0), json(1), json(false), json(true)}) {
        const json j = {{"data",
                         {{"version", "1"},
                          {"size", 1},
                          {"url", "https://h/x"},
                          {"md5", kMd5A},
                          {"isDiff", v}}}};
        const DecodeResult r = decode_upgrade_push(j.dump());
        ASSERT_TRUE(r.job) << v.dump();
        EXPECT_EQ(r.job->is_diff, v == json(1) || v == json(true)) << v.dump();
    }
}

TEST(Decode, UrlSchemesHostsAndPortsThatAreAccepted) {
    for (const char* url :
         {"HTTPS://OTA.EXAMPLE.COM/fw.bin", "Http://10.0.0.2:8080/fw.bin", "https://h",
          "https://[::1]:8443/fw.bin", "https://user@h.example.com/fw?a=b#frag"}) {
        const json j = {{"data", {{"version", "1"}, {"size", 1}, {"url", url}, {"md5", kMd5A}}}};
        const DecodeResult r = decode_upgrade_push(j.dump());
        ASSERT_TRUE(r.job) << url;
        EXPECT_EQ(r.job->url, url);
    }
}

TEST(Decode, NegativeZeroSizeIsZero) {
    // JSON allows "-0"; it is the integer zero, not a negative size.
    const std::string payload = R"({"data":{"version":"1","url":"https://h/x","md5":")" +
                                std::string(kMd5A) + R"(","size":-0}})";
    const DecodeResult r = decode_ok(payload);
    ASSERT_TRUE(r.job);
    EXPECT_EQ(r.job->size, 0U);
}

TEST(Decode, EmptyModuleMeansTheDefaultModule) {
    const json j = {
        {"data",
         {{"version", "1"}, {"size", 1}, {"url", "https://h/x"}, {"md5", kMd5A}, {"module", ""}}}};
    const DecodeResult r = decode_ok(j.dump());
    ASSERT_TRUE(r.job);
    EXPECT_TRUE(r.job->module.empty());
}

TEST(Decode, MessageIdIsKeptAsTextOnlyWhenShortAndClean) {
    const json data = {{"version", "1"}, {"size", 1}, {"url", "https://h/x"}, {"md5", kMd5A}};
    const auto id_of = [&data](const json& id) {
        const DecodeResult r = decode_upgrade_push(json{{"id", id}, {"data", data}}.dump());
        EXPECT_TRUE(r.job) << id.dump();
        return r.job ? r.job->message_id : std::string("<no job>");
    };
    EXPECT_EQ(id_of(json(-42)), "-42");
    EXPECT_EQ(id_of(json(18446744073709551615ULL)), "18446744073709551615");
    EXPECT_EQ(id_of(json("abc-123")), "abc-123");
    EXPECT_EQ(id_of(json(std::string(64, 'i'))), std::string(64, 'i'));
    // Informational only: a longer text, one with control characters, or a fraction is dropped
    // and the job itself still decodes.
    EXPECT_EQ(id_of(json(std::string(65, 'i'))), "");
    EXPECT_EQ(id_of(json("line\nbreak")), "");
    EXPECT_EQ(id_of(json(1.5)), "");
}

TEST(Encode, UpgradePushLeavesOutExtDataThatIsNotJson) {
    UpgradeJob job;
    job.version = "2.0";
    job.size = 1;
    job.url = "https://fw.example.com/a.bin";
    job.digest = ExpectedDigest{DigestAlgorithm::md5, kMd5A};
    for (const char* ext : {"{not json", "[1,", "null"}) {
        job.ext_data_json = ext;
        const json d = json::parse(encode_upgrade_push(job, 1))["data"];
        EXPECT_FALSE(d.contains("extData")) << ext;
        EXPECT_EQ(d["version"], "2.0") << "the rest of the push is unchanged";
    }
}

TEST(Encode, UpgradePushCarriesExtDataOfAnyJsonType) {
    UpgradeJob job;
    job.version = "2.0";
    job.size = 1;
    job.url = "https://fw.example.com/a.bin";
    job.digest = ExpectedDigest{DigestAlgorithm::md5, kMd5A};
    for (const char* ext : {"[1,2]", "\"text\"", "7", "false"}) {
        job.ext_data_json = ext;
        const json d = json::parse(encode_upgrade_push(job, 1))["data"];
        EXPECT_EQ(d["extData"], json::parse(ext)) << ext;
    }
}

TEST(Decode, SignedUrlLongerThan4KiB) {
    std::string url = "https://bucket.oss-cn-shanghai.aliyuncs.com/ota/fw.bin?Expires=1&Signature=";
    url.append(4200, 'A');
    ASSERT_GT(url.size(), 4096U);
    const json j = {{"data", {{"version", "1"}, {"size", 1}, {"url", url}, {"md5", kMd5A}}}};
    const DecodeResult r = decode_ok(j.dump());
    ASSERT_TRUE(r.job);
    EXPECT_EQ(r.job->url, url);
}

TEST(Decode, UrlOfExactlyTheLimitIsAccepted) {
    std::string url = "https://h/";
    url.append(kMaxUrlLength - url.size(), 'a');
    const json j = {{"data", {{"version", "1"}, {"size", 1}, {"url", url}, {"md5", kMd5A}}}};
    const DecodeResult r = decode_ok(j.dump());
    ASSERT_TRUE(r.job);
    EXPECT_EQ(r.job->url.size(), kMaxUrlLength);
}

TEST(Decode, SizeAbove4GiBAndUpToUint64Max) {
    for (const std::uint64_t size : {std::uint64_t{5368709120ULL}, std::uint64_t{0x100000000ULL},
                                     std::numeric_limits<std::uint64_t>::max()}) {
        const json j = {
            {"data", {{"version", "1"}, {"size", size}, {"url", "https://h/x"}, {"md5", kMd5A}}}};
        const DecodeResult r = decode_ok(j.dump());
        ASSERT_TRUE(r.job);
        EXPECT_EQ(r.job->size, size);
    }
}

TEST(Decode, VersionOfExactly64BytesIsAccepted) {
    const std::string version(kMaxVersionLength, '9');
    const json j = {
        {"data", {{"version", version}, {"size", 1}, {"url", "https://h/x"}, {"md5", kMd5A}}}};
    const DecodeResult r = decode_ok(j.dump());
    ASSERT_TRUE(r.job);
    EXPECT_EQ(r.job->version, version);
}

json multi_file_push() {
    return {{"code", "1000"},
            {"id", 77},
            {"data",
             {{"version", "5.0.0"},
              {"signMethod", "SHA256"},
              {"module", "default"},
              {"files",
               {{{"fileName", "app.bin"},
                 {"fileSize", 5368709120ULL},
                 {"fileUrl", "https://h.example.com/app.bin?Signature=s1"},
                 {"fileSign", kSha256A}},
                {{"fileName", "res.pak"},
                 {"fileSize", 300},
                 {"fileUrl", "https://h.example.com/res.pak?Signature=s2"},
                 {"fileSign", kSha256B}}}}}}};
}

TEST(Decode, MultiFileJob) {
    const DecodeResult r = decode_ok(multi_file_push().dump());
    ASSERT_TRUE(r.job);
    const UpgradeJob& job = *r.job;
    EXPECT_EQ(job.version, "5.0.0");
    EXPECT_EQ(job.module, "default");
    EXPECT_TRUE(job.url.empty());
    EXPECT_EQ(job.size, 5368709120ULL + 300U);
    ASSERT_EQ(job.files.size(), 2U);
    EXPECT_EQ(job.files[0].name, "app.bin");
    EXPECT_EQ(job.files[0].size, 5368709120ULL);
    EXPECT_EQ(job.files[0].url, "https://h.example.com/app.bin?Signature=s1");
    EXPECT_EQ(job.files[0].digest.algorithm, DigestAlgorithm::sha256);
    EXPECT_EQ(job.files[0].digest.hex, kSha256A);
    EXPECT_EQ(job.files[1].name, "res.pak");
    EXPECT_EQ(job.files[1].size, 300U);
    EXPECT_EQ(job.files[1].digest.hex, kSha256B);
    EXPECT_EQ(job.message_id, "77");
}

TEST(Decode, MultiFileJobIgnoresDataLevelUrlAndSize) {
    json j = multi_file_push();
    j["data"]["url"] = "https://other.example.com/ignored.bin";
    j["data"]["size"] = 1;
    const DecodeResult r = decode_ok(j.dump());
    ASSERT_TRUE(r.job);
    EXPECT_TRUE(r.job->url.empty());
    EXPECT_EQ(r.job->size, 5368709120ULL + 300U);
}

// ---------------------------------------------------------------------------------------------
// get_reply

TEST(GetReply, EmptyAbsentOrNullDataMeansNoJob) {
    for (const char* payload : {R"({"code":200,"data":{},"id":"1","message":"success"})",
                                R"({"code":200,"id":"1","message":"success"})",
                                R"({"code":200,"data":null,"id":"1","message":"success"})"}) {
        const DecodeResult r = decode_get_reply(payload);
        EXPECT_FALSE(r.job.has_value()) << payload;
        EXPECT_FALSE(r.error.has_value()) << payload;
    }
}

TEST(GetReply, SameEmptyDataIsAnErrorForAPush) {
    const DecodeResult r = decode_upgrade_push(R"({"code":200,"data":{},"id":"1"})");
    EXPECT_FALSE(r.job.has_value());
    ASSERT_TRUE(r.error.has_value());
    EXPECT_EQ(r.error->code, DecodeErrc::missing_field);
    EXPECT_EQ(r.error->field, "data");
}

TEST(GetReply, ReplyWithAJobIsDecodedLikeAPush) {
    const DecodeResult r = decode_get_reply(kSeedPush);
    ASSERT_TRUE(r.job.has_value());
    EXPECT_FALSE(r.error.has_value());
    EXPECT_EQ(r.job->version, "111");
    EXPECT_EQ(r.job->url, kSeedUrl);
}

TEST(GetReply, NonJsonAndNonObjectRepliesAreErrors) {
    const DecodeResult a = decode_get_reply("not json");
    ASSERT_TRUE(a.error);
    EXPECT_EQ(a.error->code, DecodeErrc::not_json);
    const DecodeResult b = decode_get_reply(R"({"data":[]})");
    ASSERT_TRUE(b.error);
    EXPECT_EQ(b.error->code, DecodeErrc::wrong_type);
    EXPECT_EQ(b.error->field, "data");
}

// ---------------------------------------------------------------------------------------------
// Round trips through encode_upgrade_push

void expect_same_job(const UpgradeJob& a, const UpgradeJob& b) {
    EXPECT_EQ(a.version, b.version);
    EXPECT_EQ(a.size, b.size);
    EXPECT_EQ(a.url, b.url);
    EXPECT_EQ(a.digest.algorithm, b.digest.algorithm);
    EXPECT_EQ(a.digest.hex, b.digest.hex);
    EXPECT_EQ(a.module, b.module);
    EXPECT_EQ(a.ext_data_json, b.ext_data_json);
    EXPECT_EQ(a.is_diff, b.is_diff);
    ASSERT_EQ(a.files.size(), b.files.size());
    for (std::size_t i = 0; i < a.files.size(); ++i) {
        EXPECT_EQ(a.files[i].name, b.files[i].name);
        EXPECT_EQ(a.files[i].size, b.files[i].size);
        EXPECT_EQ(a.files[i].url, b.files[i].url);
        EXPECT_EQ(a.files[i].digest.algorithm, b.files[i].digest.algorithm);
        EXPECT_EQ(a.files[i].digest.hex, b.files[i].digest.hex);
    }
}

TEST(RoundTrip, SeedJobSurvivesEncodeDecode) {
    const DecodeResult first = decode_ok(kSeedPush);
    ASSERT_TRUE(first.job);
    const DecodeResult second = decode_ok(encode_upgrade_push(*first.job, 1582865357795ULL));
    ASSERT_TRUE(second.job);
    expect_same_job(*first.job, *second.job);
    EXPECT_EQ(second.job->message_id, "1582865357795");
}

TEST(RoundTrip, Sha256JobWithAllOptionalFields) {
    UpgradeJob job;
    job.version = "v\"quoted\"\\1";
    job.size = 0x1'0000'0001ULL;
    job.url = url_with_secret("https://fw.example.com/big.bin");
    job.digest = {DigestAlgorithm::sha256, kSha256A};
    job.module = "mcu";
    job.ext_data_json = R"({"a":{"b":[1,"two",null]},"c":true})";
    job.is_diff = true;
    const DecodeResult r = decode_ok(encode_upgrade_push(job, 12));
    ASSERT_TRUE(r.job);
    expect_same_job(job, *r.job);
    EXPECT_EQ(r.job->message_id, "12");
}

TEST(RoundTrip, MultiFileJob) {
    const DecodeResult first = decode_ok(multi_file_push().dump());
    ASSERT_TRUE(first.job);
    const DecodeResult second = decode_ok(encode_upgrade_push(*first.job, 3));
    ASSERT_TRUE(second.job);
    expect_same_job(*first.job, *second.job);
}

// ---------------------------------------------------------------------------------------------
// Malformed payloads: each names its error code and exact field path.

struct Malformed {
    std::string name;
    std::string payload;
    DecodeErrc code;
    std::string field;
    bool push_only = false;  ///< get_reply treats this payload as "no job"
};

json base_push() {
    return {{"code", "1000"},
            {"id", 1582865357795ULL},
            {"message", "success"},
            {"data",
             {{"size", 143360},
              {"version", "1.2.3"},
              {"url", url_with_secret("https://fw.example.com/fw.bin")},
              {"md5", kMd5A}}}};
}

std::string push_with(const std::function<void(json&)>& edit) {
    json j = base_push();
    edit(j["data"]);
    return j.dump();
}

std::string files_with(const std::function<void(json&)>& edit) {
    json j = multi_file_push();
    j["data"]["files"][0]["fileUrl"] = url_with_secret("https://h.example.com/app.bin");
    j["data"]["files"][1]["fileUrl"] = url_with_secret("https://h.example.com/res.pak");
    edit(j["data"]);
    return j.dump();
}

std::vector<Malformed> malformed_cases() {
    using E = DecodeErrc;
    const std::string base = base_push().dump();
    std::string long_url = "https://fw.example.com/";
    long_url.append(kMaxUrlLength + 1 - long_url.size() - std::string(kSecretQuery).size(), 'a');
    long_url += kSecretQuery;
    std::string deep = R"({"data":{"version":"1","size":1,"url":"https://h/x","md5":")" +
                       std::string(kMd5A) + R"(","extData":)";
    for (int i = 0; i < 40; ++i) deep += R"({"a":)";
    deep += "1";
    for (int i = 0; i < 40; ++i) deep += "}";
    deep += "}}";

    return {
        {"Empty", "", E::not_json, ""},
        {"Whitespace", "  \n ", E::not_json, ""},
        {"Null", "null", E::wrong_type, ""},
        {"Array", "[]", E::wrong_type, ""},
        {"String", R"("data")", E::wrong_type, ""},
        {"Truncated", base.substr(0, base.size() - 7), E::not_json, ""},
        {"TrailingGarbage", base + "}", E::not_json, ""},
        {"SingleQuotes", "{'data':{}}", E::not_json, ""},
        {"TooLarge", push_with([](json& d) {
             d["extData"] = {{"pad", std::string(kMaxPayloadLength, 'x')}};
         }),
         E::too_large, ""},
        {"NestedTooDeep", deep, E::not_json, ""},
        {"DataMissing", R"({"code":"1000","id":1,"message":"success"})", E::missing_field, "data",
         true},
        {"DataNull", R"({"code":"1000","data":null})", E::missing_field, "data", true},
        {"DataEmptyObject", R"({"code":"1000","data":{}})", E::missing_field, "data", true},
        {"DataString", R"({"code":"1000","data":"x"})", E::wrong_type, "data"},
        {"DataArray", R"({"code":"1000","data":[{"version":"1"}]})", E::wrong_type, "data"},
        {"VersionMissing", push_with([](json& d) { d.erase("version"); }), E::missing_field,
         "data.version"},
        {"VersionNumber", push_with([](json& d) { d["version"] = 111; }), E::wrong_type,
         "data.version"},
        {"VersionEmpty", push_with([](json& d) { d["version"] = ""; }), E::bad_value,
         "data.version"},
        {"Version65Chars", push_with([](json& d) { d["version"] = std::string(65, '1'); }),
         E::too_long, "data.version"},
        {"VersionControlChar", push_with([](json& d) { d["version"] = std::string("1.0\n"); }),
         E::bad_value, "data.version"},
        {"VersionEmbeddedNul", push_with([](json& d) { d["version"] = std::string("1\0x", 3); }),
         E::bad_value, "data.version"},
        {"UrlMissing", push_with([](json& d) { d.erase("url"); }), E::missing_field, "data.url"},
        {"UrlNumber", push_with([](json& d) { d["url"] = 42; }), E::wrong_type, "data.url"},
        {"UrlEmpty", push_with([](json& d) { d["url"] = ""; }), E::bad_value, "data.url"},
        {"UrlFtp", push_with([](json& d) { d["url"] = url_with_secret("ftp://x/fw.bin"); }),
         E::bad_value, "data.url"},
        {"UrlNoScheme",
         push_with([](json& d) { d["url"] = url_with_secret("fw.example.com/fw.bin"); }),
         E::bad_value, "data.url"},
        {"UrlNoHost", push_with([](json& d) { d["url"] = url_with_secret("https:///fw.bin"); }),
         E::bad_value, "data.url"},
        {"UrlOnlyScheme", push_with([](json& d) { d["url"] = "https://"; }), E::bad_value,
         "data.url"},
        {"UrlBadPort",
         push_with([](json& d) { d["url"] = url_with_secret("https://h:99999/fw.bin"); }),
         E::bad_value, "data.url"},
        {"UrlEmptyPort",
         push_with([](json& d) { d["url"] = url_with_secret("https://h:/fw.bin"); }), E::bad_value,
         "data.url"},
        {"UrlPortWithLetters",
         push_with([](json& d) { d["url"] = url_with_secret("https://h:80a/fw.bin"); }),
         E::bad_value, "data.url"},
        {"UrlPortSixDigits",
         push_with([](json& d) { d["url"] = url_with_secret("https://h:000443/fw.bin"); }),
         E::bad_value, "data.url"},
        {"UrlIpv6Unclosed",
         push_with([](json& d) { d["url"] = url_with_secret("https://[::1/fw.bin"); }),
         E::bad_value, "data.url"},
        {"UrlIpv6GarbageAfterBracket",
         push_with([](json& d) { d["url"] = url_with_secret("https://[::1]x/fw.bin"); }),
         E::bad_value, "data.url"},
        {"UrlIpv6EmptyHost",
         push_with([](json& d) { d["url"] = url_with_secret("https://[]:443/fw.bin"); }),
         E::bad_value, "data.url"},
        {"UrlWithSpace",
         push_with([](json& d) { d["url"] = url_with_secret("https://h.example.com/a b.bin"); }),
         E::bad_value, "data.url"},
        {"UrlWithNewline",
         push_with([](json& d) { d["url"] = url_with_secret("https://h.example.com/a\r\nX: y"); }),
         E::bad_value, "data.url"},
        {"UrlTooLong", push_with([&long_url](json& d) { d["url"] = long_url; }), E::too_long,
         "data.url"},
        {"SizeMissing", push_with([](json& d) { d.erase("size"); }), E::missing_field, "data.size"},
        {"SizeNegative", push_with([](json& d) { d["size"] = -1; }), E::bad_value, "data.size"},
        {"SizeFloat", push_with([](json& d) { d["size"] = 1.5; }), E::bad_value, "data.size"},
        {"SizeStringNotDecimal", push_with([](json& d) { d["size"] = "123x"; }), E::bad_value,
         "data.size"},
        {"SizeStringSigned", push_with([](json& d) { d["size"] = "+123"; }), E::bad_value,
         "data.size"},
        {"SizeObject", push_with([](json& d) { d["size"] = json::object(); }), E::wrong_type,
         "data.size"},
        {"SizeBool", push_with([](json& d) { d["size"] = true; }), E::wrong_type, "data.size"},
        {"SizeAboveUint64",
         R"({"data":{"version":"1","url":"https://h/x","md5":")" + std::string(kMd5A) +
             R"(","size":18446744073709551616}})",
         E::bad_value, "data.size"},
        {"Md5WrongLength", push_with([](json& d) { d["md5"] = std::string(kMd5A).substr(1); }),
         E::bad_value, "data.md5"},
        {"Md5NotHex", push_with([](json& d) { d["md5"] = "0123456789abcdef0123456789abcdeg"; }),
         E::bad_value, "data.md5"},
        {"Md5Number", push_with([](json& d) { d["md5"] = 12345; }), E::wrong_type, "data.md5"},
        {"NoDigestAtAll", push_with([](json& d) { d.erase("md5"); }), E::missing_field, "data.md5"},
        {"SignWithoutSignMethodOrMd5", push_with([](json& d) {
             d.erase("md5");
             d["sign"] = kMd5A;
         }),
         E::missing_field, "data.signMethod"},
        {"SignMethodUnknown", push_with([](json& d) {
             d["sign"] = kMd5A;
             d["signMethod"] = "SHA1";
         }),
         E::bad_value, "data.signMethod"},
        {"SignMethodNotString", push_with([](json& d) {
             d["sign"] = kMd5A;
             d["signMethod"] = 5;
         }),
         E::wrong_type, "data.signMethod"},
        {"SignMethodWithoutSign", push_with([](json& d) { d["signMethod"] = "Md5"; }),
         E::missing_field, "data.sign"},
        {"Sha256SignOfMd5Length", push_with([](json& d) {
             d["sign"] = kMd5A;
             d["signMethod"] = "SHA256";
         }),
         E::bad_value, "data.sign"},
        {"Md5SignOfSha256Length", push_with([](json& d) {
             d["sign"] = kSha256A;
             d["signMethod"] = "Md5";
         }),
         E::bad_value, "data.sign"},
        {"ModuleNumber", push_with([](json& d) { d["module"] = 1; }), E::wrong_type, "data.module"},
        {"ModuleTooLong", push_with([](json& d) { d["module"] = std::string(65, 'm'); }),
         E::too_long, "data.module"},
        {"ModuleControlChar", push_with([](json& d) { d["module"] = "mcu\t2"; }), E::bad_value,
         "data.module"},
        {"IsDiffTwo", push_with([](json& d) { d["isDiff"] = 2; }), E::bad_value, "data.isDiff"},
        {"IsDiffNegative", push_with([](json& d) { d["isDiff"] = -1; }), E::bad_value,
         "data.isDiff"},
        {"IsDiffStringWord", push_with([](json& d) { d["isDiff"] = "yes"; }), E::bad_value,
         "data.isDiff"},
        {"IsDiffStringTwo", push_with([](json& d) { d["isDiff"] = "2"; }), E::bad_value,
         "data.isDiff"},
        {"IsDiffArray", push_with([](json& d) { d["isDiff"] = json::array({1}); }), E::wrong_type,
         "data.isDiff"},
        {"FilesNotArray", files_with([](json& d) { d["files"] = json::object(); }), E::wrong_type,
         "data.files"},
        {"FilesEmpty", files_with([](json& d) { d["files"] = json::array(); }), E::bad_value,
         "data.files"},
        {"FilesTooMany", files_with([](json& d) {
             const json one = d["files"][1];
             d["files"] = json::array();
             for (std::size_t i = 0; i <= kMaxFilesPerJob; ++i) d["files"].push_back(one);
         }),
         E::too_long, "data.files"},
        {"FilesWithoutSignMethod", files_with([](json& d) { d.erase("signMethod"); }),
         E::missing_field, "data.signMethod"},
        {"FileEntryNotObject", files_with([](json& d) { d["files"][1] = "res.pak"; }),
         E::wrong_type, "data.files[1]"},
        {"FileMissingUrl", files_with([](json& d) { d["files"][1].erase("fileUrl"); }),
         E::missing_field, "data.files[1].fileUrl"},
        {"FileUrlFtp",
         files_with([](json& d) { d["files"][1]["fileUrl"] = url_with_secret("ftp://h/x"); }),
         E::bad_value, "data.files[1].fileUrl"},
        {"FileSizeNegative", files_with([](json& d) { d["files"][0]["fileSize"] = -5; }),
         E::bad_value, "data.files[0].fileSize"},
        {"FileSizeStringNotDecimal", files_with([](json& d) { d["files"][0]["fileSize"] = "5 "; }),
         E::bad_value, "data.files[0].fileSize"},
        {"FileSizesOverflow", files_with([](json& d) {
             d["files"][0]["fileSize"] = std::numeric_limits<std::uint64_t>::max();
             d["files"][1]["fileSize"] = 1;
         }),
         E::bad_value, "data.files[1].fileSize"},
        {"FileSignWrongLength", files_with([](json& d) { d["files"][0]["fileSign"] = kMd5A; }),
         E::bad_value, "data.files[0].fileSign"},
        {"FileNameMissing", files_with([](json& d) { d["files"][0].erase("fileName"); }),
         E::missing_field, "data.files[0].fileName"},
        {"FileNameWithPath",
         files_with([](json& d) { d["files"][1]["fileName"] = "../../etc/passwd"; }), E::bad_value,
         "data.files[1].fileName"},
        {"FileNameDot", files_with([](json& d) { d["files"][0]["fileName"] = "."; }), E::bad_value,
         "data.files[0].fileName"},
        {"FileNameDotDot", files_with([](json& d) { d["files"][1]["fileName"] = ".."; }),
         E::bad_value, "data.files[1].fileName"},
        {"FileNameBackslash",
         files_with([](json& d) { d["files"][0]["fileName"] = "..\\boot.ini"; }), E::bad_value,
         "data.files[0].fileName"},
        {"FileNameControlChar", files_with([](json& d) { d["files"][1]["fileName"] = "a\x7f"; }),
         E::bad_value, "data.files[1].fileName"},
    };
}

class MalformedPayload : public ::testing::TestWithParam<Malformed> {};

void expect_rejected(const DecodeResult& r, const Malformed& c) {
    EXPECT_FALSE(r.job.has_value());
    ASSERT_TRUE(r.error.has_value());
    EXPECT_EQ(r.error->code, c.code);
    EXPECT_EQ(r.error->field, c.field);
    const std::string& msg = r.error->message;
    EXPECT_FALSE(msg.empty());
    if (!c.field.empty()) {
        EXPECT_NE(msg.find(c.field), std::string::npos) << msg;
    }
    EXPECT_EQ(msg.back(), '.') << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_EQ(msg.find("SECRETSIG"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("Expires"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("fw.example.com"), std::string::npos) << msg;
}

TEST_P(MalformedPayload, PushIsRejectedWithCodeAndField) {
    expect_rejected(decode_upgrade_push(GetParam().payload), GetParam());
}

TEST_P(MalformedPayload, GetReplyIsRejectedOrMeansNoJob) {
    const Malformed& c = GetParam();
    const DecodeResult r = decode_get_reply(c.payload);
    if (c.push_only) {
        EXPECT_FALSE(r.job.has_value());
        EXPECT_FALSE(r.error.has_value());
    } else {
        expect_rejected(r, c);
    }
}

INSTANTIATE_TEST_SUITE_P(Table, MalformedPayload, ::testing::ValuesIn(malformed_cases()),
                         [](const ::testing::TestParamInfo<Malformed>& param_info) {
                             return param_info.param.name;
                         });

TEST(MalformedTable, HasAtLeast25DistinctCases) {
    const std::vector<Malformed> cases = malformed_cases();
    EXPECT_GE(cases.size(), 25U);
    for (std::size_t i = 0; i < cases.size(); ++i) {
        for (std::size_t k = i + 1; k < cases.size(); ++k) {
            EXPECT_NE(cases[i].payload, cases[k].payload) << cases[i].name << " " << cases[k].name;
        }
    }
}

TEST(MalformedTable, BasePayloadsAreValid) {
    // Each case is a one-field edit of these, so they must decode cleanly themselves.
    EXPECT_TRUE(decode_upgrade_push(base_push().dump()).job.has_value());
    EXPECT_TRUE(decode_upgrade_push(files_with([](json&) {})).job.has_value());
}

}  // namespace
}  // namespace ota
