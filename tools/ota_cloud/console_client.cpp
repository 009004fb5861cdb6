// The console mode's run loop (see console_client.hpp): one request, or the pages of a list, or
// a rollout polled once a second until it stops moving.
#include "console_client.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "console_args.hpp"
#include "console_http.hpp"

namespace ota_cloud {

namespace {

using nlohmann::json;

void print_json_body(const std::string& body) {
    const auto j = json::parse(body, nullptr, false);
    if (j.is_discarded()) {
        std::printf("%s\n", body.c_str());
    } else {
        std::printf("%s\n", j.dump(2).c_str());
    }
    std::fflush(stdout);
}

int api_error(const HttpResponse& r) {
    std::fprintf(stderr, "%s\n", describe_error(r).c_str());
    return kConsoleExitError;
}

// GET of a list and every following page (next_cursor), printed as one {"items":[...]}.
// Bounded: at most 10,000 pages.
int list_all(ConsoleHttp& http, const HttpRequest& first) {
    json items = json::array();
    HttpRequest req = first;
    for (int page = 0; page < 10000; ++page) {
        const HttpResponse r = http.send(req);
        if (!r.ok()) return api_error(r);
        const auto j = json::parse(r.body, nullptr, false);
        if (!j.is_object() || !j.contains("items") || !j["items"].is_array()) {
            std::fprintf(stderr, "unexpected answer: %s\n", r.body.substr(0, 200).c_str());
            return kConsoleExitError;
        }
        for (const auto& it : j["items"]) items.push_back(it);
        if (!j.contains("next_cursor") || !j["next_cursor"].is_string() ||
            j["next_cursor"].get<std::string>().empty()) {
            break;
        }
        req.path = first.path + "&cursor=" + url_encode(j["next_cursor"].get<std::string>());
    }
    std::printf("%s\n", json{{"items", items}, {"next_cursor", nullptr}}.dump(2).c_str());
    return kConsoleExitOk;
}

int wait_rollout(ConsoleHttp& http, const ConsoleCommand& c) {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(c.wait_s));
    std::string last;
    for (;;) {
        const HttpResponse r = http.send(c.request);
        if (!r.ok()) return api_error(r);
        last = r.body;
        const int outcome = rollout_wait_outcome(json::parse(r.body, nullptr, false));
        if (outcome >= 0) {
            print_json_body(last);
            return outcome;
        }
        if (std::chrono::steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    print_json_body(last);
    std::fprintf(stderr, "the rollout is still going after %g s\n", c.wait_s);
    return kConsoleExitTimeout;
}

}  // namespace

int rollout_wait_outcome(const json& view) {
    if (!view.is_object() || !view.contains("rollout") || !view["rollout"].is_object()) {
        return kConsoleExitError;
    }
    const json& r = view["rollout"];
    const std::string state = r.value("state", "");
    if (state == "scheduled" || state == "running" || state == "canceling") return -1;
    if (state != "completed") return kConsoleExitNotAllSucceeded;
    const json counts = view.value("counts", json::object());
    const auto total = counts.value("total", std::int64_t{-1});
    const json by_state = counts.value("by_state", json::object());
    const auto succeeded = by_state.value("succeeded", std::int64_t{-2});
    return total >= 0 && total == succeeded ? kConsoleExitOk : kConsoleExitNotAllSucceeded;
}

int run_console(const std::vector<std::string>& args) {
    if (args.empty() || args[0] == "-h" || args[0] == "--help") {
        std::fputs(kConsoleUsage, args.empty() ? stderr : stdout);
        return args.empty() ? kConsoleExitUsage : kConsoleExitOk;
    }
    const ConsoleParse parsed = parse_console_args(args, std::getenv("OTA_CONSOLE_URL"));
    if (!parsed.ok) {
        std::fprintf(stderr, "ota_cloud console: %s\n%s", parsed.error.c_str(), kConsoleUsage);
        return kConsoleExitUsage;
    }
    const ConsoleCommand& c = parsed.command;
    std::string token;
    std::string err;
    if (!load_token(c.token_file, std::getenv("OTA_CONSOLE_TOKEN"), token, err)) {
        std::fprintf(stderr, "ota_cloud console: %s\n", err.c_str());
        return kConsoleExitUsage;
    }
    // Uploads of large images may take long; everything else answers at once.
    ConsoleHttp http(c.base_url, c.ca_file, token, c.request.body_file.empty() ? 60000 : 3600000);
    if (c.wait_s > 0) return wait_rollout(http, c);
    if (c.follow_pages) return list_all(http, c.request);
    const HttpResponse r = http.send(c.request);
    if (!r.ok()) return api_error(r);
    print_json_body(r.body);
    return kConsoleExitOk;
}

}  // namespace ota_cloud
