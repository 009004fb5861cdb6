// The REST API's JSON shape of each record (also the payload of GET /events).
//
// Why here: the API answers, the engine's events and the web page must show one shape; the API
// parses rollout requests with rollout_from_json, which names the offending field in its error.
#pragma once

#include <nlohmann/json.hpp>

#include "model/model.hpp"

namespace console {

[[nodiscard]] nlohmann::json to_json(const Firmware& f);
[[nodiscard]] nlohmann::json to_json(const Device& d, Millis online_since);
[[nodiscard]] nlohmann::json to_json(const Selection& s);
[[nodiscard]] nlohmann::json to_json(const Phase& p);
[[nodiscard]] nlohmann::json to_json(const Policy& p);
[[nodiscard]] nlohmann::json to_json(const Rollout& r);
[[nodiscard]] nlohmann::json to_json(const Task& t);

/// Parses a POST /rollouts body. Throws ApiError 400 "invalid_argument" naming the field for a
/// wrong type, an out-of-range value or an unknown field; fields left out keep their defaults.
/// The product key of the selection may be left out (the engine fills in the firmware's).
[[nodiscard]] Rollout rollout_from_json(const nlohmann::json& body);

/// Parses a selection ("selection" member of a rollout, or the page's live-count request).
[[nodiscard]] Selection selection_from_json(const nlohmann::json& j, const std::string& where);

}  // namespace console
