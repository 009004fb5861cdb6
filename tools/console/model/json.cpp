#include "model/json.hpp"

#include <limits>
#include <set>

namespace console {

using nlohmann::json;

namespace {

json ms_or_null(Millis ms) {
    return ms == 0 ? json(nullptr) : json(ms);
}

[[noreturn]] void bad(const std::string& where, const std::string& what) {
    throw ApiError(400, "invalid_argument", where + ": " + what);
}

void only_known(const json& j, const std::string& where, const std::set<std::string>& known) {
    if (!j.is_object()) bad(where, "must be an object");
    for (const auto& item : j.items()) {
        if (known.count(item.key()) == 0) bad(where + "." + item.key(), "unknown field");
    }
}

std::uint32_t get_u32(const json& j, const std::string& key, const std::string& where,
                      std::uint32_t lo, std::uint32_t hi, std::uint32_t fallback) {
    if (!j.contains(key)) return fallback;
    const json& v = j.at(key);
    if (!v.is_number_integer()) bad(where + "." + key, "must be an integer");
    const bool in_range = v.is_number_unsigned()
                              ? v.get<std::uint64_t>() >= lo && v.get<std::uint64_t>() <= hi
                              : v.get<std::int64_t>() >= static_cast<std::int64_t>(lo) &&
                                    v.get<std::int64_t>() <= static_cast<std::int64_t>(hi);
    if (!in_range) {
        bad(where + "." + key, "must be from " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    const auto value = v.get<std::int64_t>();
    return static_cast<std::uint32_t>(value);
}

Millis get_ms(const json& j, const std::string& key, const std::string& where) {
    if (!j.contains(key) || j.at(key).is_null()) return 0;
    const json& v = j.at(key);
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0) {
        bad(where + "." + key, "must be milliseconds since the epoch (a non-negative integer)");
    }
    return v.get<std::int64_t>();
}

bool get_bool(const json& j, const std::string& key, const std::string& where, bool fallback) {
    if (!j.contains(key)) return fallback;
    if (!j.at(key).is_boolean()) bad(where + "." + key, "must be true or false");
    return j.at(key).get<bool>();
}

std::string get_str(const json& j, const std::string& key, const std::string& where,
                    std::size_t max_len) {
    if (!j.contains(key)) return {};
    const json& v = j.at(key);
    if (!v.is_string()) bad(where + "." + key, "must be a string");
    auto s = v.get<std::string>();
    if (s.size() > max_len) bad(where + "." + key, "longer than " + std::to_string(max_len));
    return s;
}

std::vector<std::string> get_str_list(const json& j, const std::string& key,
                                      const std::string& where, std::size_t max_items) {
    std::vector<std::string> out;
    if (!j.contains(key)) return out;
    const json& v = j.at(key);
    if (!v.is_array()) bad(where + "." + key, "must be an array of strings");
    if (v.size() > max_items) bad(where + "." + key, "more than " + std::to_string(max_items));
    for (const auto& item : v) {
        if (!item.is_string() || item.get<std::string>().empty() ||
            item.get<std::string>().size() > 128) {
            bad(where + "." + key, "must hold non-empty strings of at most 128 characters");
        }
        out.push_back(item.get<std::string>());
    }
    return out;
}

}  // namespace

json to_json(const Firmware& f) {
    return json{{"id", f.id},
                {"product_key", f.product_key},
                {"module", f.module},
                {"version", f.version},
                {"size", f.size},
                {"md5", f.md5},
                {"sha256", f.sha256},
                {"sign_method", f.sign_method},
                {"signed", !f.ext_data.empty()},
                {"verified", f.verified},
                {"created_at", f.created_at}};
}

json to_json(const Device& d, Millis online_since) {
    return json{{"product_key", d.key.product_key},
                {"device_name", d.key.device_name},
                {"tags", d.tags},
                {"versions", d.versions},
                {"online", d.last_seen_at != 0 && d.last_seen_at >= online_since},
                {"created_at", d.created_at},
                {"last_seen_at", ms_or_null(d.last_seen_at)}};
}

json to_json(const Selection& s) {
    return json{{"product_key", s.product_key},
                {"device_names", s.device_names},
                {"source_versions", s.source_versions},
                {"tag", s.tag},
                {"percent", s.percent}};
}

json to_json(const Phase& p) {
    return json{{"devices", p.devices},
                {"percent", p.percent},
                {"success_percent", p.success_percent},
                {"manual", p.manual},
                {"max_failures", p.max_failures}};
}

json to_json(const Policy& p) {
    return json{{"push_rate_per_minute", p.push_rate_per_minute},
                {"task_timeout_s", p.task_timeout_s},
                {"retry_count", p.retry_count},
                {"retry_interval_s", p.retry_interval_s},
                {"start_at", ms_or_null(p.start_at)},
                {"end_at", ms_or_null(p.end_at)},
                {"download_protocol", p.download_protocol}};
}

json to_json(const Rollout& r) {
    json phases = json::array();
    for (const auto& p : r.phases) phases.push_back(to_json(p));
    return json{{"id", r.id},
                {"firmware_id", r.firmware_id},
                {"name", r.name},
                {"kind", to_string(r.kind)},
                {"state", to_string(r.state)},
                {"dynamic", r.dynamic},
                {"force", r.force},
                {"selection", to_json(r.selection)},
                {"phases", phases},
                {"policy", to_json(r.policy)},
                {"current_phase", r.current_phase},
                {"reason", r.reason},
                {"created_at", r.created_at},
                {"updated_at", r.updated_at},
                {"finished_at", ms_or_null(r.finished_at)}};
}

json to_json(const Task& t) {
    return json{{"id", t.id},
                {"rollout_id", t.rollout_id},
                {"product_key", t.device.product_key},
                {"device_name", t.device.device_name},
                {"module", t.module},
                {"phase", t.phase},
                {"state", to_string(t.state)},
                {"attempt", t.attempt},
                {"from_version", t.from_version},
                {"last_step", t.last_step},
                {"downloaded", t.downloaded},
                {"reason", t.reason},
                {"queued_at", ms_or_null(t.queued_at)},
                {"notified_at", ms_or_null(t.notified_at)},
                {"first_progress_at", ms_or_null(t.first_progress_at)},
                {"deadline_at", ms_or_null(t.deadline_at)},
                {"finished_at", ms_or_null(t.finished_at)},
                {"updated_at", t.updated_at}};
}

Selection selection_from_json(const json& j, const std::string& where) {
    only_known(j, where, {"product_key", "device_names", "source_versions", "tag", "percent"});
    Selection s;
    s.product_key = get_str(j, "product_key", where, 64);
    s.device_names = get_str_list(j, "device_names", where, 100000);
    s.source_versions = get_str_list(j, "source_versions", where, 100);
    s.tag = get_str(j, "tag", where, 64);
    s.percent = get_u32(j, "percent", where, 1, 100, 100);
    return s;
}

Rollout rollout_from_json(const json& body) {
    const std::string where = "body";
    only_known(
        body, where,
        {"firmware_id", "name", "kind", "dynamic", "force", "selection", "phases", "policy"});
    Rollout r;
    if (!body.contains("firmware_id") || !body.at("firmware_id").is_number_integer() ||
        body.at("firmware_id").get<std::int64_t>() <= 0) {
        bad("body.firmware_id", "is required, a positive integer");
    }
    r.firmware_id = body.at("firmware_id").get<std::int64_t>();
    r.name = get_str(body, "name", where, 200);
    if (body.contains("kind")) {
        const auto kind = rollout_kind_from(get_str(body, "kind", where, 16));
        if (!kind) bad("body.kind", "must be \"normal\" or \"verify\"");
        r.kind = *kind;
    }
    r.dynamic = get_bool(body, "dynamic", where, false);
    r.force = get_bool(body, "force", where, false);
    if (body.contains("selection"))
        r.selection = selection_from_json(body.at("selection"), "body.selection");
    if (body.contains("phases")) {
        const json& phases = body.at("phases");
        if (!phases.is_array() || phases.size() > 100) {
            bad("body.phases", "must be an array of at most 100 phases");
        }
        for (std::size_t i = 0; i < phases.size(); ++i) {
            const std::string pw = "body.phases[" + std::to_string(i) + "]";
            const json& pj = phases.at(i);
            only_known(pj, pw, {"devices", "percent", "success_percent", "manual", "max_failures"});
            Phase p;
            p.devices = get_u32(pj, "devices", pw, 0, 10000000, 0);
            p.percent = get_u32(pj, "percent", pw, 0, 100, 0);
            p.success_percent = get_u32(pj, "success_percent", pw, 0, 100, 100);
            p.manual = get_bool(pj, "manual", pw, false);
            p.max_failures = get_u32(pj, "max_failures", pw, 0, 10000000, 0);
            r.phases.push_back(p);
        }
    }
    if (body.contains("policy")) {
        const json& pj = body.at("policy");
        const std::string pw = "body.policy";
        only_known(pj, pw,
                   {"push_rate_per_minute", "task_timeout_s", "retry_count", "retry_interval_s",
                    "start_at", "end_at", "download_protocol"});
        r.policy.push_rate_per_minute = get_u32(pj, "push_rate_per_minute", pw, 0, 10000000, 0);
        r.policy.task_timeout_s = get_u32(pj, "task_timeout_s", pw, 1, 30 * 86400, 1800);
        r.policy.retry_count = get_u32(pj, "retry_count", pw, 0, 100, 0);
        r.policy.retry_interval_s = get_u32(pj, "retry_interval_s", pw, 0, 86400, 60);
        r.policy.start_at = get_ms(pj, "start_at", pw);
        r.policy.end_at = get_ms(pj, "end_at", pw);
        if (pj.contains("download_protocol"))
            r.policy.download_protocol = get_str(pj, "download_protocol", pw, 16);
        if (r.policy.download_protocol != "https" && r.policy.download_protocol != "mqtt") {
            bad("body.policy.download_protocol", "must be \"https\" or \"mqtt\"");
        }
    }
    return r;
}

}  // namespace console
