// FleetSummary <-> JSON. The file is written by hand around nlohmann's dump so that each process
// and each device is one line: a 20,000-device summary stays greppable and diffable.
#include <nlohmann/json.hpp>

#include "stats.hpp"

namespace ota::fleet {
namespace {

using nlohmann::json;

constexpr const char* kFormat = "ota_fleet-summary/1";

json sample_json(const SampleSummary& s) {
    json j = {{"count", s.count}};
    const auto put = [&j](const char* key, const std::optional<double>& v) {
        if (v) j[key] = *v;
    };
    put("p50", s.p50);
    put("p90", s.p90);
    put("p99", s.p99);
    put("max", s.max);
    put("mean", s.mean);
    return j;
}

json counts_json(const OutcomeCounts& counts) {
    json j = json::object();
    for (Outcome o : kAllOutcomes) j[to_string(o)] = counts[static_cast<std::size_t>(o)];
    return j;
}

json aggregate_json(const FleetAggregate& a) {
    json j = {{"devices", a.devices},
              {"connected", a.connected},
              {"outcomes", counts_json(a.outcomes)},
              {"cloud_outcomes", counts_json(a.cloud_outcomes)},
              {"expected_outcomes", counts_json(a.expected)},
              {"connect_latency_ms", sample_json(a.connect_latency_ms)},
              {"push_to_progress_ms", sample_json(a.push_to_progress_ms)},
              {"download_mib_per_s", sample_json(a.download_mib_per_s)},
              {"job_ms", sample_json(a.job_ms)},
              {"download_bytes", a.download_bytes},
              {"cpu_s", a.cpu_s}};
    if (a.connects_per_s) j["connects_per_s"] = *a.connects_per_s;
    if (a.total_download_mib_per_s) j["total_download_mib_per_s"] = *a.total_download_mib_per_s;
    if (a.rss_per_device_kib) j["rss_per_device_kib"] = *a.rss_per_device_kib;
    return j;
}

json process_json(const ProcessRecord& p) {
    return {{"first", p.first},
            {"count", p.count},
            {"threads", p.threads},
            {"host", p.host},
            {"started_unix_ms", p.started_unix_ms},
            {"ended_unix_ms", p.ended_unix_ms},
            {"connect_first_unix_ms", p.connect_first_unix_ms},
            {"connect_last_unix_ms", p.connect_last_unix_ms},
            {"download_first_unix_ms", p.download_first_unix_ms},
            {"download_last_unix_ms", p.download_last_unix_ms},
            {"rss_base_kib", p.rss_base_kib},
            {"rss_idle_kib", p.rss_idle_kib},
            {"rss_peak_kib", p.rss_peak_kib},
            {"cpu_user_s", p.cpu_user_s},
            {"cpu_system_s", p.cpu_system_s},
            {"waker_subscribes", p.waker_subscribes}};
}

json device_json(const DeviceRecord& d) {
    json j = {{"index", d.index}, {"name", d.device_name}, {"outcome", to_string(d.outcome)}};
    if (d.cloud_outcome) j["cloud_outcome"] = to_string(*d.cloud_outcome);
    if (d.expected) j["expected"] = to_string(*d.expected);
    const auto put = [&j](const char* key, const std::optional<double>& v) {
        if (v) j[key] = *v;
    };
    put("connect_latency_ms", d.connect_latency_ms);
    put("connected_at_ms", d.connected_at_ms);
    j["connects"] = d.connects;
    j["connect_failures"] = d.connect_failures;
    put("push_to_progress_ms", d.push_to_progress_ms);
    j["download_bytes"] = d.download_bytes;
    put("download_ms", d.download_ms);
    put("job_ms", d.job_ms);
    if (!d.detail.empty()) j["detail"] = d.detail;
    return j;
}

// Reading: each getter names the field (with its record) in the error.
struct Reader {
    const json& object;
    std::string where;

    Error missing(const char* key, const char* what) const {
        return {Status::malformed_message, where + "." + key + ": " + what};
    }
    template <typename T>
    Error number(const char* key, T& out, bool required = true) const {
        const auto it = object.find(key);
        if (it == object.end()) return required ? missing(key, "missing") : Error{};
        if constexpr (std::is_floating_point_v<T>) {
            if (!it->is_number()) return missing(key, "not a number");
        } else {
            if (!it->is_number_unsigned()) return missing(key, "not an unsigned integer");
            if (it->template get<std::uint64_t>() > std::numeric_limits<T>::max()) {
                return missing(key, "out of range");
            }
        }
        out = it->template get<T>();
        return {};
    }
    Error optional_number(const char* key, std::optional<double>& out) const {
        const auto it = object.find(key);
        if (it == object.end() || it->is_null()) return {};
        if (!it->is_number()) return missing(key, "not a number");
        out = it->get<double>();
        return {};
    }
    Error text(const char* key, std::string& out, bool required = true) const {
        const auto it = object.find(key);
        if (it == object.end()) return required ? missing(key, "missing") : Error{};
        if (!it->is_string()) return missing(key, "not a string");
        out = it->get<std::string>();
        return {};
    }
    Error outcome(const char* key, std::optional<Outcome>& out, bool required) const {
        std::string name;
        const auto it = object.find(key);
        if (it == object.end() || it->is_null()) {
            return required ? missing(key, "missing") : Error{};
        }
        Error e = text(key, name);
        if (!e.ok()) return e;
        out = outcome_from_string(name);
        if (!out) return missing(key, ("unknown outcome '" + name + "'").c_str());
        return {};
    }
};

// Runs the reads in order and stops at the first error.
template <typename... Reads>
Error first_error(Reads&&... reads) {
    Error e;
    ((e.ok() ? (void)(e = reads()) : (void)0), ...);
    return e;
}

Error read_process(const json& j, const std::string& where, ProcessRecord& p) {
    if (!j.is_object()) return {Status::malformed_message, where + ": not an object"};
    const Reader r{j, where};
    Error e = first_error([&] { return r.number("first", p.first); },
                          [&] { return r.number("count", p.count); },
                          [&] { return r.number("threads", p.threads, false); },
                          [&] { return r.text("host", p.host, false); },
                          [&] { return r.number("started_unix_ms", p.started_unix_ms, false); },
                          [&] { return r.number("ended_unix_ms", p.ended_unix_ms, false); });
    if (!e.ok()) return e;
    return first_error(
        [&] { return r.number("connect_first_unix_ms", p.connect_first_unix_ms, false); },
        [&] { return r.number("connect_last_unix_ms", p.connect_last_unix_ms, false); },
        [&] { return r.number("download_first_unix_ms", p.download_first_unix_ms, false); },
        [&] { return r.number("download_last_unix_ms", p.download_last_unix_ms, false); },
        [&] { return r.number("rss_base_kib", p.rss_base_kib, false); },
        [&] { return r.number("rss_idle_kib", p.rss_idle_kib, false); },
        [&] { return r.number("rss_peak_kib", p.rss_peak_kib, false); },
        [&] { return r.number("cpu_user_s", p.cpu_user_s, false); },
        [&] { return r.number("cpu_system_s", p.cpu_system_s, false); },
        [&] { return r.number("waker_subscribes", p.waker_subscribes, false); });
}

Error read_device(const json& j, const std::string& where, DeviceRecord& d) {
    if (!j.is_object()) return {Status::malformed_message, where + ": not an object"};
    const Reader r{j, where};
    std::optional<Outcome> outcome;
    Error e = first_error(
        [&] { return r.number("index", d.index); }, [&] { return r.text("name", d.device_name); },
        [&] { return r.outcome("outcome", outcome, true); },
        [&] { return r.outcome("cloud_outcome", d.cloud_outcome, false); },
        [&] { return r.outcome("expected", d.expected, false); },
        [&] { return r.optional_number("connect_latency_ms", d.connect_latency_ms); });
    if (!e.ok()) return e;
    d.outcome = *outcome;
    return first_error(
        [&] { return r.optional_number("connected_at_ms", d.connected_at_ms); },
        [&] { return r.number("connects", d.connects, false); },
        [&] { return r.number("connect_failures", d.connect_failures, false); },
        [&] { return r.optional_number("push_to_progress_ms", d.push_to_progress_ms); },
        [&] { return r.number("download_bytes", d.download_bytes, false); },
        [&] { return r.optional_number("download_ms", d.download_ms); },
        [&] { return r.optional_number("job_ms", d.job_ms); },
        [&] { return r.text("detail", d.detail, false); });
}

}  // namespace

std::string FleetSummary::to_json() const {
    const json head = {{"format", kFormat}, {"seed", seed}, {"mix", mix}, {"link", link}};
    std::string out = "{\n";
    for (const auto& [key, value] : head.items()) {
        out += "  " + json(key).dump() + ": " + value.dump() + ",\n";
    }
    out += "  \"aggregate\": " + aggregate_json(aggregate()).dump() + ",\n";
    out += "  \"processes\": [";
    for (std::size_t i = 0; i < processes.size(); ++i) {
        out += (i == 0 ? "\n    " : ",\n    ") + process_json(processes[i]).dump();
    }
    out += processes.empty() ? "],\n" : "\n  ],\n";
    out += "  \"devices\": [";
    for (std::size_t i = 0; i < devices.size(); ++i) {
        out += (i == 0 ? "\n    " : ",\n    ") + device_json(devices[i]).dump();
    }
    out += devices.empty() ? "]\n}\n" : "\n  ]\n}\n";
    return out;
}

Error FleetSummary::from_json(std::string_view text, FleetSummary& out) {
    const json j = json::parse(text.begin(), text.end(), nullptr, false);
    if (j.is_discarded()) return {Status::malformed_message, "summary: not valid JSON"};
    if (!j.is_object()) return {Status::malformed_message, "summary: not a JSON object"};
    const Reader r{j, "summary"};
    std::string format;
    FleetSummary s;
    Error e = first_error(
        [&] { return r.text("format", format); }, [&] { return r.number("seed", s.seed); },
        [&] { return r.text("mix", s.mix, false); }, [&] { return r.text("link", s.link, false); });
    if (!e.ok()) return e;
    if (format != kFormat) {
        return {Status::malformed_message,
                "summary.format: '" + format + "' is not " + std::string(kFormat)};
    }
    for (const char* key : {"processes", "devices"}) {
        const auto it = j.find(key);
        if (it == j.end() || !it->is_array()) {
            return {Status::malformed_message, std::string("summary.") + key + ": not an array"};
        }
    }
    for (std::size_t i = 0; i < j["processes"].size(); ++i) {
        ProcessRecord p;
        e = read_process(j["processes"][i], "summary.processes[" + std::to_string(i) + "]", p);
        if (!e.ok()) return e;
        s.processes.push_back(std::move(p));
    }
    s.devices.reserve(j["devices"].size());
    for (std::size_t i = 0; i < j["devices"].size(); ++i) {
        DeviceRecord d;
        e = read_device(j["devices"][i], "summary.devices[" + std::to_string(i) + "]", d);
        if (!e.ok()) return e;
        s.devices.push_back(std::move(d));
    }
    out = std::move(s);
    return {};
}

}  // namespace ota::fleet
