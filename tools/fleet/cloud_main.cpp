// ota_fleet_cloud: the in-process cloud of `ota_fleet run` as a process of its own.
//
//   ota_fleet_cloud <the options of `ota_fleet run`, with --push-url ...>
//
// Why a separate process: paho serves every MQTT client of a process from one receive thread
// and one send thread, so with a thousand devices in the same process the cloud's pushes and
// the reports it listens to queue behind the devices' traffic (measured: 1,000 pushes spread
// over about 6 s). Run beside an `ota_fleet run` without --push-url that has the same devices,
// this cloud has paho's threads to itself, as a real platform would. It takes the same command
// line as `ota_fleet run` (and ignores the device-side options: mix, link, sink, threads, ...),
// pushes as `--push-when` says, and ends when every device has reported the new version or a
// failure, at --duration, --job-timeout seconds after the first push, or at SIGINT/SIGTERM.
// It prints the cloud's view (outcome counts; push spread; first push -> last step 100 and ->
// last new-version report; per-device push -> new version percentiles) and, with --json FILE,
// writes the same as {"format":"ota_fleet-cloud/1", ...}.
// Start the devices only once it printed "cloud ready" on stderr: a device that reports its
// version before the cloud subscribed is never heard (it reports once per connect).
// Exit: 0 when every device reported the new version or a failure, 3 when the run ended first
// (duration, job timeout, signal), 2 on a usage error, 1 otherwise.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/identity.hpp"
#include "core/options.hpp"
#include "core/stats.hpp"
#include "fleet_cloud.hpp"

namespace {

using namespace ota::fleet;
using Clock = std::chrono::steady_clock;

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int /*sig*/) {
    g_stop.store(true);
}

double seconds(Clock::duration d) {
    return std::chrono::duration<double>(d).count();
}

// The cloud's figures from its records.
nlohmann::json figures(const std::vector<CloudRecord>& records, const std::string& version,
                       const char* end) {
    OutcomeCounts counts{};
    std::optional<Clock::time_point> first_push, last_push, last_100, last_updated;
    SampleSet job_ms;
    std::size_t pushed = 0;
    for (const CloudRecord& r : records) {
        const Outcome o = cloud_outcome(r, version);
        ++counts[static_cast<std::size_t>(o)];
        if (!r.push_at) continue;
        ++pushed;
        if (!first_push || *r.push_at < *first_push) first_push = r.push_at;
        if (!last_push || *r.push_at > *last_push) last_push = r.push_at;
        if (r.reached_100_at && (!last_100 || *r.reached_100_at > *last_100)) {
            last_100 = r.reached_100_at;
        }
        if (o == Outcome::updated && r.last_inform_at) {
            if (!last_updated || *r.last_inform_at > *last_updated) last_updated = r.last_inform_at;
            job_ms.add(
                std::chrono::duration<double, std::milli>(*r.last_inform_at - *r.push_at).count());
        }
    }
    nlohmann::json j = {{"format", "ota_fleet-cloud/1"},
                        {"end", end},
                        {"devices", records.size()},
                        {"pushed", pushed}};
    nlohmann::json outcomes = nlohmann::json::object();
    for (const Outcome o : kAllOutcomes)
        outcomes[to_string(o)] = counts[static_cast<std::size_t>(o)];
    j["cloud_outcomes"] = outcomes;
    if (first_push) {
        j["push_span_s"] = seconds(*last_push - *first_push);
        if (last_100) j["first_push_to_last_100_s"] = seconds(*last_100 - *first_push);
        if (last_updated) j["first_push_to_last_updated_s"] = seconds(*last_updated - *first_push);
    }
    const SampleSummary s = summarize(job_ms);
    nlohmann::json js = {{"count", s.count}};
    if (s.p50) js["p50"] = *s.p50;
    if (s.p90) js["p90"] = *s.p90;
    if (s.p99) js["p99"] = *s.p99;
    if (s.max) js["max"] = *s.max;
    j["push_to_updated_ms"] = js;
    return j;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args{"run"};
    for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
    ParsedCommand cmd;
    if (const ota::Error e = parse_command_line(args, cmd); !e.ok()) {
        std::fprintf(stderr, "ota_fleet_cloud: %s\n", e.detail.c_str());
        return 2;
    }
    if (cmd.command == Command::help) {
        std::printf("ota_fleet_cloud takes the options of `ota_fleet run` (with --push-url):\n%s",
                    usage_text(Command::run).c_str());
        return 0;
    }
    const RunOptions& o = cmd.run;
    FleetCloudOptions co;
    if (const ota::Error e = cloud_options_from(o, co); !e.ok()) {
        std::fprintf(stderr, "ota_fleet_cloud: %s\n", e.detail.c_str());
        return e.status == ota::Status::invalid_argument ? 2 : 1;
    }
    std::vector<ota::DeviceIdentity> ids;
    if (const ota::Error e = load_identities(o.identity, o.first, o.count, ids); !e.ok()) {
        std::fprintf(stderr, "ota_fleet_cloud: %s\n", e.detail.c_str());
        return 2;
    }
    std::vector<CloudDevice> devices;
    devices.reserve(ids.size());
    for (const auto& id : ids) devices.push_back({id.product_key, id.device_name});
    co.mqtt.client_id = "ota-fleet-cloud-" + std::to_string(::getpid());
    FleetCloud cloud(co, std::move(devices));
    if (const ota::Error e = cloud.start(); !e.ok()) {
        std::fprintf(stderr, "ota_fleet_cloud: %s\n", e.message().c_str());
        return 1;
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    // Devices that report before the cloud subscribed are never heard (they report once per
    // connect): whoever starts the devices waits for this line.
    std::fprintf(stderr, "cloud ready: subscribed for %zu devices\n", ids.size());
    std::fflush(stderr);

    const auto start = Clock::now();
    std::optional<Clock::time_point> first_push_seen;
    auto next_status = start;
    const char* end = "settled";
    for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        const auto now = Clock::now();
        const CloudCounts c = cloud.counts();
        if (!first_push_seen && c.pushed > 0) first_push_seen = now;
        if (!o.quiet && now >= next_status) {
            std::fprintf(stderr, "cloud: informed %zu pushed %zu updated %zu failed %zu of %zu\n",
                         c.informed, c.pushed, c.updated, c.failed, ids.size());
            next_status = now + std::chrono::seconds(1);
        }
        if (c.updated + c.failed == ids.size()) break;
        if (g_stop.load()) {
            end = "signal";
            break;
        }
        if (o.duration_s > 0 && seconds(now - start) >= o.duration_s) {
            end = "duration";
            break;
        }
        if (first_push_seen && seconds(now - *first_push_seen) >= o.job_timeout_s) {
            end = "job-timeout";
            break;
        }
    }
    cloud.stop();
    const nlohmann::json j = figures(cloud.records(), cloud.push_version(), end);
    std::printf("%s\n", j.dump(2).c_str());
    if (!o.json_path.empty()) {
        if (const ota::Error e = write_text_file(o.json_path, j.dump(2) + "\n"); !e.ok()) {
            std::fprintf(stderr, "ota_fleet_cloud: %s\n", e.message().c_str());
            return 1;
        }
    }
    return std::string(end) == "settled" ? 0 : 3;
}
