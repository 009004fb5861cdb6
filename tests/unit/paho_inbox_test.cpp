// The channel's bounded inbox (issue 10): past its cap, a new message replaces the oldest one a
// newer message on the same topic supersedes, so the newest message of every topic survives a
// burst of any length while the inbox never holds more than its cap.
#include "channel/paho_inbox.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "ota/log.hpp"

namespace {

using ota::detail::ChannelEvent;
using ota::detail::PahoInbox;
using namespace std::chrono_literals;

std::vector<std::string> take_messages(PahoInbox& inbox, std::size_t* state_events = nullptr) {
    std::vector<ChannelEvent> batch;
    inbox.take(batch);
    std::vector<std::string> out;
    std::size_t states = 0;
    for (const ChannelEvent& e : batch) {
        if (e.kind == ChannelEvent::Kind::message) {
            out.push_back(e.topic + ":" + e.payload);
        } else {
            ++states;
        }
    }
    if (state_events != nullptr) *state_events = states;
    return out;
}

class InboxLogs : public ::testing::Test {
  protected:
    void SetUp() override {
        ota::set_log_sink([this](ota::LogLevel, std::string_view m) { logs.emplace_back(m); });
    }
    void TearDown() override { ota::set_log_sink({}); }
    bool logged(std::string_view needle) const {
        for (const auto& l : logs) {
            if (l.find(needle) != std::string::npos) return true;
        }
        return false;
    }
    std::vector<std::string> logs;
};

TEST_F(InboxLogs, BelowTheCapEverythingIsKeptInOrder) {
    PahoInbox inbox(4);
    inbox.push_message("a", "1");
    inbox.push_message("b", "2");
    inbox.push_message("a", "3");
    EXPECT_EQ(take_messages(inbox), (std::vector<std::string>{"a:1", "b:2", "a:3"}));
    EXPECT_TRUE(logs.empty());
}

TEST_F(InboxLogs, AFloodOnOneTopicKeepsItsNewestMessagesAndTheLastOne) {
    PahoInbox inbox(3);
    inbox.push_message("get_reply", "r");  // another topic's only message
    for (int i = 0; i < 10000; ++i) inbox.push_message("push", "bad" + std::to_string(i));
    inbox.push_message("push", "valid");
    EXPECT_TRUE(logged("older messages on 'push' are replaced by newer ones"));
    const auto got = take_messages(inbox);
    EXPECT_EQ(got, (std::vector<std::string>{"get_reply:r", "push:bad9999", "push:valid"}));
    EXPECT_TRUE(logged("9999 incoming message(s) replaced by newer ones on their topic"));
    // Room again after the take.
    inbox.push_message("push", "x");
    inbox.push_message("push", "y");
    inbox.push_message("push", "z");
    EXPECT_EQ(take_messages(inbox).size(), 3U);
}

TEST_F(InboxLogs, TheOldestSupersededMessageGoesFirstWhateverItsTopic) {
    PahoInbox inbox(3);
    inbox.push_message("a", "1");
    inbox.push_message("a", "2");
    inbox.push_message("b", "1");
    inbox.push_message("c", "1");  // a:1 is superseded by a:2
    EXPECT_EQ(take_messages(inbox), (std::vector<std::string>{"a:2", "b:1", "c:1"}));
}

TEST_F(InboxLogs, MoreTopicsThanTheCapDropTheOldestAndSaySo) {
    PahoInbox inbox(2);
    inbox.push_message("a", "1");
    inbox.push_message("b", "1");
    inbox.push_message("c", "1");
    EXPECT_TRUE(logged("with one message per topic: dropped the oldest"));
    EXPECT_EQ(take_messages(inbox), (std::vector<std::string>{"b:1", "c:1"}));
    EXPECT_TRUE(logged("1 incoming message(s) dropped since the last yield()"));
}

TEST_F(InboxLogs, ConnectionEventsAreNeitherCountedNorDropped) {
    PahoInbox inbox(1);
    inbox.push_state(ChannelEvent::Kind::connection_lost);
    inbox.push_message("a", "1");
    inbox.push_state(ChannelEvent::Kind::connected);
    inbox.push_message("a", "2");
    std::size_t states = 0;
    EXPECT_EQ(take_messages(inbox, &states), (std::vector<std::string>{"a:2"}));
    EXPECT_EQ(states, 2U);
    EXPECT_FALSE(inbox.wait(0ms));
}

}  // namespace
