// Many PahoChannels in one process (issue 13): N channels started with start_connect() from one
// thread against a broker, then left idle. Prints connects/s, connect latency percentiles, the
// process RSS and heap per idle connected channel above a base (one channel connected, so that
// paho's threads and OpenSSL are initialised), and the descriptors in use. Not run in CI; see
// bench/paho_connect_bench.sh, which starts a lab and builds this program.
//
// Usage: paho_connect_bench --env LAB_ENV [--count N] [--tcp] [--idle-s S] [--nofile N]
//        [--connect-timeout-s S] [--keepalive-s S] [--rate N] [--ca-file PEM]
//        [--waker] [--waker-interval-us N]
// --rate paces the start_connect() calls (N per second; default: all at once); --nofile sets
// RLIMIT_NOFILE (default: raised to the hard limit); --ca-file verifies the broker with another
// PEM bundle than the lab's CA (e.g. the lab CA appended to the system bundle, to see what a large
// ca_file costs per connection); --ca-file system leaves ca_file empty (OpenSSL's default paths).
// --waker runs tools/fleet's ConnectWaker (one more connection of the cloud user that loops a
// QoS 1 SUBSCRIBE while connects are outstanding, so paho's receive thread does not sleep in its
// 1 s poll; paho issue 1430) with at least the given interval from one SUBSCRIBE to the next
// (default 5000 us, ConnectWakerOptions::interval). It is connected before the measured connects
// and is not counted among them. LAB_ENV is a lab.env of scripts/lab.sh: the lab's cloud user
// connects N times with distinct client ids (its password is never printed).
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "connect_waker.hpp"
#include "ota/log.hpp"
#include "ota/options.hpp"
#include "ota/paho/paho_channel.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
    std::string env;
    std::size_t count = 1000;
    bool tls = true;
    int idle_s = 3;
    rlim_t nofile = 0;  // 0: the hard limit
    int connect_timeout_s = 30;
    int keepalive_s = 60;
    std::string ca_file;  // instead of the lab's CA_FILE
    double rate = 0;      // start_connect() calls per second; 0: all at once
    bool waker = false;
    long waker_interval_us = 5000;  // ConnectWakerOptions::interval's default
};

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "paho_connect_bench: %s\nusage: paho_connect_bench --env LAB_ENV [--count N] "
                 "[--tcp] [--idle-s S] [--nofile N] [--connect-timeout-s S] [--keepalive-s S] "
                 "[--rate N] [--ca-file PEM] [--waker] [--waker-interval-us N]\n",
                 why);
    std::exit(2);
}

Args parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(("missing value of " + k).c_str());
            return argv[++i];
        };
        if (k == "--env") {
            a.env = value();
        } else if (k == "--count") {
            a.count = std::stoul(value());
        } else if (k == "--tcp") {
            a.tls = false;
        } else if (k == "--idle-s") {
            a.idle_s = std::stoi(value());
        } else if (k == "--nofile") {
            a.nofile = std::stoul(value());
        } else if (k == "--connect-timeout-s") {
            a.connect_timeout_s = std::stoi(value());
        } else if (k == "--ca-file") {
            a.ca_file = value();
        } else if (k == "--rate") {
            a.rate = std::stod(value());
        } else if (k == "--waker") {
            a.waker = true;
        } else if (k == "--waker-interval-us") {
            a.waker = true;
            a.waker_interval_us = std::stol(value());
        } else if (k == "--keepalive-s") {
            a.keepalive_s = std::stoi(value());
        } else {
            usage(("unknown option " + k).c_str());
        }
    }
    if (a.env.empty()) usage("--env is required");
    return a;
}

std::map<std::string, std::string> read_env(const std::string& path) {
    std::map<std::string, std::string> m;
    std::ifstream in(path);
    if (!in) usage(("cannot read " + path).c_str());
    std::string line;
    while (std::getline(in, line)) {
        const auto eq = line.find('=');
        if (eq != std::string::npos) m[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return m;
}

double rss_kib() {
    std::ifstream in("/proc/self/statm");
    long pages = 0;
    long resident = 0;
    in >> pages >> resident;
    return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1024.0;
}

double heap_kib() {
    const struct mallinfo2 mi = mallinfo2();
    return static_cast<double>(mi.uordblks) / 1024.0;
}

std::size_t open_fds() {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
        (void)e;
        ++n;
    }
    return n;
}

// CPU time (user + system) of the whole process so far, in ms.
double cpu_ms() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto tv_ms = [](const timeval& tv) {
        return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3;
    };
    return tv_ms(ru.ru_utime) + tv_ms(ru.ru_stime);
}

double ms(Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

// One channel and when its first event (the connect outcome) arrived.
struct Slot {
    std::unique_ptr<ota::PahoChannel> ch;
    Clock::time_point started;
    std::atomic<Clock::rep> first_event{0};
};

}  // namespace

int main(int argc, char** argv) {
    const Args args = parse(argc, argv);
    const auto env = read_env(args.env);
    ota::set_log_level(ota::LogLevel::error);

    rlimit lim{};
    getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = args.nofile == 0 ? lim.rlim_max : std::min(args.nofile, lim.rlim_max);
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);

    ota::MqttOptions base;
    base.host = "127.0.0.1";
    base.port =
        static_cast<std::uint16_t>(std::stoi(env.at(args.tls ? "MQTT_TLS_PORT" : "MQTT_TCP_PORT")));
    base.use_tls = args.tls;
    // --ca-file system: an empty ca_file, i.e. OpenSSL's default verify paths (SSL_CERT_FILE /
    // SSL_CERT_DIR when set).
    if (args.tls) base.ca_file = args.ca_file.empty() ? env.at("CA_FILE") : args.ca_file;
    if (base.ca_file == "system") base.ca_file.clear();
    base.username = env.at("CLOUD_USER");
    base.password = env.at("CLOUD_PASSWORD");
    base.clean_session = true;
    base.connect_timeout = std::chrono::seconds(args.connect_timeout_s);
    base.keepalive = std::chrono::seconds(args.keepalive_s);
    const std::string tag = std::to_string(getpid());

    std::mutex mutex;
    std::condition_variable cv;
    std::atomic<std::size_t> events{0};
    // Declared before the channels whose callbacks call it (it must outlive them).
    std::unique_ptr<ota::fleet::ConnectWaker> waker;
    auto make = [&](Slot& s, const std::string& id) {
        ota::MqttOptions o = base;
        o.client_id = id;
        s.ch = std::make_unique<ota::PahoChannel>(o);
        s.ch->set_event_callback([&s, &cv, &events, &waker] {
            Clock::rep zero = 0;
            if (s.first_event.compare_exchange_strong(zero,
                                                      Clock::now().time_since_epoch().count()) &&
                waker) {
                waker->end();
            }
            events.fetch_add(1);
            cv.notify_one();
        });
    };

    const double rss_start = rss_kib();
    if (args.waker) {
        ota::fleet::ConnectWakerOptions wo;
        wo.mqtt = base;
        wo.mqtt.client_id = "bench-" + tag + "-waker";
        wo.topic = "bench/waker/" + tag;
        wo.interval = std::chrono::microseconds(args.waker_interval_us);
        waker = std::make_unique<ota::fleet::ConnectWaker>(wo);
        if (ota::Error e = waker->start();
            !e.ok() || !waker->wait_connected(std::chrono::seconds(10))) {
            std::fprintf(stderr, "waker connect failed: %s\n", waker->stats().last_error.c_str());
            return 1;
        }
    }
    Slot warm;
    make(warm, "bench-" + tag + "-warm");
    if (ota::Error e = warm.ch->connect(); !e.ok()) {
        std::fprintf(stderr, "warm-up connect failed: %s\n", e.message().c_str());
        return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const double rss_base = rss_kib();
    const double heap_base = heap_kib();
    const std::size_t fds_base = open_fds();

    std::vector<Slot> slots(args.count);
    for (std::size_t i = 0; i < args.count; ++i) {
        make(slots[i], "bench-" + tag + "-" + std::to_string(i));
    }
    const double rss_created = rss_kib();

    const double cpu0 = cpu_ms();
    const auto t0 = Clock::now();
    std::size_t start_failures = 0;
    for (std::size_t i = 0; i < slots.size(); ++i) {
        if (args.rate > 0) {
            std::this_thread::sleep_until(
                t0 + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(static_cast<double>(i) / args.rate)));
        }
        slots[i].started = Clock::now();
        if (waker) waker->begin();
        if (!slots[i].ch->start_connect().ok()) {
            ++start_failures;
            if (waker) waker->end();
        }
    }
    const auto t_started = Clock::now();

    // Wait for every outcome (or the connect timeout plus a margin).
    const auto deadline = t_started + base.connect_timeout + std::chrono::seconds(5);
    std::size_t done = 0;
    while (Clock::now() < deadline) {
        done = 0;
        for (Slot& s : slots) done += s.ch->connect_outcome().has_value() ? 1 : 0;
        if (done == args.count) break;
        std::unique_lock<std::mutex> lock(mutex);
        cv.wait_for(lock, std::chrono::milliseconds(50));
    }
    const auto t_done = Clock::now();
    const double cpu_connect = cpu_ms() - cpu0;

    std::vector<double> latencies;
    std::size_t ok = 0;
    std::map<std::string, std::size_t> errors;
    Clock::time_point last_ok = t0;
    for (Slot& s : slots) {
        const auto outcome = s.ch->connect_outcome();
        if (!outcome) {
            ++errors["(no outcome)"];
            continue;
        }
        if (!outcome->ok()) {
            ++errors[outcome->message()];
            continue;
        }
        ++ok;
        const Clock::time_point at{Clock::duration{s.first_event.load()}};
        latencies.push_back(ms(at - s.started));
        last_ok = std::max(last_ok, at);
    }
    std::sort(latencies.begin(), latencies.end());
    auto pct = [&](double p) {
        if (latencies.empty()) return 0.0;
        const auto rank =
            static_cast<std::size_t>(p / 100.0 * static_cast<double>(latencies.size()));
        return latencies[std::min(rank, latencies.size() - 1)];
    };

    std::this_thread::sleep_for(std::chrono::seconds(args.idle_s));
    malloc_trim(0);
    const double rss_idle = rss_kib();
    const double heap_idle = heap_kib();
    const std::size_t fds_idle = open_fds();
    std::size_t connected = 0;
    for (Slot& s : slots) connected += s.ch->is_connected() ? 1 : 0;

    const double n = static_cast<double>(std::max<std::size_t>(ok, 1));
    std::printf("channels %zu (%s), RLIMIT_NOFILE %llu, start_connect() failures %zu\n", args.count,
                args.tls ? "TLS" : "TCP", static_cast<unsigned long long>(lim.rlim_cur),
                start_failures);
    std::printf("start_connect() x%zu from one thread: %.1f ms (rate %s)\n", args.count,
                ms(t_started - t0), args.rate > 0 ? std::to_string(args.rate).c_str() : "unpaced");
    std::printf(
        "connected %zu / %zu; all outcomes after %.1f ms; connects/s %.0f (ok / (last ok - "
        "first start))\n",
        ok, args.count, ms(t_done - t0), static_cast<double>(ok) / (ms(last_ok - t0) / 1e3));
    std::printf("process CPU while connecting: %.0f ms (%.2f ms per connect; load average %s)\n",
                cpu_connect, cpu_connect / static_cast<double>(std::max<std::size_t>(ok, 1)),
                [] {
                    std::ifstream in("/proc/loadavg");
                    std::string l;
                    in >> l;
                    return l;
                }()
                    .c_str());
    std::printf("connect latency ms: p50 %.1f p90 %.1f p99 %.1f max %.1f\n", pct(50), pct(90),
                pct(99), latencies.empty() ? 0.0 : latencies.back());
    for (const auto& [msg, count] : errors) std::printf("  failed x%zu: %s\n", count, msg.c_str());
    if (waker) {
        const auto ws = waker->stats();
        std::printf(
            "waker: interval %ld us, %llu SUBACKs (%.0f/s while connecting), %llu failed%s%s\n",
            args.waker_interval_us, static_cast<unsigned long long>(ws.pings),
            static_cast<double>(ws.pings) / (ms(t_done - t0) / 1e3),
            static_cast<unsigned long long>(ws.failed_pings),
            ws.last_error.empty() ? "" : "; last: ", ws.last_error.c_str());
    }
    std::printf(
        "RSS KiB: start %.0f, base (1 connected) %.0f, %zu created %.0f, idle %.0f "
        "-> %.1f KiB per channel (%.1f of it before connecting)\n",
        rss_start, rss_base, args.count, rss_created, rss_idle, (rss_idle - rss_base) / n,
        (rss_created - rss_base) / static_cast<double>(args.count));
    std::printf("heap in use KiB: base %.0f, idle %.0f -> %.1f KiB per channel\n", heap_base,
                heap_idle, (heap_idle - heap_base) / n);
    std::printf("descriptors: base %zu, idle %zu (%zu connected)\n", fds_base, fds_idle, connected);

    const auto t_close = Clock::now();
    slots.clear();
    std::printf("destroying %zu channels: %.0f ms\n", args.count, ms(Clock::now() - t_close));
    return 0;
}
