// ota_fleet: a fleet of simulated devices in one process, each a real OtaClient on its own MQTT
// connection (issue 13; docs/fleet.md). Subcommands:
//   ota_fleet run ...    run devices first..first+count-1 until they settle, the duration ends,
//                        the job timeout expires or SIGINT/SIGTERM; prints the report, writes
//                        --json / --csv
//   ota_fleet users ...  writes the broker's password and ACL lines for the devices
//   ota_fleet merge OUT.json IN.json...  combines the summaries of disjoint ranges
// `ota_fleet <command> --help` lists the options.
//
// Exit status: 0 done as planned (run: every device settled, --duration reached, or stopped by a
// signal - a stop is not a failure); 2 usage error; 3 run: --job-timeout expired with devices
// still busy, or no job arrived from the in-process cloud; 4 run: no device connected at all;
// 1 anything else (the broker or cloud could not be set up, a file not written).
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "core/broker_users.hpp"
#include "core/identity.hpp"
#include "core/options.hpp"
#include "core/stats.hpp"
#include "fleet_run.hpp"
#include "ota/log.hpp"

namespace {

using namespace ota::fleet;

std::atomic<bool> g_stop{false};

// `ota_fleet run` in which no device ever connected (see the exit status above).
constexpr int kExitNoneConnected = 4;

// The library's log: a fleet with failures on purpose logs an error per failing device, which
// would drown the status line. The first few records are shown, the rest only counted.
constexpr std::uint64_t kShownLogRecords = 5;
std::atomic<std::uint64_t> g_log_records{0};

void fleet_log_sink(ota::LogLevel level, std::string_view message) {
    const std::uint64_t n = g_log_records.fetch_add(1) + 1;
    if (n <= kShownLogRecords) {
        std::fprintf(stderr, "ota %s: %.*s\n", ota::to_string(level),
                     static_cast<int>(message.size()), message.data());
    } else if (n == kShownLogRecords + 1) {
        std::fprintf(stderr, "ota_fleet: further library log records are only counted\n");
    }
}

extern "C" void on_signal(int) {
    g_stop.store(true);
    // One clean stop: the next SIGINT or SIGTERM (either one) takes the default action
    // (sigaction is async-signal-safe; SA_RESETHAND alone would only reset the one received).
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(SIGINT, &dfl, nullptr);
    ::sigaction(SIGTERM, &dfl, nullptr);
}

int fail(const ota::Error& e) {
    std::fprintf(stderr, "ota_fleet: %s\n", e.message().c_str());
    return 1;
}

int run(const RunOptions& options) {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    // The first signal ends the run cleanly (the devices disconnect, the summary is written);
    // a second one, e.g. while 20,000 devices disconnect, kills the process as usual (the
    // handler resets both signals).
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    // The simulated devices log like real ones; a fleet would drown the status line.
    ota::set_log_level(ota::LogLevel::error);
    ota::set_log_sink(fleet_log_sink);

    // An hours-long run must not lose its summary to a typo in a path: check them first.
    for (const std::string* path : {&options.json_path, &options.csv_path}) {
        if (path->empty()) continue;
        if (ota::Error e = check_writable(*path); !e.ok()) return fail(e);
    }
    FleetRun fleet(options);
    if (ota::Error e = fleet.run(g_stop); !e.ok()) {
        return e.status == ota::Status::invalid_argument ? (fail(e), 2) : fail(e);
    }
    const FleetSummary& summary = fleet.summary();
    std::fprintf(stdout, "run ended: %s\n%s", to_string(fleet.end()),
                 format_report(summary).c_str());
    const Scheduler::Stats& st = fleet.scheduler_stats();
    std::printf(
        "scheduler: %u threads, %llu runs, %llu wakes, busy %.2f s, longest run %.1f ms, "
        "runs >= %lld ms: %llu\n",
        options.threads, static_cast<unsigned long long>(st.runs),
        static_cast<unsigned long long>(st.wakes), static_cast<double>(st.busy_ns) / 1e9,
        static_cast<double>(st.max_run_ns) / 1e6,
        static_cast<long long>(Scheduler::kSlowRun.count()),
        static_cast<unsigned long long>(st.slow_runs));
    if (const auto& ws = fleet.waker_stats()) {
        // The waker's SUBSCRIBEs are broker load of their own (see connect_waker.hpp).
        const double run_s = summary.processes.empty()
                                 ? 0.0
                                 : static_cast<double>(summary.processes.front().ended_unix_ms -
                                                       summary.processes.front().started_unix_ms) /
                                       1000.0;
        std::printf(
            "connect waker: %llu begins, %llu SUBACKs, %llu failed, %llu SUBSCRIBEs sent "
            "(%.1f/s over the run)%s%s\n",
            static_cast<unsigned long long>(ws->begins), static_cast<unsigned long long>(ws->pings),
            static_cast<unsigned long long>(ws->failed_pings),
            static_cast<unsigned long long>(ws->subscribes()),
            run_s > 0 ? static_cast<double>(ws->subscribes()) / run_s : 0.0,
            ws->last_error.empty() ? "" : "; last: ", ws->last_error.c_str());
    }
    if (const std::uint64_t n = g_log_records.load(); n > 0) {
        std::printf("library error log records: %llu (the first %llu on stderr)\n",
                    static_cast<unsigned long long>(n),
                    static_cast<unsigned long long>(std::min(n, kShownLogRecords)));
    }
    std::fflush(stdout);
    int code = exit_code_for(fleet.end());
    // A run in which no device ever connected tested nothing: tell a script (not after a stop).
    if (fleet.end() != RunEnd::signal && !summary.devices.empty() &&
        summary.aggregate().connected == 0) {
        std::fprintf(stderr, "ota_fleet: no device connected (first device: %s)\n",
                     summary.devices.front().detail.c_str());
        code = kExitNoneConnected;
    }
    if (!options.json_path.empty()) {
        if (ota::Error e = write_text_file(options.json_path, summary.to_json()); !e.ok()) {
            code = fail(e);
        }
    }
    if (!options.csv_path.empty()) {
        if (ota::Error e = write_text_file(options.csv_path, device_csv(summary)); !e.ok()) {
            code = fail(e);
        }
    }
    return code;
}

int users(const UsersOptions& options) {
    std::vector<ota::DeviceIdentity> ids;
    if (ota::Error e = load_identities(options.identity, options.first, options.count, ids);
        !e.ok()) {
        return fail(e);
    }
    if (ota::Error e = write_broker_users(ids, options.passwd_out, options.acl_out); !e.ok()) {
        return fail(e);
    }
    std::printf("%zu devices: %s, %s\n", ids.size(), options.passwd_out.c_str(),
                options.acl_out.c_str());
    return 0;
}

int merge_files(const MergeOptions& options) {
    std::vector<FleetSummary> parts;
    for (const std::string& path : options.inputs) {
        std::string text;
        if (ota::Error e = read_text_file(path, text); !e.ok()) return fail(e);
        FleetSummary part;
        if (ota::Error e = FleetSummary::from_json(text, part); !e.ok()) {
            e.detail = path + ": " + e.detail;
            return fail(e);
        }
        parts.push_back(std::move(part));
    }
    FleetSummary merged;
    if (ota::Error e = merge(parts, merged); !e.ok()) return fail(e);
    if (ota::Error e = write_text_file(options.out, merged.to_json()); !e.ok()) return fail(e);
    std::fputs(format_report(merged).c_str(), stdout);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    ParsedCommand cmd;
    if (ota::Error e = parse_command_line(argc, argv, cmd); !e.ok()) {
        std::fprintf(stderr, "ota_fleet: %s\n%s", e.detail.c_str(),
                     usage_text(cmd.help_topic).c_str());
        return 2;
    }
    try {
        switch (cmd.command) {
            case Command::help:
                std::fputs(usage_text(cmd.help_topic).c_str(), stdout);
                return 0;
            case Command::run:
                return run(cmd.run);
            case Command::users:
                return users(cmd.users);
            case Command::merge:
                return merge_files(cmd.merge);
        }
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "ota_fleet: unexpected error: %s\n", ex.what());
    }
    return 1;
}
