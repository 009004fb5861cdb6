// Sample records and readable dumps for the store conformance suite.
//
// Why dumps: a record compared as one string of every field shows, when a store loses or changes
// a field, both versions side by side in the failure message.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "model/model.hpp"

namespace console::test {

/// Readable dumps of every field, compared as strings (a failure shows both records).
inline std::string dump(const Firmware& f) {
    std::ostringstream o;
    o << f.id << '|' << f.product_key << '|' << f.module << '|' << f.version << '|' << f.size << '|'
      << f.md5 << '|' << f.sha256 << '|' << f.sign_method << '|' << f.ext_data << '|' << f.verified
      << '|' << f.created_at;
    return o.str();
}
/// Every field of a device.
inline std::string dump(const Device& d) {
    std::ostringstream o;
    o << d.key.product_key << '/' << d.key.device_name << "|tags:";
    for (const auto& t : d.tags) o << t << ',';
    o << "|versions:";
    for (const auto& [m, v] : d.versions) o << m << '=' << v << ',';
    o << '|' << d.created_at << '|' << d.last_seen_at;
    return o.str();
}
/// Every field of a rollout, phases and policy included.
inline std::string dump(const Rollout& r) {
    std::ostringstream o;
    const Selection& s = r.selection;
    o << r.id << '|' << r.firmware_id << '|' << r.name << '|' << to_string(r.kind) << '|'
      << to_string(r.state) << '|' << r.dynamic << r.force << "|sel:" << s.product_key << ':';
    for (const auto& n : s.device_names) o << n << ',';
    o << ':';
    for (const auto& v : s.source_versions) o << v << ',';
    o << ':' << s.tag << ':' << s.percent << "|phases:";
    for (const Phase& p : r.phases) {
        o << p.devices << '/' << p.percent << '/' << p.success_percent << '/' << p.manual << '/'
          << p.max_failures << ';';
    }
    const Policy& p = r.policy;
    o << "|policy:" << p.push_rate_per_minute << '/' << p.task_timeout_s << '/' << p.retry_count
      << '/' << p.retry_interval_s << '/' << p.start_at << '/' << p.end_at << '|' << r.current_phase
      << '|' << r.reason << '|' << r.created_at << '|' << r.updated_at << '|' << r.finished_at;
    return o.str();
}
/// Every field of a task.
inline std::string dump(const Task& t) {
    std::ostringstream o;
    o << t.id << '|' << t.rollout_id << '|' << t.device.product_key << '/' << t.device.device_name
      << '|' << t.module << '|' << t.phase << '|' << to_string(t.state) << '|' << t.attempt << '|'
      << t.from_version << '|' << t.last_step << '|' << t.downloaded << '|' << t.reason << '|'
      << t.queued_at << '|' << t.notified_at << '|' << t.first_progress_at << '|' << t.deadline_at
      << '|' << t.finished_at << '|' << t.updated_at;
    return o.str();
}

/// The ids of records, in order.
template <typename T>
inline std::vector<std::int64_t> ids(const std::vector<T>& v) {
    std::vector<std::int64_t> out;
    for (const auto& x : v) out.push_back(x.id);
    return out;
}
/// "pk/dn" of devices, in order.
inline std::vector<std::string> names(const std::vector<Device>& v) {
    std::vector<std::string> out;
    for (const auto& d : v) out.push_back(d.key.product_key + "/" + d.key.device_name);
    return out;
}

/// A firmware with every field set to a value that a store could mangle (size above 2^32,
/// quotes in ext_data).
inline Firmware make_firmware(const std::string& pk, const std::string& version,
                              const std::string& module = kDefaultModule) {
    Firmware f;
    f.product_key = pk;
    f.module = module;
    f.version = version;
    f.size = 5'000'000'000ULL;  // above 2^32
    f.md5 = std::string(32, 'a');
    f.sha256 = std::string(64, 'b');
    f.sign_method = "Md5";
    f.ext_data = R"({"signature":{"alg":"ed25519","value":"x'y\"z"}})";
    f.verified = true;
    f.created_at = 1'700'000'000'123;
    return f;
}

/// A registered device without tags or versions.
inline Device make_device(const std::string& pk, const std::string& dn) {
    Device d;
    d.key = {pk, dn};
    d.created_at = 1'700'000'000'001;
    return d;
}

/// A rollout with every field away from its default.
inline Rollout make_rollout(std::int64_t firmware_id) {
    Rollout r;
    r.firmware_id = firmware_id;
    r.name = "wave 'one'";
    r.kind = RolloutKind::verify;
    r.state = RolloutState::running;
    r.dynamic = true;
    r.force = true;
    r.selection = {"pk1", {"d1", "d2"}, {"1.0.0", "1.1.0"}, "lab", 37};
    r.phases = {{5, 0, 90, true, 2}, {0, 50, 80, false, 0}, {0, 0, 100, false, 7}};
    r.policy = {120, 600, 3, 30, 1'700'000'000'000, 1'800'000'000'000};
    r.current_phase = 1;
    r.reason = "paused by gate";
    r.created_at = 11;
    r.updated_at = 12;
    r.finished_at = 13;
    return r;
}

/// A task of product pk1 in the default module.
inline Task make_task(std::int64_t rollout_id, const std::string& dn,
                      TaskState state = TaskState::queued) {
    Task t;
    t.rollout_id = rollout_id;
    t.device = {"pk1", dn};
    t.module = kDefaultModule;
    t.state = state;
    return t;
}

}  // namespace console::test
