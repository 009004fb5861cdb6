// The linkkit C interface (iot_export_linkkit.h) driven through the transport seam with
// FakeBroker, ScriptedSource and ManualClock. This binary implements the application's HAL hooks
// (HAL_GetFirmwareVersion, HAL_Firmware_Persistence_*) itself, replacing the library's weak
// defaults, so that every outcome of the persistence hooks can be injected and observed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "c_api_fakes.hpp"
#include "ota/c_api/iot_export_linkkit.h"
#include "ota/digest.hpp"
#include "ota/protocol.hpp"

namespace {

// What the hooks were called with, and what they answer.
struct Hooks {
    std::vector<std::string> calls;  // "start", "write", "stop:<succeeded>"
    std::vector<std::uint8_t> stored;
    std::string version = "1.0.0";                // HAL_GetFirmwareVersion; empty = it fails
    std::optional<std::size_t> fail_write_after;  // Write fails once this many bytes are stored
    int stop_result = 0;
};

Hooks g_hooks;

}  // namespace

extern "C" {

int HAL_GetFirmwareVersion(char* version) {
    if (g_hooks.version.empty()) return -1;
    std::memcpy(version, g_hooks.version.data(), g_hooks.version.size());
    version[g_hooks.version.size()] = '\0';
    return static_cast<int>(g_hooks.version.size());
}

void HAL_Firmware_Persistence_Start(void) {
    g_hooks.calls.emplace_back("start");
    g_hooks.stored.clear();
}

int HAL_Firmware_Persistence_Write(char* buffer, uint32_t length) {
    if (g_hooks.fail_write_after && g_hooks.stored.size() >= *g_hooks.fail_write_after) return -1;
    g_hooks.calls.emplace_back("write");
    g_hooks.stored.insert(g_hooks.stored.end(), buffer, buffer + length);
    return 0;
}

int HAL_Firmware_Persistence_StopEx(int succeeded) {
    g_hooks.calls.push_back("stop:" + std::to_string(succeeded));
    return g_hooks.stop_result;
}

// tests/unit/c_linkkit_calls.c
int ota_c_open_device_type(int dev_type, iotx_linkkit_dev_meta_info_t* meta);
int ota_c_query_message_type(int devid, int msg_type);

}  // extern "C"

namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using ota::test::FakeTransports;
using ota::test::ScriptedResponse;

constexpr const char* kPk = "a1LinkProd";
constexpr const char* kDn = "link-dev";
const ota::Topics kTopics = ota::make_topics(kPk, kDn);

struct Announcement {
    int type = -1;
    std::string version;
    std::optional<std::string> module;  // set only by the module callback
};
std::vector<Announcement> g_announced;

int on_fota(int type, const char* version) {
    g_announced.push_back({type, version, std::nullopt});
    return 0;
}

int on_fota_module(int type, const char* version, const char* module) {
    g_announced.push_back({type, version, std::string(module)});
    return 0;
}

std::vector<std::uint8_t> image(std::size_t n) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>((i * 31 + 7) & 0xFF);
    return v;
}

class CApiLinkkit : public ::testing::Test {
  protected:
    void SetUp() override {
        g_hooks = Hooks{};
        g_announced.clear();
        // The linkkit device is process-wide: put every option back to its default.
        iotx_register_for_ITE_FOTA(nullptr);
        iotx_register_for_ITE_FOTA_MODULE(nullptr);
        int zero = 0;
        int port = 443;
        ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_DOMAIN, &zero), 0);
        ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MODULE, nullptr), 0);
        ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MQTT_HOST, nullptr), 0);
        ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MQTT_PORT, &port), 0);
        ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MQTT_CA_FILE, nullptr), 0);
        ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MQTT_PLAIN_TCP, &zero), 0);
        ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_HTTP_CA_FILE, nullptr), 0);
        ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_ALLOW_HTTP, &zero), 0);
        ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_FIRMWARE_VERSION, nullptr), 0);
    }

    void TearDown() override { IOT_Linkkit_Close(0); }

    static iotx_linkkit_dev_meta_info_t meta(const char* pk = kPk) {
        iotx_linkkit_dev_meta_info_t m;
        std::memset(&m, 0, sizeof m);
        std::strncpy(m.product_key, pk, sizeof m.product_key - 1);
        std::strncpy(m.device_name, kDn, sizeof m.device_name - 1);
        std::strncpy(m.device_secret, "s3cr3t", sizeof m.device_secret - 1);
        return m;
    }

    void open_and_connect() {
        iotx_linkkit_dev_meta_info_t m = meta();
        ASSERT_EQ(IOT_Linkkit_Open(IOTX_LINKKIT_DEV_TYPE_MASTER, &m), 0);
        ASSERT_EQ(IOT_Linkkit_Connect(0), 0);
    }

    // Publishes a job for `body` (its MD5 unless `digest` is given) and scripts the source.
    void push(const std::vector<std::uint8_t>& body, ScriptedResponse r = {},
              const std::string& digest = {}, const std::string& module = {}) {
        ota::UpgradeJob job;
        job.version = "2.0.0";
        job.size = body.size();
        job.url = "https://fw.example.com/image.bin?Signature=SECRET";
        job.module = module;
        job.digest.algorithm = ota::DigestAlgorithm::md5;
        ASSERT_TRUE(
            ota::digest_hex(job.digest.algorithm, body.data(), body.size(), job.digest.hex).ok());
        if (!digest.empty()) job.digest.hex = digest;
        r.body = body;
        if (!r.content_length && r.status == 200) r.content_length = body.size();
        fakes.source->set_response(r);
        fakes.broker.publish(kTopics.upgrade, ota::encode_upgrade_push(job, 9));
    }

    std::vector<std::string> steps() const {
        std::vector<std::string> out;
        for (const auto& m : fakes.broker.published_on(kTopics.progress)) {
            out.push_back(json::parse(m.payload).at("params").at("step").get<std::string>());
        }
        return out;
    }

    FakeTransports fakes;
};

// ---- Open / Connect / Close --------------------------------------------------------------------

TEST_F(CApiLinkkit, OpenTakesOnlyTheMasterDeviceOnce) {
    iotx_linkkit_dev_meta_info_t m = meta();
    EXPECT_EQ(IOT_Linkkit_Open(IOTX_LINKKIT_DEV_TYPE_MASTER, nullptr), -1);
    EXPECT_EQ(ota_c_open_device_type(1, &m), -1) << "a sub-device";
    EXPECT_EQ(IOT_Linkkit_Connect(0), -1) << "not open yet";
    EXPECT_EQ(IOT_Linkkit_Close(0), -1) << "not open yet";
    EXPECT_EQ(IOT_Linkkit_Open(IOTX_LINKKIT_DEV_TYPE_MASTER, &m), 0);
    EXPECT_EQ(IOT_Linkkit_Open(IOTX_LINKKIT_DEV_TYPE_MASTER, &m), -1) << "already open";
    EXPECT_EQ(IOT_Linkkit_Connect(1), -1) << "only devid 0 exists";
    EXPECT_EQ(IOT_Linkkit_Close(1), -1);
    EXPECT_EQ(IOT_Linkkit_Close(0), 0);
    EXPECT_EQ(IOT_Linkkit_Close(0), -1) << "closed already";
    EXPECT_TRUE(fakes.mqtt_options.empty());
}

namespace ite {
std::vector<std::string> g_calls;
int connected() {
    g_calls.push_back("connected");
    return 0;
}
int disconnected() {
    g_calls.push_back("disconnected");
    return 0;
}
int initialized(const int devid) {
    g_calls.push_back("initialized " + std::to_string(devid));
    return 0;
}
}  // namespace ite

TEST_F(CApiLinkkit, ConnectionCallbacksFollowTheChannel) {
    ite::g_calls.clear();
    IOT_RegisterCallback(ITE_CONNECT_SUCC, ite::connected);
    IOT_RegisterCallback(ITE_DISCONNECTED, ite::disconnected);
    IOT_RegisterCallback(ITE_INITIALIZE_COMPLETED, ite::initialized);
    open_and_connect();
    EXPECT_EQ(ite::g_calls, (std::vector<std::string>{"connected", "initialized 0"}));
    fakes.channel->fake().disconnect();
    EXPECT_EQ(IOT_Linkkit_Yield(0), 0);
    fakes.channel->fake().reconnect();
    EXPECT_EQ(IOT_Linkkit_Yield(0), 0);
    EXPECT_EQ(ite::g_calls, (std::vector<std::string>{"connected", "initialized 0", "disconnected",
                                                      "connected"}));
    IOT_RegisterCallback(ITE_CONNECT_SUCC, nullptr);
    IOT_RegisterCallback(ITE_DISCONNECTED, nullptr);
    IOT_RegisterCallback(ITE_INITIALIZE_COMPLETED, nullptr);
}

TEST_F(CApiLinkkit, UnterminatedFieldsAreOpenedButRefusedByConnect) {
    iotx_linkkit_dev_meta_info_t m;
    std::memset(&m, 'k', sizeof m);  // no NUL anywhere: each field is one character too long
    ASSERT_EQ(IOT_Linkkit_Open(IOTX_LINKKIT_DEV_TYPE_MASTER, &m), 0);
    EXPECT_EQ(IOT_Linkkit_Connect(0), -1);
    EXPECT_TRUE(fakes.mqtt_options.empty()) << "no connection with an invalid identity";
}

TEST_F(CApiLinkkit, ConnectBuildsTheTransportsFromTheIoctlSettings) {
    int region = IOTX_CLOUD_REGION_GERMANY;
    int port = 1883;
    int one = 1;
    ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_DOMAIN, &region), 0);
    ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MQTT_PORT, &port), 0);
    ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MQTT_PLAIN_TCP, &one), 0);
    ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MQTT_CA_FILE, const_cast<char*>("/ca/broker.pem")), 0);
    ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_HTTP_CA_FILE, const_cast<char*>("/ca/fw.pem")), 0);
    ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_ALLOW_HTTP, &one), 0);
    open_and_connect();
    ASSERT_EQ(fakes.mqtt_options.size(), 1U);
    const ota::MqttOptions& mo = fakes.mqtt_options[0];
    EXPECT_EQ(mo.host, std::string(kPk) + ".iot-as-mqtt.eu-central-1.aliyuncs.com");
    EXPECT_EQ(mo.port, 1883);
    EXPECT_FALSE(mo.use_tls);
    EXPECT_EQ(mo.ca_file, "/ca/broker.pem");
    EXPECT_NE(mo.client_id.find(kDn), std::string::npos);
    EXPECT_FALSE(mo.password.empty());
    ASSERT_EQ(fakes.http_options.size(), 1U);
    EXPECT_EQ(fakes.http_options[0].ca_file, "/ca/fw.pem");
    EXPECT_TRUE(fakes.http_options[0].allow_http);
    EXPECT_EQ(IOT_Linkkit_Connect(0), -1) << "already connected";
    EXPECT_EQ(fakes.mqtt_options.size(), 1U);
}

TEST_F(CApiLinkkit, ConnectUsesTheCustomHostAndTlsByDefault) {
    ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MQTT_HOST, const_cast<char*>("broker.lab")), 0);
    open_and_connect();
    const ota::MqttOptions& mo = fakes.mqtt_options.at(0);
    EXPECT_EQ(mo.host, "broker.lab");
    EXPECT_EQ(mo.port, 443);
    EXPECT_TRUE(mo.use_tls);
    EXPECT_TRUE(mo.ca_file.empty());
    EXPECT_FALSE(fakes.http_options.at(0).allow_http);
    EXPECT_TRUE(fakes.http_options.at(0).ca_file.empty());
}

TEST_F(CApiLinkkit, ConnectReportsTheFirmwareVersion) {
    g_hooks.version = "1.2.3";
    open_and_connect();
    EXPECT_TRUE(fakes.channel->fake().is_subscribed(kTopics.upgrade));
    auto informs = fakes.broker.published_on(kTopics.inform);
    ASSERT_EQ(informs.size(), 1U);
    EXPECT_EQ(json::parse(informs[0].payload).at("params").at("version"), "1.2.3");
    ASSERT_EQ(IOT_Linkkit_Close(0), 0);
    EXPECT_EQ(fakes.broker.channel_count(), 0U) << "Close frees the channel";

    // The Ioctl version wins over the hook.
    ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_FIRMWARE_VERSION, const_cast<char*>("9.9.9")), 0);
    open_and_connect();
    informs = fakes.broker.published_on(kTopics.inform);
    ASSERT_EQ(informs.size(), 2U);
    EXPECT_EQ(json::parse(informs[1].payload).at("params").at("version"), "9.9.9");
}

TEST_F(CApiLinkkit, ConnectFailsWithoutAUsableFirmwareVersion) {
    iotx_linkkit_dev_meta_info_t m = meta();
    ASSERT_EQ(IOT_Linkkit_Open(IOTX_LINKKIT_DEV_TYPE_MASTER, &m), 0);
    g_hooks.version.clear();
    EXPECT_EQ(IOT_Linkkit_Connect(0), -1) << "the hook fails";
    g_hooks.version = std::string(ota::kMaxVersionLength, '7');
    EXPECT_EQ(IOT_Linkkit_Connect(0), 0) << "the longest version fits";
    EXPECT_EQ(IOT_Linkkit_Close(0), 0);
    ASSERT_EQ(IOT_Linkkit_Open(IOTX_LINKKIT_DEV_TYPE_MASTER, &m), 0);
    EXPECT_EQ(fakes.mqtt_options.size(), 1U) << "nothing was connected for a missing version";
}

TEST_F(CApiLinkkit, ConnectFailuresLeaveTheDeviceUnconnected) {
    iotx_linkkit_dev_meta_info_t bad = meta("");
    ASSERT_EQ(IOT_Linkkit_Open(IOTX_LINKKIT_DEV_TYPE_MASTER, &bad), 0);
    EXPECT_EQ(IOT_Linkkit_Connect(0), -1) << "an empty product key";
    EXPECT_TRUE(fakes.mqtt_options.empty());
    ASSERT_EQ(IOT_Linkkit_Close(0), 0);

    iotx_linkkit_dev_meta_info_t m = meta();
    ASSERT_EQ(IOT_Linkkit_Open(IOTX_LINKKIT_DEV_TYPE_MASTER, &m), 0);
    fakes.connect_error = ota::Error(ota::Status::not_connected, "broker refused");
    EXPECT_EQ(IOT_Linkkit_Connect(0), -1);
    EXPECT_EQ(IOT_Linkkit_Yield(0), -1);
    EXPECT_EQ(IOT_Linkkit_Query(0, ITM_MSG_REQUEST_FOTA_IMAGE, nullptr, 0), -1);
    fakes.connect_error = ota::Error();
    EXPECT_EQ(IOT_Linkkit_Connect(0), 0) << "a later attempt may succeed";
}

// ---- IOT_Ioctl ---------------------------------------------------------------------------------

TEST_F(CApiLinkkit, IoctlRejectsBadValuesAndUnknownOptions) {
    int v = -1;
    EXPECT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_DOMAIN, nullptr), -1);
    EXPECT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_DOMAIN, &v), -1);
    v = IOTX_CLOUD_REGION_GERMANY + 1;
    EXPECT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_DOMAIN, &v), -1);
    v = 1;
    EXPECT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_DYNAMIC_REGISTER, &v), -1) << "unsupported";
    v = 0;
    EXPECT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_DYNAMIC_REGISTER, &v), 0);
    EXPECT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_DYNAMIC_REGISTER, nullptr), 0);
    EXPECT_EQ(IOT_Ioctl(IOTX_IOCTL_RECV_EVENT_REPLY, &v), 0);
    EXPECT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MQTT_PORT, nullptr), -1);
    for (int port : {0, -1, 65536}) {
        EXPECT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MQTT_PORT, &port), -1) << port;
    }
    int port = 65535;
    EXPECT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MQTT_PORT, &port), 0);
    EXPECT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MQTT_PLAIN_TCP, nullptr), 0) << "NULL = TLS";
    EXPECT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_ALLOW_HTTP, nullptr), 0) << "NULL = https only";
    EXPECT_EQ(IOT_Ioctl(4, &v), -1);
    EXPECT_EQ(IOT_Ioctl(99, &v), -1);
    EXPECT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_FIRMWARE_VERSION + 1, &v), -1);

    // The valid values were kept: the last port, TLS, https only.
    open_and_connect();
    EXPECT_EQ(fakes.mqtt_options.at(0).port, 65535);
    EXPECT_TRUE(fakes.mqtt_options.at(0).use_tls);
    EXPECT_FALSE(fakes.http_options.at(0).allow_http);
}

// ---- callbacks
// -----------------------------------------------------------------------------------

TEST_F(CApiLinkkit, FotaCallbackAnnouncesAPushInsideYield) {
    IOT_RegisterCallback(ITE_FOTA, on_fota);
    open_and_connect();
    push(image(100));
    EXPECT_TRUE(g_announced.empty()) << "callbacks run only inside IOT_Linkkit_Yield";
    EXPECT_EQ(IOT_Linkkit_Yield(-1), 0);
    ASSERT_EQ(g_announced.size(), 1U);
    EXPECT_EQ(g_announced[0].type, 0);
    EXPECT_EQ(g_announced[0].version, "2.0.0");
    EXPECT_FALSE(g_announced[0].module);
}

TEST_F(CApiLinkkit, ModuleCallbackWinsAndIsToldTheModule) {
    IOT_RegisterCallback(ITE_FOTA, on_fota);
    IOT_RegisterCallback(ITE_FOTA_MODULE, on_fota_module);
    ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MODULE, const_cast<char*>("mcu")), 0);
    open_and_connect();
    push(image(100), {}, {}, "other");
    EXPECT_EQ(IOT_Linkkit_Yield(10), 0);
    EXPECT_TRUE(g_announced.empty()) << "a job for another module is not announced";
    push(image(100), {}, {}, "mcu");
    EXPECT_EQ(IOT_Linkkit_Yield(10), 0);
    ASSERT_EQ(g_announced.size(), 1U);
    ASSERT_TRUE(g_announced[0].module);
    EXPECT_EQ(*g_announced[0].module, "mcu");
}

TEST_F(CApiLinkkit, NoCallbackRegisteredIsFine) {
    open_and_connect();
    push(image(100));
    EXPECT_EQ(IOT_Linkkit_Yield(0), 0);
    EXPECT_TRUE(g_announced.empty());
    EXPECT_EQ(IOT_Linkkit_Query(0, ITM_MSG_QUERY_FOTA_DATA, nullptr, 0), 0)
        << "the job can still be fetched";
}

// ---- IOT_Linkkit_Query and the persistence hooks
// -------------------------------------------------

TEST_F(CApiLinkkit, QueryFotaDataStoresTheImageThroughTheHooks) {
    open_and_connect();
    EXPECT_EQ(IOT_Linkkit_Query(0, ITM_MSG_QUERY_FOTA_DATA, nullptr, 0), -1) << "no job yet";
    const auto body = image(10'000);
    ScriptedResponse r;
    r.max_chunk = 3000;
    push(body, r);
    ASSERT_EQ(IOT_Linkkit_Yield(0), 0);
    g_hooks.calls.clear();
    EXPECT_EQ(IOT_Linkkit_Query(0, ITM_MSG_QUERY_FOTA_DATA, nullptr, 0), 0);
    EXPECT_EQ(g_hooks.stored, body);
    ASSERT_GE(g_hooks.calls.size(), 3U);
    EXPECT_EQ(g_hooks.calls.front(), "start");
    EXPECT_EQ(g_hooks.calls.back(), "stop:1") << "StopEx(1) once the image is verified";
    EXPECT_EQ(std::count(g_hooks.calls.begin(), g_hooks.calls.end(), "start"), 1);
    const auto s = steps();
    ASSERT_FALSE(s.empty());
    EXPECT_EQ(s.back(), "100");
}

TEST_F(CApiLinkkit, QueryResumesACutWithRangeInOneHookSession) {
    open_and_connect();
    const auto body = image(8000);
    ScriptedResponse r;
    r.max_chunk = 1000;
    r.range_from_offset = true;
    r.fail_after = 3000;
    push(body, r);
    ScriptedResponse rest = fakes.source->response();
    rest.fail_after.reset();
    fakes.source->set_script({fakes.source->response(), rest});
    ASSERT_EQ(IOT_Linkkit_Yield(0), 0);
    // The synchronous download waits out its backoff on the fake clock's time: move it along
    // from the channel's yield (the only place the agent waits).
    fakes.channel->on_yield = [this] { fakes.clock.advance(100ms); };
    EXPECT_EQ(IOT_Linkkit_Query(0, ITM_MSG_QUERY_FOTA_DATA, nullptr, 0), 0);
    EXPECT_EQ(g_hooks.stored, body);
    ASSERT_EQ(fakes.source->opens().size(), 2U);
    EXPECT_EQ(fakes.source->opens()[1].offset, 3000U);
    EXPECT_EQ(std::count(g_hooks.calls.begin(), g_hooks.calls.end(), "start"), 1);
    EXPECT_EQ(g_hooks.calls.back(), "stop:1");
}

TEST_F(CApiLinkkit, FailedWriteStopsWithFailureAndReportsMinus4) {
    open_and_connect();
    g_hooks.fail_write_after = 2000;
    ScriptedResponse r;
    r.max_chunk = 1000;
    push(image(6000), r);
    ASSERT_EQ(IOT_Linkkit_Yield(0), 0);
    EXPECT_EQ(IOT_Linkkit_Query(0, ITM_MSG_QUERY_FOTA_DATA, nullptr, 0), -1);
    EXPECT_EQ(g_hooks.stored.size(), 2000U);
    EXPECT_EQ(g_hooks.calls.back(), "stop:0");
    EXPECT_EQ(std::count(g_hooks.calls.begin(), g_hooks.calls.end(), "stop:0"), 1);
    EXPECT_EQ(steps().back(), "-4");
}

TEST_F(CApiLinkkit, Http404StopsWithFailureAndReportsMinus2) {
    open_and_connect();
    ScriptedResponse r;
    r.status = 404;
    r.content_length = 9;
    const std::string page = "not found";
    push(std::vector<std::uint8_t>(page.begin(), page.end()), r, std::string(32, 'e'));
    ASSERT_EQ(IOT_Linkkit_Yield(0), 0);
    EXPECT_EQ(IOT_Linkkit_Query(0, ITM_MSG_QUERY_FOTA_DATA, nullptr, 0), -1);
    EXPECT_TRUE(g_hooks.stored.empty()) << "the error page is never written";
    EXPECT_EQ(g_hooks.calls, (std::vector<std::string>{"start", "stop:0"}))
        << "the Start has its StopEx(0), and nothing is written in between";
    EXPECT_EQ(steps().back(), "-2");
}

TEST_F(CApiLinkkit, DigestMismatchStopsWithFailureAndReportsMinus3) {
    open_and_connect();
    const auto body = image(4000);
    push(body, {}, std::string(32, 'f'));
    ASSERT_EQ(IOT_Linkkit_Yield(0), 0);
    EXPECT_EQ(IOT_Linkkit_Query(0, ITM_MSG_QUERY_FOTA_DATA, nullptr, 0), -1);
    EXPECT_EQ(g_hooks.stored, body) << "the bytes were written before the check";
    EXPECT_EQ(g_hooks.calls.back(), "stop:0") << "the application must not use them";
    EXPECT_EQ(std::count(g_hooks.calls.begin(), g_hooks.calls.end(), "stop:1"), 0);
    EXPECT_EQ(steps().back(), "-3");
}

TEST_F(CApiLinkkit, FailingFinalStopFailsTheQuery) {
    open_and_connect();
    g_hooks.stop_result = -1;
    push(image(1000));
    ASSERT_EQ(IOT_Linkkit_Yield(0), 0);
    EXPECT_EQ(IOT_Linkkit_Query(0, ITM_MSG_QUERY_FOTA_DATA, nullptr, 0), -1);
    EXPECT_EQ(g_hooks.calls.back(), "stop:1") << "StopEx was asked to publish the image";
    EXPECT_EQ(std::count(g_hooks.calls.begin(), g_hooks.calls.end(), "stop:1"), 1);
    EXPECT_EQ(steps().back(), "-4");
}

TEST_F(CApiLinkkit, QueryRequestFotaImagePublishesFirmwareGet) {
    open_and_connect();
    const std::size_t informs = fakes.broker.published_on(kTopics.inform).size();
    char version[] = "1.5.0";
    EXPECT_EQ(IOT_Linkkit_Query(0, ITM_MSG_REQUEST_FOTA_IMAGE,
                                reinterpret_cast<unsigned char*>(version), sizeof version),
              0);
    auto reported = fakes.broker.published_on(kTopics.inform);
    ASSERT_EQ(reported.size(), informs + 1);
    EXPECT_EQ(json::parse(reported.back().payload).at("params").at("version"), "1.5.0");
    EXPECT_EQ(fakes.broker.published_on(kTopics.firmware_get).size(), 1U);

    // An unterminated payload is read only up to payload_len.
    char unterminated[3] = {'3', '.', '1'};
    EXPECT_EQ(IOT_Linkkit_Query(0, ITM_MSG_REQUEST_FOTA_IMAGE,
                                reinterpret_cast<unsigned char*>(unterminated), 3),
              0);
    reported = fakes.broker.published_on(kTopics.inform);
    EXPECT_EQ(json::parse(reported.back().payload).at("params").at("version"), "3.1");

    EXPECT_EQ(IOT_Linkkit_Query(0, ITM_MSG_REQUEST_FOTA_IMAGE, nullptr, 0), 0);
    EXPECT_EQ(fakes.broker.published_on(kTopics.inform).size(), informs + 2) << "no version";
    EXPECT_EQ(fakes.broker.published_on(kTopics.firmware_get).size(), 3U);

    char too_long[80];
    std::memset(too_long, '8', sizeof too_long);
    EXPECT_EQ(IOT_Linkkit_Query(0, ITM_MSG_REQUEST_FOTA_IMAGE,
                                reinterpret_cast<unsigned char*>(too_long), sizeof too_long),
              -1);
    EXPECT_EQ(fakes.broker.published_on(kTopics.firmware_get).size(), 3U);

    EXPECT_EQ(ota_c_query_message_type(0, 7), -1) << "an unsupported message type";
    EXPECT_EQ(IOT_Linkkit_Query(1, ITM_MSG_REQUEST_FOTA_IMAGE, nullptr, 0), -1);
}

TEST_F(CApiLinkkit, CloseEndsTheSession) {
    open_and_connect();
    EXPECT_EQ(IOT_Linkkit_Close(0), 0);
    EXPECT_EQ(IOT_Linkkit_Yield(0), -1);
    EXPECT_EQ(IOT_Linkkit_Query(0, ITM_MSG_REQUEST_FOTA_IMAGE, nullptr, 0), -1);
    EXPECT_EQ(fakes.broker.channel_count(), 0U);
}

}  // namespace
