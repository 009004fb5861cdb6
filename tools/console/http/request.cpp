// Request helpers: see request.hpp.
#include "http/request.hpp"

#include <cctype>
#include <cstring>
#include <limits>

#include "ota/digest.hpp"

namespace console::http {

using nlohmann::json;

namespace {

[[noreturn]] void bad(const std::string& message) {
    throw ApiError(400, "invalid_argument", message);
}

}  // namespace

bool all_digits(const std::string& s) noexcept {
    if (s.empty() || s.size() > 18) return false;
    for (const char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_header("Cache-Control", "no-store");
    res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& code,
                const std::string& message) {
    send_json(res, status, json{{"code", code}, {"message", message}});
}

void allow_params(const httplib::Request& req, std::initializer_list<const char*> allowed) {
    // Names from the URL's query only: cpp-httplib also puts the fields of a form-encoded body
    // in req.params (curl -d '{...}' without a JSON Content-Type), and the body is JSON here.
    const auto q = req.target.find('?');
    if (q == std::string::npos) return;
    const std::string query = req.target.substr(q + 1);
    std::size_t start = 0;
    while (start <= query.size()) {
        std::size_t end = query.find('&', start);
        if (end == std::string::npos) end = query.size();
        const std::string part = query.substr(start, end - start);
        const std::string name = httplib::detail::decode_url(part.substr(0, part.find('=')), true);
        if (!part.empty()) {
            bool known = false;
            for (const char* a : allowed) known = known || name == a;
            if (!known) bad("unknown query parameter \"" + name + "\"");
        }
        start = end + 1;
    }
}

std::string param(const httplib::Request& req, const char* name) {
    return req.has_param(name) ? req.get_param_value(name) : std::string();
}

void check_name(const std::string& value, const std::string& where, std::size_t max_len) {
    if (value.empty() || value.size() > max_len) {
        bad(where + ": must be 1 to " + std::to_string(max_len) + " characters");
    }
    for (const char c : value) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '/' || c == '+' || c == '#' || u <= 0x20 || u == 0x7f) {
            bad(where + ": must not contain '/', '+', '#', spaces or control characters");
        }
    }
}

std::string required_param(const httplib::Request& req, const char* name, std::size_t max_len) {
    const std::string value = param(req, name);
    if (value.empty()) bad(std::string("query parameter \"") + name + "\" is required");
    if (value.size() > max_len) {
        bad(std::string("query parameter \"") + name + "\" is longer than " +
            std::to_string(max_len));
    }
    return value;
}

std::size_t limit_param(const httplib::Request& req) {
    if (!req.has_param("limit")) return 100;
    const std::string v = req.get_param_value("limit");
    if (!all_digits(v) || std::stoll(v) < 1 || std::stoll(v) > 1000) {
        bad("limit: must be an integer from 1 to 1000");
    }
    return static_cast<std::size_t>(std::stoll(v));
}

std::string encode_cursor(const std::string& payload) {
    return "c" + ota::to_hex(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size());
}

std::string cursor_param(const httplib::Request& req) {
    if (!req.has_param("cursor")) return {};
    const std::string v = req.get_param_value("cursor");
    const auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    if (v.size() < 3 || v.size() > 1024 || v[0] != 'c' || v.size() % 2 == 0) {
        bad("cursor: not a cursor handed out by this list");
    }
    std::string out;
    for (std::size_t i = 1; i + 1 < v.size(); i += 2) {
        const int hi = nibble(v[i]);
        const int lo = nibble(v[i + 1]);
        if (hi < 0 || lo < 0) bad("cursor: not a cursor handed out by this list");
        out.push_back(static_cast<char>(hi * 16 + lo));
    }
    return out;
}

std::int64_t id_cursor_param(const httplib::Request& req) {
    const std::string payload = cursor_param(req);
    if (payload.empty()) return 0;
    if (payload.rfind("id:", 0) != 0 || !all_digits(payload.substr(3))) {
        bad("cursor: not a cursor handed out by this list");
    }
    return std::stoll(payload.substr(3));
}

std::int64_t parse_id(const std::string& text, const std::string& where) {
    if (!all_digits(text) || std::stoll(text) <= 0) bad(where + ": must be a positive integer");
    return std::stoll(text);
}

json json_body(const httplib::Request& req) {
    if (req.body.empty()) bad("body: a JSON object is required");
    if (req.body.size() > kMaxJsonBody) {
        throw ApiError(413, "payload_too_large",
                       "body: larger than " + std::to_string(kMaxJsonBody) + " bytes");
    }
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) bad("body: malformed JSON");
    if (!body.is_object()) bad("body: must be a JSON object");
    return body;
}

void empty_body(const httplib::Request& req) {
    if (req.body.empty()) return;
    const json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) bad("body: malformed JSON");
    if (!body.is_object() || !body.empty()) bad("body: must be empty (or {})");
}

json page_json(json items, const std::optional<std::string>& next_cursor) {
    return json{{"items", std::move(items)},
                {"next_cursor", next_cursor ? json(*next_cursor) : json(nullptr)}};
}

}  // namespace console::http
