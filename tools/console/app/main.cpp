// ota_console: the local OTA console process. Builds the parts (store, engine, HTTP server, MQTT
// bridge), elects the scheduler, writes --ready-file, and stops cleanly on SIGINT/SIGTERM.
//
// Why the signals are taken with sigtimedwait() in main(): they are blocked before any thread
// starts (paho's, cpp-httplib's and ours inherit the mask), so no handler ever runs in the middle
// of a library call; main() alone notices a stop and tears the parts down in order (HTTP first,
// so no new API call reaches the engine, then the scheduler, then MQTT, then the store).
//
// SQLite: one console per data directory (open_store() holds an flock on DIR/console.lock,
// released by the kernel even after SIGKILL). Its MQTT session is persistent under a client id kept
// in DIR/mqtt-client-id, so device messages sent while the console is down wait at the broker.
// PostgreSQL (--db): several consoles, possibly sharing a data directory, each with a client id
// of its own and a clean session; the shared subscription hands every device message to one
// of them.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "app/options.hpp"
#include "engine/engine.hpp"
#include "http/api_server.hpp"
#include "http/token.hpp"
#include "http/url_signer.hpp"
#include "model/metrics.hpp"
#include "mqtt/mqtt_bridge.hpp"
#include "mqtt/rate_limited_log.hpp"
#include "ota/log.hpp"
#include "ota/options.hpp"
#include "ota/paho/paho_channel.hpp"
#include "store/store.hpp"

namespace console {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr milliseconds kTickInterval{200};
constexpr Millis kPruneEveryMs = 10LL * 60 * 1000;
constexpr Millis kKeepEventsMs = 24LL * 60 * 60 * 1000;

sigset_t stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return set;
}

// Waits up to `d` for SIGINT/SIGTERM; true when one arrived.
bool stop_signal_within(milliseconds d) {
    const sigset_t set = stop_signals();
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(d.count() / 1000);
    ts.tv_nsec = static_cast<long>((d.count() % 1000) * 1000000);
    const int sig = sigtimedwait(&set, nullptr, &ts);
    return sig == SIGINT || sig == SIGTERM;
}

std::string read_password(const ConsoleOptions& o) {
    if (!o.broker_password_file.empty()) {
        std::string p = read_small_file(o.broker_password_file, 4096);
        while (!p.empty() && (p.back() == '\n' || p.back() == '\r')) p.pop_back();
        return p;
    }
    const char* env = std::getenv("OTA_CONSOLE_BROKER_PASSWORD");
    return env != nullptr ? std::string(env) : std::string();
}

std::string mqtt_client_id(const ConsoleOptions& o) {
    if (!o.db_url.empty()) return "ota_console-" + random_hex(8);
    const std::string path = o.data_dir + "/mqtt-client-id";
    if (!fs::exists(path)) write_private_file(path, "ota_console-" + random_hex(8));
    std::string id = read_small_file(path, 256);
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    if (id.empty()) throw std::runtime_error(path + " is empty");
    return id;
}

// Written to a temporary name and renamed, so a reader never sees half a file.
void write_ready_file(const std::string& path, const ApiServer& api, const std::string& token) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << nlohmann::json{{"url", api.base_url()},
                              {"port", api.port()},
                              {"files_url", api.files_base_url()},
                              {"files_port", api.files_port()},
                              {"token_file", token},
                              {"tls_cert", api.tls_cert_file()}}
                   .dump()
            << "\n";
        if (!out) throw std::runtime_error("cannot write " + tmp);
    }
    fs::rename(tmp, path);
}

// The scheduler thread: ticks the engine while this process holds the scheduler role.
class Scheduler {
  public:
    Scheduler(Store& store, Engine& engine, Metrics& metrics)
        : store_(store), engine_(engine), metrics_(metrics), thread_([this] { run(); }) {}
    ~Scheduler() {
        stop_.store(true);
        thread_.join();
    }
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

  private:
    void run() noexcept {
        Millis last_prune = 0;
        bool was_scheduler = false;
        while (!stop_.load()) {
            try {
                const bool is = store_.try_become_scheduler();
                metrics_.scheduler.store(is ? 1 : 0);
                if (is != was_scheduler) {
                    ota::log(ota::LogLevel::info, is ? "this console is the scheduler"
                                                     : "this console is not the scheduler");
                    was_scheduler = is;
                }
                if (is) {
                    engine_.tick();  // counts metrics.ticks itself
                    const Millis now = system_wall_clock().now();
                    if (now - last_prune >= kPruneEveryMs) {
                        store_.prune_events(now - kKeepEventsMs);
                        last_prune = now;
                    }
                }
            } catch (const std::exception& e) {
                errors_.log(ota::LogLevel::error, std::string("scheduler: ") + e.what());
            } catch (...) {
                errors_.log(ota::LogLevel::error, "scheduler: unexpected failure");
            }
            for (int i = 0; i < 4 && !stop_.load(); ++i) {
                std::this_thread::sleep_for(kTickInterval / 4);
            }
        }
    }

    Store& store_;
    Engine& engine_;
    Metrics& metrics_;
    RateLimitedLog errors_;  // a database that is down must not log five lines a second
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

int run(const ConsoleOptions& o) {
    // Files named on the command line first, before anything is created.
    for (const auto& [option, path] :
         {std::pair{"--broker-ca", &o.broker_ca}, std::pair{"--tls-cert", &o.tls_cert},
          std::pair{"--tls-key", &o.tls_key}, std::pair{"--signing-key", &o.signing_key}}) {
        if (!path->empty() && !std::ifstream(*path)) {
            std::fprintf(stderr, "ota_console: %s %s cannot be read\n", option, path->c_str());
            return 2;
        }
    }
    const std::string broker_password = read_password(o);
    std::error_code ec;
    fs::create_directories(o.data_dir, ec);
    if (ec || !fs::is_directory(o.data_dir)) {
        std::fprintf(stderr, "ota_console: cannot create --data %s: %s\n", o.data_dir.c_str(),
                     ec ? ec.message().c_str() : "not a directory");
        return 1;
    }
    std::unique_ptr<Store> store = open_store(o.data_dir, o.db_url);
    const std::string token = load_or_create_token(o.token_file, [&](const std::string& t) {
        std::printf("API token (shown once; kept in %s): %s\n", o.token_file.c_str(), t.c_str());
        std::fflush(stdout);
    });

    Metrics metrics;
    const WallClock& clock = system_wall_clock();
    // With --db every console signs with the database's secret, so a URL in a push made by one
    // console (the scheduler) opens the files at any of them; alone, the data dir's secret.
    auto signer =
        o.db_url.empty()
            ? std::make_shared<UrlSigner>(o.data_dir, clock, o.url_ttl_s * 1000, o.public_base_url)
            : std::make_shared<UrlSigner>(
                  UrlSecret{store->shared_secret(kUrlSecretSetting, [] { return random_hex(32); })},
                  clock, o.url_ttl_s * 1000, o.public_base_url);

    ota::MqttOptions mo;
    mo.host = o.broker_host;
    mo.port = o.broker_port;
    mo.client_id = mqtt_client_id(o);
    mo.username = o.broker_user;
    mo.password = broker_password;
    mo.use_tls = !o.broker_no_tls;
    mo.ca_file = o.broker_ca;
    mo.clean_session = !o.db_url.empty();
    mo.reconnect_min = milliseconds(1000);
    mo.reconnect_max = milliseconds(30000);
    mo.max_queued_messages = ota::MqttOptions::kMaxQueuedMessagesLimit;
    if (const ota::Error e = mo.validate(); !e.ok()) {
        std::fprintf(stderr, "ota_console: broker options: %s\n", e.message().c_str());
        return 2;
    }
    ota::PahoChannel channel(mo);

    MqttBridgeOptions bo;
    bo.share_group = o.share_group;
    // MQTT downloads read the same content-addressed files the HTTPS file server serves.
    bo.file_path = [dir = o.data_dir](const Firmware& f) { return dir + "/files/" + f.sha256; };
    MqttBridge bridge(channel, metrics, bo);
    EngineOptions eo;
    eo.online_window_ms = o.online_window_s * 1000;
    eo.metrics = &metrics;
    Engine engine(
        *store, clock, bridge, [signer](const Firmware& f) { return signer->url_for(f); }, eo);
    EngineTarget target(engine, *store);
    bridge.attach(target);
    // Declared after the engine and the target: if anything below throws, the bridge's threads
    // stop before what they use is destroyed.
    struct BridgeStopper {
        MqttBridge& bridge;
        ~BridgeStopper() { bridge.stop(); }
    } bridge_stopper{bridge};
    bridge.start([&channel] { return channel.connect(); });

    HttpOptions ho;
    ho.bind = o.http_bind;
    ho.port = o.http_port;
    ho.files_port = o.files_port;
    ho.public_url = o.public_url;
    ho.public_files_url = o.public_files_url;
    ho.allow_http_files = o.allow_http_files;
    ho.tls = !o.http_no_tls;
    ho.tls_cert_file = o.tls_cert;
    ho.tls_key_file = o.tls_key;
    ho.token = token;
    ho.data_dir = o.data_dir;
    ho.public_base_url = o.public_base_url;
    ho.url_ttl_ms = o.url_ttl_s * 1000;
    ho.max_upload_bytes = static_cast<std::uint64_t>(o.max_upload_mib) * 1024 * 1024;
    ho.signing_key_file = o.signing_key;
    ho.online_window_ms = o.online_window_s * 1000;
    ho.url_signer = signer;
    ApiServer api(*store, engine, metrics, clock, ho);
    api.start();

    std::printf(
        "ota_console: serving %s (files at %s; store %s); connecting to the broker "
        "%s:%u\n",
        api.base_url().c_str(), api.files_base_url().c_str(), store->kind(), o.broker_host.c_str(),
        static_cast<unsigned>(o.broker_port));
    std::fflush(stdout);

    bool stopped = false;
    while (!bridge.connected()) {
        if (stop_signal_within(milliseconds(100))) {
            stopped = true;
            break;
        }
    }
    std::unique_ptr<Scheduler> scheduler;
    if (!stopped) {
        scheduler = std::make_unique<Scheduler>(*store, engine, metrics);
        if (!o.ready_file.empty()) {
            write_ready_file(o.ready_file, api, fs::absolute(o.token_file).string());
        }
        std::printf("ota_console: ready (MQTT connected)\n");
        std::fflush(stdout);
        while (!stop_signal_within(milliseconds(1000))) {
        }
    }
    std::printf("ota_console: stopping\n");
    std::fflush(stdout);
    api.stop();
    scheduler.reset();
    bridge.stop();
    channel.disconnect();
    return 0;
}

}  // namespace
}  // namespace console

int main(int argc, char** argv) {
    console::ConsoleOptions options;
    const std::string err = console::parse_console_options(argc, argv, options);
    if (err == "help") {
        std::fputs(console::kConsoleUsage, stdout);
        return 0;
    }
    if (!err.empty()) {
        std::fprintf(stderr, "ota_console: %s\n%s", err.c_str(), console::kConsoleUsage);
        return 2;
    }
    // Blocked before any thread starts, so every thread inherits the mask (see the file comment).
    const sigset_t set = console::stop_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    ota::set_log_level(ota::LogLevel::info);
    try {
        return console::run(options);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ota_console: %s\n", e.what());
        return 1;
    }
}
