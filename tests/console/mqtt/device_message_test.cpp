// Strict decoding of device messages (tools/common): every refusal the console and ota_fleet's
// cloud rely on to keep bad input out
// of the store (topics with the wrong levels, payloads that are not JSON objects, wrong types,
// out-of-range steps, over-long versions), and the accepted forms devices really send.
#include "common/device_message.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ota_tools {
namespace {

constexpr const char* kInform = "/ota/device/inform/pk1/dev1";
constexpr const char* kProgress = "/ota/device/progress/pk1/dev1";
constexpr const char* kGet = "/sys/pk1/dev1/thing/ota/firmware/get";

TEST(DeviceMessage, InformWithAndWithoutModule) {
    DecodeResult r = decode_device_message(kInform, R"({"id":"1","params":{"version":"1.2.3"}})");
    ASSERT_TRUE(r.message) << r.error;
    EXPECT_EQ(r.message->kind, DeviceMessageKind::inform);
    EXPECT_EQ(r.message->device, (DeviceKey{"pk1", "dev1"}));
    EXPECT_EQ(r.message->version, "1.2.3");
    EXPECT_EQ(r.message->module, "default");
    EXPECT_EQ(r.message->request_id, "1");

    r = decode_device_message(kInform, R"({"id":7,"params":{"version":"2","module":"mcu"}})");
    ASSERT_TRUE(r.message) << r.error;
    EXPECT_EQ(r.message->module, "mcu");
    EXPECT_EQ(r.message->request_id, "7");
}

TEST(DeviceMessage, ProgressStepAsStringOrNumber) {
    DecodeResult r =
        decode_device_message(kProgress, R"({"id":"2","params":{"step":"50","desc":"half"}})");
    ASSERT_TRUE(r.message) << r.error;
    EXPECT_EQ(r.message->kind, DeviceMessageKind::progress);
    EXPECT_EQ(r.message->step, 50);
    EXPECT_EQ(r.message->desc, "half");
    r = decode_device_message(kProgress, R"({"params":{"step":-3}})");
    ASSERT_TRUE(r.message) << r.error;
    EXPECT_EQ(r.message->step, -3);
    EXPECT_EQ(r.message->desc, "");
    r = decode_device_message(kProgress, R"({"params":{"step":"100"}})");
    ASSERT_TRUE(r.message) << r.error;
    EXPECT_EQ(r.message->step, 100);
}

TEST(DeviceMessage, FirmwareGet) {
    DecodeResult r = decode_device_message(kGet, R"({"id":"9","params":{}})");
    ASSERT_TRUE(r.message) << r.error;
    EXPECT_EQ(r.message->kind, DeviceMessageKind::firmware_get);
    EXPECT_EQ(r.message->device, (DeviceKey{"pk1", "dev1"}));
    EXPECT_EQ(r.message->request_id, "9");
    EXPECT_EQ(get_reply_topic(r.message->device), "/sys/pk1/dev1/thing/ota/firmware/get_reply");
}

TEST(DeviceMessage, RefusesBadTopics) {
    const char* ok = R"({"params":{"version":"1"}})";
    for (const char* topic :
         {"/ota/device/inform/pk1", "/ota/device/inform/pk1/dev1/extra", "ota/device/inform/a/b",
          "/ota/device/inform//dev1", "/ota/device/inform/pk1/", "/ota/device/upgrade/pk1/dev1",
          "/sys/pk1/dev1/thing/ota/firmware/get/x", "/sys/pk1/thing/ota/firmware/get",
          "/sys//dev1/thing/ota/firmware/get", "/ota/device/inform/pk+/dev1", "",
          "/ota/device/inform/pk1/0123456789012345678901234567890123456789012345678901234567890123"
          "4"}) {
        const DecodeResult r = decode_device_message(topic, ok);
        EXPECT_FALSE(r.message) << topic;
        EXPECT_FALSE(r.error.empty()) << topic;
    }
}

TEST(DeviceMessage, RefusesBadPayloads) {
    for (const char* payload :
         {"", "not json", "[1,2]", "\"text\"", "{}", R"({"params":[]})", R"({"params":"x"})",
          R"({"params":{}})", R"({"params":{"version":1}})", R"({"params":{"version":""}})",
          R"({"params":{"version":null}})", R"({"params":{"version":"1","module":""}})",
          R"({"params":{"version":"1","module":5}})", R"({"id":[1],"params":{"version":"1"}})",
          R"({"id":1.5,"params":{"version":"1"}})", R"({"params":{"version":"a\u0001b"}})",
          "{\"params\":{\"ver"}) {
        const DecodeResult r = decode_device_message(kInform, payload);
        EXPECT_FALSE(r.message) << payload;
        EXPECT_FALSE(r.error.empty()) << payload;
    }
    const std::string long_version(65, 'v');
    EXPECT_FALSE(decode_device_message(kInform, R"({"params":{"version":")" + long_version + "\"}}")
                     .message);
    EXPECT_TRUE(decode_device_message(kInform,
                                      R"({"params":{"version":")" + long_version.substr(1) + "\"}}")
                    .message);
    const std::string huge =
        R"({"params":{"version":"1"},"pad":")" + std::string(kMaxDeviceMessageBytes, 'x') + "\"}";
    EXPECT_FALSE(decode_device_message(kInform, huge).message);
}

TEST(DeviceMessage, RefusesBadSteps) {
    for (const char* payload :
         {R"({"params":{"step":"101"}})", R"({"params":{"step":"-5"}})",
          R"({"params":{"step":101}})", R"({"params":{"step":-5}})", R"({"params":{"step":"5.0"}})",
          R"({"params":{"step":5.5}})", R"({"params":{"step":" 5"}})",
          R"({"params":{"step":"5x"}})", R"({"params":{"step":""}})", R"({"params":{"step":true}})",
          R"({"params":{"step":null}})", R"({"params":{}})",
          R"({"params":{"step":18446744073709551615}})", R"({"params":{"step":"50","desc":3}})",
          R"({"params":{"step":"99999999999999999999"}})"}) {
        const DecodeResult r = decode_device_message(kProgress, payload);
        EXPECT_FALSE(r.message) << payload;
    }
}

TEST(DeviceMessage, LongDescIsCutAtACharacterBoundary) {
    std::string desc;
    while (desc.size() < kMaxDescLength + 10) desc += "\xC3\xA9";  // e-acute, 2 bytes
    const DecodeResult r =
        decode_device_message(kProgress, R"({"params":{"step":"-1","desc":")" + desc + "\"}}");
    ASSERT_TRUE(r.message) << r.error;
    EXPECT_LE(r.message->desc.size(), kMaxDescLength);
    EXPECT_EQ(r.message->desc.size() % 2, 0U);
}

}  // namespace
}  // namespace ota_tools
