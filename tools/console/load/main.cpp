// ota_console_load: the load generator of bench/console_bench.sh. It plays thousands of devices
// against a running ota_console through a few MQTT connections of the lab's cloud user and
// measures the two figures the issue sets targets for: every push of a 1,000-device rollout at
// an unlimited rate out within 5 s, and 2,000 devices reporting progress every second with no
// growing backlog and API p99 under 100 ms. It prints one JSON summary on stdout (progress notes
// on stderr). Exit 0 when the run was measured (whatever the figures), 1 when a step failed,
// 2 on usage errors. Everything is bounded and on loopback.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "console_args.hpp"
#include "console_http.hpp"
#include "load_core.hpp"
#include "mqtt_fleet.hpp"
#include "scenarios.hpp"

namespace {

using nlohmann::json;

std::string read_first_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line)) return {};
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    return line;
}

std::string fresh_product_key() {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    char buf[32];
    std::snprintf(buf, sizeof buf, "a1Load%08llx",
                  static_cast<unsigned long long>(ms) & 0xFFFFFFFFULL);
    return buf;
}

int run(const console_load::LoadOptions& o) {
    using namespace console_load;
    Run r;
    r.options = o;
    std::string err;
    if (!ota_cloud::load_token(o.token_file, std::getenv("OTA_CONSOLE_TOKEN"), r.token, err)) {
        std::fprintf(stderr, "ota_console_load: %s\n", err.c_str());
        return 2;
    }
    r.product_key = o.product_key.empty() ? fresh_product_key() : o.product_key;
    r.broker.host = o.broker_host;
    r.broker.port = o.broker_port;
    r.broker.tls = o.broker_tls;
    r.broker.ca_file = o.broker_ca;
    r.broker.user = o.broker_user;
    if (!o.broker_password_file.empty()) {
        r.broker.password = read_first_line(o.broker_password_file);
    } else if (const char* env = std::getenv("OTA_LOAD_BROKER_PASSWORD")) {
        r.broker.password = env;
    }
    ota_cloud::ConsoleHttp http(o.url, o.ca_file, r.token, 60000);
    r.http = &http;
    Fleet fleet;
    CountingSubscriber pushes;
    CountingSubscriber baseline;
    r.fleet = &fleet;
    r.pushes = &pushes;
    r.baseline = &baseline;
    pushes.set_check_push(true);
    const std::string id = "ota-load-" + r.product_key;
    for (const std::string& e :
         {pushes.start(r.broker, id + "-pushes", "/ota/device/upgrade/+/+", 1, r.product_key),
          baseline.start(r.broker, id + "-baseline", "/ota/device/progress/" + r.product_key + "/+",
                         1, r.product_key),
          fleet.connect(r.broker, id, o.connections)}) {
        if (!e.empty()) {
            std::fprintf(stderr, "ota_console_load: %s\n", e.c_str());
            return 1;
        }
    }
    const bool do_push = o.scenario != "progress";
    const bool do_progress = o.scenario != "push";
    const auto push_names =
        do_push ? device_names("push", o.push_devices) : std::vector<std::string>{};
    const auto prog_names =
        do_progress ? device_names("prog", o.progress_devices) : std::vector<std::string>{};
    std::vector<std::string> all = push_names;
    all.insert(all.end(), prog_names.begin(), prog_names.end());

    json summary = {{"product_key", r.product_key},
                    {"connections", o.connections},
                    {"broker_tls", o.broker_tls},
                    {"cpus", std::thread::hardware_concurrency()}};
    try {
        std::fprintf(stderr, "ota_console_load: registering %zu devices of %s\n", all.size(),
                     r.product_key.c_str());
        summary["registration"] = register_devices(r, all);
        std::fprintf(stderr, "ota_console_load: version reports\n");
        summary["version_reports"] = report_versions(r, all);
        upload_firmware(r);
        summary["firmware_id"] = r.firmware_id;
        if (do_push) {
            std::fprintf(stderr, "ota_console_load: push scenario, %zu devices\n",
                         push_names.size());
            summary["push"] = run_push(r, push_names, "load-push");
            // The push rollout stops here; its tasks end as canceled (the devices never answer).
            ota_cloud::HttpRequest cancel;
            cancel.method = "POST";
            cancel.path = "/api/v1/rollouts/" +
                          std::to_string(summary["push"]["rollout_id"].get<std::int64_t>()) +
                          "/cancel";
            (void)http.send(cancel);
        }
        if (do_progress) {
            std::fprintf(stderr, "ota_console_load: progress scenario, %zu devices for %u s\n",
                         prog_names.size(), o.duration_s);
            summary["progress"] = run_progress(r, prog_names);
        }
    } catch (const LoadError& e) {
        std::fprintf(stderr, "ota_console_load: %s\n", e.what());
        summary["error"] = e.what();
        std::printf("%s\n", summary.dump(2).c_str());
        return 1;
    }
    std::printf("%s\n", summary.dump(2).c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) {
        std::fputs(console_load::kLoadUsage, stdout);
        return 0;
    }
    std::string err;
    const auto opts = console_load::parse_load_args(args, err);
    if (!opts) {
        std::fprintf(stderr, "ota_console_load: %s\n%s", err.c_str(), console_load::kLoadUsage);
        return 2;
    }
    try {
        return run(*opts);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ota_console_load: unexpected error: %s\n", e.what());
        return 1;
    }
}
