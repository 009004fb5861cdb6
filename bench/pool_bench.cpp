// ota_pool_bench: N downloads of one URL, each hashed (SHA-256) and checked, either on a
// CurlTransferPool (PooledCurlByteSource, a few threads, M consumer threads woken by the ready
// callbacks) or with one thread per transfer (CurlByteSource), at most C at a time. Prints one
// line of figures: wall time, MiB/s, CPU seconds, peak RSS, threads. Run by bench/pool_bench.sh.
// --mode hold measures the memory of C open sources whose rings are full (transfers paused).
//
// Usage: ota_pool_bench --mode pool|threads|hold --url URL --ca PEM --sha256 HEX [--transfers N
// (200)]
//          [--concurrency C (200)] [--threads K (2, pool mode)] [--consumers M (1, pool mode:
//          threads reading the sources)] [--buffer BYTES (65536)]
//          [--receive BYTES (16384)]
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ota/curl/curl_byte_source.hpp"
#include "ota/curl/curl_transfer_pool.hpp"
#include "ota/digest.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Args {
    std::string mode = "pool";
    std::string url;
    std::string ca;
    std::string sha256;
    std::size_t transfers = 200;
    std::size_t concurrency = 200;
    std::size_t threads = 2;
    std::size_t consumers = 1;
    std::size_t buffer = 64 * 1024;
    std::size_t receive = 16 * 1024;
};

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "ota_pool_bench: %s\n(see the comment at the top of bench/pool_bench.cpp)\n", why);
    std::exit(2);
}

Args parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        if (i + 1 >= argc) usage(("missing value of " + k).c_str());
        const std::string v = argv[++i];
        const auto num = [&] { return static_cast<std::size_t>(std::stoull(v)); };
        if (k == "--mode") {
            a.mode = v;
        } else if (k == "--url") {
            a.url = v;
        } else if (k == "--ca") {
            a.ca = v;
        } else if (k == "--sha256") {
            a.sha256 = v;
        } else if (k == "--transfers") {
            a.transfers = num();
        } else if (k == "--concurrency") {
            a.concurrency = num();
        } else if (k == "--threads") {
            a.threads = num();
        } else if (k == "--consumers") {
            a.consumers = num();
        } else if (k == "--buffer") {
            a.buffer = num();
        } else if (k == "--receive") {
            a.receive = num();
        } else {
            usage(("unknown option " + k).c_str());
        }
    }
    if (a.url.empty() || a.sha256.empty()) usage("--url and --sha256 are required");
    if (a.mode != "pool" && a.mode != "threads" && a.mode != "hold") {
        usage("--mode is pool, threads or hold");
    }
    if (a.concurrency == 0 || a.transfers == 0 || a.consumers == 0) {
        usage("--transfers, --concurrency and --consumers must be > 0");
    }
    return a;
}

ota::HttpOptions http_options(const Args& a) {
    ota::HttpOptions o;
    o.ca_file = a.ca;
    o.buffer_size = a.buffer;
    o.receive_buffer_size = a.receive;
    return o;
}

// One transfer's running digest and byte count.
struct Check {
    ota::Hasher hasher;
    std::uint64_t bytes = 0;
    void start() {
        bytes = 0;
        if (hasher.start(ota::DigestAlgorithm::sha256) != ota::Status::ok) std::abort();
    }
    void add(const std::uint8_t* p, std::size_t n) {
        bytes += n;
        if (hasher.update(p, n) != ota::Status::ok) std::abort();
    }
    bool good(const std::string& want) {
        std::string hex;
        return hasher.finish_hex(hex) == ota::Status::ok && ota::hex_equal(hex, want);
    }
};

struct Totals {
    std::atomic<std::size_t> ok{0};
    std::atomic<std::size_t> failed{0};
    std::atomic<std::uint64_t> bytes{0};
};

std::size_t thread_count() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("Threads:", 0) == 0) return std::stoul(line.substr(8));
    }
    return 0;
}

// CurlByteSource: a thread per transfer in flight, each taking the next transfer when done.
void run_threads(const Args& a, Totals& t, std::size_t& peak_threads) {
    std::atomic<std::size_t> next{0};
    std::vector<std::thread> workers;
    for (std::size_t i = 0; i < std::min(a.concurrency, a.transfers); ++i) {
        workers.emplace_back([&] {
            ota::CurlByteSource src(http_options(a));
            std::vector<std::uint8_t> buf(64 * 1024);
            Check c;
            while (next.fetch_add(1) < a.transfers) {
                c.start();
                bool ok = src.open(a.url, 0).ok();
                while (ok) {
                    const ota::ReadResult r = src.read(buf.data(), buf.size(), 1000ms);
                    if (r.status != ota::Status::ok) ok = false;
                    c.add(buf.data(), r.bytes);
                    if (r.end_of_body) break;
                }
                src.close();
                t.bytes += c.bytes;
                (ok && c.good(a.sha256) ? t.ok : t.failed)++;
            }
        });
    }
    std::this_thread::sleep_for(50ms);
    peak_threads = thread_count();
    for (auto& w : workers) w.join();
}

// PooledCurlByteSource: C sources on one pool, read by `consumers` threads (each owns a share
// of the sources and sleeps until one of its sources' ready callbacks fires).
void run_pool(const Args& a, Totals& t, std::size_t& peak_threads) {
    ota::CurlPoolOptions po;
    po.threads = a.threads;
    ota::CurlTransferPool pool(po);
    if (const ota::Error e = pool.start(); !e.ok()) {
        std::fprintf(stderr, "ota_pool_bench: %s\n", e.message().c_str());
        std::exit(1);
    }
    struct Bell {
        std::mutex m;
        std::condition_variable cv;
        std::uint64_t rings = 0;
    };
    struct Slot {
        std::unique_ptr<ota::PooledCurlByteSource> src;
        Check check;
        bool busy = false;
    };
    const std::size_t n_slots = std::min(a.concurrency, a.transfers);
    const std::size_t n_consumers = std::min(a.consumers, n_slots);
    std::vector<Bell> bells(n_consumers);
    std::vector<Slot> slots(n_slots);
    std::atomic<std::size_t> claimed{0};
    const auto launch = [&](Slot& s) {
        if (claimed.fetch_add(1) >= a.transfers) return;
        s.check.start();
        s.busy = true;
        if (!s.src->open(a.url, 0).ok()) {
            s.busy = false;
            t.failed++;
        }
    };
    for (std::size_t i = 0; i < n_slots; ++i) {
        Bell& bell = bells[i % n_consumers];
        slots[i].src = std::make_unique<ota::PooledCurlByteSource>(pool, http_options(a));
        slots[i].src->set_ready_callback([&bell] {
            {
                std::lock_guard<std::mutex> lock(bell.m);
                ++bell.rings;
            }
            bell.cv.notify_one();
        });
    }
    const auto consume = [&](std::size_t g) {
        Bell& bell = bells[g];
        std::vector<std::uint8_t> buf(64 * 1024);
        for (std::size_t i = g; i < n_slots; i += n_consumers) launch(slots[i]);
        std::uint64_t seen = 0;
        for (;;) {
            bool any_busy = false;
            for (std::size_t i = g; i < n_slots; i += n_consumers) {
                Slot& s = slots[i];
                while (s.busy) {
                    const ota::ReadResult r = s.src->read(buf.data(), buf.size(), 0ms);
                    if (r.status != ota::Status::ok) {
                        s.busy = false;
                        t.failed++;
                    } else {
                        s.check.add(buf.data(), r.bytes);
                        if (r.end_of_body) {
                            s.busy = false;
                            t.bytes += s.check.bytes;
                            (s.check.good(a.sha256) ? t.ok : t.failed)++;
                        } else if (r.bytes == 0) {
                            break;
                        }
                    }
                    if (!s.busy) launch(s);
                }
                any_busy = any_busy || s.busy;
            }
            if (!any_busy) break;
            std::unique_lock<std::mutex> lock(bell.m);
            bell.cv.wait_for(lock, 100ms, [&] { return bell.rings != seen; });
            seen = bell.rings;
        }
    };
    std::vector<std::thread> consumers;
    for (std::size_t g = 1; g < n_consumers; ++g) consumers.emplace_back(consume, g);
    std::thread first(consume, 0);
    std::this_thread::sleep_for(50ms);
    peak_threads = thread_count();
    first.join();
    for (auto& c : consumers) c.join();
}

std::size_t rss_kib() {
    std::ifstream in("/proc/self/statm");
    std::size_t pages = 0;
    std::size_t resident = 0;
    in >> pages >> resident;
    return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE)) / 1024;
}

// Memory per open source: C sources on the pool, none read for a second (each ring fills and
// its transfer pauses), RSS above the pool's own is divided by C; then all are drained.
void run_hold(const Args& a, Totals& t) {
    ota::CurlPoolOptions po;
    po.threads = a.threads;
    ota::CurlTransferPool pool(po);
    if (const ota::Error e = pool.start(); !e.ok()) std::exit(1);
    std::vector<std::unique_ptr<ota::PooledCurlByteSource>> sources;
    std::vector<Check> checks(a.concurrency);
    // One warm-up transfer, so that libcurl's and OpenSSL's one-time state is in the base.
    {
        ota::PooledCurlByteSource warm(pool, http_options(a));
        Check c;
        c.start();
        std::vector<std::uint8_t> buf(64 * 1024);
        if (!warm.open(a.url, 0).ok()) std::exit(1);
        for (;;) {
            const ota::ReadResult r = warm.read(buf.data(), buf.size(), 1000ms);
            if (r.status != ota::Status::ok) std::exit(1);
            if (r.end_of_body) break;
        }
    }
    const std::size_t base = rss_kib();
    for (std::size_t i = 0; i < a.concurrency; ++i) {
        sources.push_back(std::make_unique<ota::PooledCurlByteSource>(pool, http_options(a)));
        checks[i].start();
        if (!sources.back()->open(a.url, 0).ok()) std::exit(1);
    }
    std::this_thread::sleep_for(1500ms);
    const std::size_t held = rss_kib();
    std::printf(
        "hold: %zu sources open, rings full and paused: RSS %zu KiB above the pool's "
        "%zu KiB = %.1f KiB per source (buffer %zu, receive %zu)\n",
        a.concurrency, held - base, base,
        static_cast<double>(held - base) / static_cast<double>(a.concurrency), a.buffer, a.receive);
    std::vector<std::uint8_t> buf(64 * 1024);
    for (std::size_t i = 0; i < sources.size(); ++i) {
        for (;;) {
            const ota::ReadResult r = sources[i]->read(buf.data(), buf.size(), 1000ms);
            if (r.status != ota::Status::ok) {
                t.failed++;
                break;
            }
            checks[i].add(buf.data(), r.bytes);
            if (r.end_of_body) {
                t.bytes += checks[i].bytes;
                (checks[i].good(a.sha256) ? t.ok : t.failed)++;
                break;
            }
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    Args a = parse(argc, argv);
    Totals t;
    std::size_t peak_threads = 0;
    const auto t0 = Clock::now();
    if (a.mode == "hold") {
        a.transfers = a.concurrency;
        run_hold(a, t);
    } else if (a.mode == "pool") {
        run_pool(a, t, peak_threads);
    } else {
        run_threads(a, t, peak_threads);
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                       static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    const double mib = static_cast<double>(t.bytes.load()) / (1024.0 * 1024.0);
    std::printf(
        "mode=%s transfers=%zu ok=%zu failed=%zu concurrency=%zu threads=%zu wall_s=%.2f "
        "MiB_per_s=%.1f cpu_s=%.2f peak_rss_MiB=%.1f\n",
        a.mode.c_str(), a.transfers, t.ok.load(), t.failed.load(), a.concurrency, peak_threads,
        secs, mib / secs, cpu, static_cast<double>(ru.ru_maxrss) / 1024.0);
    return t.failed.load() == 0 && t.ok.load() == a.transfers ? 0 : 1;
}
