// MQTT topic rules (see topic_rules.hpp).
#include "channel/topic_rules.hpp"

#include <string>

namespace ota::detail {

Error validate_topic(std::string_view topic) {
    if (topic.empty()) return {Status::invalid_argument, "publish: empty topic"};
    if (topic.size() > kMaxMqttString) return {Status::invalid_argument, "publish: topic too long"};
    if (topic.find_first_of(std::string_view("+#\0", 3)) != std::string_view::npos) {
        return {Status::invalid_argument,
                "publish: topic '" + std::string(topic) + "' contains a wildcard or NUL"};
    }
    return {};
}

Error validate_filter(std::string_view filter) {
    const auto bad = [&](const char* why) {
        return Error{Status::invalid_argument,
                     "subscribe: topic filter '" + std::string(filter) + "' " + why};
    };
    if (filter.empty()) return {Status::invalid_argument, "subscribe: empty topic filter"};
    if (filter.size() > kMaxMqttString) return bad("is too long");
    if (filter.find('\0') != std::string_view::npos) return bad("contains NUL");
    std::size_t start = 0;
    for (;;) {
        const auto slash = filter.find('/', start);
        const auto level = filter.substr(
            start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        if (level.find_first_of("+#") != std::string_view::npos && level.size() != 1) {
            return bad("has a wildcard that does not fill a whole level");
        }
        if (level == "#" && slash != std::string_view::npos) {
            return bad("has '#' before the last level");
        }
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return {};
}

Error validate_qos(int qos, const char* what) {
    if (qos == 0 || qos == 1) return {};
    return {Status::invalid_argument,
            std::string(what) + ": QoS must be 0 or 1, got " + std::to_string(qos)};
}

bool topic_matches(std::string_view filter, std::string_view topic) noexcept {
    // A shared subscription ("$share/<group>/<filter>", MQTT 5, and mosquitto 2 for 3.1.1
    // clients) delivers the messages of <filter> on their own topics.
    constexpr std::string_view kShare = "$share/";
    if (filter.substr(0, kShare.size()) == kShare) {
        const std::size_t slash = filter.find('/', kShare.size());
        if (slash != std::string_view::npos) filter.remove_prefix(slash + 1);
    }
    // MQTT 3.1.1 section 4.7.2: a first-level wildcard never matches a topic starting with '$'.
    if (!topic.empty() && topic.front() == '$' && !filter.empty() &&
        (filter.front() == '+' || filter.front() == '#')) {
        return false;
    }
    for (;;) {
        const std::size_t f_end = filter.find('/');
        const std::string_view f_level = filter.substr(0, f_end);
        if (f_level == "#") return true;  // also matches the parent level itself
        const std::size_t t_end = topic.find('/');
        const std::string_view t_level = topic.substr(0, t_end);
        if (f_level != "+" && f_level != t_level) return false;
        if (f_end == std::string_view::npos || t_end == std::string_view::npos) {
            // Both must end here, except that "a/#" also matches "a".
            return f_end == t_end ||
                   (t_end == std::string_view::npos && filter.substr(f_end + 1) == "#");
        }
        filter.remove_prefix(f_end + 1);
        topic.remove_prefix(t_end + 1);
    }
}

std::string unexpected_topic_warning(std::string_view topic) {
    return "MQTT message on topic '" + std::string(topic) +
           "', which matches none of this client's subscriptions, ignored (logged once per "
           "topic). If the broker rewrote the topic: RabbitMQ's MQTT plugin turns '.' in a "
           "device name into '/' (see README, Brokers)";
}

}  // namespace ota::detail
