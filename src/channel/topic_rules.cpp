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

}  // namespace ota::detail
