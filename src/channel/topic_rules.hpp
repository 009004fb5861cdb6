// The MQTT topic rules the channel checks before it hands a topic to paho, so that a bad topic
// fails with a message that names it instead of paho's generic error. Private to the channel.
#pragma once

#include <cstddef>
#include <string_view>

#include "ota/options.hpp"
#include "ota/status.hpp"

namespace ota::detail {

/// MQTT strings are length-prefixed with 16 bits (the same limit as MqttOptions' strings).
inline constexpr std::size_t kMaxMqttString = MqttOptions::kMaxStringLength;

/// A topic name for PUBLISH: non-empty, no wildcards, no NUL, fits an MQTT string.
[[nodiscard]] Error validate_topic(std::string_view topic);

/// A topic filter for SUBSCRIBE: '+' fills a whole level, '#' is a whole level and the last one.
[[nodiscard]] Error validate_filter(std::string_view filter);

/// True when `topic` matches the subscription `filter` ('+' one whole level, '#' this level and
/// everything below, only as the last level). Wildcards at the first level never match topics
/// starting with '$'. A shared subscription's filter ("$share/<group>/<filter>") matches as
/// <filter>. Never allocates. (The test fakes' broker routes with it too.)
[[nodiscard]] bool topic_matches(std::string_view filter, std::string_view topic) noexcept;

/// The warning for a message on `topic`, which matches none of the channel's subscriptions,
/// with a hint at the usual cause: a broker that rewrote the topic.
[[nodiscard]] std::string unexpected_topic_warning(std::string_view topic);

/// QoS 0 or 1 (the only levels the channel offers); `what` names the operation in the message.
[[nodiscard]] Error validate_qos(int qos, const char* what);

}  // namespace ota::detail
