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
// pushes as `--push-when` says, and ends when every device has a final outcome in the cloud's
// view ("settled"), at --duration, --job-timeout seconds after the first push, or at
// SIGINT/SIGTERM. Two options of its own (not `ota_fleet run`'s):
//   --connect-wait S  a device that has not reported a version when no new device reported for
//                     S s (counted from the first report) is taken as connect_failed; with
//                     --push-when all-connected the push then goes to the devices that reported
//                     so far (and to any later one when it reports) instead of waiting for ever.
//                     Default 10 s, plus late-ms when the mix has late joiners.
//   --return-grace S  a device that reported step 100 and no version for S s after it is taken
//                     as never_returned. Default --reboot-ms + 10 s (reconnect storms after a
//                     mass reboot take seconds).
// A final outcome is: updated (the new version reported), a failure step, rolled_back (a version
// report after step 100 that is not the new one), never_returned (see --return-grace),
// connect_failed (see --connect-wait).
// It prints the cloud's view (outcome counts; push spread; first push -> last step 100 and ->
// last new-version report; per-device push -> new version percentiles) and, with --json FILE,
// writes the same as {"format":"ota_fleet-cloud/1", ...}.
// Start the devices only once it printed "cloud ready" on stderr: a device that reports its
// version before the cloud subscribed is never heard (it reports once per connect).
// Exit: 0 when settled, at --duration or at SIGINT/SIGTERM (a stop is not a failure, as in
// ota_fleet), 3 at --job-timeout with devices still busy, 2 on a usage error, 1 otherwise.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
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

// The options only ota_fleet_cloud takes (see the top of this file).
struct CloudOnly {
    std::optional<double> connect_wait_s;
    std::optional<double> return_grace_s;
};

constexpr const char* kCloudOnlyUsage =
    "ota_fleet_cloud's own options:\n"
    "  --connect-wait S   devices silent when none new reported for S s count as\n"
    "                     connect_failed; all-connected then pushes to those that reported\n"
    "                     (default 10 s + late-ms with late joiners in --mix)\n"
    "  --return-grace S   step 100 and no version report for S s = never_returned\n"
    "                     (default --reboot-ms + 10 s)\n";

// Takes --connect-wait / --return-grace out of `args` (0.1..86400 s each).
bool take_cloud_only(std::vector<std::string>& args, CloudOnly& out, std::string& error) {
    std::vector<std::string> rest;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        std::optional<double>* slot = a == "--connect-wait"   ? &out.connect_wait_s
                                      : a == "--return-grace" ? &out.return_grace_s
                                                              : nullptr;
        if (slot == nullptr) {
            rest.push_back(a);
            continue;
        }
        if (i + 1 >= args.size()) {
            error = a + " needs a value (seconds)";
            return false;
        }
        const std::string& v = args[++i];
        char* end = nullptr;
        const double d = std::strtod(v.c_str(), &end);
        if (v.empty() || *end != '\0' || !(d >= 0.1 && d <= 86400)) {
            error = a + " must be 0.1..86400 seconds, got '" + v + "'";
            return false;
        }
        *slot = d;
    }
    args = std::move(rest);
    return true;
}

// Whether the cloud's view of a device is final at `now` (see the top of this file).
bool is_final(const CloudRecord& r, const std::string& version, Clock::time_point now,
              bool connect_quiet, double return_grace_s) {
    if (!r.first_inform_at) return connect_quiet;
    if (!r.push_at) return false;
    if (r.last_inform_at && r.last_version == version) return true;
    if (r.last_step && *r.last_step < 0) return true;
    if (r.reached_100_at) {
        if (r.last_inform_at && *r.last_inform_at > *r.reached_100_at) return true;  // rolled back
        return seconds(now - *r.reached_100_at) >= return_grace_s;  // never returned
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args{"run"};
    for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
    CloudOnly own;
    if (std::string error; !take_cloud_only(args, own, error)) {
        std::fprintf(stderr, "ota_fleet_cloud: %s\n", error.c_str());
        return 2;
    }
    ParsedCommand cmd;
    if (const ota::Error e = parse_command_line(args, cmd); !e.ok()) {
        std::fprintf(stderr, "ota_fleet_cloud: %s\n", e.detail.c_str());
        return 2;
    }
    if (cmd.command == Command::help) {
        std::printf("ota_fleet_cloud takes the options of `ota_fleet run` (with --push-url):\n%s%s",
                    usage_text(Command::run).c_str(), kCloudOnlyUsage);
        return 0;
    }
    const RunOptions& o = cmd.run;
    const double connect_wait_s = own.connect_wait_s.value_or(
        10.0 + (o.mix.late > 0 ? static_cast<double>(o.mix.late_ms) / 1000.0 : 0.0));
    const double return_grace_s =
        own.return_grace_s.value_or(static_cast<double>(o.reboot_ms) / 1000.0 + 10.0);
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
    auto next_check = start;
    bool pushed_reported = false;
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
        if (now < next_check) continue;
        // The records are copied: a few times a second is cheap even for 20,000 devices.
        next_check = now + std::chrono::milliseconds(200);
        const std::vector<CloudRecord> records = cloud.records();
        std::optional<Clock::time_point> last_first_report;
        for (const CloudRecord& r : records) {
            if (r.first_inform_at &&
                (!last_first_report || *r.first_inform_at > *last_first_report))
                last_first_report = r.first_inform_at;
        }
        const bool connect_quiet =
            last_first_report && seconds(now - *last_first_report) >= connect_wait_s;
        if (connect_quiet && !pushed_reported && o.push.when == PushWhen::all_connected &&
            c.informed < ids.size()) {
            pushed_reported = true;
            const std::size_t n = cloud.push_reported();
            std::fprintf(stderr,
                         "ota_fleet_cloud: %zu of %zu devices reported a version and none new for "
                         "%.1f s (--connect-wait): pushing to those %zu; the rest get the job when "
                         "they report\n",
                         n, ids.size(), connect_wait_s, n);
            continue;
        }
        bool all_final = c.pushed > 0;
        for (const CloudRecord& r : records) {
            if (!all_final) break;
            all_final = is_final(r, cloud.push_version(), now, connect_quiet, return_grace_s);
        }
        if (all_final) break;
    }
    cloud.stop();
    nlohmann::json j = figures(cloud.records(), cloud.push_version(), end);
    j["connect_wait_s"] = connect_wait_s;
    j["return_grace_s"] = return_grace_s;
    std::printf("%s\n", j.dump(2).c_str());
    if (!o.json_path.empty()) {
        if (const ota::Error e = write_text_file(o.json_path, j.dump(2) + "\n"); !e.ok()) {
            std::fprintf(stderr, "ota_fleet_cloud: %s\n", e.message().c_str());
            return 1;
        }
    }
    return std::string(end) == "job-timeout" ? 3 : 0;
}
