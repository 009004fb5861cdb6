// Small pieces every API handler uses: JSON answers and errors, strict query parameters and
// bodies, cursors and limits.
//
// Why strict: a typo in a query parameter or a JSON field must not silently select every device
// of a product; every unknown name is a 400 that names it, before anything is read or written.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "model/model.hpp"

namespace console::http {

/// Writes `body` as the JSON answer with `status`.
void send_json(httplib::Response& res, int status, const nlohmann::json& body);
/// Writes {"code","message"} with `status`.
void send_error(httplib::Response& res, int status, const std::string& code,
                const std::string& message);

/// Throws ApiError 400 naming the first query parameter of `req` not in `allowed`.
void allow_params(const httplib::Request& req, std::initializer_list<const char*> allowed);
/// The query parameter's value, or "" when absent.
[[nodiscard]] std::string param(const httplib::Request& req, const char* name);
/// A required, non-empty query parameter of at most `max_len` characters; ApiError 400 else.
[[nodiscard]] std::string required_param(const httplib::Request& req, const char* name,
                                         std::size_t max_len);
/// Checks a name used in MQTT topics (product key, device name, module, tag): 1..max_len
/// characters, none of '/', '+', '#', whitespace or control characters. ApiError 400 naming
/// `where` otherwise.
void check_name(const std::string& value, const std::string& where, std::size_t max_len);

/// The ?limit= of a list: 1..1000, default 100. ApiError 400 else.
[[nodiscard]] std::size_t limit_param(const httplib::Request& req);
/// An opaque cursor for `payload` (hex of it, so it survives any URL encoding).
[[nodiscard]] std::string encode_cursor(const std::string& payload);
/// The payload of ?cursor= ("" when absent). ApiError 400 for a string no list handed out.
[[nodiscard]] std::string cursor_param(const httplib::Request& req);
/// ?cursor= of an id-ordered list: the id after which the page starts (0 when absent).
[[nodiscard]] std::int64_t id_cursor_param(const httplib::Request& req);
/// True for 1..18 ASCII digits (a number that fits an int64 and std::stoll).
[[nodiscard]] bool all_digits(const std::string& s) noexcept;
/// A positive integer from a path or query part; ApiError 400 naming `where` else.
[[nodiscard]] std::int64_t parse_id(const std::string& text, const std::string& where);

/// Largest JSON request body (a registration of 10,000 devices fits).
inline constexpr std::size_t kMaxJsonBody = 16 * 1024 * 1024;

/// The JSON object of the request body. ApiError 400 for an empty, malformed or non-object
/// body, 413 above kMaxJsonBody.
[[nodiscard]] nlohmann::json json_body(const httplib::Request& req);
/// For action routes (pause, ...): the body must be empty or "{}"; ApiError 400 else.
void empty_body(const httplib::Request& req);

/// {"items":[...],"next_cursor":cursor-or-null}.
[[nodiscard]] nlohmann::json page_json(nlohmann::json items,
                                       const std::optional<std::string>& next_cursor);

}  // namespace console::http
