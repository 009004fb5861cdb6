// Routing of the console's device side with fakes: the library's FakeBroker/FakeChannel stand in
// for mosquitto and paho, a recording target for the engine. What is checked: which messages
// reach the engine and which do not (bad topics, bad JSON, unregistered devices), batching, the
// bounded queue under a flood (back-pressure), the fallback when a batch fails, get_replies and the
// Publisher.
#include "mqtt/mqtt_bridge.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_broker.hpp"

namespace console {
namespace {

using ota::test::FakeBroker;
using ota::test::FakeChannel;
using std::chrono::milliseconds;

// Records the engine calls of committed batches; a batch that throws leaves no record (as a
// rolled-back transaction). Calls for the device "poison" throw.
class RecordingTarget final : public DeviceMessageTarget {
  public:
    void batch(const std::function<void()>& fn) override {
        ++batches;
        pending_.clear();
        fn();
        for (auto& c : pending_) calls.push_back(c);
    }
    bool is_registered(const DeviceKey& device) override {
        return registered.count(device.device_name) > 0;
    }
    bool on_inform(const DeviceKey& device, const std::string& module,
                   const std::string& version) override {
        record(device, "inform " + module + " " + version);
        return true;
    }
    bool on_progress(const DeviceKey& device, const std::string& module, int step,
                     const std::string& desc) override {
        record(device, "progress " + module + " " + std::to_string(step) + " " + desc);
        return true;
    }
    std::string on_firmware_get(const DeviceKey& device, const std::string& module,
                                const std::string& request_id) override {
        record(device, "get " + module + " " + request_id);
        return R"({"code":"1000","data":{},"id":)" + request_id + "}";
    }

    std::set<std::string> registered{"dev1", "dev2", "poison"};
    std::vector<std::string> calls;
    int batches = 0;

  private:
    void record(const DeviceKey& device, const std::string& what) {
        if (device.device_name == "poison") throw std::runtime_error("store failure");
        pending_.push_back(device.device_name + ": " + what);
    }
    std::vector<std::string> pending_;
};

struct Rig {
    explicit Rig(MqttBridgeOptions o = plain()) : bridge(console_channel, metrics, std::move(o)) {
        bridge.attach(target);
    }
    static MqttBridgeOptions plain() {
        MqttBridgeOptions o;
        o.share_group = "";  // the fake broker does not implement $share
        return o;
    }
    void device_sends(const std::string& topic, const std::string& payload) {
        ASSERT_EQ(device.publish(topic, payload, 1), ota::Status::ok);
    }
    void settle() {
        bridge.pump(milliseconds(0));
        while (bridge.apply_pending() > 0) {
        }
    }

    FakeBroker broker;
    FakeChannel console_channel{broker, "console"};
    FakeChannel device{broker, "device"};
    Metrics metrics;
    RecordingTarget target;
    MqttBridge bridge;
};

TEST(MqttBridge, SubscribesThroughTheSharedGroup) {
    FakeBroker broker;
    FakeChannel channel(broker, "console");
    Metrics metrics;
    RecordingTarget target;
    MqttBridgeOptions o;
    o.share_group = "g1";
    MqttBridge bridge(channel, metrics, o);
    bridge.attach(target);
    const std::vector<std::string> expected = {
        "$share/g1//ota/device/inform/+/+", "$share/g1//ota/device/progress/+/+",
        "$share/g1//sys/+/+/thing/file/download", "$share/g1//sys/+/+/thing/ota/firmware/get"};
    EXPECT_EQ(bridge.topic_filters(), expected);
    for (const std::string& f : expected) {
        EXPECT_TRUE(channel.is_subscribed(f)) << f;
    }
    for (const auto& s : channel.subscriptions()) EXPECT_EQ(s.qos, 1);
}

TEST(MqttBridge, AppliesDeviceMessagesInOneBatch) {
    Rig rig;
    rig.device_sends("/ota/device/inform/pk/dev1", R"({"id":"1","params":{"version":"1.0"}})");
    rig.device_sends("/ota/device/progress/pk/dev2",
                     R"({"id":"2","params":{"step":"40","desc":"","module":"mcu"}})");
    rig.device_sends("/ota/device/progress/pk/dev1",
                     R"({"id":"3","params":{"step":-2,"desc":"x"}})");
    rig.bridge.pump(milliseconds(0));
    EXPECT_EQ(rig.bridge.queued(), 3U);
    EXPECT_EQ(rig.metrics.mqtt_queue_depth.load(), 3);
    EXPECT_EQ(rig.bridge.apply_pending(), 3U);
    EXPECT_EQ(rig.target.batches, 1);
    const std::vector<std::string> expected = {"dev1: inform default 1.0", "dev2: progress mcu 40 ",
                                               "dev1: progress default -2 x"};
    EXPECT_EQ(rig.target.calls, expected);
    EXPECT_EQ(rig.metrics.mqtt_messages_received.load(), 3);
    EXPECT_EQ(rig.metrics.mqtt_messages_processed.load(), 3);
    EXPECT_EQ(rig.metrics.mqtt_queue_depth.load(), 0);
}

TEST(MqttBridge, MalformedMessagesNeverReachTheEngine) {
    Rig rig;
    rig.device_sends("/ota/device/inform/pk/dev1", "not json");
    rig.device_sends("/ota/device/inform/pk/dev1", R"({"params":{"version":7}})");
    rig.device_sends("/ota/device/progress/pk/dev1", R"({"params":{"step":"101"}})");
    rig.device_sends("/ota/device/progress/pk/dev1", R"({"params":{"step":"-5"}})");
    rig.device_sends("/ota/device/progress/pk/dev1", R"([])");
    rig.settle();
    EXPECT_TRUE(rig.target.calls.empty());
    EXPECT_EQ(rig.target.batches, 0);
    EXPECT_EQ(rig.metrics.mqtt_messages_malformed.load(), 5);
    EXPECT_EQ(rig.metrics.mqtt_messages_processed.load(), 0);
}

TEST(MqttBridge, UnregisteredDevicesChangeNothing) {
    Rig rig;
    rig.device_sends("/ota/device/inform/pk/stranger", R"({"params":{"version":"1"}})");
    rig.device_sends("/sys/pk/stranger/thing/ota/firmware/get", R"({"id":"5","params":{}})");
    rig.settle();
    EXPECT_TRUE(rig.target.calls.empty());
    EXPECT_EQ(rig.metrics.mqtt_unknown_device.load(), 2);
    EXPECT_TRUE(rig.broker.published_on("/sys/pk/stranger/thing/ota/firmware/get_reply").empty());
}

TEST(MqttBridge, FirmwareGetIsAnsweredOnTheReplyTopic) {
    Rig rig;
    ASSERT_EQ(rig.device.subscribe("/sys/pk/dev2/thing/ota/firmware/get_reply", 1),
              ota::Status::ok);
    rig.device_sends("/sys/pk/dev2/thing/ota/firmware/get", R"({"id":"42","params":{}})");
    rig.settle();
    const auto replies = rig.broker.published_on("/sys/pk/dev2/thing/ota/firmware/get_reply");
    ASSERT_EQ(replies.size(), 1U);
    EXPECT_EQ(replies[0].payload, R"({"code":"1000","data":{},"id":42})");
    EXPECT_EQ(replies[0].qos, 1);
    EXPECT_EQ(rig.metrics.mqtt_published.load(), 1);
}

/// Waits (bounded) until `cond` holds.
template <typename F>
bool eventually(F cond) {
    for (int i = 0; i < 2000; ++i) {
        if (cond()) return true;
        std::this_thread::sleep_for(milliseconds(5));
    }
    return cond();
}

TEST(MqttBridge, AFullQueueHoldsThePumpBackAndLosesNothing) {
    MqttBridgeOptions o = Rig::plain();
    o.queue_capacity = 10;
    o.batch_max = 4;
    Rig rig(o);
    for (int i = 0; i < 25; ++i) {
        rig.device_sends("/ota/device/progress/pk/dev1",
                         R"({"params":{"step":")" + std::to_string(i) + "\"}}");
    }
    std::atomic<bool> pumped{false};
    std::thread pump([&] {
        rig.bridge.pump(milliseconds(0));
        pumped = true;
    });
    ASSERT_TRUE(eventually([&] { return rig.bridge.queued() == 10U; }));
    std::this_thread::sleep_for(milliseconds(100));
    EXPECT_FALSE(pumped.load());  // waiting for room, not dropping
    EXPECT_EQ(rig.bridge.queued(), 10U);
    EXPECT_EQ(rig.metrics.mqtt_queue_depth.load(), 10);
    EXPECT_EQ(rig.bridge.apply_pending(), 4U);  // batch_max; the pump takes more
    ASSERT_TRUE(eventually([&] {
        (void)rig.bridge.apply_pending();
        return pumped.load() && rig.bridge.queued() == 0U;
    }));
    pump.join();
    ASSERT_EQ(rig.target.calls.size(), 25U);
    EXPECT_EQ(rig.target.calls.front(), "dev1: progress default 0 ");
    EXPECT_EQ(rig.target.calls.back(), "dev1: progress default 24 ");  // in order
    EXPECT_EQ(rig.metrics.mqtt_messages_dropped.load(), 0);
    EXPECT_EQ(rig.metrics.mqtt_messages_processed.load(), 25);
}

TEST(MqttBridge, StopReleasesAPumpWaitingForRoomAndCountsWhatItDrops) {
    MqttBridgeOptions o = Rig::plain();
    o.queue_capacity = 2;
    Rig rig(o);
    for (int i = 0; i < 5; ++i) {
        rig.device_sends("/ota/device/progress/pk/dev1",
                         R"({"params":{"step":")" + std::to_string(i) + "\"}}");
    }
    std::atomic<bool> pumped{false};
    std::thread pump([&] {
        rig.bridge.pump(milliseconds(0));
        pumped = true;
    });
    ASSERT_TRUE(eventually([&] { return rig.bridge.queued() == 2U; }));
    rig.bridge.stop();  // returns although the pump was waiting
    ASSERT_TRUE(eventually([&] { return pumped.load(); }));
    pump.join();
    EXPECT_GE(rig.metrics.mqtt_messages_dropped.load(), 1);
    EXPECT_LE(rig.metrics.mqtt_messages_dropped.load(), 3);
}

TEST(MqttBridge, AFailedBatchIsAppliedOneByOne) {
    Rig rig;
    rig.device_sends("/ota/device/inform/pk/dev1", R"({"params":{"version":"1"}})");
    rig.device_sends("/ota/device/inform/pk/poison", R"({"params":{"version":"1"}})");
    rig.device_sends("/ota/device/inform/pk/dev2", R"({"params":{"version":"2"}})");
    rig.settle();
    const std::vector<std::string> expected = {"dev1: inform default 1", "dev2: inform default 2"};
    EXPECT_EQ(rig.target.calls, expected);
    EXPECT_EQ(rig.metrics.mqtt_batch_failures.load(), 1);
    EXPECT_EQ(rig.metrics.mqtt_messages_processed.load(), 2);
}

TEST(MqttBridge, PublishIsQos1AndFalseWhenDisconnected) {
    Rig rig;
    ASSERT_EQ(rig.device.subscribe("/ota/device/upgrade/pk/dev1", 1), ota::Status::ok);
    EXPECT_TRUE(rig.bridge.publish("/ota/device/upgrade/pk/dev1", "{}"));
    ASSERT_EQ(rig.broker.published_on("/ota/device/upgrade/pk/dev1").size(), 1U);
    EXPECT_EQ(rig.broker.published_on("/ota/device/upgrade/pk/dev1")[0].qos, 1);
    rig.console_channel.disconnect();
    EXPECT_FALSE(rig.bridge.publish("/ota/device/upgrade/pk/dev1", "{}"));
    rig.console_channel.reconnect();
    rig.console_channel.set_publish_failure(ota::Status::timeout);
    EXPECT_FALSE(rig.bridge.publish("/ota/device/upgrade/pk/dev1", "{}"));
    EXPECT_EQ(rig.metrics.mqtt_published.load(), 1);
    EXPECT_EQ(rig.metrics.mqtt_publish_failures.load(), 2);
}

TEST(MqttBridge, ConnectionStateFollowsTheChannel) {
    Rig rig;
    rig.console_channel.disconnect();
    rig.bridge.pump(milliseconds(0));
    EXPECT_FALSE(rig.bridge.connected());
    EXPECT_EQ(rig.metrics.mqtt_connected.load(), 0);
    rig.console_channel.reconnect();
    rig.bridge.pump(milliseconds(0));
    EXPECT_TRUE(rig.bridge.connected());
    EXPECT_EQ(rig.metrics.mqtt_connected.load(), 1);
    // Resubscribed on reconnect: messages flow again.
    rig.device_sends("/ota/device/inform/pk/dev1", R"({"params":{"version":"3"}})");
    rig.settle();
    EXPECT_EQ(rig.target.calls.size(), 1U);
}

TEST(MqttBridge, TheFirstConnectIsRetriedUntilItSucceeds) {
    FakeBroker broker;
    FakeChannel channel(broker, "console");
    Metrics metrics;
    RecordingTarget target;
    MqttBridgeOptions o = Rig::plain();
    o.connect_retry_min = milliseconds(1);
    o.connect_retry_max = milliseconds(4);
    MqttBridge bridge(channel, metrics, o);
    bridge.attach(target);
    std::atomic<int> attempts{0};
    bridge.start([&]() -> ota::Error {
        if (++attempts < 4) return {ota::Status::not_connected, "refused"};
        return {};
    });
    for (int i = 0; i < 500 && attempts.load() < 4; ++i) {
        std::this_thread::sleep_for(milliseconds(2));
    }
    bridge.stop();
    EXPECT_EQ(attempts.load(), 4);
}

}  // namespace
}  // namespace console
