// FleetRun: see fleet_run.hpp. Ownership and order matter here: the byte sources must be gone
// before the transfer pool, and the scheduler must be stopped before the devices go (a worker
// could still be inside one); wake-ups arriving after the stop are ignored by the scheduler.
#include "fleet_run.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <thread>
#include <utility>

#include "core/behaviour.hpp"
#include "core/identity.hpp"
#include "device.hpp"
#include "fleet_cloud.hpp"
#include "measures.hpp"
#include "ota/curl/curl_transfer_pool.hpp"
#include "scheduler.hpp"

namespace ota::fleet {

namespace {

constexpr std::chrono::milliseconds kLoopTick{100};
// How long the process is left alone after every device connected before its RSS counts as idle.
constexpr std::chrono::seconds kIdleSettle{2};
// After the last device settled, the cloud still hears the last reports in flight.
constexpr std::chrono::milliseconds kCloudLinger{1000};
// Per-device download buffers: a small ring (allocated on the first download only) and libcurl's
// receive buffer of one TLS record; the fetch buffer is one per worker thread (device.cpp).
constexpr std::size_t kDownloadRing = 64 * 1024;
constexpr std::size_t kReceiveBuffer = 16 * 1024;
// Threads for the devices' disconnects (each waits for paho's send thread, not for the CPU).
constexpr std::size_t kOffloadThreads = 4;
// --push-when all-connected: once every device is connected or has given up (connect_failed),
// the cloud pushes when it heard every connected device's version report, or after this wait
// at the latest (a report can be lost; the push goes to the device's topic anyway).
constexpr std::chrono::seconds kInformWait{5};
// With the in-process cloud: no job on any device this long after the connects ended means the
// pushes do not reach the devices (the cloud user's ACL, a wrong --product-key, ...); the run
// ends (RunEnd::no_job) instead of waiting for ever.
constexpr std::chrono::seconds kNoJobWait{60};

// The waker's own connection: the first device's credentials under another client id (the
// lab's ACL lets a device subscribe to its own upgrade topic), connected before the cloud and the
// devices, i.e. while paho's receive thread has nothing else to wait for.
constexpr std::chrono::seconds kWakerConnectWait{10};

Error make_waker_options(const DeviceIdentity& id, const RunOptions& o, ConnectWakerOptions& w) {
    if (Error e = device_mqtt_options(id, o.host, o.port, o.tls, o.ca_file, w.mqtt); !e.ok()) {
        return e;
    }
    // Distinct per process also across machines (disjoint --first ranges): two wakers with one
    // client id would take each other's session over and over (both reconnect automatically).
    w.mqtt.client_id =
        "ota-fleet-waker-" + std::to_string(o.first) + "-" + std::to_string(::getpid());
    w.topic = "/ota/device/upgrade/" + id.product_key + "/" + id.device_name;
    return {};
}

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return {};
    return buf;
}

// Descriptors a fleet needs: an MQTT socket per device, an HTTPS socket per downloading device
// (the pool keeps at most one per source), and some for the process itself (CA files, the
// cloud, paho's and libcurl's pipes). The soft limit is raised to that (at most to the hard
// limit); when even the hard limit is too low the run goes on with a warning, and the devices
// past it fail to connect with "too many open files".
void ensure_descriptors(std::uint64_t devices) {
    const rlim_t need = static_cast<rlim_t>(2 * devices + 64);
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= need) return;
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max == RLIM_INFINITY ? need : std::min(need, lim.rlim_max);
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
    if (lim.rlim_cur < need) {
        std::fprintf(stderr,
                     "ota_fleet: warning: the open-file limit is %llu, %llu devices need about "
                     "%llu (ulimit -n; docs/fleet.md \"Limits\")\n",
                     static_cast<unsigned long long>(lim.rlim_cur),
                     static_cast<unsigned long long>(devices),
                     static_cast<unsigned long long>(need));
    }
}

}  // namespace

const char* to_string(RunEnd end) noexcept {
    switch (end) {
        case RunEnd::settled:
            return "settled";
        case RunEnd::duration:
            return "duration";
        case RunEnd::job_timeout:
            return "job-timeout";
        case RunEnd::signal:
            return "signal";
        case RunEnd::no_job:
            return "no-job";
    }
    return "?";
}

int exit_code_for(RunEnd end) noexcept {
    return end == RunEnd::job_timeout || end == RunEnd::no_job ? 3 : 0;
}

FleetRun::FleetRun(RunOptions options) : options_(std::move(options)) {}

FleetRun::~FleetRun() = default;

Error FleetRun::run(const std::atomic<bool>& stop) {
    const RunOptions& o = options_;
    ProcessRecord proc;
    proc.first = o.first;
    proc.threads = o.threads;
    proc.host = host_name();
    proc.rss_base_kib = process_rss_kib();

    std::vector<DeviceIdentity> ids;
    if (Error e = load_identities(o.identity, o.first, o.count, ids); !e.ok()) return e;
    proc.count = ids.size();
    ensure_descriptors(ids.size());

    // Two pool threads cost nothing measurable (H1's pool bench) and keep one slow transfer
    // callback from holding up every download; never more than the workers.
    CurlPoolOptions pool_options;
    pool_options.threads = std::min<std::size_t>(2, o.threads);
    CurlTransferPool pool(pool_options);
    HttpOptions http = HttpOptions{}.with_buffers({0, kDownloadRing, kReceiveBuffer});
    http.ca_file = o.http_ca_file.empty() ? o.ca_file : o.http_ca_file;
    http.allow_http = o.allow_http;
    if (Error e = http.validate(); !e.ok()) return e;

    Scheduler scheduler(o.threads);
    RatePacer pacer(o.connect_rate);
    Offloader offloader(kOffloadThreads);
    FleetCounters counters;
    DeviceEnv env;
    env.scheduler = &scheduler;
    env.connect_pacer = &pacer;
    env.offloader = &offloader;
    env.counters = &counters;
    env.make_source = [&pool, http](std::function<void()> ready) -> std::unique_ptr<ByteSource> {
        auto source = std::make_unique<PooledCurlByteSource>(pool, http);
        source->set_ready_callback(std::move(ready));
        return source;
    };
    env.host = o.host;
    env.port = o.port;
    env.tls = o.tls;
    env.ca_file = o.ca_file;
    env.allow_http = o.allow_http;
    env.version = o.version;
    env.reboot = std::chrono::milliseconds(o.reboot_ms);
    if (o.sink == SinkKind::file) env.file_sink_dir = o.sink_dir;
    env.flash_sink = o.sink == SinkKind::flash;

    // Declared before the devices, whose channel callbacks call it.
    std::unique_ptr<ConnectWaker> waker;
    if (o.connect_waker && !ids.empty()) {
        ConnectWakerOptions wo;
        if (Error e = make_waker_options(ids.front(), o, wo); !e.ok()) return e;
        waker = std::make_unique<ConnectWaker>(std::move(wo));
        if (Error e = waker->start(); !e.ok()) return e;
        // A waker that does not come up only costs speed: the devices connect without it.
        if (!waker->wait_connected(kWakerConnectWait)) {
            std::fprintf(stderr, "ota_fleet: connect waker not connected (%s); going on without\n",
                         waker->stats().last_error.c_str());
        }
        env.waker = waker.get();
    }

    std::unique_ptr<FleetCloud> cloud;
    if (o.has_push) {
        FleetCloudOptions co;
        if (Error e = cloud_options_from(o, co); !e.ok()) return e;
        std::vector<CloudDevice> cd;
        cd.reserve(ids.size());
        for (const DeviceIdentity& id : ids) cd.push_back({id.product_key, id.device_name});
        cloud = std::make_unique<FleetCloud>(std::move(co), std::move(cd));
        if (Error e = cloud->start(); !e.ok()) return e;
    }

    std::vector<Behaviour> behaviours;
    behaviours.reserve(ids.size());
    std::vector<std::unique_ptr<Device>> devices;
    devices.reserve(ids.size());
    const auto start = SimClock::now();
    proc.started_unix_ms = unix_ms_now();
    env.run_start = start;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        // Creating a large fleet takes a while: a signal meanwhile ends the run with the devices
        // made so far (the main loop below sees the flag at once).
        if (stop.load()) break;
        behaviours.push_back(assign(o.seed, o.first + i, o.mix));
        devices.push_back(std::make_unique<Device>(o.first + i, ids[i], behaviours.back(), env));
        if (Error e = devices.back()->attach(); !e.ok()) {
            e.detail = "device " + ids[i].device_name + ": " + e.detail;
            return e;
        }
    }
    proc.count = devices.size();
    scheduler.start();

    StatusLine status(stderr, ::isatty(STDERR_FILENO) != 0, devices.size());
    std::optional<SimClock::time_point> first_job_at;
    std::optional<SimClock::time_point> all_connected_at;
    // Every device connected at least once or settled as connect_failed (the connect phase
    // ended; late joiners included).
    std::optional<SimClock::time_point> connects_ended_at;
    bool pushed_all = false;
    // --job-timeout counts from the last job that arrived (polled each tick).
    std::optional<SimClock::time_point> last_job_at;
    std::uint64_t jobs_seen = 0;
    const std::uint64_t total = devices.size();
    const auto& failed_count = counters.outcomes[static_cast<std::size_t>(Outcome::connect_failed)];
    while (true) {
        std::this_thread::sleep_for(kLoopTick);
        const auto now = SimClock::now();
        proc.rss_peak_kib = std::max(proc.rss_peak_kib, process_rss_kib());
        if (const std::uint64_t jobs = counters.jobs.load(); jobs != jobs_seen) {
            jobs_seen = jobs;
            if (!first_job_at) first_job_at = now;
            last_job_at = now;
        }
        const std::uint64_t connect_failed = failed_count.load();
        if (!connects_ended_at && counters.ever_connected.load() + connect_failed >= total) {
            connects_ended_at = now;
        }
        // The cloud alone would wait for every device's report, for ever when one never
        // connects: here the run knows who gave up.
        if (cloud && o.push.when == PushWhen::all_connected && !pushed_all && connects_ended_at &&
            (cloud->counts().informed + connect_failed >= total ||
             now - *connects_ended_at >= kInformWait)) {
            cloud->push_all();
            pushed_all = true;
        }
        // Idle RSS: every device connected and no job yet. Sampled on each tick while that
        // holds (the last sample wins), so a push right after the last connect still leaves
        // one; the samples from kIdleSettle on are preferred (the connect storm has passed).
        if (counters.jobs.load() == 0 && counters.connected_now.load() == total) {
            if (!all_connected_at) all_connected_at = now;
            if (proc.rss_idle_kib == 0 || now - *all_connected_at >= kIdleSettle) {
                proc.rss_idle_kib = process_rss_kib();
            }
        }
        if (!o.quiet) status.tick(counters, now);
        if (stop.load()) {
            end_ = RunEnd::signal;
            break;
        }
        if (counters.settled.load() == total) {
            end_ = RunEnd::settled;
            if (cloud) std::this_thread::sleep_for(kCloudLinger);
            break;
        }
        if (o.duration_s > 0 && now - start >= std::chrono::duration<double>(o.duration_s)) {
            end_ = RunEnd::duration;
            break;
        }
        if (last_job_at && now - *last_job_at >= std::chrono::duration<double>(o.job_timeout_s)) {
            end_ = RunEnd::job_timeout;
            break;
        }
        if (cloud && !first_job_at && connects_ended_at && counters.ever_connected.load() > 0 &&
            now - *connects_ended_at >= kNoJobWait) {
            std::fprintf(stderr,
                         "\nota_fleet: no device received a job %lld s after the connects ended "
                         "(check the cloud user's ACL and the push options); ending the run\n",
                         static_cast<long long>(kNoJobWait.count()));
            end_ = RunEnd::no_job;
            break;
        }
    }
    if (!o.quiet) status.close();
    scheduler.stop();
    stats_ = scheduler.stats();
    offloader.stop();  // the disconnects in flight end before the devices do

    // Disconnects take a broker round trip each: spread them over the worker count.
    {
        std::vector<std::thread> finishers;
        const std::size_t k = scheduler.threads();
        for (std::size_t t = 0; t < k; ++t) {
            finishers.emplace_back([&devices, t, k] {
                for (std::size_t i = t; i < devices.size(); i += k) devices[i]->finish();
            });
        }
        for (auto& th : finishers) th.join();
    }
    if (waker) {
        waker->stop();
        waker_stats_ = waker->stats();
        proc.waker_subscribes = waker_stats_->subscribes();
    }
    std::vector<CloudRecord> cloud_records;
    if (cloud) {
        cloud->stop();
        cloud_records = cloud->records();
    }

    proc.ended_unix_ms = unix_ms_now();
    const CpuTimes cpu = process_cpu();
    proc.cpu_user_s = cpu.user_s;
    proc.cpu_system_s = cpu.system_s;
    auto unix_at = [&](double ms_since_start) {
        return proc.started_unix_ms + static_cast<std::uint64_t>(std::max(0.0, ms_since_start));
    };
    summary_ = FleetSummary{};
    summary_.seed = o.seed;
    summary_.mix = o.mix_text;
    summary_.link = o.link_text;
    for (std::size_t i = 0; i < devices.size(); ++i) {
        const Device& d = *devices[i];
        DeviceRecord rec = d.record();
        // The seed's prediction holds for a device that is given a job; a run without any job
        // (idle) has none to compare with, nor has a device that never connected (the seed
        // does not predict connect failures: they are counted apart, as connect_failed).
        if ((o.has_push || counters.jobs.load() > 0) && rec.outcome != Outcome::connect_failed) {
            rec.expected = expected_outcome(behaviours[i]);
        }
        if (i < cloud_records.size())
            rec.cloud_outcome = cloud_outcome(cloud_records[i], o.push.version);
        if (rec.connected_at_ms && rec.connect_latency_ms) {
            const std::uint64_t began = unix_at(*rec.connected_at_ms - *rec.connect_latency_ms);
            const std::uint64_t done = unix_at(*rec.connected_at_ms);
            if (proc.connect_first_unix_ms == 0 || began < proc.connect_first_unix_ms) {
                proc.connect_first_unix_ms = began;
            }
            proc.connect_last_unix_ms = std::max(proc.connect_last_unix_ms, done);
        }
        if (const auto s = d.download_started_ms()) {
            const std::uint64_t began = unix_at(*s);
            if (proc.download_first_unix_ms == 0 || began < proc.download_first_unix_ms) {
                proc.download_first_unix_ms = began;
            }
        }
        if (const auto e = d.download_ended_ms()) {
            proc.download_last_unix_ms = std::max(proc.download_last_unix_ms, unix_at(*e));
        }
        summary_.devices.push_back(std::move(rec));
    }
    summary_.processes.push_back(proc);
    return {};
}

}  // namespace ota::fleet
