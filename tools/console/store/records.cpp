// Records <-> rows: the column lists of firmware, rollouts and tasks, and their parameters.
//
// Why apart from the queries: every SELECT of a record names the same columns in the same order
// as its reader, and every INSERT/UPDATE binds the same parameters; keeping the three of them side
// by side makes a column added by a migration a change in one place.
#include "store/records.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace console::sql {

namespace {

using nlohmann::json;

std::uint32_t u32(std::int64_t v) {
    return static_cast<std::uint32_t>(v);
}

/// Selection, phases and policy as one JSON document (nothing queries inside them).
std::string spec_of(const Rollout& r) {
    const Selection& s = r.selection;
    json phases = json::array();
    for (const Phase& p : r.phases) {
        phases.push_back({{"devices", p.devices},
                          {"percent", p.percent},
                          {"success_percent", p.success_percent},
                          {"manual", p.manual},
                          {"max_failures", p.max_failures}});
    }
    const Policy& p = r.policy;
    const json spec = {{"selection",
                        {{"product_key", s.product_key},
                         {"device_names", s.device_names},
                         {"source_versions", s.source_versions},
                         {"tag", s.tag},
                         {"percent", s.percent}}},
                       {"phases", phases},
                       {"policy",
                        {{"push_rate_per_minute", p.push_rate_per_minute},
                         {"task_timeout_s", p.task_timeout_s},
                         {"retry_count", p.retry_count},
                         {"retry_interval_s", p.retry_interval_s},
                         {"start_at", p.start_at},
                         {"end_at", p.end_at},
                         {"download_protocol", p.download_protocol}}}};
    return spec.dump();
}

void read_spec(const std::string& text, Rollout& r) {
    const json spec = json::parse(text);
    const json& s = spec.at("selection");
    r.selection.product_key = s.at("product_key").get<std::string>();
    r.selection.device_names = s.at("device_names").get<std::vector<std::string>>();
    r.selection.source_versions = s.at("source_versions").get<std::vector<std::string>>();
    r.selection.tag = s.at("tag").get<std::string>();
    r.selection.percent = s.at("percent").get<std::uint32_t>();
    for (const json& j : spec.at("phases")) {
        Phase p;
        p.devices = j.at("devices").get<std::uint32_t>();
        p.percent = j.at("percent").get<std::uint32_t>();
        p.success_percent = j.at("success_percent").get<std::uint32_t>();
        p.manual = j.at("manual").get<bool>();
        p.max_failures = j.at("max_failures").get<std::uint32_t>();
        r.phases.push_back(p);
    }
    const json& p = spec.at("policy");
    r.policy.push_rate_per_minute = p.at("push_rate_per_minute").get<std::uint32_t>();
    r.policy.task_timeout_s = p.at("task_timeout_s").get<std::uint32_t>();
    r.policy.retry_count = p.at("retry_count").get<std::uint32_t>();
    r.policy.retry_interval_s = p.at("retry_interval_s").get<std::uint32_t>();
    r.policy.start_at = p.at("start_at").get<Millis>();
    r.policy.end_at = p.at("end_at").get<Millis>();
    // Absent in rows written before MQTT downloads: those rollouts are https.
    r.policy.download_protocol = p.value("download_protocol", std::string("https"));
}

}  // namespace

Firmware firmware_from(const Row& r) {
    Firmware f;
    f.id = r.integer(0);
    f.product_key = r.text(1);
    f.module = r.text(2);
    f.version = r.text(3);
    f.size = static_cast<std::uint64_t>(r.integer(4));
    f.md5 = r.text(5);
    f.sha256 = r.text(6);
    f.sign_method = r.text(7);
    f.ext_data = r.text(8);
    f.verified = r.integer(9) != 0;
    f.created_at = r.integer(10);
    return f;
}

Rollout rollout_from(const Row& row) {
    Rollout r;
    r.id = row.integer(0);
    r.firmware_id = row.integer(1);
    r.name = row.text(2);
    const auto kind = rollout_kind_from(row.text(3));
    const auto state = rollout_state_from(row.text(4));
    if (!kind || !state) {
        throw std::runtime_error("store: rollout " + std::to_string(r.id) +
                                 " has a bad kind/state");
    }
    r.kind = *kind;
    r.state = *state;
    r.dynamic = row.integer(5) != 0;
    r.force = row.integer(6) != 0;
    try {
        read_spec(row.text(7), r);
    } catch (const json::exception& e) {
        throw std::runtime_error("store: rollout " + std::to_string(r.id) +
                                 " has a bad spec: " + e.what());
    }
    r.current_phase = u32(row.integer(8));
    r.reason = row.text(9);
    r.created_at = row.integer(10);
    r.updated_at = row.integer(11);
    r.finished_at = row.integer(12);
    return r;
}

Params rollout_params(const Rollout& r) {
    return {r.firmware_id,
            r.name,
            std::string(to_string(r.kind)),
            std::string(to_string(r.state)),
            std::int64_t{r.dynamic},
            std::int64_t{r.force},
            spec_of(r),
            std::int64_t{r.current_phase},
            r.reason,
            r.created_at,
            r.updated_at,
            r.finished_at};
}

Task task_from(const Row& row) {
    Task t;
    t.id = row.integer(0);
    t.rollout_id = row.integer(1);
    t.device.product_key = row.text(2);
    t.device.device_name = row.text(3);
    t.module = row.text(4);
    t.phase = u32(row.integer(5));
    const auto state = task_state_from(row.text(6));
    if (!state)
        throw std::runtime_error("store: task " + std::to_string(t.id) + " has a bad state");
    t.state = *state;
    t.attempt = u32(row.integer(7));
    t.from_version = row.text(8);
    t.last_step = static_cast<std::int32_t>(row.integer(9));
    t.downloaded = row.integer(10) != 0;
    t.reason = row.text(11);
    t.queued_at = row.integer(12);
    t.notified_at = row.integer(13);
    t.first_progress_at = row.integer(14);
    t.deadline_at = row.integer(15);
    t.finished_at = row.integer(16);
    t.updated_at = row.integer(17);
    return t;
}

/// The task's columns after id, in kTaskColumns order ($1..$17).
Params task_params(const Task& t) {
    return {t.rollout_id,
            t.device.product_key,
            t.device.device_name,
            t.module,
            std::int64_t{t.phase},
            std::string(to_string(t.state)),
            std::int64_t{t.attempt},
            t.from_version,
            std::int64_t{t.last_step},
            std::int64_t{t.downloaded},
            t.reason,
            t.queued_at,
            t.notified_at,
            t.first_progress_at,
            t.deadline_at,
            t.finished_at,
            t.updated_at};
}

}  // namespace console::sql
