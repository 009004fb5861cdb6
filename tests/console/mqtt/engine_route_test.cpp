// The bridge on the real Engine over the fake Store (MemoryStore): what device messages do to
// the store. A valid version report of a registered device is recorded; the same message from
// an unregistered device, and malformed messages from a registered one, change nothing (no
// record, no event); firmware/get without a job is answered with an empty data object.
#include <gtest/gtest.h>

#include <string>

#include "engine/engine.hpp"
#include "mqtt/mqtt_bridge.hpp"
#include "support/fake_broker.hpp"
#include "support/memory_store.hpp"

namespace console {
namespace {

using ota::test::FakeBroker;
using ota::test::FakeChannel;
using std::chrono::milliseconds;

class FixedClock final : public WallClock {
  public:
    [[nodiscard]] Millis now() const override { return 1'700'000'000'000; }
};

struct EngineRig {
    EngineRig() {
        Device d;
        d.key = {"pk", "known"};
        d.versions["default"] = "1.0.0";
        store.add_device(d);
        options.share_group = "";
        bridge = std::make_unique<MqttBridge>(console_channel, metrics, options);
        engine = std::make_unique<Engine>(
            store, clock, *bridge, [](const Firmware&) { return std::string("https://x/f"); });
        target = std::make_unique<EngineTarget>(*engine, store);
        bridge->attach(*target);
    }
    ~EngineRig() { bridge->stop(); }
    void send(const std::string& topic, const std::string& payload) {
        ASSERT_EQ(device.publish(topic, payload, 1), ota::Status::ok);
    }
    void settle() {
        bridge->pump(milliseconds(0));
        while (bridge->apply_pending() > 0) {
        }
    }
    std::size_t events() { return store.events_after(0, 1000).size(); }

    FakeBroker broker;
    FakeChannel console_channel{broker, "console"};
    FakeChannel device{broker, "device"};
    test::MemoryStore store;
    FixedClock clock;
    Metrics metrics;
    MqttBridgeOptions options;
    std::unique_ptr<MqttBridge> bridge;
    std::unique_ptr<Engine> engine;
    std::unique_ptr<EngineTarget> target;
};

TEST(MqttBridgeOnEngine, AVersionReportOfARegisteredDeviceIsRecorded) {
    EngineRig rig;
    rig.send("/ota/device/inform/pk/known", R"({"id":"1","params":{"version":"1.2.0"}})");
    rig.settle();
    const auto d = rig.store.device({"pk", "known"});
    ASSERT_TRUE(d);
    EXPECT_EQ(d->versions.at("default"), "1.2.0");
    EXPECT_EQ(d->last_seen_at, rig.clock.now());
    EXPECT_EQ(rig.metrics.mqtt_messages_processed.load(), 1);
}

TEST(MqttBridgeOnEngine, UnregisteredAndMalformedMessagesChangeNothing) {
    EngineRig rig;
    const std::size_t events_before = rig.events();
    rig.send("/ota/device/inform/pk/stranger", R"({"params":{"version":"9.9.9"}})");
    rig.send("/ota/device/progress/pk/stranger", R"({"params":{"step":"50"}})");
    rig.send("/sys/pk/stranger/thing/ota/firmware/get", R"({"id":"3","params":{}})");
    rig.send("/ota/device/inform/pk/known", R"({"params":{"version":""}})");
    rig.send("/ota/device/inform/pk/known", R"({"params":{"version":["9"]}})");
    rig.send("/ota/device/progress/pk/known", R"({"params":{"step":"500"}})");
    rig.send("/ota/device/inform/pk/known/x", R"({"params":{"version":"9.9.9"}})");
    rig.settle();
    EXPECT_FALSE(rig.store.device({"pk", "stranger"}));
    const auto d = rig.store.device({"pk", "known"});
    ASSERT_TRUE(d);
    EXPECT_EQ(d->versions.at("default"), "1.0.0");
    EXPECT_EQ(d->last_seen_at, 0);
    EXPECT_EQ(rig.events(), events_before);
    EXPECT_EQ(rig.metrics.mqtt_unknown_device.load(), 3);
    EXPECT_EQ(rig.metrics.mqtt_messages_malformed.load(), 3);  // the /x topic matches no filter
    EXPECT_TRUE(rig.broker.published_on("/sys/pk/stranger/thing/ota/firmware/get_reply").empty());
}

TEST(MqttBridgeOnEngine, FirmwareGetWithoutAJobGetsAnEmptyReply) {
    EngineRig rig;
    ASSERT_EQ(rig.device.subscribe("/sys/pk/known/thing/ota/firmware/get_reply", 1),
              ota::Status::ok);
    rig.send("/sys/pk/known/thing/ota/firmware/get", R"({"id":"77","params":{}})");
    rig.settle();
    const auto replies = rig.broker.published_on("/sys/pk/known/thing/ota/firmware/get_reply");
    ASSERT_EQ(replies.size(), 1U);
    EXPECT_EQ(replies[0].payload, empty_get_reply("77"));
}

}  // namespace
}  // namespace console
