// One simulated device: a real OtaClient on its own PahoChannel, a real byte source wrapped in the
// device's faults, and a sink, driven step by step by the fleet's scheduler.
//
// Why a step machine instead of the example device's loop: a loop blocks its thread, and a
// fleet has thousands of devices on two threads. Every call here is non-blocking (connects with
// PahoChannel::start_connect, fetch_yield with timeout 0 behind a FaultSource that never waits);
// the device returns when it next needs to run, and the channel's event callback and the byte
// source's ready callback wake it earlier. The two calls that do wait for the broker - a poll
// that makes the client publish its version with QoS 1 (it waits for the PUBACK) and a graceful
// disconnect - run on an Offloader, because in one process every connection shares paho's one
// send thread and those waits grow with the fleet (measured: 9 s of 1000 devices' worker time
// in a 1000 x 1 MiB run, 2.9 s once offloaded). The device does nothing else meanwhile.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "connect_waker.hpp"
#include "core/behaviour.hpp"
#include "core/outcome.hpp"
#include "core/stats.hpp"
#include "fault_source.hpp"
#include "flash_slots.hpp"
#include "ota/auth.hpp"
#include "ota/byte_source.hpp"
#include "ota/client.hpp"
#include "ota/firmware_sink.hpp"
#include "ota/options.hpp"
#include "ota/paho/paho_channel.hpp"
#include "scheduler.hpp"
#include "sim_sinks.hpp"

namespace ota::fleet {

/// Live counters of a run, updated by the devices (relaxed atomics; for the status line).
struct FleetCounters {
    std::atomic<std::uint64_t> connected_now{0};              ///< devices connected at this moment
    std::atomic<std::uint64_t> ever_connected{0};             ///< devices connected at least once
    std::atomic<std::uint64_t> connect_failures{0};           ///< failed connect attempts
    std::atomic<std::uint64_t> jobs{0};                       ///< jobs (pushes) accepted
    std::atomic<std::uint64_t> downloading{0};                ///< downloads running at this moment
    std::atomic<std::uint64_t> bytes{0};                      ///< image bytes received, all devices
    std::atomic<std::uint64_t> settled{0};                    ///< devices with a final outcome
    std::atomic<std::uint64_t> outcomes[kOutcomeCount] = {};  ///< final outcomes so far
};

/// Makes the byte source of one device; `ready` is to be called (on any thread) when the source
/// has something new for read(). The fleet passes a factory for PooledCurlByteSource.
using SourceFactory = std::function<std::unique_ptr<ByteSource>(std::function<void()> ready)>;

/// The MQTT options of device `id` on the broker at `host`:`port` (the platform's credentials,
/// PROTOCOL.md section 1), over TLS verified with `ca_file` unless `tls` is off.
[[nodiscard]] Error device_mqtt_options(const DeviceIdentity& id, const std::string& host,
                                        std::uint16_t port, bool tls, const std::string& ca_file,
                                        MqttOptions& out);

/// What every device of a run shares. Everything referenced must outlive the devices.
struct DeviceEnv {
    Scheduler* scheduler = nullptr;
    RatePacer* connect_pacer = nullptr;
    /// Kept busy while this device's connects are outstanding (nullptr: none; paho issue 1430).
    ConnectWaker* waker = nullptr;
    /// Where disconnects run (nullptr: on the worker itself).
    Offloader* offloader = nullptr;
    FleetCounters* counters = nullptr;
    SourceFactory make_source;
    SimClock::time_point run_start;
    std::string host;
    std::uint16_t port = 0;
    bool tls = true;
    std::string ca_file;                     ///< the broker's CA (TLS)
    bool allow_http = false;                 ///< plain http:// image URLs
    std::string version = "1.0.0";           ///< the version every device starts with
    std::chrono::milliseconds reboot{2000};  ///< "reboot" after a valid image
    std::string file_sink_dir;               ///< non-empty: a FileSink per device under it
    /// A/B slots on simulated flash per job (FlashSlots) instead of the sink above; the reboot is
    /// then the bootloader's trial boot, and a rollback device really rolls back.
    bool flash_sink = false;
    /// MQTT connect timeout of each attempt (many concurrent TLS handshakes take a while).
    std::chrono::milliseconds connect_timeout{30000};
    int connect_attempts = 3;  ///< first-connect attempts before the device is connect_failed
};

/// One simulated device (see the file comment). Created, then added to the scheduler (attach());
/// everything else happens in run() on its worker, and in finish() after the scheduler stopped.
class Device final : public Task {
  public:
    /// Device `index` (global) with identity and behaviour; nothing happens until run().
    Device(std::uint64_t index, DeviceIdentity identity, const Behaviour& behaviour,
           const DeviceEnv& env);
    ~Device() override;
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    /// Registers with the scheduler (before it starts) and wires the wake-ups. Errors: the
    /// client's init() (invalid options), the connection info (identity out of range).
    [[nodiscard]] Error attach();
    std::optional<SimClock::time_point> run(SimClock::time_point now) override;
    /// Ends the device after the scheduler stopped: the record's outcome becomes final (no_job,
    /// connect_failed or stopped when none was reached), the client is stopped (not a failure)
    /// and the channel disconnected.
    void finish() noexcept;

    /// True once the device reached a final outcome of its job (or failed to connect for good).
    [[nodiscard]] bool settled() const noexcept { return settled_.load(std::memory_order_acquire); }
    /// The device's measures (complete after finish()).
    [[nodiscard]] const DeviceRecord& record() const noexcept { return record_; }
    /// When the device accepted its job (steady clock), if it did.
    [[nodiscard]] std::optional<SimClock::time_point> pushed_at() const noexcept {
        return push_at_;
    }
    /// When the download started and ended (ms since the run's start), if it did.
    [[nodiscard]] std::optional<double> download_started_ms() const noexcept {
        return download_started_ms_;
    }
    /// See download_started_ms().
    [[nodiscard]] std::optional<double> download_ended_ms() const noexcept {
        return download_ended_ms_;
    }

  private:
    enum class Phase {
        waiting,      // before the first connect (late joiners wait here)
        connecting,   // start_connect() ran, outcome pending
        online,       // connected, idle or with a job not yet started
        downloading,  // fetch_yield() until the image is complete
        reporting,    // the job ended: waiting until the client's final reports are out
        offline,      // disconnected on purpose: churn or the "reboot"
        gone,         // never comes back (never_return, connect failed)
    };
    enum class ConnectWhy { first, churn, reboot };

    std::optional<SimClock::time_point> step(SimClock::time_point now);
    std::optional<SimClock::time_point> start_connect(SimClock::time_point now);
    std::optional<SimClock::time_point> check_connect(SimClock::time_point now);
    std::optional<SimClock::time_point> idle(SimClock::time_point now);
    std::optional<SimClock::time_point> download(SimClock::time_point now);
    std::optional<SimClock::time_point> report(SimClock::time_point now);
    std::optional<SimClock::time_point> connect_failed(SimClock::time_point now, const Error& e);
    void on_channel(bool up);
    void on_job(const UpgradeJob& job);
    void job_failed(const Error& e);
    void end_download(SimClock::time_point now);
    void go_offline();
    void release_waker() noexcept;
    void use_sink_for(const UpgradeJob& job);
    void finish_reboot();
    void drop_flash();
    void settle(Outcome outcome);
    double ms_since_start(SimClock::time_point t) const;

    std::uint64_t index_;
    DeviceIdentity identity_;
    Behaviour behaviour_;
    const DeviceEnv& env_;
    std::size_t task_id_ = 0;

    // When the channel's event callback last fired (steady clock ticks). Declared before the
    // channel: the callback may still be returning while the channel is destroyed.
    std::atomic<SimClock::rep> last_event_ns_{0};
    // A begin() of env_.waker not yet matched by end(): set by start_connect(), cleared by the
    // first channel event after it (the outcome; on paho's thread) or by the worker. Before the
    // channel too, for the same reason.
    std::atomic<bool> waker_held_{false};
    std::unique_ptr<PahoChannel> channel_;
    std::unique_ptr<ByteSource> source_;
    std::unique_ptr<FaultSource> faults_;
    std::unique_ptr<FirmwareSink> base_sink_;
    std::unique_ptr<FailingSink> sink_;
    std::unique_ptr<FlashSlots> flash_;  // --sink flash: the current job's flash
    std::unique_ptr<OtaClient> client_;
    std::unique_ptr<ChannelListener> listener_;

    Phase phase_ = Phase::waiting;
    ConnectWhy connect_why_ = ConnectWhy::first;
    bool connected_ = false;  // counted in connected_now
    bool download_counted_ = false;
    std::optional<SimClock::time_point> start_at_;  // paced first-connect slot
    SimClock::time_point connect_started_{};
    SimClock::time_point connect_deadline_{};
    SimClock::time_point next_at_{};  // churn / reboot / retry timer
    SimClock::time_point report_deadline_{};
    int failed_connects_ = 0;

    std::optional<SimClock::time_point> push_at_;
    std::optional<SimClock::time_point> download_started_;
    std::optional<double> download_started_ms_;
    std::optional<double> download_ended_ms_;
    bool job_started_ = false;  // fetch_yield was called for the current job
    bool first_progress_ = false;
    bool image_valid_ = false;
    std::string job_version_;
    std::string running_version_;
    std::atomic<bool> settled_{false};
    // A disconnect runs on the offloader: the channel is not touched until it has ended.
    std::atomic<bool> disconnecting_{false};
    // The offloader runs the client's poll (idle()); nothing else touches the device meanwhile.
    std::atomic<bool> polling_{false};
    bool polled_ = false;                // idle(): the offloaded poll is back, evaluate it
    bool missed_wake_ = false;           // woken while polling_: poll again
    SimClock::rep poll_started_ns_ = 0;  // when the last poll began (offloaded: before polling_)
    // Back from a valid image: the client drops the job and remembers the running version once
    // the disconnect has ended (then the reconnect publishes it).
    bool rebooting_ = false;
    DeviceRecord record_;
};

}  // namespace ota::fleet
