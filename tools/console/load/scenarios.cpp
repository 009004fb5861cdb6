// The set-up steps and the two scenarios of ota_console_load (see scenarios.hpp).
#include "scenarios.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

namespace console_load {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

double ms_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

void note(const std::string& what) {
    std::fprintf(stderr, "ota_console_load: %s\n", what.c_str());
}

// A request that must succeed; its JSON answer.
json call(ota_cloud::ConsoleHttp& http, const std::string& method, const std::string& path,
          const std::string& body = "", const std::string& type = "application/json") {
    ota_cloud::HttpRequest req;
    req.method = method;
    req.path = path;
    req.body = body;
    if (!body.empty() || method == "POST") req.content_type = type;
    const auto r = http.send(req);
    if (!r.ok()) throw LoadError(method + " " + path + ": " + ota_cloud::describe_error(r));
    const auto j = json::parse(r.body, nullptr, false);
    if (j.is_discarded()) throw LoadError(method + " " + path + ": the answer is not JSON");
    return j;
}

// The console's counters from /metrics ("name" or "name_total").
struct Counters {
    std::int64_t received = 0;
    std::int64_t processed = 0;
    std::int64_t queue_depth = 0;
    std::int64_t dropped = 0;  ///< taken in, then dropped because the console's queue was full
};

bool read_counters(ota_cloud::ConsoleHttp& http, Counters& c) {
    ota_cloud::HttpRequest req;
    req.path = "/api/v1/metrics";
    const auto r = http.send(req);
    if (!r.ok()) return false;
    const auto m = parse_metrics(r.body);
    auto get = [&m](const std::string& name) {
        auto it = m.find(name);
        if (it == m.end()) it = m.find(name + "_total");
        return it == m.end() ? std::int64_t{-1} : static_cast<std::int64_t>(it->second);
    };
    c.received = get("ota_console_mqtt_messages_received");
    c.processed = get("ota_console_mqtt_messages_processed");
    c.queue_depth = get("ota_console_mqtt_queue_depth");
    c.dropped = std::max<std::int64_t>(0, get("ota_console_mqtt_messages_dropped"));
    return c.received >= 0 && c.processed >= 0;
}

json percentiles_json(const Percentiles& p) {
    return json{{"n", p.n}, {"p50_ms", p.p50_ms}, {"p99_ms", p.p99_ms}, {"max_ms", p.max_ms}};
}

std::int64_t create_rollout(Run& run, const std::vector<std::string>& names,
                            const std::string& name) {
    const json body = {{"firmware_id", run.firmware_id},
                       {"name", name},
                       {"force", true},
                       {"selection", {{"device_names", names}}},
                       {"phases", json::array({json::object()})},
                       {"policy", {{"push_rate_per_minute", 0}, {"task_timeout_s", 3600}}}};
    const json r = call(*run.http, "POST", "/api/v1/rollouts", body.dump());
    if (!r.contains("id") || !r["id"].is_number_integer()) {
        throw LoadError("POST /api/v1/rollouts: no id in the answer");
    }
    return r["id"].get<std::int64_t>();
}

// Waits until `n` devices got a push (bounded); true when they did.
bool wait_pushes(Run& run, std::size_t n) {
    const auto deadline = Clock::now() + std::chrono::seconds(run.options.push_timeout_s);
    while (run.pushes->devices() < n && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return run.pushes->devices() >= n;
}

}  // namespace

std::vector<std::string> device_names(const std::string& prefix, std::uint32_t n) {
    std::vector<std::string> out;
    out.reserve(n);
    char buf[32];
    for (std::uint32_t i = 0; i < n; ++i) {
        std::snprintf(buf, sizeof buf, "%s-%05u", prefix.c_str(), i);
        out.emplace_back(buf);
    }
    return out;
}

json register_devices(Run& run, const std::vector<std::string>& names) {
    const auto t0 = Clock::now();
    std::int64_t created = 0;
    std::int64_t existing = 0;
    for (std::size_t at = 0; at < names.size(); at += 1000) {
        json devices = json::array();
        for (std::size_t i = at; i < names.size() && i < at + 1000; ++i) {
            devices.push_back(json{{"product_key", run.product_key},
                                   {"device_name", names[i]},
                                   {"tags", json::array({"load"})}});
        }
        const json r =
            call(*run.http, "POST", "/api/v1/devices", json{{"devices", devices}}.dump());
        created += r.value("created", std::int64_t{0});
        existing += r.value("existing", std::int64_t{0});
    }
    if (created + existing != static_cast<std::int64_t>(names.size())) {
        throw LoadError("POST /api/v1/devices: " + std::to_string(created + existing) + " of " +
                        std::to_string(names.size()) + " devices registered");
    }
    return json{{"devices", names.size()}, {"seconds", seconds_since(t0)}};
}

json report_versions(Run& run, const std::vector<std::string>& names) {
    const auto t0 = Clock::now();
    std::size_t failures = 0;
    for (std::size_t i = 0; i < names.size(); ++i) {
        const std::string topic = "/ota/device/inform/" + run.product_key + "/" + names[i];
        const std::string payload =
            R"({"id":")" + std::to_string(i + 1) + R"(","params":{"version":"1.0.0"}})";
        if (!run.fleet->publish(i, topic, payload, 1)) ++failures;
        if (i % 500 == 499 && !run.fleet->flush(std::chrono::seconds(30))) ++failures;
    }
    if (failures != 0 || !run.fleet->flush(std::chrono::seconds(30))) {
        throw LoadError("version reports: publishing failed");
    }
    const std::string path = "/api/v1/versions?product_key=" + run.product_key;
    std::int64_t seen = 0;
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (Clock::now() < deadline) {
        const json v = call(*run.http, "GET", path);
        seen = v.contains("versions") ? v["versions"].value("1.0.0", std::int64_t{0}) : 0;
        if (seen >= static_cast<std::int64_t>(names.size())) {
            return json{{"devices", names.size()}, {"seconds", seconds_since(t0)}};
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    throw LoadError("version reports: the console shows " + std::to_string(seen) + " of " +
                    std::to_string(names.size()) + " devices at 1.0.0 after 120 s");
}

void upload_firmware(Run& run) {
    std::string image(4096, '\0');
    std::mt19937 rng(12);
    for (auto& ch : image) ch = static_cast<char>(rng() & 0xFFU);
    const json f = call(*run.http, "POST",
                        "/api/v1/firmware?product_key=" + run.product_key + "&version=2.0.0", image,
                        "application/octet-stream");
    if (!f.contains("id") || !f["id"].is_number_integer()) {
        throw LoadError("POST /api/v1/firmware: no id in the answer");
    }
    run.firmware_id = f["id"].get<std::int64_t>();
}

json run_push(Run& run, const std::vector<std::string>& names, const std::string& name) {
    run.pushes->reset();
    const auto t0 = Clock::now();
    const std::int64_t id = create_rollout(run, names, name);
    const auto posted = Clock::now();
    const bool all = wait_pushes(run, names.size());
    const auto first = run.pushes->first_at();
    const auto last = run.pushes->last_at();
    const bool any = run.pushes->messages() > 0;
    json out = {{"rollout_id", id},
                {"devices", names.size()},
                {"devices_pushed", run.pushes->devices()},
                {"pushes", run.pushes->messages()},
                {"malformed", run.pushes->malformed()},
                {"post_ms", ms_between(t0, posted)},
                {"first_push_s", any ? json(ms_between(t0, first) / 1000) : json(nullptr)},
                {"last_push_s", any ? json(ms_between(t0, last) / 1000) : json(nullptr)},
                {"all_pushed", all}};
    if (!all) {
        note(name + ": " + std::to_string(run.pushes->devices()) + " of " +
             std::to_string(names.size()) + " devices got a push within " +
             std::to_string(run.options.push_timeout_s) + " s");
    }
    return out;
}

json run_progress(Run& run, const std::vector<std::string>& names) {
    const LoadOptions& o = run.options;
    json start = run_push(run, names, "load-progress");
    if (!start.value("all_pushed", false))
        throw LoadError("progress: the rollout's pushes are missing");
    const std::int64_t rollout_id = start["rollout_id"].get<std::int64_t>();
    // The console's queue empty before the load starts (bounded).
    Counters c0;
    for (int i = 0; i < 300; ++i) {
        if (read_counters(*run.http, c0) && c0.queue_depth <= 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!read_counters(*run.http, c0)) throw LoadError("GET /api/v1/metrics: no MQTT counters");
    run.baseline->reset();

    const double rate = static_cast<double>(names.size()) * 1000.0 / o.interval_ms;
    const auto rounds = static_cast<std::uint64_t>(o.duration_s) * 1000 / o.interval_ms;
    const std::uint64_t total = rounds * names.size();
    std::atomic<std::int64_t> published{0};
    std::atomic<std::int64_t> publish_failures{0};
    std::atomic<bool> stop{false};
    const auto t0 = Clock::now();

    // API latency while the load runs (its own connection).
    std::vector<double> lat_rollout;
    std::vector<double> lat_tasks;
    std::atomic<std::int64_t> api_errors{0};
    std::thread api([&] {
        try {
            ota_cloud::ConsoleHttp http(o.url, o.ca_file, run.token, 10000);
            ota_cloud::HttpRequest view;
            view.path = "/api/v1/rollouts/" + std::to_string(rollout_id);
            ota_cloud::HttpRequest tasks;
            tasks.path = view.path + "/tasks?limit=100";
            while (!stop.load()) {
                for (auto* pair : {&view, &tasks}) {
                    const auto a = Clock::now();
                    const auto r = http.send(*pair);
                    const double ms = ms_between(a, Clock::now());
                    if (!r.ok()) ++api_errors;
                    (pair == &view ? lat_rollout : lat_tasks).push_back(ms);
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(o.api_pause_ms));
            }
        } catch (...) {
            ++api_errors;
        }
    });
    // /metrics once a second (its own connection).
    std::vector<Sample> samples;
    std::mutex samples_mutex;
    auto take_sample = [&](ota_cloud::ConsoleHttp& http) {
        // The console reads its counters somewhere during the request: the generator's own
        // counts are taken as the mean of before and after (a slow /metrics answer would
        // otherwise make the console look further behind than it is).
        const std::int64_t published_before = published.load();
        const std::int64_t baseline_before = run.baseline->messages();
        Counters c;
        const bool ok = read_counters(http, c);
        Sample s;
        s.t_s = seconds_since(t0);
        s.published = (published_before + published.load()) / 2;
        s.baseline = (baseline_before + run.baseline->messages()) / 2;
        if (ok) {
            s.received = c.received - c0.received;
            s.processed = c.processed - c0.processed;
            s.queue_depth = c.queue_depth;
        }
        std::lock_guard<std::mutex> lock(samples_mutex);
        if (ok) samples.push_back(s);
        return s;
    };
    std::thread sampler([&] {
        try {
            ota_cloud::ConsoleHttp http(o.url, o.ca_file, run.token, 10000);
            auto next = Clock::now();
            while (!stop.load()) {
                next += std::chrono::seconds(1);
                std::this_thread::sleep_until(next);
                if (!stop.load()) (void)take_sample(http);
            }
        } catch (...) {
            // the summary shows fewer samples
        }
    });

    // The flow: message k is device k % n in round k / n, due at t0 + k / rate.
    std::uint64_t sent = 0;
    while (sent < total) {
        const double elapsed = seconds_since(t0);
        const auto due =
            std::min<std::uint64_t>(total, static_cast<std::uint64_t>(elapsed * rate) + 1);
        for (; sent < due; ++sent) {
            const std::size_t dev = sent % names.size();
            const std::uint64_t round = sent / names.size();
            const std::uint64_t step = std::min<std::uint64_t>(99, round * 100 / rounds);
            const std::string payload = R"({"id":")" + std::to_string(sent + 1) +
                                        R"(","params":{"step":")" + std::to_string(step) +
                                        R"(","desc":""}})";
            if (run.fleet->publish(dev,
                                   "/ota/device/progress/" + run.product_key + "/" + names[dev],
                                   payload, 0)) {
                ++published;
            } else {
                ++publish_failures;
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const double load_s = seconds_since(t0);
    stop = true;
    api.join();
    sampler.join();
    ota_cloud::ConsoleHttp http(o.url, o.ca_file, run.token, 10000);
    const Sample at_end = take_sample(http);
    // Drain: until the console processed every message it received and received stopped
    // growing (QoS 0 messages the broker dropped never arrive), at most 30 s of wall time (a
    // slow /metrics answer counts against it).
    double drain_s = 0;
    Sample last = at_end;
    std::int64_t dropped = 0;
    const auto drain_deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < drain_deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        Counters c;
        if (!read_counters(http, c)) continue;
        const std::int64_t received = c.received - c0.received;
        const std::int64_t processed = c.processed - c0.processed;
        dropped = c.dropped - c0.dropped;
        const bool caught_up = processed >= published.load() ||
                               (processed + dropped >= received && received == last.received);
        last.received = received;
        last.processed = processed;
        if (caught_up) break;
    }
    drain_s = seconds_since(t0) - load_s;
    std::vector<Sample> during;
    {
        std::lock_guard<std::mutex> lock(samples_mutex);
        during = samples;
    }
    during.push_back(at_end);
    // The plain subscriber gets a moment for what is still on its way.
    for (int i = 0; i < 50 && run.baseline->messages() < published.load(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const Backlog b = backlog_of(during, rate);
    std::vector<double> lat_all = lat_rollout;
    lat_all.insert(lat_all.end(), lat_tasks.begin(), lat_tasks.end());
    json samples_json = json::array();
    for (const auto& s : during) {
        samples_json.push_back(json{{"t_s", s.t_s},
                                    {"published", s.published},
                                    {"received", s.received},
                                    {"processed", s.processed},
                                    {"queue_depth", s.queue_depth},
                                    {"baseline", s.baseline}});
    }
    return json{{"rollout_id", rollout_id},
                {"devices", names.size()},
                {"start_push", start},
                {"rate_per_s", rate},
                {"duration_s", o.duration_s},
                {"published", published.load()},
                {"publish_failures", publish_failures.load()},
                {"load_s", load_s},
                {"achieved_rate_per_s", static_cast<double>(published.load()) / load_s},
                {"console",
                 {{"received", last.received},
                  {"processed", last.processed},
                  {"lag_end", b.lag_end},
                  {"lag_slope_per_s", b.lag_slope_per_s},
                  {"max_queue_depth", b.max_queue_depth},
                  {"drain_s", drain_s},
                  {"drained", last.processed + dropped >= last.received},
                  {"dropped", dropped},
                  {"lost", published.load() - last.received},
                  {"backlog_growing", b.growing}}},
                {"baseline",
                 {{"received", run.baseline->messages()},
                  {"lag_end", baseline_lag(during)},
                  {"lost", published.load() - run.baseline->messages()}}},
                {"api",
                 {{"errors", api_errors.load()},
                  {"rollout", percentiles_json(percentiles(lat_rollout))},
                  {"tasks", percentiles_json(percentiles(lat_tasks))},
                  {"all", percentiles_json(percentiles(lat_all))}}},
                {"samples", samples_json}};
}

}  // namespace console_load
