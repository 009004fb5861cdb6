// The channel's topic matching, used to log a message on a topic no subscription matches (for
// example one that RabbitMQ's MQTT plugin rewrote, '.' in a device name becoming '/').
#include <gtest/gtest.h>

#include <string>

#include "channel/topic_rules.hpp"

namespace {

using ota::detail::topic_matches;

TEST(TopicMatch, ExactAndWildcardLevels) {
    EXPECT_TRUE(topic_matches("/ota/device/upgrade/pk/dn", "/ota/device/upgrade/pk/dn"));
    EXPECT_FALSE(topic_matches("/ota/device/upgrade/pk/dn", "/ota/device/upgrade/pk/dn2"));
    EXPECT_FALSE(topic_matches("/ota/device/upgrade/pk/dn", "/ota/device/upgrade/pk"));
    EXPECT_FALSE(topic_matches("/ota/device/upgrade/pk", "/ota/device/upgrade/pk/dn"));
    EXPECT_TRUE(topic_matches("/ota/+/upgrade/pk/dn", "/ota/device/upgrade/pk/dn"));
    EXPECT_TRUE(topic_matches("/ota/#", "/ota/device/upgrade/pk/dn"));
    EXPECT_TRUE(topic_matches("/ota/#", "/ota"));
    EXPECT_TRUE(topic_matches("#", "a/b"));
    EXPECT_FALSE(topic_matches("+", "a/b"));
    EXPECT_TRUE(topic_matches("+/+", "a/b"));
}

TEST(TopicMatch, RabbitMqRewriteOfADotInTheDeviceNameDoesNotMatch) {
    const std::string filter = "/ota/device/upgrade/a1PK/dev.01";
    EXPECT_TRUE(topic_matches(filter, "/ota/device/upgrade/a1PK/dev.01"));
    EXPECT_FALSE(topic_matches(filter, "/ota/device/upgrade/a1PK/dev/01"));
    const std::string w = ota::detail::unexpected_topic_warning("/ota/device/upgrade/a1PK/dev/01");
    EXPECT_NE(w.find("'/ota/device/upgrade/a1PK/dev/01'"), std::string::npos) << w;
    EXPECT_NE(w.find("RabbitMQ"), std::string::npos) << w;
    EXPECT_NE(w.find("once per topic"), std::string::npos) << w;
}

TEST(TopicMatch, SharedSubscriptionMatchesAsItsFilter) {
    EXPECT_TRUE(topic_matches("$share/g/ota/device/inform/+/+", "ota/device/inform/pk/dn"));
    EXPECT_TRUE(topic_matches("$share/g//ota/device/inform/+/+", "/ota/device/inform/pk/dn"));
    EXPECT_FALSE(topic_matches("$share/g//ota/device/inform/+/+", "/ota/device/progress/pk/dn"));
    EXPECT_FALSE(
        topic_matches("$share/g//ota/device/inform/+/+", "$share/g//ota/device/inform/a/b"));
}

}  // namespace
