// The IOT_MQTT_* / IOT_OTA_* C interface driven end to end through the transport seam
// (ota/c_api_seams.hpp) with FakeBroker, ScriptedSource and ManualClock: parameter mapping, every
// Ioctl with right, wrong and NULL buffers, every Status -> IOT_OTAE_* mapping, and the fetch
// loop on success, a cut, HTTP 404 and a digest mismatch.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "c_api_fakes.hpp"
#include "ota/c_api/iot_export_linkkit.h"
#include "ota/c_api/iot_export_ota.h"
#include "ota/c_api/ota_flash.h"
#include "ota/c_api/ota_persistence.h"
#include "ota/digest.hpp"
#include "ota/protocol.hpp"
#include "support/fake_file_cloud.hpp"

extern "C" std::size_t ota_c_sizeof(int which);

namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using ota::Status;
using ota::test::FakeTransports;
using ota::test::ScriptedResponse;

constexpr const char* kPk = "a1CapiProd";
constexpr const char* kDn = "capi-dev";
const ota::Topics kTopics = ota::make_topics(kPk, kDn);

std::vector<std::uint8_t> image(std::size_t n) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>((i * 13 + 5) & 0xFF);
    return v;
}

std::string md5_of(const std::vector<std::uint8_t>& body) {
    std::string hex;
    EXPECT_TRUE(ota::digest_hex(ota::DigestAlgorithm::md5, body.data(), body.size(), hex).ok());
    return hex;
}

iotx_mqtt_param_t mqtt_params() {
    iotx_mqtt_param_t p{};
    p.host = "broker.example.com";
    p.port = 8883;
    p.client_id = "client-1";
    p.username = "user";
    p.password = "pass";
    p.request_timeout_ms = 2000;
    p.keepalive_interval_ms = 60000;
    return p;
}

class CApiOta : public ::testing::Test {
  protected:
    void SetUp() override {
        iotx_mqtt_param_t p = mqtt_params();
        mqtt = IOT_MQTT_Construct(&p);
        ASSERT_NE(mqtt, nullptr);
        // Time passes while the library waits in the channel (IOT_OTA_FetchYield waits there
        // for bytes, across backoffs).
        fakes.channel->on_yield = [this] { fakes.clock.advance(200ms); };
    }

    void TearDown() override {
        if (ota != nullptr) {
            EXPECT_EQ(IOT_OTA_Deinit(ota), 0);
        }
        if (mqtt != nullptr) {
            EXPECT_EQ(IOT_MQTT_Destroy(&mqtt), 0);
        }
    }

    void init(const iotx_ota_options_t* options = nullptr) {
        ota = IOT_OTA_InitEx(kPk, kDn, mqtt, options);
        ASSERT_NE(ota, nullptr);
    }

    // Publishes a job for `body` (its MD5 unless `digest` is given), scripts the source to serve
    // it with `response` as the template, and lets the client take the push.
    void push(const std::vector<std::uint8_t>& body, ScriptedResponse response = {},
              std::string digest = {}, std::uint64_t size = 0) {
        ota::UpgradeJob job;
        job.version = "2.0.0";
        job.size = size != 0 ? size : body.size();
        job.url = "https://fw.example.com/image.bin?Signature=SECRET";
        job.digest.algorithm = ota::DigestAlgorithm::md5;
        job.digest.hex = digest.empty() ? md5_of(body) : std::move(digest);
        response.body = body;
        if (!response.content_length && response.status == 200) {
            response.content_length = body.size();
        }
        fakes.source->set_response(response);
        fakes.broker.publish(kTopics.upgrade, ota::encode_upgrade_push(job, 7));
        ASSERT_EQ(IOT_MQTT_Yield(mqtt, 0), 0);
    }

    // The seed's loop: FetchYield until it fails or the image is complete (bounded); advances the
    // fake clock between calls so that backoffs elapse. Counts the calls that returned 0.
    std::pair<std::vector<std::uint8_t>, int> fetch_all(std::uint32_t buf_len = 1000) {
        std::vector<std::uint8_t> out;
        std::vector<char> buf(buf_len);
        int last = 0;
        zero_returns = 0;
        for (int i = 0; i < 10000 && IOT_OTA_IsFetching(ota) == 1; ++i) {
            last = IOT_OTA_FetchYield(ota, buf.data(), buf_len, 1);
            if (last < 0) break;
            zero_returns += last == 0 ? 1 : 0;
            out.insert(out.end(), buf.begin(), buf.begin() + last);
            fakes.clock.advance(200ms);
        }
        return {out, last};
    }

    // The progress steps published, in order.
    std::vector<std::string> steps() const {
        std::vector<std::string> out;
        for (const auto& p : progress()) out.push_back(p.at("params").at("step"));
        return out;
    }

    int zero_returns = 0;

    std::vector<json> progress() const {
        std::vector<json> out;
        for (const auto& m : fakes.broker.published_on(kTopics.progress)) {
            out.push_back(json::parse(m.payload));
        }
        return out;
    }

    std::uint32_t ioctl_u32(IOT_OTA_CmdType_t cmd) {
        std::uint32_t v = 0xDEADBEEF;
        EXPECT_EQ(IOT_OTA_Ioctl(ota, cmd, &v, sizeof v), 0) << cmd;
        return v;
    }

    std::uint64_t ioctl_u64(IOT_OTA_CmdType_t cmd) {
        std::uint64_t v = 0xDEADBEEF;
        EXPECT_EQ(IOT_OTA_Ioctl(ota, cmd, &v, sizeof v), 0) << cmd;
        return v;
    }

    FakeTransports fakes;
    void* mqtt = nullptr;
    void* ota = nullptr;
};

// ---- the C headers ---------------------------------------------------------------------------

TEST(CApiHeaders, CAndCxxSeeTheSameStructLayouts) {
    EXPECT_EQ(ota_c_sizeof(0), sizeof(iotx_mqtt_param_t));
    EXPECT_EQ(ota_c_sizeof(1), sizeof(iotx_conn_info_t));
    EXPECT_EQ(ota_c_sizeof(2), sizeof(iotx_ota_options_t));
    EXPECT_EQ(ota_c_sizeof(3), sizeof(iotx_linkkit_dev_meta_info_t));
    EXPECT_EQ(ota_c_sizeof(4), sizeof(ota_persistence_hal_t));
    EXPECT_EQ(ota_c_sizeof(5), sizeof(ota_flash_hal_t));
    EXPECT_EQ(ota_c_sizeof(6), sizeof(ota_ab_boot_info_t));
}

// ---- IOT_MQTT_* ------------------------------------------------------------------------------

TEST(CApiMqtt, ConstructMapsTheSeedParameters) {
    FakeTransports fakes;
    iotx_mqtt_param_t p = mqtt_params();
    p.ca_file = "/etc/broker-ca.pem";
    p.clean_session = 1;
    void* h = IOT_MQTT_Construct(&p);
    ASSERT_NE(h, nullptr);
    ASSERT_EQ(fakes.mqtt_options.size(), 1U);
    const ota::MqttOptions& o = fakes.mqtt_options[0];
    EXPECT_EQ(o.host, "broker.example.com");
    EXPECT_EQ(o.port, 8883);
    EXPECT_EQ(o.client_id, "client-1");
    EXPECT_EQ(o.username, "user");
    EXPECT_EQ(o.password, "pass");
    EXPECT_TRUE(o.use_tls);
    EXPECT_EQ(o.ca_file, "/etc/broker-ca.pem");
    EXPECT_TRUE(o.clean_session);
    EXPECT_EQ(o.keepalive, 60s);
    EXPECT_EQ(o.connect_timeout, 10000ms) << "the seed's 2 s is raised to 10 s";
    EXPECT_EQ(IOT_MQTT_Destroy(&h), 0);
    EXPECT_EQ(h, nullptr);
    EXPECT_EQ(fakes.broker.channel_count(), 0U) << "Destroy frees the channel";
}

TEST(CApiMqtt, PubKeyIsTheCaForTheBrokerAndTheFirmwareServer) {
    FakeTransports fakes;
    const std::string pem = "-----BEGIN CERTIFICATE-----\nMIIBseed\n-----END CERTIFICATE-----\n";
    iotx_mqtt_param_t p = mqtt_params();
    p.pub_key = pem.c_str();  // the original's CA as PEM text (pconn_info->pub_key)
    void* h = IOT_MQTT_Construct(&p);
    ASSERT_NE(h, nullptr);
    ASSERT_EQ(fakes.mqtt_options.size(), 1U);
    const std::string ca = fakes.mqtt_options[0].ca_file;
    ASSERT_FALSE(ca.empty());
    std::ifstream in(ca, std::ios::binary);
    const std::string written((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
    EXPECT_EQ(written, pem);

    void* ota = IOT_OTA_Init(kPk, kDn, h);
    ASSERT_NE(ota, nullptr);
    ASSERT_EQ(fakes.http_options.size(), 1U);
    EXPECT_EQ(fakes.http_options[0].ca_file, ca) << "one root for both, as the original";
    iotx_ota_options_t o{};
    o.http_ca_file = "/etc/fw-ca.pem";
    void* ota2 = IOT_OTA_InitEx(kPk, "other-dev", h, &o);
    ASSERT_NE(ota2, nullptr);
    EXPECT_EQ(fakes.http_options[1].ca_file, "/etc/fw-ca.pem") << "unless the app names another";

    EXPECT_EQ(IOT_OTA_Deinit(ota), 0);
    EXPECT_EQ(IOT_OTA_Deinit(ota2), 0);
    EXPECT_TRUE(std::filesystem::exists(ca)) << "the MQTT handle still uses it";
    EXPECT_EQ(IOT_MQTT_Destroy(&h), 0);
    EXPECT_FALSE(std::filesystem::exists(ca)) << "removed with its last user";
}

TEST(CApiMqtt, ConstructDefaultsAndBounds) {
    FakeTransports fakes;
    struct Case {
        std::uint32_t keepalive_ms;
        std::uint32_t timeout_ms;
        std::chrono::seconds keepalive;
        std::chrono::milliseconds timeout;
    };
    const Case cases[] = {
        {0, 0, 60s, 10000ms}, {5000, 9999, 10s, 10000ms}, {120000, 25000, 120s, 25000ms}};
    for (const Case& c : cases) {
        iotx_mqtt_param_t p = mqtt_params();
        p.keepalive_interval_ms = c.keepalive_ms;
        p.request_timeout_ms = c.timeout_ms;
        p.username = nullptr;
        p.password = nullptr;
        p.plain_tcp = 1;
        void* h = IOT_MQTT_Construct(&p);
        ASSERT_NE(h, nullptr);
        const ota::MqttOptions& o = fakes.mqtt_options.back();
        EXPECT_EQ(o.keepalive, c.keepalive) << c.keepalive_ms;
        EXPECT_EQ(o.connect_timeout, c.timeout) << c.timeout_ms;
        EXPECT_FALSE(o.use_tls) << "plain_tcp = 1";
        EXPECT_TRUE(o.username.empty());
        EXPECT_TRUE(o.password.empty());
        EXPECT_TRUE(o.ca_file.empty());
        EXPECT_EQ(IOT_MQTT_Destroy(&h), 0);
    }
}

TEST(CApiMqtt, ConstructRefusesMissingParametersAndFailedConnects) {
    FakeTransports fakes;
    EXPECT_EQ(IOT_MQTT_Construct(nullptr), nullptr);
    iotx_mqtt_param_t p = mqtt_params();
    p.host = nullptr;
    EXPECT_EQ(IOT_MQTT_Construct(&p), nullptr);
    p = mqtt_params();
    p.client_id = nullptr;
    EXPECT_EQ(IOT_MQTT_Construct(&p), nullptr);
    EXPECT_TRUE(fakes.mqtt_options.empty()) << "nothing is connected without host and client id";

    fakes.connect_error = ota::Error(Status::not_connected, "refused");
    p = mqtt_params();
    EXPECT_EQ(IOT_MQTT_Construct(&p), nullptr);
    EXPECT_EQ(fakes.mqtt_options.size(), 1U);
    EXPECT_EQ(fakes.broker.channel_count(), 0U);
}

TEST(CApiMqtt, YieldAndDestroyRejectNullAndForeignHandles) {
    FakeTransports fakes;
    EXPECT_EQ(IOT_MQTT_Yield(nullptr, 0), IOT_OTAE_INVALID_PARAM);
    EXPECT_EQ(IOT_MQTT_Destroy(nullptr), IOT_OTAE_INVALID_PARAM);
    void* null_handle = nullptr;
    EXPECT_EQ(IOT_MQTT_Destroy(&null_handle), IOT_OTAE_INVALID_PARAM);

    iotx_mqtt_param_t p = mqtt_params();
    void* mqtt = IOT_MQTT_Construct(&p);
    ASSERT_NE(mqtt, nullptr);
    void* ota = IOT_OTA_Init(kPk, kDn, mqtt);
    ASSERT_NE(ota, nullptr);
    EXPECT_EQ(IOT_MQTT_Yield(ota, 0), IOT_OTAE_INVALID_PARAM) << "an OTA handle is not an MQTT one";
    void* as_mqtt = ota;
    EXPECT_EQ(IOT_MQTT_Destroy(&as_mqtt), IOT_OTAE_INVALID_PARAM);
    EXPECT_EQ(as_mqtt, ota) << "a refused handle is not cleared";
    EXPECT_EQ(IOT_OTA_Init(kPk, kDn, ota), nullptr) << "ch_signal must be an MQTT handle";
    EXPECT_EQ(IOT_OTA_Deinit(mqtt), IOT_OTAE_INVALID_PARAM) << "an MQTT handle is not an OTA one";
    EXPECT_EQ(IOT_OTA_Deinit(ota), 0);
    EXPECT_EQ(IOT_MQTT_Destroy(&mqtt), 0);
}

struct EventLog {
    std::vector<int> events;
    void* client = nullptr;
};

void record_event(void* context, void* client, iotx_mqtt_event_msg_t* msg) {
    auto* log = static_cast<EventLog*>(context);
    log->events.push_back(msg->event_type);
    log->client = client;
    EXPECT_EQ(msg->msg, nullptr);
}

TEST(CApiMqtt, ConnectionChangesReachTheEventCallbackInsideYield) {
    FakeTransports fakes;
    EventLog log;
    iotx_mqtt_param_t p = mqtt_params();
    p.handle_event.h_fp = record_event;
    p.handle_event.pcontext = &log;
    void* mqtt = IOT_MQTT_Construct(&p);
    ASSERT_NE(mqtt, nullptr);
    ota::test::FakeChannel& ch = fakes.channel->fake();

    ch.reconnect();  // a connect that follows no loss is not a RECONNECT
    EXPECT_EQ(IOT_MQTT_Yield(mqtt, 0), 0);
    EXPECT_TRUE(log.events.empty());

    ch.disconnect();
    EXPECT_TRUE(log.events.empty()) << "events are delivered only inside IOT_MQTT_Yield";
    EXPECT_EQ(IOT_MQTT_Yield(mqtt, -5), 0) << "a negative timeout means do not wait";
    ch.reconnect();
    EXPECT_EQ(IOT_MQTT_Yield(mqtt, 10), 0);
    EXPECT_EQ(log.events,
              (std::vector<int>{IOTX_MQTT_EVENT_DISCONNECT, IOTX_MQTT_EVENT_RECONNECT}));
    EXPECT_EQ(log.client, mqtt);
    EXPECT_EQ(IOT_MQTT_Destroy(&mqtt), 0);
}

// Issue 10: the outcome of the library's subscribes and QoS 1 publishes reaches the event
// callback as the original's SUBCRIBE_* / PUBLISH_* events, inside a yield.
TEST(CApiMqtt, SubscribeAndPublishResultsReachTheEventCallback) {
    FakeTransports fakes;
    EventLog log;
    iotx_mqtt_param_t p = mqtt_params();
    p.handle_event.h_fp = record_event;
    p.handle_event.pcontext = &log;
    void* mqtt = IOT_MQTT_Construct(&p);
    ASSERT_NE(mqtt, nullptr);
    ota::test::FakeChannel& ch = fakes.channel->fake();

    void* ota = IOT_OTA_Init(kPk, kDn, mqtt);
    ASSERT_NE(ota, nullptr);
    const std::size_t subscriptions = ch.subscriptions().size();
    ASSERT_GT(subscriptions, 0U);
    EXPECT_TRUE(log.events.empty()) << "events are delivered only inside a yield";
    EXPECT_EQ(IOT_MQTT_Yield(mqtt, 0), 0);
    EXPECT_EQ(log.events, std::vector<int>(subscriptions, IOTX_MQTT_EVENT_SUBCRIBE_SUCCESS));
    EXPECT_EQ(log.client, mqtt);

    log.events.clear();
    EXPECT_EQ(IOT_OTA_ReportVersion(ota, "1.0.0"), 0);  // the inform message, QoS 1
    ch.set_publish_failure(ota::Status::timeout);
    EXPECT_NE(IOT_OTA_ReportVersion(ota, "1.0.0"), 0);
    ch.set_publish_failure(ota::Status::internal);
    EXPECT_NE(IOT_OTA_ReportVersion(ota, "1.0.0"), 0);
    ch.set_publish_failure(ota::Status::not_connected);  // never sent: no event
    EXPECT_NE(IOT_OTA_ReportVersion(ota, "1.0.0"), 0);
    ch.set_publish_failure(ota::Status::ok);
    EXPECT_EQ(IOT_MQTT_Yield(mqtt, 0), 0);
    EXPECT_EQ(log.events,
              (std::vector<int>{IOTX_MQTT_EVENT_PUBLISH_SUCCESS, IOTX_MQTT_EVENT_PUBLISH_TIMEOUT,
                                IOTX_MQTT_EVENT_PUBLISH_NACK}));
    EXPECT_EQ(IOT_OTA_Deinit(ota), 0);
    EXPECT_EQ(IOT_MQTT_Destroy(&mqtt), 0);
}

// Every Status a call can end with, and the IOT_OTAE_* code the C interface turns it into.
TEST(CApiMqtt, EveryStatusMapsToItsCErrorCode) {
    FakeTransports fakes;
    iotx_mqtt_param_t p = mqtt_params();
    void* mqtt = IOT_MQTT_Construct(&p);
    ASSERT_NE(mqtt, nullptr);
    const std::pair<Status, int> table[] = {
        {Status::ok, IOT_OTAE_NONE},
        {Status::invalid_argument, IOT_OTAE_INVALID_PARAM},
        {Status::invalid_state, IOT_OTAE_INVALID_STATE},
        {Status::buffer_too_small, IOT_OTAE_STR_TOO_LONG},
        {Status::malformed_message, IOT_OTAE_GENERAL},
        {Status::not_connected, IOT_OTAE_OSC_FAILED},
        {Status::timeout, IOT_OTAE_FETCH_FAILED},
        {Status::fetch_failed, IOT_OTAE_FETCH_FAILED},
        {Status::size_mismatch, IOT_OTAE_FETCH_FAILED},
        {Status::digest_mismatch, IOT_OTAE_GENERAL},
        {Status::storage_failed, IOT_OTAE_OSC_FAILED},
        {Status::storage_full, IOT_OTAE_OSC_FAILED},
        {Status::crypto_failed, IOT_OTAE_OSC_FAILED},
        {Status::no_memory, IOT_OTAE_NOMEM},
        {Status::internal, IOT_OTAE_GENERAL},
        {Status::fetch_refused, IOT_OTAE_FETCH_FAILED},
    };
    static_assert(std::size(table) == static_cast<std::size_t>(Status::fetch_refused) + 1,
                  "a Status is missing from the table");
    for (const auto& [status, code] : table) {
        fakes.channel->yield_status = status;
        EXPECT_EQ(IOT_MQTT_Yield(mqtt, 0), code) << ota::to_string(status);
    }
    EXPECT_EQ(IOT_MQTT_Destroy(&mqtt), 0);
}

// ---- IOT_OTA_Init / Report* / RequestImage ----------------------------------------------------

TEST_F(CApiOta, InitSubscribesTheDeviceTopicsOnTheMqttHandlesChannel) {
    init();
    EXPECT_TRUE(fakes.channel->fake().is_subscribed(kTopics.upgrade));
    EXPECT_TRUE(fakes.channel->fake().is_subscribed(kTopics.get_reply));
    ASSERT_EQ(fakes.http_options.size(), 1U);
    EXPECT_FALSE(fakes.http_options[0].allow_http);
    EXPECT_TRUE(fakes.http_options[0].ca_file.empty());
    EXPECT_EQ(IOT_OTA_GetLastError(ota), IOT_OTAE_NONE);
}

TEST_F(CApiOta, InitRefusesMissingOrInvalidArguments) {
    EXPECT_EQ(IOT_OTA_Init(nullptr, kDn, mqtt), nullptr);
    EXPECT_EQ(IOT_OTA_Init(kPk, nullptr, mqtt), nullptr);
    EXPECT_EQ(IOT_OTA_Init(kPk, kDn, nullptr), nullptr);
    const std::string long_pk(IOTX_PRODUCT_KEY_LEN + 1, 'p');
    EXPECT_EQ(IOT_OTA_Init(long_pk.c_str(), kDn, mqtt), nullptr) << "the client's options check";
    EXPECT_EQ(IOT_OTA_Init("", kDn, mqtt), nullptr);
}

TEST_F(CApiOta, InitExOptionsReachTheClientAndTheSource) {
    iotx_ota_options_t o{};
    o.http_ca_file = "/etc/fw-ca.pem";
    o.allow_http = 1;
    o.module = "mcu";
    o.max_image_size = 1000;
    init(&o);
    ASSERT_EQ(fakes.http_options.size(), 1U);
    EXPECT_TRUE(fakes.http_options[0].allow_http);
    EXPECT_EQ(fakes.http_options[0].ca_file, "/etc/fw-ca.pem");

    // The module filters pushes; the size cap refuses a job of 1001 bytes.
    ota::UpgradeJob job;
    job.version = "2.0.0";
    job.size = 1001;
    job.url = "http://fw.example.com/mcu.bin";
    job.module = "mcu";
    job.digest.algorithm = ota::DigestAlgorithm::md5;
    job.digest.hex = std::string(32, 'a');
    fakes.broker.publish(kTopics.upgrade, ota::encode_upgrade_push(job, 1));
    ASSERT_EQ(IOT_MQTT_Yield(mqtt, 0), 0);
    EXPECT_EQ(IOT_OTA_IsFetching(ota), 0) << "above max_image_size";
    job.size = 1000;
    fakes.broker.publish(kTopics.upgrade, ota::encode_upgrade_push(job, 2));
    ASSERT_EQ(IOT_MQTT_Yield(mqtt, 0), 0);
    EXPECT_EQ(IOT_OTA_IsFetching(ota), 1) << "an http:// URL is taken with allow_http";
    char module[8] = {0};
    EXPECT_EQ(IOT_OTA_Ioctl(ota, IOT_OTAG_MODULE, module, sizeof module), 0);
    EXPECT_STREQ(module, "mcu");
}

TEST_F(CApiOta, ReportVersionPublishesAndRecordsErrors) {
    init();
    EXPECT_EQ(IOT_OTA_ReportVersion(ota, "1.0.0"), 0);
    const auto informs = fakes.broker.published_on(kTopics.inform);
    ASSERT_EQ(informs.size(), 1U);
    EXPECT_EQ(json::parse(informs[0].payload).at("params").at("version"), "1.0.0");

    EXPECT_EQ(IOT_OTA_ReportVersion(ota, nullptr), IOT_OTAE_INVALID_PARAM);
    EXPECT_EQ(IOT_OTA_GetLastError(ota), IOT_OTAE_INVALID_PARAM);
    EXPECT_EQ(IOT_OTA_ReportVersion(ota, ""), IOT_OTAE_INVALID_PARAM);
    EXPECT_EQ(IOT_OTA_ReportVersion(ota, std::string(65, '1').c_str()), IOT_OTAE_INVALID_PARAM);
    EXPECT_EQ(IOT_OTA_ReportVersion(nullptr, "1.0.0"), IOT_OTAE_INVALID_PARAM);

    fakes.channel->fake().set_publish_failure(Status::not_connected);
    EXPECT_EQ(IOT_OTA_ReportVersion(ota, "1.0.1"), IOT_OTAE_OSC_FAILED);
    EXPECT_EQ(IOT_OTA_GetLastError(ota), IOT_OTAE_OSC_FAILED);
    EXPECT_EQ(IOT_OTA_GetLastError(nullptr), IOT_OTAE_INVALID_PARAM);
}

TEST_F(CApiOta, ReportProgressPublishesTheStepAndMessage) {
    init();
    EXPECT_EQ(IOT_OTA_ReportProgress(ota, IOT_OTAP_FETCH_PERCENTAGE_MIN, "starting"), 0);
    EXPECT_EQ(IOT_OTA_ReportProgress(ota, IOT_OTAP_CHECK_FAILED, nullptr), 0);
    const auto p = progress();
    ASSERT_EQ(p.size(), 2U);
    EXPECT_EQ(p[0].at("params").at("step"), "0");
    EXPECT_EQ(p[0].at("params").at("desc"), "starting");
    EXPECT_EQ(p[1].at("params").at("step"), "-3");
    EXPECT_EQ(p[1].at("params").at("desc"), "");
    EXPECT_EQ(IOT_OTA_ReportProgress(ota, static_cast<IOT_OTA_Progress_t>(101), "x"),
              IOT_OTAE_INVALID_PARAM);
    EXPECT_EQ(IOT_OTA_GetLastError(ota), IOT_OTAE_INVALID_PARAM);
    EXPECT_EQ(IOT_OTA_ReportProgress(nullptr, IOT_OTAP_FETCH_PERCENTAGE_MIN, "x"),
              IOT_OTAE_INVALID_PARAM);
}

TEST_F(CApiOta, RequestImageReportsTheVersionFirstWhenGiven) {
    init();
    EXPECT_EQ(IOT_OTA_RequestImage(ota, "1.0.0"), 0);
    EXPECT_EQ(fakes.broker.published_on(kTopics.inform).size(), 1U);
    EXPECT_EQ(fakes.broker.published_on(kTopics.firmware_get).size(), 1U);
    EXPECT_EQ(IOT_OTA_RequestImage(ota, nullptr), 0);
    EXPECT_EQ(fakes.broker.published_on(kTopics.inform).size(), 1U) << "no version, no inform";
    EXPECT_EQ(fakes.broker.published_on(kTopics.firmware_get).size(), 2U);
    EXPECT_EQ(IOT_OTA_RequestImage(ota, ""), IOT_OTAE_INVALID_PARAM);
    EXPECT_EQ(fakes.broker.published_on(kTopics.firmware_get).size(), 2U)
        << "a bad version stops it";
    EXPECT_EQ(IOT_OTA_RequestImage(nullptr, "1.0.0"), IOT_OTAE_INVALID_PARAM);
}

// ---- the fetch loop --------------------------------------------------------------------------
TEST_F(CApiOta, AnMqttJobIsFetchedOverTheMqttHandlesChannelUnchanged) {
    init();
    const auto body = image(10'000);
    // The cloud answers the device's block requests whenever the library yields the channel.
    ota::test::FakeFileCloud cloud(fakes.broker, kPk, kDn, std::string(body.begin(), body.end()));
    fakes.channel->on_yield = [&] {
        fakes.clock.advance(200ms);
        cloud.serve();
    };
    ota::UpgradeJob job;
    job.version = "2.0.0";
    job.size = body.size();
    job.protocol = ota::DownloadProtocol::mqtt;
    job.stream_id = 25914;
    job.stream_file_id = 1;
    job.digest.algorithm = ota::DigestAlgorithm::md5;
    job.digest.hex = md5_of(body);
    fakes.broker.publish(kTopics.upgrade, ota::encode_upgrade_push(job, 7));
    ASSERT_EQ(IOT_MQTT_Yield(mqtt, 0), 0);
    ASSERT_EQ(IOT_OTA_IsFetching(ota), 1);

    const auto [bytes, last] = fetch_all();
    EXPECT_GE(last, 0);
    EXPECT_EQ(bytes, body);
    EXPECT_EQ(IOT_OTA_IsFetchFinish(ota), 1);
    EXPECT_EQ(ioctl_u32(IOT_OTAG_CHECK_FIRMWARE), 1U);
    EXPECT_TRUE(fakes.source->opens().empty()) << "the HTTPS source is not used";
    ASSERT_FALSE(cloud.requests().empty());
    EXPECT_EQ(cloud.requests()[0].stream_id, 25914U);
    EXPECT_TRUE(fakes.channel->fake().is_subscribed(cloud.topics().reply));
    fakes.channel->on_yield = nullptr;  // `cloud` goes first
}

TEST_F(CApiOta, FetchYieldDeliversTheWholeImage) {
    init();
    EXPECT_EQ(IOT_OTA_IsFetching(ota), 0);
    EXPECT_EQ(IOT_OTA_IsFetchFinish(ota), 0);
    const auto body = image(10'000);
    ScriptedResponse r;
    r.max_chunk = 700;
    push(body, r);
    EXPECT_EQ(IOT_OTA_IsFetching(ota), 1);
    EXPECT_EQ(IOT_OTA_IsFetchFinish(ota), 0);

    const auto [bytes, last] = fetch_all();
    EXPECT_GE(last, 0);
    EXPECT_EQ(bytes, body);
    EXPECT_EQ(IOT_OTA_IsFetching(ota), 0);
    EXPECT_EQ(IOT_OTA_IsFetchFinish(ota), 1);
    EXPECT_EQ(ioctl_u32(IOT_OTAG_FETCHED_SIZE), body.size());
    EXPECT_EQ(ioctl_u32(IOT_OTAG_CHECK_FIRMWARE), 1U);
    ASSERT_EQ(fakes.source->opens().size(), 1U);
    EXPECT_EQ(fakes.source->opens()[0].offset, 0U);
    EXPECT_EQ(steps(), std::vector<std::string>{"0"})
        << "step 0 at the start, as the original; the rest is the C application's";
    EXPECT_EQ(zero_returns, 0);
    EXPECT_EQ(IOT_OTA_GetLastError(ota), IOT_OTAE_NONE);
}

TEST_F(CApiOta, FetchYieldResumesAfterACutWithRange) {
    init();
    const auto body = image(10'000);
    ScriptedResponse r;
    r.max_chunk = 1000;
    r.range_from_offset = true;
    r.fail_after = 4000;  // the first attempt breaks after 4000 bytes
    push(body, r);
    // The second attempt serves the rest without breaking.
    ScriptedResponse rest = fakes.source->response();
    rest.fail_after.reset();
    fakes.source->set_script({fakes.source->response(), rest});

    const auto [bytes, last] = fetch_all();
    EXPECT_GE(last, 0);
    EXPECT_EQ(bytes, body) << "every byte once, in order";
    EXPECT_EQ(IOT_OTA_IsFetchFinish(ota), 1);
    ASSERT_EQ(fakes.source->opens().size(), 2U);
    EXPECT_EQ(fakes.source->opens()[1].offset, 4000U) << "the retry asks for the rest";
    EXPECT_GT(fakes.source->opens()[1].at, fakes.source->opens()[0].at) << "after a backoff";
    EXPECT_EQ(ioctl_u32(IOT_OTAG_CHECK_FIRMWARE), 1U);
    EXPECT_EQ(steps(), std::vector<std::string>{"0"}) << "a cut that recovers is not a failure";
    EXPECT_EQ(zero_returns, 0) << "the seed takes 0 for a failure: the wait happens inside";
}

TEST_F(CApiOta, FetchYieldWaitsThroughIdleReadsAndBackoffsWithoutReturningZero) {
    init();
    const auto body = image(6'000);
    ScriptedResponse r;
    r.max_chunk = 1000;
    r.range_from_offset = true;
    r.idle_reads = 5;     // headers take a while
    r.fail_after = 2000;  // then a cut, a backoff and a resumed attempt
    push(body, r);
    ScriptedResponse rest = fakes.source->response();
    rest.fail_after.reset();
    fakes.source->set_script({fakes.source->response(), rest});
    std::vector<char> buf(1000);
    std::vector<std::uint8_t> got;
    while (IOT_OTA_IsFetchFinish(ota) == 0) {
        const int n = IOT_OTA_FetchYield(ota, buf.data(), 1000, 1);
        ASSERT_GT(n, 0) << "after " << got.size() << " bytes";
        got.insert(got.end(), buf.begin(), buf.begin() + n);
        // The seed's own -2 in the middle of a healthy download is refused, not published.
        EXPECT_EQ(IOT_OTA_ReportProgress(ota, IOT_OTAP_FETCH_FAILED, nullptr),
                  IOT_OTAE_INVALID_STATE);
    }
    EXPECT_EQ(got, body);
    EXPECT_EQ(fakes.source->opens().size(), 2U);
    EXPECT_EQ(steps(), std::vector<std::string>{"0"});
}

TEST_F(CApiOta, FetchYieldOnAStalledDownloadFailsWithinTheRetryPolicy) {
    init();
    ScriptedResponse r;
    r.max_chunk = 1000;
    r.range_from_offset = true;
    r.stall_after = 1000;  // every attempt stalls after its first 1000 bytes at most
    push(image(5'000), r);
    const auto start = fakes.clock.now();
    std::vector<char> buf(1000);
    int n = 0;
    int calls = 0;
    while ((n = IOT_OTA_FetchYield(ota, buf.data(), 1000, 1)) > 0) ++calls;
    EXPECT_EQ(n, IOT_OTAE_FETCH_FAILED);
    EXPECT_EQ(calls, 1) << "the first 1000 bytes, then the wait until the client gave up";
    const ota::RetryPolicy policy;
    EXPECT_LE(fakes.clock.now() - start,
              policy.total_deadline + policy.stall_window + policy.max_backoff)
        << "bounded by the retry policy";
    EXPECT_EQ(IOT_OTA_IsFetchFinish(ota), 1);
    EXPECT_EQ(steps(), (std::vector<std::string>{"0", "-2"}));
}

TEST_F(CApiOta, FetchYieldFailsOnHttp404AndReportsIt) {
    init();
    ScriptedResponse r;
    r.status = 404;
    const std::string page = "<html>404</html>";
    push(std::vector<std::uint8_t>(page.begin(), page.end()), r, std::string(32, 'b'), 5000);

    const auto [bytes, last] = fetch_all();
    EXPECT_EQ(last, IOT_OTAE_FETCH_FAILED);
    EXPECT_TRUE(bytes.empty()) << "an error page is never handed out as image bytes";
    EXPECT_EQ(IOT_OTA_GetLastError(ota), IOT_OTAE_FETCH_FAILED);
    // As in the original: FETCHED, so the seed's loop ends and its percentage has a size.
    EXPECT_EQ(IOT_OTA_IsFetching(ota), 0);
    EXPECT_EQ(IOT_OTA_IsFetchFinish(ota), 1);
    EXPECT_EQ(ioctl_u32(IOT_OTAG_FILE_SIZE), 5000U);
    EXPECT_EQ(ioctl_u32(IOT_OTAG_OTA_TYPE), static_cast<std::uint32_t>(IOT_OTAT_FOTA));
    char version[16] = {0};
    EXPECT_EQ(IOT_OTA_Ioctl(ota, IOT_OTAG_VERSION, version, sizeof version), 0);
    EXPECT_STREQ(version, "2.0.0");
    EXPECT_EQ(ioctl_u32(IOT_OTAG_CHECK_FIRMWARE), 0U) << "invalid, and the call succeeds";
    // The seed reports -2 itself after FetchYield < 0: the cloud still sees one.
    EXPECT_EQ(IOT_OTA_ReportProgress(ota, IOT_OTAP_FETCH_FAILED, nullptr), 0);
    EXPECT_EQ(steps(), (std::vector<std::string>{"0", "-2"}));
    char buf[16];
    EXPECT_EQ(IOT_OTA_FetchYield(ota, buf, sizeof buf, 1), IOT_OTAE_INVALID_STATE);
}

TEST_F(CApiOta, DigestMismatchIsAnswerZeroAndReportedOnce) {
    init();
    const auto body = image(3000);
    push(body, {}, std::string(32, 'c'));
    const auto [bytes, last] = fetch_all();
    EXPECT_GE(last, 0);
    EXPECT_EQ(bytes, body);
    EXPECT_EQ(IOT_OTA_IsFetchFinish(ota), 1);

    std::uint32_t valid = 0xFF;
    EXPECT_EQ(IOT_OTA_Ioctl(ota, IOT_OTAG_CHECK_FIRMWARE, &valid, sizeof valid), 0)
        << "a mismatch is an answer, not a failed call";
    EXPECT_EQ(valid, 0U);
    EXPECT_EQ(steps(), (std::vector<std::string>{"0", "-3"}));
    EXPECT_EQ(IOT_OTA_ReportProgress(ota, IOT_OTAP_CHECK_FAILED, nullptr), 0);
    EXPECT_EQ(steps(), (std::vector<std::string>{"0", "-3"})) << "reported once";
}

TEST_F(CApiOta, FetchYieldRejectsBadArgumentsAndWrongStates) {
    init();
    char buf[64];
    EXPECT_EQ(IOT_OTA_FetchYield(ota, buf, sizeof buf, 1), IOT_OTAE_INVALID_STATE) << "no job yet";
    EXPECT_EQ(IOT_OTA_GetLastError(ota), IOT_OTAE_INVALID_STATE);
    push(image(100));
    EXPECT_EQ(IOT_OTA_FetchYield(ota, nullptr, sizeof buf, 1), IOT_OTAE_INVALID_PARAM);
    EXPECT_EQ(IOT_OTA_FetchYield(ota, buf, 0, 1), IOT_OTAE_INVALID_PARAM);
    EXPECT_EQ(IOT_OTA_GetLastError(ota), IOT_OTAE_INVALID_PARAM);
    EXPECT_EQ(IOT_OTA_FetchYield(nullptr, buf, sizeof buf, 1), IOT_OTAE_INVALID_PARAM);
    EXPECT_EQ(IOT_OTA_FetchYield(mqtt, buf, sizeof buf, 1), IOT_OTAE_INVALID_PARAM);
    EXPECT_EQ(IOT_OTA_IsFetching(nullptr), 0);
    EXPECT_EQ(IOT_OTA_IsFetchFinish(nullptr), 0);
    EXPECT_EQ(IOT_OTA_IsFetching(mqtt), 0);
    EXPECT_EQ(IOT_OTA_IsFetching(ota), 1) << "the bad calls left the job alone";
}

// ---- IOT_OTA_Ioctl ---------------------------------------------------------------------------

TEST_F(CApiOta, IoctlSizeAndTypeQueries) {
    init();
    EXPECT_EQ(ioctl_u32(IOT_OTAG_OTA_TYPE), static_cast<std::uint32_t>(IOT_OTAT_NONE));
    EXPECT_EQ(ioctl_u32(IOT_OTAG_FILE_SIZE), 0U);
    const auto body = image(5000);
    ScriptedResponse r;
    r.max_chunk = 1200;
    push(body, r);
    EXPECT_EQ(ioctl_u32(IOT_OTAG_OTA_TYPE), static_cast<std::uint32_t>(IOT_OTAT_FOTA));
    EXPECT_EQ(ioctl_u32(IOT_OTAG_FILE_SIZE), 5000U);
    EXPECT_EQ(ioctl_u64(IOT_OTAG_FILE_SIZE_64), 5000U);
    EXPECT_EQ(ioctl_u32(IOT_OTAG_FETCHED_SIZE), 0U);
    char buf[1200];
    const int n = IOT_OTA_FetchYield(ota, buf, sizeof buf, 1);
    ASSERT_GT(n, 0);
    EXPECT_EQ(ioctl_u32(IOT_OTAG_FETCHED_SIZE), static_cast<std::uint32_t>(n));
    EXPECT_EQ(ioctl_u64(IOT_OTAG_FETCHED_SIZE_64), static_cast<std::uint64_t>(n));

    // Wrong lengths and NULL buffers, for every numeric query.
    for (const IOT_OTA_CmdType_t cmd :
         {IOT_OTAG_OTA_TYPE, IOT_OTAG_FETCHED_SIZE, IOT_OTAG_FILE_SIZE, IOT_OTAG_CHECK_FIRMWARE}) {
        std::uint64_t wide = 0x1122334455667788ULL;
        EXPECT_EQ(IOT_OTA_Ioctl(ota, cmd, &wide, sizeof wide), IOT_OTAE_INVALID_PARAM) << cmd;
        EXPECT_EQ(wide, 0x1122334455667788ULL) << "nothing written on error";
        EXPECT_EQ(IOT_OTA_Ioctl(ota, cmd, nullptr, 4), IOT_OTAE_INVALID_PARAM) << cmd;
        EXPECT_EQ(IOT_OTA_Ioctl(ota, cmd, &wide, 0), IOT_OTAE_INVALID_PARAM) << cmd;
        EXPECT_EQ(IOT_OTA_GetLastError(ota), IOT_OTAE_INVALID_PARAM);
    }
    for (const IOT_OTA_CmdType_t cmd : {IOT_OTAG_FETCHED_SIZE_64, IOT_OTAG_FILE_SIZE_64}) {
        std::uint32_t narrow = 0xABCD;
        EXPECT_EQ(IOT_OTA_Ioctl(ota, cmd, &narrow, sizeof narrow), IOT_OTAE_INVALID_PARAM) << cmd;
        EXPECT_EQ(narrow, 0xABCDU);
        EXPECT_EQ(IOT_OTA_Ioctl(ota, cmd, nullptr, 8), IOT_OTAE_INVALID_PARAM) << cmd;
        EXPECT_EQ(IOT_OTA_Ioctl(ota, cmd, &narrow, -8), IOT_OTAE_INVALID_PARAM) << cmd;
    }
}

TEST_F(CApiOta, IoctlSizesAbove4GiBNeedThe64BitQueries) {
    init();
    const std::uint64_t size = 5ULL << 30;
    push(image(10), {}, std::string(32, 'd'), size);
    ASSERT_EQ(IOT_OTA_IsFetching(ota), 1);
    std::uint32_t narrow = 7;
    EXPECT_EQ(IOT_OTA_Ioctl(ota, IOT_OTAG_FILE_SIZE, &narrow, sizeof narrow),
              IOT_OTAE_STR_TOO_LONG);
    EXPECT_EQ(narrow, 7U);
    EXPECT_EQ(IOT_OTA_GetLastError(ota), IOT_OTAE_STR_TOO_LONG);
    EXPECT_EQ(ioctl_u64(IOT_OTAG_FILE_SIZE_64), size);
}

TEST_F(CApiOta, IoctlStringQueries) {
    iotx_ota_options_t o{};
    o.module = "app";
    init(&o);
    char buf[65];
    // Without a job every string is empty.
    for (const IOT_OTA_CmdType_t cmd : {IOT_OTAG_MD5SUM, IOT_OTAG_VERSION, IOT_OTAG_MODULE}) {
        std::memset(buf, 'x', sizeof buf);
        EXPECT_EQ(IOT_OTA_Ioctl(ota, cmd, buf, sizeof buf), 0) << cmd;
        EXPECT_STREQ(buf, "") << cmd;
    }
    const auto body = image(200);
    ota::UpgradeJob job;
    job.version = "2.0.0";
    job.size = body.size();
    job.url = "https://fw.example.com/app.bin";
    job.module = "app";
    job.digest.algorithm = ota::DigestAlgorithm::md5;
    job.digest.hex = md5_of(body);
    fakes.broker.publish(kTopics.upgrade, ota::encode_upgrade_push(job, 3));
    ASSERT_EQ(IOT_MQTT_Yield(mqtt, 0), 0);

    char md5[33];
    EXPECT_EQ(IOT_OTA_Ioctl(ota, IOT_OTAG_MD5SUM, md5, sizeof md5), 0);
    EXPECT_EQ(std::string(md5), job.digest.hex);
    EXPECT_EQ(IOT_OTA_Ioctl(ota, IOT_OTAG_MD5SUM, md5, 32), IOT_OTAE_STR_TOO_LONG)
        << "no room for the NUL: nothing is truncated";
    EXPECT_EQ(IOT_OTA_GetLastError(ota), IOT_OTAE_STR_TOO_LONG);
    char version[6];
    EXPECT_EQ(IOT_OTA_Ioctl(ota, IOT_OTAG_VERSION, version, sizeof version), 0);
    EXPECT_STREQ(version, "2.0.0");
    EXPECT_EQ(IOT_OTA_Ioctl(ota, IOT_OTAG_VERSION, version, 5), IOT_OTAE_STR_TOO_LONG);
    char module[4];
    EXPECT_EQ(IOT_OTA_Ioctl(ota, IOT_OTAG_MODULE, module, sizeof module), 0);
    EXPECT_STREQ(module, "app");
    EXPECT_EQ(IOT_OTA_Ioctl(ota, IOT_OTAG_MODULE, module, 3), IOT_OTAE_STR_TOO_LONG);
    for (const IOT_OTA_CmdType_t cmd : {IOT_OTAG_MD5SUM, IOT_OTAG_VERSION, IOT_OTAG_MODULE}) {
        EXPECT_EQ(IOT_OTA_Ioctl(ota, cmd, nullptr, 65), IOT_OTAE_INVALID_PARAM) << cmd;
        EXPECT_EQ(IOT_OTA_Ioctl(ota, cmd, buf, 0), IOT_OTAE_INVALID_PARAM) << cmd;
        EXPECT_EQ(IOT_OTA_Ioctl(ota, cmd, buf, -1), IOT_OTAE_INVALID_PARAM) << cmd;
    }
}

TEST_F(CApiOta, IoctlCheckFirmwareBeforeTheImageIsCompleteIsAWrongState) {
    init();
    std::uint32_t valid = 0xFF;
    EXPECT_EQ(IOT_OTA_Ioctl(ota, IOT_OTAG_CHECK_FIRMWARE, &valid, sizeof valid),
              IOT_OTAE_INVALID_STATE);
    EXPECT_EQ(valid, 0U);
    EXPECT_EQ(IOT_OTA_GetLastError(ota), IOT_OTAE_INVALID_STATE);
    push(image(100));
    valid = 0xFF;
    EXPECT_EQ(IOT_OTA_Ioctl(ota, IOT_OTAG_CHECK_FIRMWARE, &valid, sizeof valid),
              IOT_OTAE_INVALID_STATE);
    EXPECT_EQ(valid, 0U);
}

TEST_F(CApiOta, IoctlResetFetchedSizeRestartsTheDownload) {
    init();
    EXPECT_EQ(IOT_OTA_Ioctl(ota, IOT_OTAG_RESET_FETCHED_SIZE, nullptr, 0), IOT_OTAE_INVALID_STATE)
        << "nothing to restart without a job";
    const auto body = image(4000);
    ScriptedResponse r;
    r.max_chunk = 1000;
    push(body, r);
    char buf[1000];
    ASSERT_GT(IOT_OTA_FetchYield(ota, buf, sizeof buf, 1), 0);
    ASSERT_GT(ioctl_u32(IOT_OTAG_FETCHED_SIZE), 0U);
    // The buffer is unused: NULL and a real one both work.
    EXPECT_EQ(IOT_OTA_Ioctl(ota, IOT_OTAG_RESET_FETCHED_SIZE, nullptr, 0), 0);
    EXPECT_EQ(ioctl_u32(IOT_OTAG_FETCHED_SIZE), 0U);
    const auto [bytes, last] = fetch_all();
    EXPECT_GE(last, 0);
    EXPECT_EQ(bytes, body) << "the whole image again from byte 0";
    EXPECT_EQ(fakes.source->opens().back().offset, 0U);
    EXPECT_EQ(ioctl_u32(IOT_OTAG_CHECK_FIRMWARE), 1U) << "with a fresh digest";
    std::uint32_t unused = 0;
    EXPECT_EQ(IOT_OTA_Ioctl(ota, IOT_OTAG_RESET_FETCHED_SIZE, &unused, sizeof unused), 0);
}

TEST_F(CApiOta, IoctlResetStateDropsTheJob) {
    init();
    push(image(100));
    ASSERT_EQ(IOT_OTA_IsFetching(ota), 1);
    EXPECT_EQ(IOT_OTA_Ioctl(ota, IOT_OTAG_RESET_STATE, nullptr, 0), 0);
    EXPECT_EQ(IOT_OTA_IsFetching(ota), 0);
    EXPECT_EQ(ioctl_u32(IOT_OTAG_OTA_TYPE), static_cast<std::uint32_t>(IOT_OTAT_NONE));
    EXPECT_EQ(IOT_OTA_Ioctl(ota, IOT_OTAG_RESET_STATE, nullptr, 0), 0) << "idempotent";
}

TEST_F(CApiOta, IoctlConfigOtaAndUnknownCommandsAreInvalid) {
    init();
    char buf[64];
    for (const IOT_OTA_CmdType_t cmd :
         {IOT_OTAG_COTA_CONFIG_ID, IOT_OTAG_COTA_CONFIG_SIZE, IOT_OTAG_COTA_SIGN,
          IOT_OTAG_COTA_SIGN_METHOD, IOT_OTAG_COTA_URL, IOT_OTAG_COTA_GETTYPE,
          IOT_OTAG_CHECK_CONFIG, static_cast<IOT_OTA_CmdType_t>(55)}) {
        EXPECT_EQ(IOT_OTA_Ioctl(ota, cmd, buf, sizeof buf), IOT_OTAE_INVALID_PARAM) << cmd;
        EXPECT_EQ(IOT_OTA_Ioctl(ota, cmd, nullptr, 0), IOT_OTAE_INVALID_PARAM) << cmd;
    }
    EXPECT_EQ(IOT_OTA_GetLastError(ota), IOT_OTAE_INVALID_PARAM);
    EXPECT_EQ(IOT_OTA_Ioctl(nullptr, IOT_OTAG_RESET_STATE, nullptr, 0), IOT_OTAE_INVALID_PARAM);
    EXPECT_EQ(IOT_OTA_Ioctl(mqtt, IOT_OTAG_RESET_STATE, nullptr, 0), IOT_OTAE_INVALID_PARAM);
}

}  // namespace
