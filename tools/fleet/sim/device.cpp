// Device: see device.hpp. The phases, and what moves a device between them:
//   waiting -(late-join delay, then a paced slot)-> connecting -(outcome ok)-> online
//   online -(push, client PUSHED)-> downloading -(image complete or failed)-> reporting
//   reporting -(final reports out)-> online (failed job) | offline (valid image: "reboot")
//             | gone (never_return)
//   online -(churn period)-> offline -(a moment later)-> connecting -> online
//   connecting -(failed)-> offline (retry) | gone (first connect failed connect_attempts times)
// The device's view of its outcome is settled when the job fails (step reported) or when the
// device is back after the reboot and its version report is out (updated / rolled_back).
// Measures: connect latency = start_connect() -> the channel's event that ended it (stamped in the
// event callback); push -> first progress = the job handler -> the first fetch_yield() (which
// publishes step 0); download = first fetch_yield() -> image complete; job = push -> back from
// the reboot with the version report published (the channel's on_connected).
#include "device.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "ota/curl/curl_transfer_pool.hpp"
#include "ota/hal_posix/file_sink.hpp"

namespace ota::fleet {

namespace {

constexpr std::chrono::milliseconds kDownloadTick{100};
constexpr std::chrono::milliseconds kReportTick{100};
// How long a finished job waits for its final reports before the device "reboots" anyway.
constexpr std::chrono::seconds kReportWait{10};
// A pending start_connect() that has not ended this long after its own timeout is abandoned.
constexpr std::chrono::seconds kConnectGrace{5};
// Bytes one run() of a downloading device may take before the next device of the shard runs.
constexpr std::size_t kFetchBuffer = 64 * 1024;
constexpr int kFetchRounds = 16;

std::uint8_t* fetch_buffer() {
    // One per worker thread: a device's bytes are hashed (and stored) inside fetch_yield and
    // never needed after it returns, so every device of the shard can share it.
    thread_local std::vector<std::uint8_t> buf(kFetchBuffer);
    return buf.data();
}

Outcome outcome_for(Status s) {
    switch (s) {
        case Status::digest_mismatch:
            return Outcome::digest_mismatch;
        case Status::storage_failed:
        case Status::storage_full:
            return Outcome::storage_failed;
        default:
            return Outcome::download_failed;
    }
}

std::optional<std::uint64_t> at_fraction(std::optional<double> fraction, std::uint64_t size) {
    if (!fraction || size == 0) return std::nullopt;
    const auto at = static_cast<std::uint64_t>(*fraction * static_cast<double>(size));
    return std::min<std::uint64_t>(at, size - 1);
}

}  // namespace

/// Hears the channel's own events (inside the client's poll(), on the worker thread).
class DeviceListener final : public ChannelListener {
  public:
    explicit DeviceListener(std::function<void(bool)> on_state) : on_state_(std::move(on_state)) {}
    void on_message(std::string_view, std::string_view) override {}
    void on_connected() override { on_state_(true); }
    void on_connection_lost() override { on_state_(false); }

  private:
    std::function<void(bool)> on_state_;
};

Device::Device(std::uint64_t index, DeviceIdentity identity, const Behaviour& behaviour,
               const DeviceEnv& env)
    : index_(index), identity_(std::move(identity)), behaviour_(behaviour), env_(env) {
    record_.index = index;
    record_.device_name = identity_.device_name;
    record_.outcome = Outcome::no_job;
}

Device::~Device() {
    if (client_) client_->deinit();
    if (channel_ && listener_) channel_->remove_listener(*listener_);
}

Error device_mqtt_options(const DeviceIdentity& id, const std::string& host, std::uint16_t port,
                          bool tls, const std::string& ca_file, MqttOptions& out) {
    ConnectOptions co;
    co.custom_host = host;
    co.port = port;
    co.secure_mode = tls ? SecureMode::tls : SecureMode::tcp;
    ConnectionInfo conn;
    if (Error e = make_connection_info(id, co, conn); !e.ok()) return e;
    out = MqttOptions::from(conn);
    out.use_tls = tls;
    out.ca_file = ca_file;
    return {};
}

Error Device::attach() {
    MqttOptions mo;
    if (Error e = device_mqtt_options(identity_, env_.host, env_.port, env_.tls, env_.ca_file, mo);
        !e.ok()) {
        return e;
    }
    mo.connect_timeout = env_.connect_timeout;
    channel_ = std::make_unique<PahoChannel>(std::move(mo));

    task_id_ = env_.scheduler->add(*this);
    Scheduler* scheduler = env_.scheduler;
    const std::size_t id = task_id_;
    auto wake = [scheduler, id] { scheduler->wake(id); };
    // The channel's events are also stamped: the connect measures then say when the broker
    // accepted, not when the device's (possibly busy) worker got round to looking.
    channel_->set_event_callback([this, wake] {
        last_event_ns_.store(SimClock::now().time_since_epoch().count(), std::memory_order_release);
        // The first event after start_connect() is its outcome: no need to wake paho any more.
        release_waker();
        wake();
    });
    source_ = env_.make_source(wake);
    faults_ = std::make_unique<FaultSource>(*source_);
    if (env_.file_sink_dir.empty()) {
        base_sink_ = std::make_unique<DiscardSink>();
    } else {
        base_sink_ = std::make_unique<FileSink>(std::filesystem::path(env_.file_sink_dir) /
                                                (identity_.device_name + ".bin"));
    }
    sink_ = std::make_unique<FailingSink>(*base_sink_);

    ClientOptions opts;
    opts.product_key = identity_.product_key;
    opts.device_name = identity_.device_name;
    opts.allow_http = env_.allow_http;
    opts.retry.jitter_seed = index_ + 1;  // reproducible backoff per device
    client_ = std::make_unique<OtaClient>(*channel_, *faults_, std::move(opts));
    if (Error e = client_->init(); !e.ok()) return e;
    if (Error e = client_->set_sink(sink_.get()); !e.ok()) return e;
    client_->set_job_handler([this](const UpgradeJob& job) { on_job(job); });
    listener_ = std::make_unique<DeviceListener>([this](bool up) { on_channel(up); });
    channel_->add_listener(*listener_);
    // Remembered now, published by the client once the first connect has restored the
    // subscriptions (so that a push answering it finds the device subscribed).
    running_version_ = env_.version;
    (void)client_->report_version(running_version_);
    return {};
}

double Device::ms_since_start(SimClock::time_point t) const {
    return std::chrono::duration<double, std::milli>(t - env_.run_start).count();
}

std::optional<SimClock::time_point> Device::run(SimClock::time_point now) {
    if (polling_.load(std::memory_order_acquire)) {
        // The offloader is polling the client; it wakes the device when done.
        missed_wake_ = true;
        return std::nullopt;
    }
    return step(now);
}

std::optional<SimClock::time_point> Device::step(SimClock::time_point now) {
    switch (phase_) {
        case Phase::waiting: {
            const auto join = env_.run_start + std::chrono::milliseconds(behaviour_.late_join_ms);
            if (now < join) return join;
            if (!start_at_) start_at_ = env_.connect_pacer->acquire(now);
            if (now < *start_at_) return *start_at_;
            return start_connect(now);
        }
        case Phase::connecting:
            return check_connect(now);
        case Phase::online:
            return idle(now);
        case Phase::downloading:
            return download(now);
        case Phase::reporting:
            return report(now);
        case Phase::offline:
            // The offloader wakes the device when its disconnect has ended. Not next_at_: a
            // disconnect can outlast the reboot delay (paho's send thread is busy in a big
            // fleet), and a deadline in the past would re-run the device at once, again and again.
            if (disconnecting_.load(std::memory_order_acquire)) return std::nullopt;
            if (rebooting_) finish_reboot();
            if (now < next_at_) return next_at_;
            return start_connect(now);
        case Phase::gone:
            return std::nullopt;
    }
    return std::nullopt;
}

std::optional<SimClock::time_point> Device::start_connect(SimClock::time_point now) {
    connect_started_ = now;
    phase_ = Phase::connecting;
    connect_deadline_ = now + env_.connect_timeout + kConnectGrace;
    if (env_.waker) {
        waker_held_.store(true, std::memory_order_release);
        env_.waker->begin();
    }
    if (const Error e = channel_->start_connect(); !e.ok()) {
        release_waker();
        return connect_failed(now, e);
    }
    return connect_deadline_;
}

void Device::release_waker() noexcept {
    if (waker_held_.exchange(false, std::memory_order_acq_rel) && env_.waker) env_.waker->end();
}

std::optional<SimClock::time_point> Device::check_connect(SimClock::time_point now) {
    const std::optional<Error> outcome = channel_->connect_outcome();
    if (!outcome) {
        if (now < connect_deadline_) return connect_deadline_;
        channel_->disconnect();  // abandons the attempt
        release_waker();
        return connect_failed(now, Error{Status::timeout, "connect did not end in time"});
    }
    release_waker();  // normally done by the event callback already
    if (!outcome->ok()) return connect_failed(now, *outcome);
    if (!record_.connect_latency_ms) {
        // The last channel event before now is the connect's end (or later, never earlier).
        const SimClock::time_point stamped{
            SimClock::duration(last_event_ns_.load(std::memory_order_acquire))};
        const SimClock::time_point done =
            stamped >= connect_started_ && stamped <= now ? stamped : now;
        record_.connect_latency_ms =
            std::chrono::duration<double, std::milli>(done - connect_started_).count();
        record_.connected_at_ms = ms_since_start(done);
        env_.counters->ever_connected.fetch_add(1, std::memory_order_relaxed);
    }
    phase_ = Phase::online;
    if (behaviour_.churn_period_ms > 0) {
        next_at_ = now + std::chrono::milliseconds(behaviour_.churn_period_ms);
    }
    return idle(now);
}

std::optional<SimClock::time_point> Device::connect_failed(SimClock::time_point now,
                                                           const Error& e) {
    ++record_.connect_failures;
    env_.counters->connect_failures.fetch_add(1, std::memory_order_relaxed);
    record_.detail = e.message();
    ++failed_connects_;
    if (!record_.connect_latency_ms && failed_connects_ >= env_.connect_attempts) {
        phase_ = Phase::gone;
        settle(Outcome::connect_failed);
        return std::nullopt;
    }
    // Back off (1 s, 2 s, ... up to 10 s), spread by the device index so that a fleet cut off
    // at once does not come back in lockstep.
    const auto backoff = std::chrono::milliseconds(std::min(10000, 1000 * failed_connects_) +
                                                   static_cast<int>(index_ % 500));
    phase_ = Phase::offline;
    next_at_ = now + backoff;
    return next_at_;
}

void Device::on_channel(bool up) {
    if (up == connected_) return;
    connected_ = up;
    if (up) {
        // Every (re)connect: the device's own and paho's automatic ones after a lost connection.
        ++record_.connects;
        env_.counters->connected_now.fetch_add(1, std::memory_order_relaxed);
        failed_connects_ = 0;
        if (connect_why_ == ConnectWhy::reboot) {
            // Back from the "reboot": the client re-reports the remembered version on this very
            // event (subscriptions restored), which is where the job ends for the platform.
            connect_why_ = ConnectWhy::first;
            const auto now = SimClock::now();
            if (push_at_) {
                record_.job_ms = std::chrono::duration<double, std::milli>(now - *push_at_).count();
            }
            settle(behaviour_.rollback ? Outcome::rolled_back : Outcome::updated);
        }
    } else {
        env_.counters->connected_now.fetch_sub(1, std::memory_order_relaxed);
    }
}

std::optional<SimClock::time_point> Device::idle(SimClock::time_point now) {
    // A poll may block: a reconnect makes the client publish its version with QoS 1 and wait
    // for the PUBACK, which takes paho's (shared, busy) send thread; on the offloader the worker
    // meanwhile serves the other devices of its shard. The device does nothing else until the
    // poll is back (run() checks polling_).
    if (!polled_ && env_.offloader != nullptr) {
        polled_ = true;
        missed_wake_ = false;
        polling_.store(true, std::memory_order_release);
        Scheduler* scheduler = env_.scheduler;
        const std::size_t id = task_id_;
        env_.offloader->post([this, scheduler, id] {
            poll_started_ns_ = SimClock::now().time_since_epoch().count();
            (void)client_->poll(std::chrono::milliseconds(0));
            polling_.store(false, std::memory_order_release);
            scheduler->wake(id);
        });
        return std::nullopt;
    }
    if (env_.offloader == nullptr) {
        // Inline poll: stamp it as the offloaded one does, or every later run would see the
        // last event as new and re-run the device at once for ever.
        poll_started_ns_ = SimClock::now().time_since_epoch().count();
        (void)client_->poll(std::chrono::milliseconds(0));
    }
    polled_ = false;
    // Something arrived while the poll ran, or after it (that wake may have coalesced with the
    // poll's own): poll again right away.
    const bool again =
        missed_wake_ || last_event_ns_.load(std::memory_order_acquire) > poll_started_ns_;
    missed_wake_ = false;
    if (client_->is_fetching()) {
        phase_ = Phase::downloading;
        return download(now);
    }
    if (again) return now;
    if (behaviour_.churn_period_ms == 0) return std::nullopt;
    if (now < next_at_) return next_at_;
    // Churn: off for a quarter of the period (0.5..5 s), then back.
    go_offline();
    phase_ = Phase::offline;
    connect_why_ = ConnectWhy::churn;
    const auto off = std::clamp<std::uint32_t>(behaviour_.churn_period_ms / 4, 500, 5000);
    next_at_ = now + std::chrono::milliseconds(off);
    return next_at_;
}

void Device::on_job(const UpgradeJob& job) {
    const auto now = SimClock::now();
    push_at_ = now;
    job_version_ = job.version;
    job_started_ = false;
    first_progress_ = false;
    image_valid_ = false;
    env_.counters->jobs.fetch_add(1, std::memory_order_relaxed);
    FaultPlan plan;
    plan.link_bytes_per_s = behaviour_.link_bytes_per_s;
    plan.cut_at = at_fraction(behaviour_.cut_at_fraction, job.size);
    if (behaviour_.stall_ms > 0) {
        plan.stall_at = at_fraction(behaviour_.stall_at_fraction, job.size);
        plan.stall = std::chrono::milliseconds(behaviour_.stall_ms);
    }
    if (behaviour_.corrupt) plan.corrupt_at = at_fraction(0.5, job.size);
    faults_->set_plan(plan);
    use_sink_for(job);
    sink_->arm(at_fraction(behaviour_.storage_fail_at_fraction, job.size));
}

std::optional<SimClock::time_point> Device::download(SimClock::time_point now) {
    if (!job_started_) {
        job_started_ = true;
        download_started_ = now;
        if (!download_started_ms_) download_started_ms_ = ms_since_start(now);
        download_counted_ = true;
        env_.counters->downloading.fetch_add(1, std::memory_order_relaxed);
    }
    std::uint8_t* buf = fetch_buffer();
    bool more = false;  // the round budget ran out while bytes were still coming
    for (int round = 0; round < kFetchRounds; ++round) {
        const FetchResult r = client_->fetch_yield(buf, kFetchBuffer, std::chrono::milliseconds(0));
        if (!first_progress_) {
            // The first fetch_yield after a push publishes progress 0.
            first_progress_ = true;
            if (push_at_) {
                record_.push_to_progress_ms =
                    std::chrono::duration<double, std::milli>(SimClock::now() - *push_at_).count();
            }
        }
        if (r.status != Status::ok) {
            job_failed(client_->last_error());
            return report(SimClock::now());
        }
        record_.download_bytes += r.bytes;
        env_.counters->bytes.fetch_add(r.bytes, std::memory_order_relaxed);
        if (client_->is_fetch_finished()) {
            end_download(SimClock::now());
            bool valid = false;
            const Error e = client_->check_firmware(valid);
            if (valid) {
                image_valid_ = true;
                phase_ = Phase::reporting;
                report_deadline_ = SimClock::now() + kReportWait;
            } else {
                job_failed(e.ok() ? client_->last_error() : e);
            }
            return report(SimClock::now());
        }
        if (r.bytes == 0) break;
        more = round + 1 == kFetchRounds;
    }
    // Bytes keep coming: run again right after the shard's other woken devices.
    if (more) return now;
    // Nothing now: the source's ready callback wakes the device, the link's budget or a stall
    // says when bytes are due, and the tick covers the client's backoff between attempts. The
    // wrapper's ready_at() is only current when the client read it in this run (it does not
    // read while backing off), so a past one is ignored: re-running at once would spin.
    auto next = now + kDownloadTick;
    if (const auto ready = faults_->ready_at(); ready && *ready > now && *ready < next) {
        next = *ready;
    }
    return next;
}

void Device::end_download(SimClock::time_point now) {
    if (download_started_ && !record_.download_ms) {
        record_.download_ms =
            std::chrono::duration<double, std::milli>(now - *download_started_).count();
    }
    if (download_counted_) {
        download_ended_ms_ = ms_since_start(now);
        download_counted_ = false;
        env_.counters->downloading.fetch_sub(1, std::memory_order_relaxed);
    }
}

void Device::job_failed(const Error& e) {
    end_download(SimClock::now());
    record_.detail = e.detail.empty() ? std::string(to_string(e.status)) : e.detail;
    settle(outcome_for(e.status));
    phase_ = Phase::reporting;
    image_valid_ = false;
    report_deadline_ = SimClock::now() + kReportWait;
}

std::optional<SimClock::time_point> Device::report(SimClock::time_point now) {
    (void)client_->poll(std::chrono::milliseconds(0));
    if (client_->queued_reports() > 0 && now < report_deadline_) return now + kReportTick;
    // The job is over: the download's ring and libcurl handle are not needed until the next one.
    if (auto* pooled = dynamic_cast<PooledCurlByteSource*>(source_.get())) {
        pooled->release_buffers();
    }
    if (!image_valid_) {
        // A failed job: the device keeps running its old version and waits for the next job.
        client_->reset();
        drop_flash();
        phase_ = Phase::online;
        if (behaviour_.churn_period_ms > 0) {
            next_at_ = now + std::chrono::milliseconds(behaviour_.churn_period_ms);
        }
        return idle(now);
    }
    image_valid_ = false;
    go_offline();
    if (behaviour_.never_return) {
        phase_ = Phase::gone;
        settle(Outcome::never_returned);
        return std::nullopt;
    }
    running_version_ = behaviour_.rollback ? running_version_ : job_version_;
    rebooting_ = true;
    connect_why_ = ConnectWhy::reboot;
    phase_ = Phase::offline;
    next_at_ = now + env_.reboot;
    return next_at_;
}

void Device::use_sink_for(const UpgradeJob& job) {
    FirmwareSink* base = base_sink_.get();
    if (env_.flash_sink) {
        drop_flash();
        if (const Error e = FlashSlots::create(job, running_version_, flash_); !e.ok()) {
            // Without its flash the device still downloads and verifies (hash only).
            record_.detail = "flash sink: " + e.message();
        } else {
            base = &flash_->sink();
        }
    }
    if (&sink_->inner() == base) return;
    auto next = std::make_unique<FailingSink>(*base);
    if (client_->set_sink(next.get()).ok()) sink_ = std::move(next);
}

void Device::drop_flash() {
    if (!flash_) return;
    // The client keeps its sink pointer (deinit() suspends the sink): point it away first.
    auto next = std::make_unique<FailingSink>(*base_sink_);
    if (!client_->set_sink(next.get()).ok()) return;  // still fetching: keep the flash
    sink_ = std::move(next);
    flash_.reset();
}

void Device::finish_reboot() {
    rebooting_ = false;
    client_->reset();
    if (flash_) {
        // The bootloader decides what runs: the new image confirmed, or (a device whose new
        // image fails its self-test) rolled back on the next boot.
        std::string booted;
        if (const Error e = flash_->reboot(!behaviour_.rollback, booted); e.ok()) {
            running_version_ = booted;
        } else {
            record_.detail = "flash reboot: " + e.message();
        }
        drop_flash();
    }
    // Remembered while offline; published when the reconnect is complete.
    (void)client_->report_version(running_version_);
}

void Device::go_offline() {
    if (connected_) on_channel(false);
    if (env_.offloader == nullptr) {
        channel_->disconnect();
        return;
    }
    disconnecting_.store(true, std::memory_order_release);
    Scheduler* scheduler = env_.scheduler;
    const std::size_t id = task_id_;
    env_.offloader->post([this, scheduler, id] {
        channel_->disconnect();
        disconnecting_.store(false, std::memory_order_release);
        scheduler->wake(id);
    });
}

void Device::settle(Outcome outcome) {
    if (settled_.load(std::memory_order_relaxed)) return;
    record_.outcome = outcome;
    env_.counters->outcomes[static_cast<std::size_t>(outcome)].fetch_add(1,
                                                                         std::memory_order_relaxed);
    env_.counters->settled.fetch_add(1, std::memory_order_relaxed);
    settled_.store(true, std::memory_order_release);
}

void Device::finish() noexcept {
    if (!settled_.load()) {
        Outcome o = Outcome::no_job;
        if (!record_.connect_latency_ms) {
            o = Outcome::connect_failed;
        } else if (push_at_) {
            o = Outcome::stopped;
        }
        record_.outcome = o;
        env_.counters->outcomes[static_cast<std::size_t>(o)].fetch_add(1,
                                                                       std::memory_order_relaxed);
    }
    end_download(SimClock::now());
    if (client_) client_->deinit();
    if (channel_) channel_->disconnect();
    release_waker();
    if (connected_) on_channel(false);
}

}  // namespace ota::fleet
