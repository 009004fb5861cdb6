#include "support/fake_broker.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ota/log.hpp"

namespace {

using namespace std::chrono_literals;
using ota::ChannelListener;
using ota::Status;
using ota::test::FakeBroker;
using ota::test::FakeChannel;
using ota::test::ManualClock;
using ota::test::topic_matches;

/// Records every event it receives.
class Recorder : public ChannelListener {
  public:
    void on_message(std::string_view topic, std::string_view payload) override {
        messages.emplace_back(std::string(topic), std::string(payload));
    }
    void on_connected() override { ++connected; }
    void on_connection_lost() override { ++lost; }

    std::vector<std::pair<std::string, std::string>> messages;
    int connected = 0;
    int lost = 0;
};

TEST(TopicMatches, ExactAndWildcards) {
    EXPECT_TRUE(topic_matches("a/b/c", "a/b/c"));
    EXPECT_FALSE(topic_matches("a/b/c", "a/b"));
    EXPECT_FALSE(topic_matches("a/b", "a/b/c"));
    EXPECT_TRUE(topic_matches("a/+/c", "a/x/c"));
    EXPECT_FALSE(topic_matches("a/+/c", "a/x/y/c"));
    EXPECT_TRUE(topic_matches("a/+", "a/"));  // '+' matches an empty level
    EXPECT_FALSE(topic_matches("a/+", "a"));
    EXPECT_TRUE(topic_matches("a/#", "a"));  // '#' includes the parent level
    EXPECT_TRUE(topic_matches("a/#", "a/b/c/d"));
    EXPECT_FALSE(topic_matches("a/#", "b/c"));
    EXPECT_TRUE(topic_matches("#", "anything/at/all"));
    EXPECT_TRUE(topic_matches("+/+", "/x"));  // leading empty level
    EXPECT_TRUE(topic_matches("/ota/device/upgrade/+/+", "/ota/device/upgrade/pk/dn"));
    EXPECT_FALSE(topic_matches("/ota/device/upgrade/+", "/ota/device/upgrade/pk/dn"));
    EXPECT_FALSE(topic_matches("#", "$SYS/broker"));
    EXPECT_FALSE(topic_matches("+/broker", "$SYS/broker"));
    EXPECT_TRUE(topic_matches("$SYS/#", "$SYS/broker"));
}

TEST(FakeBroker, RoutesOnlyToMatchingSubscribersAndRecords) {
    FakeBroker broker;
    FakeChannel a(broker, "a");
    FakeChannel b(broker, "b");
    Recorder ra;
    Recorder rb;
    a.add_listener(ra);
    b.add_listener(rb);
    ASSERT_EQ(a.subscribe("/x/+/z", 1), Status::ok);
    ASSERT_EQ(b.subscribe("/y/#", 0), Status::ok);

    ASSERT_EQ(b.publish("/x/1/z", "p1", 1), Status::ok);
    ASSERT_EQ(a.publish("/y/1/2", "p2", 0), Status::ok);
    broker.publish("/other", "p3", 1);

    // Nothing is delivered before yield().
    EXPECT_TRUE(ra.messages.empty());
    EXPECT_EQ(a.pending(), 1U);
    ASSERT_EQ(a.yield(0ms), Status::ok);
    ASSERT_EQ(b.yield(0ms), Status::ok);
    ASSERT_EQ(ra.messages.size(), 1U);
    EXPECT_EQ(ra.messages[0].first, "/x/1/z");
    EXPECT_EQ(ra.messages[0].second, "p1");
    ASSERT_EQ(rb.messages.size(), 1U);
    EXPECT_EQ(rb.messages[0].first, "/y/1/2");

    ASSERT_EQ(broker.published().size(), 3U);
    EXPECT_EQ(broker.published()[0].sender, "b");
    EXPECT_EQ(broker.published()[0].qos, 1);
    EXPECT_EQ(broker.published()[1].sender, "a");
    EXPECT_EQ(broker.published()[1].qos, 0);
    EXPECT_EQ(broker.published()[2].sender, "cloud");
    EXPECT_EQ(broker.published_on("/other").size(), 1U);
}

TEST(FakeBroker, SelfSubscribedPublisherReceivesItsOwnMessage) {
    FakeBroker broker;
    FakeChannel a(broker);
    Recorder r;
    a.add_listener(r);
    ASSERT_EQ(a.subscribe("#", 1), Status::ok);
    ASSERT_EQ(a.publish("t", "x", 1), Status::ok);
    ASSERT_EQ(a.yield(0ms), Status::ok);
    EXPECT_EQ(r.messages.size(), 1U);
}

TEST(FakeBroker, RejectsBadTopicsFiltersAndQos) {
    FakeBroker broker;
    FakeChannel a(broker);
    EXPECT_EQ(a.publish("", "x", 0), Status::invalid_argument);
    EXPECT_EQ(a.publish("a/+", "x", 0), Status::invalid_argument);
    EXPECT_EQ(a.publish("a", "x", 2), Status::invalid_argument);
    EXPECT_EQ(a.subscribe("a/#/b", 0), Status::invalid_argument);
    EXPECT_EQ(a.subscribe("a/b+", 0), Status::invalid_argument);
    EXPECT_EQ(a.subscribe("a", 2), Status::invalid_argument);
    EXPECT_TRUE(broker.published().empty());
}

TEST(FakeBroker, EveryListenerOfAChannelGetsEveryMessage) {
    FakeBroker broker;
    FakeChannel a(broker);
    Recorder r1;
    Recorder r2;
    a.add_listener(r1);
    a.add_listener(r2);
    a.add_listener(r1);  // twice: no effect
    EXPECT_EQ(a.listener_count(), 2U);
    ASSERT_EQ(a.subscribe("t", 1), Status::ok);
    broker.publish("t", "m");
    ASSERT_EQ(a.yield(0ms), Status::ok);
    EXPECT_EQ(r1.messages.size(), 1U);
    EXPECT_EQ(r2.messages.size(), 1U);
    a.remove_listener(r1);
    a.remove_listener(r1);  // safe
    broker.publish("t", "m2");
    ASSERT_EQ(a.yield(0ms), Status::ok);
    EXPECT_EQ(r1.messages.size(), 1U);
    EXPECT_EQ(r2.messages.size(), 2U);
}

TEST(FakeBroker, ListenerRemovedDuringDeliveryIsNotCalledAgain) {
    FakeBroker broker;
    FakeChannel a(broker);
    Recorder later;
    struct SelfRemover : ChannelListener {
        FakeChannel* ch = nullptr;
        Recorder* other = nullptr;
        int calls = 0;
        void on_message(std::string_view, std::string_view) override {
            ++calls;
            ch->remove_listener(*other);
        }
    } remover;
    remover.ch = &a;
    remover.other = &later;
    a.add_listener(remover);
    a.add_listener(later);
    ASSERT_EQ(a.subscribe("t", 1), Status::ok);
    broker.publish("t", "1");
    broker.publish("t", "2");
    ASSERT_EQ(a.yield(0ms), Status::ok);
    EXPECT_EQ(remover.calls, 2);
    EXPECT_TRUE(later.messages.empty());
    EXPECT_EQ(a.listener_count(), 1U);
}

TEST(FakeBroker, ListenerExceptionsAreLoggedAndNeverEscapeYield) {
    // The same dispatch as PahoChannel: a throwing listener neither stops the others nor
    // reaches the caller of yield(); each exception is logged at error level.
    FakeBroker broker;
    FakeChannel a(broker);
    struct Thrower : ChannelListener {
        int calls = 0;
        void on_message(std::string_view, std::string_view) override {
            ++calls;
            throw std::runtime_error("listener bug");
        }
        void on_connected() override {
            ++calls;
            throw 42;  // not even a std::exception
        }
    } thrower;
    Recorder after;
    a.add_listener(thrower);
    a.add_listener(after);
    std::vector<std::string> errors;
    ota::set_log_sink([&](ota::LogLevel level, std::string_view msg) {
        if (level == ota::LogLevel::error) errors.emplace_back(msg);
    });
    ASSERT_EQ(a.subscribe("t", 1), Status::ok);
    broker.publish("t", "1");
    a.disconnect();
    a.reconnect();
    Status s = Status::internal;
    EXPECT_NO_THROW(s = a.yield(0ms));
    ota::set_log_sink({});
    EXPECT_EQ(s, Status::ok);
    EXPECT_EQ(thrower.calls, 2);
    ASSERT_EQ(after.messages.size(), 1U);
    EXPECT_EQ(after.lost, 1);
    EXPECT_EQ(after.connected, 1);
    ASSERT_EQ(errors.size(), 2U);
    EXPECT_NE(errors[0].find("listener bug"), std::string::npos) << errors[0];
    EXPECT_NE(errors[1].find("non-standard exception"), std::string::npos) << errors[1];
    EXPECT_EQ(a.listener_count(), 2U);
}

TEST(FakeBroker, ListenerAddedDuringDeliveryGetsTheRestOfTheEvent) {
    FakeBroker broker;
    FakeChannel a(broker);
    Recorder late;
    struct Adder : ChannelListener {
        FakeChannel* ch = nullptr;
        Recorder* other = nullptr;
        void on_message(std::string_view, std::string_view) override { ch->add_listener(*other); }
    } adder;
    adder.ch = &a;
    adder.other = &late;
    a.add_listener(adder);
    ASSERT_EQ(a.subscribe("t", 1), Status::ok);
    broker.publish("t", "1");
    ASSERT_EQ(a.yield(0ms), Status::ok);
    ASSERT_EQ(late.messages.size(), 1U);
    EXPECT_EQ(a.listener_count(), 2U);
}

TEST(FakeBroker, MessagesQueuedDuringDeliveryWaitForTheNextYield) {
    FakeBroker broker;
    FakeChannel a(broker);
    struct Echo : ChannelListener {
        FakeChannel* ch = nullptr;
        int calls = 0;
        void on_message(std::string_view, std::string_view) override {
            ++calls;
            (void)ch->publish("t", "again", 1);
        }
    } echo;
    echo.ch = &a;
    a.add_listener(echo);
    ASSERT_EQ(a.subscribe("t", 1), Status::ok);
    broker.publish("t", "first");
    ASSERT_EQ(a.yield(0ms), Status::ok);
    EXPECT_EQ(echo.calls, 1);
    EXPECT_EQ(a.pending(), 1U);
    ASSERT_EQ(a.yield(0ms), Status::ok);
    EXPECT_EQ(echo.calls, 2);
}

TEST(FakeBroker, DisconnectAndReconnect) {
    FakeBroker broker;
    FakeChannel a(broker);
    Recorder r;
    a.add_listener(r);
    ASSERT_EQ(a.subscribe("t/#", 1), Status::ok);

    a.disconnect();
    EXPECT_FALSE(a.is_connected());
    EXPECT_EQ(a.publish("t/x", "lost", 1), Status::not_connected);
    broker.publish("t/y", "not routed");
    // Subscribing while disconnected is remembered.
    EXPECT_EQ(a.subscribe("u", 1), Status::not_connected);
    ASSERT_EQ(a.yield(0ms), Status::ok);
    EXPECT_EQ(r.lost, 1);
    EXPECT_TRUE(r.messages.empty());

    a.reconnect();
    EXPECT_TRUE(a.is_connected());
    ASSERT_EQ(a.yield(0ms), Status::ok);
    EXPECT_EQ(r.connected, 1);
    broker.publish("t/z", "routed");
    broker.publish("u", "also routed");
    ASSERT_EQ(a.yield(0ms), Status::ok);
    ASSERT_EQ(r.messages.size(), 2U);
    EXPECT_EQ(r.messages[0].second, "routed");
    EXPECT_EQ(r.messages[1].second, "also routed");
    // Only one of the two device publishes reached the broker.
    EXPECT_TRUE(broker.published_on("t/x").empty());
}

TEST(FakeBroker, InjectedPublishFailure) {
    FakeBroker broker;
    FakeChannel a(broker);
    a.set_publish_failure(Status::internal);
    EXPECT_EQ(a.publish("t", "x", 0), Status::internal);
    a.set_publish_failure(Status::ok);
    EXPECT_EQ(a.publish("t", "x", 0), Status::ok);
    EXPECT_EQ(broker.published().size(), 1U);
}

TEST(FakeBroker, ChannelDetachesOnDestruction) {
    FakeBroker broker;
    {
        FakeChannel a(broker);
        EXPECT_EQ(broker.channel_count(), 1U);
        ASSERT_EQ(a.subscribe("#", 1), Status::ok);
    }
    EXPECT_EQ(broker.channel_count(), 0U);
    broker.publish("t", "nobody listens");  // must not touch the destroyed channel
    EXPECT_EQ(broker.published().size(), 1U);
}

TEST(ManualClock, MovesOnlyWhenAdvanced) {
    ManualClock clock;
    const auto t0 = clock.now();
    EXPECT_EQ(clock.now(), t0);
    clock.advance(75ms);
    EXPECT_EQ(clock.now() - t0, 75ms);
}

}  // namespace
