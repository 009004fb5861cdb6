// OtaClient: the basic OTA API's state machine (PROTOCOL.md section 6).
//
// Decisions worth knowing when reading this file:
//  - The end of the body is awaited inside the fetch_yield() call that delivered the last byte:
//    one extra read() (waiting up to ClientOptions::end_of_body_wait) goes into a small scratch
//    buffer, so the returned bytes stay intact in the caller's buffer. If the source returns early
//    without an answer, the following fetch_yield() calls keep reading (into the caller's buffer,
//    returning 0) until the deadline; a body that has not ended by then fails the download (-2,
//    Status::timeout): exactly `size` bytes cannot be confirmed.
//  - Failures in the download path are either transient or permanent (RetryPolicy in
//    options.hpp). A transient one (transport error, timeout, stall, short body, HTTP 408/429/
//    5xx) closes the source and schedules another attempt after a backoff; fetch_yield() keeps
//    returning "nothing yet" meanwhile, waiting at most its timeout inside the channel's yield()
//    so that MQTT traffic is still served. The next attempt asks for `Range: bytes=<fetched>-`
//    and continues the same digest. A 200 to that request means the server ignored the Range:
//    with a sink the download restarts at byte 0 (fresh digest, sink begun again); without one
//    the application already stored the first bytes itself, so they are skipped in the new body
//    instead of being handed out twice. A permanent failure (or running out of attempts or time) is
//    reported (-2 / -4) once, the sink's partial image is dropped, the source closed and the job
//    forgotten (state INITED). A digest mismatch keeps the state FETCHED (the result is cached)
//    until reset() or a new push.
//  - Crash resume: with a sink that keeps resume records, the client periodically flushes the
//    sink and saves the job's identity with the flushed byte count (resume_record.hpp). When the
//    same job starts again, the stored bytes are re-hashed through the sink (in the caller's
//    buffer, a bounded amount per fetch_yield) and the download continues from there.
//  - Reports the client makes itself: 1..99 (and 0) are dropped while the channel is down; the
//    final 100 and failure steps are queued and published once it is back (on_connected, or the
//    next poll()/fetch_yield() that finds it connected). The application's own report_progress()
//    is never queued: it returns not_connected and the application decides.
//  - Refused jobs (size 0, too large, multi-file, plain http, a downgrade under DowngradePolicy)
//    and malformed pushes are reported as step -1 outside the per-job failure budget: they never
//    became the current job.
//  - The fetch hot path touches only preallocated state: no string is built and no std::function
//    copied per chunk; progress messages are composed only when the throttle lets one through.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <limits>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/backoff.hpp"
#include "core/content_range.hpp"
#include "core/progress_throttle.hpp"
#include "core/resume_record.hpp"
#include "ota/client.hpp"
#include "ota/log.hpp"

namespace ota {

const char* to_string(OtaState state) noexcept {
    switch (state) {
        case OtaState::uninited:
            return "uninited";
        case OtaState::inited:
            return "inited";
        case OtaState::pushed:
            return "pushed";
        case OtaState::fetching:
            return "fetching";
        case OtaState::fetched:
            return "fetched";
    }
    return "unknown";
}

namespace {

constexpr std::size_t kMaxProductKeyLength = 20;
constexpr std::size_t kMaxDeviceNameLength = 32;
constexpr std::chrono::milliseconds kMaxEndOfBodyWait{60000};
constexpr int kSubscribeQos = 1;
constexpr int kInformQos = 1;
constexpr int kFirmwareGetQos = 1;
/// Untrusted header values quoted in a progress desc are cut to this length.
constexpr std::size_t kMaxQuotedHeader = 64;
/// Final (100) and failure reports waiting for the broker; older ones are dropped beyond this.
constexpr std::size_t kMaxQueuedReports = 8;
constexpr int kMaxAttemptsLimit = 10000;
constexpr std::chrono::milliseconds kMaxTotalDeadline{7LL * 24 * 3600 * 1000};
constexpr std::chrono::milliseconds kMaxBackoffLimit{3600 * 1000};
constexpr std::chrono::milliseconds kMaxStallWindow{3600 * 1000};
constexpr std::chrono::milliseconds kMaxRecordInterval{3600 * 1000};
constexpr std::uint64_t kMaxRecordEveryBytes = 1ULL << 30;

bool log_enabled(LogLevel level) noexcept {
    return static_cast<int>(level) >= static_cast<int>(log_level());
}

/// Builds the record only when it would be emitted.
template <class Build>
void log_lazy(LogLevel level, Build&& build) {
    if (log_enabled(level)) log(level, build());
}

Error check_topic_level(const char* what, std::string_view value, std::size_t max_len) {
    if (value.empty()) return {Status::invalid_argument, std::string(what) + " is empty"};
    if (value.size() > max_len) {
        return {Status::invalid_argument,
                std::string(what) + " is longer than " + std::to_string(max_len) + " characters"};
    }
    for (const char c : value) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '/' || c == '+' || c == '#' || u < 0x20 || u == 0x7F) {
            return {Status::invalid_argument,
                    std::string(what) +
                        " contains a character not allowed in a topic level ('/', '+', '#' or a "
                        "control character)"};
        }
    }
    return {};
}

Error validate_retry_and_resume(const ClientOptions& o) {
    const RetryPolicy& r = o.retry;
    const auto ms = [](std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; };
    if (r.max_attempts < 1 || r.max_attempts > kMaxAttemptsLimit) {
        return {Status::invalid_argument,
                "retry.max_attempts must be in 1..10000, got " + std::to_string(r.max_attempts)};
    }
    if (r.total_deadline < std::chrono::seconds(1) || r.total_deadline > kMaxTotalDeadline) {
        return {Status::invalid_argument,
                "retry.total_deadline must be in 1 s .. 7 days, got " + ms(r.total_deadline)};
    }
    if (r.max_backoff < std::chrono::milliseconds(1) || r.max_backoff > kMaxBackoffLimit) {
        return {Status::invalid_argument,
                "retry.max_backoff must be in 1 ms .. 1 h, got " + ms(r.max_backoff)};
    }
    if (r.initial_backoff < std::chrono::milliseconds(1) || r.initial_backoff > r.max_backoff) {
        return {
            Status::invalid_argument,
            "retry.initial_backoff must be in 1 ms .. max_backoff, got " + ms(r.initial_backoff)};
    }
    // Written as negations so that NaN is rejected too.
    if (!(r.multiplier >= 1.0 && r.multiplier <= 10.0)) {
        return {Status::invalid_argument, "retry.multiplier must be in 1.0 .. 10.0"};
    }
    if (!(r.jitter >= 0.0 && r.jitter < 1.0)) {
        return {Status::invalid_argument, "retry.jitter must be in 0.0 .. 1.0 (excluded)"};
    }
    if (r.stall_window < std::chrono::seconds(1) || r.stall_window > kMaxStallWindow) {
        return {Status::invalid_argument,
                "retry.stall_window must be in 1 s .. 1 h, got " + ms(r.stall_window)};
    }
    const ResumePolicy& p = o.resume;
    if (p.record_every_bytes < 1 || p.record_every_bytes > kMaxRecordEveryBytes) {
        return {Status::invalid_argument, "resume.record_every_bytes must be in 1 .. 1 GiB"};
    }
    if (p.record_min_interval.count() < 0 || p.record_min_interval > kMaxRecordInterval) {
        return {Status::invalid_argument,
                "resume.record_min_interval must be in 0 .. 1 h, got " + ms(p.record_min_interval)};
    }
    return {};
}

Error validate_options(const ClientOptions& o) {
    if (auto e = check_topic_level("product_key", o.product_key, kMaxProductKeyLength); !e.ok()) {
        return e;
    }
    if (auto e = check_topic_level("device_name", o.device_name, kMaxDeviceNameLength); !e.ok()) {
        return e;
    }
    if (o.module.size() > kMaxModuleLength) {
        return {Status::invalid_argument,
                "module is longer than " + std::to_string(kMaxModuleLength) + " characters"};
    }
    if (o.progress_qos != 0 && o.progress_qos != 1) {
        return {Status::invalid_argument,
                "progress_qos must be 0 or 1, got " + std::to_string(o.progress_qos)};
    }
    if (o.progress.min_points < 1 || o.progress.min_points > 100) {
        return {Status::invalid_argument, "progress.min_points must be in 1..100, got " +
                                              std::to_string(o.progress.min_points)};
    }
    if (o.progress.min_interval.count() < 0) {
        return {Status::invalid_argument, "progress.min_interval must not be negative"};
    }
    if (o.max_image_size < 1) {
        return {Status::invalid_argument, "max_image_size must be at least 1"};
    }
    if (o.end_of_body_wait.count() < 1 || o.end_of_body_wait > kMaxEndOfBodyWait) {
        return {Status::invalid_argument, "end_of_body_wait must be in 1 ms .. 60 s, got " +
                                              std::to_string(o.end_of_body_wait.count()) + " ms"};
    }
    if (Error e = o.signature.validate(); !e.ok()) return e;
    return validate_retry_and_resume(o);
}

std::uint64_t jitter_seed(std::uint64_t configured) noexcept {
    if (configured != 0) return configured;
    try {
        std::random_device rd;
        return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    } catch (...) {
        // No entropy source: the time still spreads devices that start at different moments.
        return static_cast<std::uint64_t>(
            std::chrono::steady_clock::now().time_since_epoch().count());
    }
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) noexcept {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != prefix[i]) return false;
    }
    return true;
}

/// Whole percent of `done` out of `total` without overflowing 64 bits (0 when total is 0).
int percent_of(std::uint64_t done, std::uint64_t total) noexcept {
    if (total == 0) return 0;
    if (done >= total) return 100;
    constexpr std::uint64_t kLimit = std::numeric_limits<std::uint64_t>::max() / 100;
    const std::uint64_t p = done <= kLimit ? done * 100 / total : done / (total / 100);
    return static_cast<int>(std::min<std::uint64_t>(p, 100));
}

std::string quote_header(std::string_view value) {
    std::string out = "'";
    out.append(value.substr(0, kMaxQuotedHeader));
    if (value.size() > kMaxQuotedHeader) out += "...";
    out += "'";
    return out;
}

}  // namespace

class OtaClient::Impl final : public ChannelListener {
  public:
    Impl(MqttChannel& channel, ByteSource& source, ClientOptions options, const Clock& clock)
        : channel_(channel),
          source_(source),
          options_(std::move(options)),
          clock_(clock),
          throttle_(options_.progress),
          random_(jitter_seed(options_.retry.jitter_seed)) {}

    ~Impl() override { deinit(); }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    // ---- lifecycle ------------------------------------------------------------------------

    Error init() {
        if (state_ != OtaState::uninited) {
            return {Status::invalid_state,
                    std::string("init() called in state ") + to_string(state_)};
        }
        if (auto e = validate_options(options_); !e.ok()) return e;
        topics_ = make_topics(options_.product_key, options_.device_name);
        throttle_ = detail::ProgressThrottle(options_.progress);
        channel_.add_listener(*this);
        for (const std::string* topic : {&topics_.upgrade, &topics_.get_reply}) {
            const Status s = channel_.subscribe(*topic, kSubscribeQos);
            // A disconnected channel remembers the subscription and restores it on connect.
            if (s != Status::ok && s != Status::not_connected) {
                channel_.remove_listener(*this);
                return {s, "subscribing to " + *topic + " failed"};
            }
        }
        state_ = OtaState::inited;
        last_error_ = {};
        failure_reported_ = false;
        log_lazy(LogLevel::debug, [&] {
            return "ota client for " + options_.product_key + "/" + options_.device_name +
                   " initialised";
        });
        return {};
    }

    void deinit() noexcept {
        channel_.remove_listener(*this);
        if (state_ == OtaState::uninited) return;
        drop_job();
        state_ = OtaState::uninited;
        reported_version_.reset();
        queued_reports_.clear();
    }

    // ---- reports --------------------------------------------------------------------------

    Error report_version(std::string_view version) {
        if (state_ == OtaState::uninited) return {Status::invalid_state, "client not initialised"};
        if (version.empty() || version.size() > kMaxVersionLength) {
            return {Status::invalid_argument,
                    "version must be 1.." + std::to_string(kMaxVersionLength) + " characters long"};
        }
        reported_version_ = std::string(version);
        return publish_inform();
    }

    Error report_progress(int step, std::string_view desc) {
        if (state_ == OtaState::uninited) return {Status::invalid_state, "client not initialised"};
        if (step < kStepMin || step > kStepMax) {
            return {Status::invalid_argument,
                    "progress step " + std::to_string(step) + " is outside -4..100"};
        }
        flush_queued_reports();  // keeps the cloud's view in order
        return report(step, desc);
    }

    Error request_image() {
        if (state_ == OtaState::uninited) return {Status::invalid_state, "client not initialised"};
        const std::string payload = encode_firmware_get(next_id(), options_.module);
        const Status s = channel_.publish(topics_.firmware_get, payload, kFirmwareGetQos);
        if (s != Status::ok) return {s, "firmware/get not published"};
        return {};
    }

    Error poll(std::chrono::milliseconds timeout) {
        const Status s = channel_.yield(timeout);
        if (!queued_reports_.empty()) flush_queued_reports();
        if (s != Status::ok) return {s, "channel yield failed"};
        return {};
    }

    // ---- download -------------------------------------------------------------------------

    FetchResult fetch_yield(std::uint8_t* buf, std::size_t len, std::chrono::milliseconds timeout) {
        // Queued pushes, replies and reconnects first; the channel does not allocate when idle.
        (void)channel_.yield(std::chrono::milliseconds(0));
        if (!queued_reports_.empty()) flush_queued_reports();
        if (state_ != OtaState::pushed && state_ != OtaState::fetching) {
            last_error_ = {Status::invalid_state,
                           std::string("fetch_yield() called in state ") + to_string(state_)};
            return {Status::invalid_state, 0};
        }
        if (buf == nullptr || len == 0) {
            last_error_ = {Status::invalid_argument, "fetch_yield() needs a non-empty buffer"};
            return {Status::invalid_argument, 0};
        }
        if (state_ == OtaState::pushed) {
            if (!start_download()) return {last_error_.status, 0};
        }
        switch (phase_) {
            case Phase::rehash:
                return rehash_step(buf, len, timeout);
            case Phase::backoff:
                return backoff_step(buf, len, timeout);
            case Phase::idle:
                // Only reachable when a failure already dropped the job.
                return {last_error_.ok() ? Status::internal : last_error_.status, 0};
            case Phase::streaming:
                break;
        }
        if (awaiting_end_) {
            const Status s = await_end(buf, len);
            return {s, 0};
        }
        return stream_step(buf, len, timeout);
    }

    Error check_firmware(bool& valid) {
        if (state_ != OtaState::fetched) {
            valid = false;
            return {Status::invalid_state,
                    std::string("check_firmware() called in state ") + to_string(state_)};
        }
        if (check_) {
            valid = check_->valid;
            return check_->error;
        }
        CheckResult result;
        std::string actual;
        const Status hs = hasher_.finish_hex(actual);
        if (hs != Status::ok) {
            const std::string desc = std::string("digest could not be computed: ") + to_string(hs);
            (void)report_own(kStepCheckFailed, desc);
            abort_sink();
            result.error = {hs, desc};
            last_error_ = result.error;
        } else if (hex_equal(job_->digest.hex, actual)) {
            result.valid = true;
            // Without a need for the digest (no signature, none required) the policy accepts.
            if (options_.signature.needs_digest(job_->ext_data_json)) {
                if (Error se = check_signature(actual); !se.ok()) {
                    log(LogLevel::error, se.detail);
                    (void)report_own(kStepCheckFailed, se.detail);
                    abort_sink();
                    result.valid = false;  // like a digest mismatch: valid false, call ok
                    last_error_ = se;
                }
            }
            if (result.valid && sink_ != nullptr && sink_active_) {
                const Status cs = sink_->commit();
                if (cs != Status::ok) {
                    const std::string desc =
                        std::string("storage failed: committing the image failed: ") +
                        to_string(cs);
                    (void)report_own(kStepBurnFailed, desc);
                    abort_sink();
                    result.valid = false;
                    result.error = {Status::storage_failed, desc};
                    last_error_ = result.error;
                } else {
                    sink_active_ = false;
                    if (records_supported_) sink_->clear_record();
                    records_ = false;
                }
            }
        } else {
            const std::string desc = std::string("digest mismatch: expected ") +
                                     to_string(job_->digest.algorithm) + " " + job_->digest.hex +
                                     ", got " + actual;
            log(LogLevel::error, desc);
            (void)report_own(kStepCheckFailed, desc);
            abort_sink();
            last_error_ = {Status::digest_mismatch, desc};
        }
        check_ = result;
        valid = result.valid;
        return result.error;
    }

    /// The signature policy's verdict on the fetched image whose job digest is `actual_hex`.
    Error check_signature(std::string_view actual_hex) {
        std::array<std::uint8_t, kSignedDigestSize> sha{};
        if (const Status s = image_sha256(actual_hex, sha.data()); s != Status::ok) {
            return {s, std::string("signature check failed: the image's SHA-256 could not be "
                                   "computed: ") +
                           to_string(s)};
        }
        return check_image_signature(options_.signature, job_->ext_data_json, sha.data());
    }

    void reset() noexcept {
        if (state_ == OtaState::uninited) return;
        drop_job();
        state_ = OtaState::inited;
    }

    Error restart_download() {
        if (state_ != OtaState::pushed && state_ != OtaState::fetching &&
            state_ != OtaState::fetched) {
            return {Status::invalid_state,
                    std::string("restart_download() called in state ") + to_string(state_)};
        }
        close_source();
        abort_sink();  // also removes the resume record: the restart is from byte 0
        clear_download_progress();
        throttle_.reset();
        state_ = OtaState::pushed;
        return {};
    }

    Error set_sink(FirmwareSink* sink) {
        if (state_ == OtaState::fetching) {
            return {Status::invalid_state, "the sink cannot be changed while fetching"};
        }
        if (sink != sink_ && sink_active_) {
            // FETCHED with an unverified image in the current sink: it would be stranded.
            return {Status::invalid_state,
                    "the current sink holds an unverified image: check_firmware() or reset() "
                    "first"};
        }
        app_sink_ = sink;
        if (!multi_job_) sink_ = sink;
        return {};
    }

    void set_job_handler(std::function<void(const UpgradeJob&)> handler) {
        job_handler_ = std::move(handler);
    }

    // ---- getters --------------------------------------------------------------------------

    OtaState state() const noexcept { return state_; }
    std::uint64_t fetched_size() const noexcept {
        // While a resumed image is re-hashed, its stored bytes already count as fetched.
        return done_bytes_ + (phase_ == Phase::rehash ? rehash_target_ : fetched_);
    }
    std::size_t queued_reports() const noexcept { return queued_reports_.size(); }
    std::uint64_t file_size() const noexcept {
        if (multi_job_) return multi_job_->size;
        return job_ ? job_->size : 0;
    }
    const UpgradeJob* job() const noexcept {
        if (multi_job_) return &*multi_job_;
        return job_ ? &*job_ : nullptr;
    }
    std::size_t file_index() const noexcept { return multi_job_ ? file_index_ : 0; }
    std::size_t file_count() const noexcept {
        if (multi_job_) return multi_job_->files.size();
        return job_ ? 1 : 0;
    }
    void set_file_sink_provider(FileSinkProvider provider) {
        file_sink_provider_ = std::move(provider);
    }
    std::string_view expected_digest() const noexcept {
        return job_ ? std::string_view(job_->digest.hex) : std::string_view{};
    }
    std::string_view version() const noexcept {
        return job_ ? std::string_view(job_->version) : std::string_view{};
    }
    std::string_view module() const noexcept {
        return job_ ? std::string_view(job_->module) : std::string_view{};
    }
    const Error& last_error() const noexcept { return last_error_; }
    const ClientOptions& options() const noexcept { return options_; }

    // ---- ChannelListener ------------------------------------------------------------------

    void on_message(std::string_view topic, std::string_view payload) override {
        if (state_ == OtaState::uninited) return;
        const bool is_push = topic == topics_.upgrade;
        const bool is_reply = !is_push && topic == topics_.get_reply;
        if (!is_push && !is_reply) return;
        // Nothing may escape into the channel (or through it into the application's poll()).
        try {
            DecodeResult r = is_push ? decode_upgrade_push(payload) : decode_get_reply(payload);
            if (r.error) {
                handle_malformed(*r.error, is_push ? "upgrade push" : "firmware/get reply");
                return;
            }
            if (!r.job) {
                log_lazy(LogLevel::debug, [] { return std::string("no pending upgrade job"); });
                return;
            }
            take_job(std::move(*r.job));
        } catch (const std::exception& e) {
            log(LogLevel::error, std::string("handling an OTA message failed: ") + e.what());
        } catch (...) {
            log(LogLevel::error, "handling an OTA message failed: unknown exception");
        }
    }

    void on_connected() override {
        if (state_ == OtaState::uninited) return;
        try {
            if (reported_version_) {
                if (auto e = publish_inform(); !e.ok()) {
                    log(LogLevel::warning, "re-reporting the version failed: " + e.message());
                }
            }
            flush_queued_reports();
        } catch (const std::exception& e) {
            log(LogLevel::error, std::string("re-reporting after a reconnect failed: ") + e.what());
        } catch (...) {
            log(LogLevel::error, "re-reporting after a reconnect failed: unknown exception");
        }
    }

  private:
    struct CheckResult {
        bool valid = false;
        Error error;
    };

    /// Where a FETCHING download is.
    enum class Phase {
        idle,       ///< no download (not FETCHING)
        rehash,     ///< re-hashing the bytes a previous run left in the sink
        streaming,  ///< an attempt is open: reading from the source
        backoff,    ///< between attempts: waiting for next_attempt_at_
    };

    /// Final (100) or failure report waiting for the broker.
    struct QueuedReport {
        int step = 0;
        std::string desc;
        std::string module;
    };

    std::uint64_t next_id() noexcept { return next_id_++; }

    std::string_view current_module() const noexcept {
        return job_ ? std::string_view(job_->module) : std::string_view(options_.module);
    }

    bool module_matches(std::string_view job_module) const noexcept {
        if (options_.module.empty()) return job_module.empty() || job_module == "default";
        return job_module == options_.module;
    }

    Error publish_inform() {
        const std::string payload = encode_inform(next_id(), *reported_version_, options_.module);
        const Status s = channel_.publish(topics_.inform, payload, kInformQos);
        if (s != Status::ok) return {s, "version report not published"};
        return {};
    }

    /// Publishes a progress message without policy: for steps that must always go out.
    Status publish_progress(int step, std::string_view desc, std::string_view module) {
        const std::string payload = encode_progress(next_id(), step, desc, module);
        return channel_.publish(topics_.progress, payload, options_.progress_qos);
    }

    /// A progress report under the policy and the one-failure-per-job rule (the application's
    /// report_progress: never queued).
    Error report(int step, std::string_view desc) {
        if (step < 0 && failure_reported_) return {};
        const auto now = clock_.now();
        if (!throttle_.should_send(step, now)) return {};
        const Status s = publish_progress(step, desc, current_module());
        if (s != Status::ok) return {s, "progress report not published"};
        throttle_.mark_sent(step, now);
        if (step < 0) failure_reported_ = true;
        return {};
    }

    /// A report the client makes itself. While the channel is down, 0..99 are dropped and 100 or
    /// a failure is queued for the reconnect; such a report counts as made. Never fails the
    /// download: the result is informational.
    Error report_own(int step, std::string_view desc) {
        const bool must_arrive = step < 0 || step == kStepMax;
        if (step < 0 && failure_reported_) return {};
        if (!queued_reports_.empty()) flush_queued_reports();
        const auto now = clock_.now();
        if (!throttle_.should_send(step, now)) return {};
        if (!must_arrive && !channel_.is_connected()) return {};  // QoS0 progress: dropped
        Status s = Status::not_connected;
        if (queued_reports_.empty() && channel_.is_connected()) {
            s = publish_progress(step, desc, current_module());
        }
        if (s == Status::not_connected && must_arrive) {
            queue_report(step, desc);
            s = Status::ok;
        }
        if (s != Status::ok) return {s, "progress report not published"};
        throttle_.mark_sent(step, now);
        if (step < 0) failure_reported_ = true;
        return {};
    }

    void queue_report(int step, std::string_view desc) {
        if (queued_reports_.size() >= kMaxQueuedReports) {
            log(LogLevel::warning,
                "too many progress reports waiting for the broker: dropping "
                "the oldest (step " +
                    std::to_string(queued_reports_.front().step) + ")");
            queued_reports_.pop_front();
        }
        queued_reports_.push_back(
            QueuedReport{step, std::string(desc), std::string(current_module())});
        log_lazy(LogLevel::info, [&] {
            return "MQTT is down: progress step " + std::to_string(step) +
                   " will be reported after the reconnect";
        });
    }

    /// Publishes queued reports, oldest first, while the channel takes them. Each is sent once:
    /// one that fails for another reason than the connection is dropped (logged).
    void flush_queued_reports() {
        while (!queued_reports_.empty() && channel_.is_connected()) {
            const QueuedReport& q = queued_reports_.front();
            const Status s = publish_progress(q.step, q.desc, q.module);
            if (s == Status::not_connected) return;
            if (s != Status::ok) {
                log(LogLevel::warning, "dropping progress step " + std::to_string(q.step) +
                                           " that waited for the broker: " + to_string(s));
            } else {
                log_lazy(LogLevel::info, [&] {
                    return "reported progress step " + std::to_string(q.step) +
                           " after the reconnect";
                });
            }
            queued_reports_.pop_front();
        }
    }

    void auto_progress() {
        // Capped at 99: 100 is reported when the end of the body has been confirmed.
        const std::uint64_t total = multi_job_ ? multi_job_->size : job_->size;
        const int percent = std::min(percent_of(done_bytes_ + fetched_, total), 99);
        if (percent <= 0) return;  // 0 went out when the download started
        if (!throttle_.should_send(percent, clock_.now())) return;
        (void)report_own(percent, {});
    }

    void handle_malformed(const DecodeError& error, const char* what) {
        log_lazy(LogLevel::warning,
                 [&] { return std::string("rejected ") + what + ": " + error.message; });
        const Status s = publish_progress(kStepGeneralFailed, error.message, options_.module);
        if (s != Status::ok) {
            log_lazy(LogLevel::warning, [&] {
                return std::string("reporting the rejected message failed: ") + to_string(s);
            });
        }
        last_error_ = {Status::malformed_message, error.message};
    }

    /// Why a well-formed job cannot be taken, or nothing.
    std::optional<Error> refusal(const UpgradeJob& job) const {
        if (!job.files.empty()) return multi_file_refusal(job);
        if (job.size == 0) return Error{Status::malformed_message, "image size is 0"};
        if (job.size > options_.max_image_size) {
            return Error{Status::storage_full,
                         "image size " + std::to_string(job.size) + " exceeds the limit of " +
                             std::to_string(options_.max_image_size) + " bytes"};
        }
        if (starts_with_nocase(job.url, "http://")) {
            if (!options_.allow_http) {
                return Error{Status::invalid_argument,
                             "plain http image URLs are not allowed (https required)"};
            }
        } else if (!starts_with_nocase(job.url, "https://")) {
            return Error{Status::invalid_argument, "unsupported image URL scheme (https required)"};
        }
        if (reported_version_) {
            if (Error e =
                    check_upgrade_allowed(options_.downgrade, *reported_version_, job.version);
                !e.ok()) {
                return e;
            }
        }
        return std::nullopt;
    }

    /// Why a multi-file job cannot be taken, or nothing.
    std::optional<Error> multi_file_refusal(const UpgradeJob& job) const {
        if (!options_.multi_file || !file_sink_provider_) {
            // The multi-file API: ClientOptions::multi_file and a file sink provider.
            return Error{Status::invalid_argument, "multi-file jobs need the multi-file API"};
        }
        if (options_.signature.needs_digest(job.ext_data_json)) {
            return Error{Status::invalid_argument,
                         "image signatures are not supported for multi-file jobs"};
        }
        if (job.size > options_.max_image_size) {
            return Error{Status::storage_full,
                         "job size " + std::to_string(job.size) + " exceeds the limit of " +
                             std::to_string(options_.max_image_size) + " bytes"};
        }
        for (std::size_t i = 0; i < job.files.size(); ++i) {
            const JobFile& f = job.files[i];
            const std::string which =
                "file " + std::to_string(i + 1) + " of " + std::to_string(job.files.size());
            if (f.size == 0) return Error{Status::malformed_message, which + ": size is 0"};
            const bool http = starts_with_nocase(f.url, "http://");
            if ((http && !options_.allow_http) ||
                (!http && !starts_with_nocase(f.url, "https://"))) {
                return Error{Status::invalid_argument,
                             which + ": unsupported image URL scheme (https required)"};
            }
        }
        if (reported_version_) {
            if (Error e =
                    check_upgrade_allowed(options_.downgrade, *reported_version_, job.version);
                !e.ok()) {
                return e;
            }
        }
        return std::nullopt;
    }

    /// Points the download machinery (job_'s url, size and digest) at file `index` of the
    /// multi-file job.
    void load_file(std::size_t index) {
        file_index_ = index;
        const JobFile& f = multi_job_->files[index];
        job_->url = f.url;
        job_->size = f.size;
        job_->digest = f.digest;
    }

    void take_job(UpgradeJob job) {
        if (!module_matches(job.module)) {
            log_lazy(LogLevel::debug, [&] {
                return "ignoring a job for module '" + job.module + "' (this client: '" +
                       options_.module + "')";
            });
            return;
        }
        if (state_ == OtaState::fetching || state_ == OtaState::uninited) {
            log_lazy(LogLevel::info, [&] {
                return "ignoring a job for version " + job.version + " in state " +
                       to_string(state_);
            });
            return;
        }
        if (auto why = refusal(job)) {
            log_lazy(LogLevel::warning, [&] {
                return "refused a job for version " + job.version + ": " + why->detail;
            });
            const Status s = publish_progress(kStepGeneralFailed, why->detail, job.module);
            if (s != Status::ok) {
                log_lazy(LogLevel::warning, [&] {
                    return std::string("reporting the refused job failed: ") + to_string(s);
                });
            }
            last_error_ = std::move(*why);
            return;
        }

        drop_job();  // a PUSHED or FETCHED job is replaced; its uncommitted image is dropped
        job_ = std::move(job);
        if (!job_->files.empty()) {
            multi_job_ = *job_;
            load_file(0);
        }
        state_ = OtaState::pushed;
        throttle_.reset();
        failure_reported_ = false;
        log_lazy(LogLevel::info, [&] {
            return "accepted a job for version " + job_->version + " (" +
                   std::to_string(job_->size) + " bytes, " + to_string(job_->digest.algorithm) +
                   ") from " + redact_url(job_->url);
        });
        if (job_handler_) {
            // Copies: the handler may reset() the client or replace itself while running.
            const UpgradeJob snapshot = *job_;
            const auto handler = job_handler_;
            handler(snapshot);
        }
    }

    // ---- download: attempts ---------------------------------------------------------------

    /// PUSHED -> FETCHING: digest, sink (fresh or resumed) and the first attempt. False when the
    /// download already failed (reported, state INITED).
    bool start_download() {
        const UpgradeJob& job = *job_;
        clear_download_progress();
        sig_sha_ = options_.signature.needs_digest(job.ext_data_json) &&
                   job.digest.algorithm != DigestAlgorithm::sha256;
        if (const Status s = start_digests(); s != Status::ok) {
            (void)fail(s, kStepGeneralFailed,
                       std::string("starting the digest failed: ") + to_string(s));
            return false;
        }
        const auto now = clock_.now();
        download_started_ = now;
        recorded_at_ = now;
        std::uint64_t resume_from = 0;
        if (multi_job_) {
            sink_ = file_sink_provider_(multi_job_->files[file_index_], file_index_,
                                        multi_job_->files.size());
            if (sink_ == nullptr) {
                (void)fail(Status::storage_failed, kStepBurnFailed,
                           "storage failed: no sink for file " + std::to_string(file_index_ + 1) +
                               " of " + std::to_string(multi_job_->files.size()));
                return false;
            }
        }
        if (sink_ != nullptr) {
            if (job.size > sink_->capacity()) {
                (void)fail(Status::storage_full, kStepBurnFailed,
                           "storage failed: the image of " + std::to_string(job.size) +
                               " bytes does not fit the storage (capacity " +
                               std::to_string(sink_->capacity()) + " bytes)");
                return false;
            }
            sink_active_ = true;  // a refused begin() is aborted too, to leave the sink idle
            const Status s = prepare_sink(resume_from);
            if (s != Status::ok) {
                (void)fail(s, kStepBurnFailed,
                           "storage failed: could not begin an image of " +
                               std::to_string(job.size) + " bytes: " + to_string(s));
                return false;
            }
        }
        state_ = OtaState::fetching;
        log_lazy(LogLevel::info, [&] {
            return "downloading version " + job.version + " from " + redact_url(job.url) +
                   (resume_from > 0 ? " (resuming at byte " + std::to_string(resume_from) + ")"
                                    : std::string());
        });
        if (options_.auto_progress && file_index_ == 0) (void)report_own(0, {});
        if (resume_from > 0) {
            phase_ = Phase::rehash;
            rehash_target_ = resume_from;
            rehashed_ = 0;
            return true;
        }
        return start_attempt();
    }

    /// Opens the source at fetched_. True when the download goes on (streaming, or backing off
    /// after a transient open failure), false after a permanent failure.
    bool start_attempt() {
        ++attempts_;
        const auto now = clock_.now();
        headers_checked_ = false;
        awaiting_end_ = false;
        attempt_bytes_ = 0;
        skip_ = 0;
        stall_window_start_ = now;
        stall_window_bytes_ = 0;
        last_read_call_ = now;
        if (Error e = source_.open(job_->url, fetched_); !e.ok()) {
            const std::string why = "could not start the download: " + e.message();
            if (e.status == Status::fetch_failed || e.status == Status::timeout) {
                return transient(Status::fetch_failed, why).status == Status::ok;
            }
            (void)fail(Status::fetch_failed, kStepFetchFailed, "download failed: " + why);
            return false;
        }
        source_open_ = true;
        phase_ = Phase::streaming;
        if (attempts_ > 1) {
            log_lazy(LogLevel::info, [&] {
                return "download attempt " + std::to_string(attempts_) + " for version " +
                       job_->version + " from byte " + std::to_string(fetched_);
            });
        }
        return true;
    }

    /// One read of the open attempt (not yet at the end of the image).
    FetchResult stream_step(std::uint8_t* buf, std::size_t len, std::chrono::milliseconds timeout) {
        const ReadResult r = source_.read(buf, len, timeout);
        if (r.status != Status::ok) {
            const std::string why = describe_source_failure(r.status);
            if (r.status == Status::timeout || r.status == Status::fetch_failed) {
                return transient(r.status, why);
            }
            return fail(r.status, kStepFetchFailed, "download failed: " + why);
        }
        if (r.bytes == 0 && !r.end_of_body) {  // nothing yet
            if (stalled(clock_.now())) return transient(Status::timeout, stall_description());
            return {};
        }
        if (!headers_checked_) {
            if (auto verdict = check_response()) return *verdict;
            headers_checked_ = true;
        }
        if (r.bytes > len) {
            return fail(Status::internal, kStepFetchFailed,
                        "download failed: the byte source returned more bytes than requested");
        }
        std::size_t got = r.bytes;
        if (skip_ > 0 && got > 0) {
            // A full body answered a Range request and the application already holds the start
            // of the image: drop that part again, the new bytes follow in place.
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(got, skip_));
            skip_ -= n;
            attempt_bytes_ += n;
            got -= n;
            if (got > 0) std::memmove(buf, buf + n, got);
            if (got == 0 && !r.end_of_body) return {};
        }
        const std::uint64_t size = job_->size;
        if (got == 0) {  // end of body before `size` bytes: resumable
            return transient(Status::size_mismatch, short_body_description());
        }
        if (got > size - fetched_) {
            return fail(Status::size_mismatch, kStepFetchFailed,
                        "download failed: body longer than announced size of " +
                            std::to_string(size) + " bytes");
        }
        if (const Status s = update_digests(buf, got); s != Status::ok) {
            return fail(s, kStepGeneralFailed,
                        std::string("digest update failed: ") + to_string(s));
        }
        if (sink_ != nullptr) {
            if (const Status s = sink_->write(fetched_, buf, got); s != Status::ok) {
                return fail(s, kStepBurnFailed,
                            "storage failed: writing " + std::to_string(got) + " bytes at offset " +
                                std::to_string(fetched_) + " failed: " + to_string(s));
            }
        }
        fetched_ += got;
        attempt_bytes_ += got;

        if (fetched_ == size) {
            if (r.end_of_body) {
                if (const Status s = finish_fetch(); s != Status::ok) return {s, 0};
                return {Status::ok, got};
            }
            awaiting_end_ = true;
            end_deadline_ = clock_.now() + options_.end_of_body_wait;
            // The caller's buffer holds the bytes being returned: probe into the scratch buffer.
            const Status s = await_end(scratch_.data(), scratch_.size());
            if (s != Status::ok) return {s, 0};
            return {Status::ok, got};
        }
        if (r.end_of_body) {
            // These bytes are stored; the rest is asked for again.
            const FetchResult t = transient(Status::size_mismatch, short_body_description());
            return t.status == Status::ok ? FetchResult{Status::ok, got} : t;
        }
        if (const Status s = maybe_save_record(false); s != Status::ok) {
            return fail(s, kStepBurnFailed,
                        std::string("storage failed: flushing the image failed: ") + to_string(s));
        }
        if (options_.auto_progress) auto_progress();
        if (stalled(clock_.now())) {
            const FetchResult t = transient(Status::timeout, stall_description());
            return t.status == Status::ok ? FetchResult{Status::ok, got} : t;
        }
        return {Status::ok, got};
    }

    std::string short_body_description() const {
        return "body shorter than announced: got " + std::to_string(fetched_) + " of " +
               std::to_string(job_->size) + " bytes";
    }

    std::string stall_description() const {
        return "stalled: fewer than " + std::to_string(options_.retry.stall_floor_bytes_per_s) +
               " bytes/s over " + std::to_string(options_.retry.stall_window.count()) + " ms";
    }

    /// Stall detector (RetryPolicy::stall_*): true when the window that just ended brought too
    /// few bytes. Time the application spent away from fetch_yield() does not count.
    bool stalled(Clock::time_point now) noexcept {
        const RetryPolicy& rp = options_.retry;
        if (rp.stall_floor_bytes_per_s == 0) return false;
        if (now - last_read_call_ > rp.stall_window) {
            stall_window_start_ = now;
            stall_window_bytes_ = attempt_bytes_;
        }
        last_read_call_ = now;
        if (now - stall_window_start_ < rp.stall_window) return false;
        const auto window_ms = static_cast<std::uint64_t>(rp.stall_window.count());
        const std::uint64_t need = rp.stall_floor_bytes_per_s * window_ms / 1000;
        const bool slow = attempt_bytes_ - stall_window_bytes_ < need;
        stall_window_start_ = now;
        stall_window_bytes_ = attempt_bytes_;
        return slow;
    }

    /// Ends the current attempt after a transient failure and schedules the next one, or fails
    /// the download when no attempt or time is left. {ok, 0} while the download goes on.
    FetchResult transient(Status status, const std::string& why,
                          std::optional<std::chrono::seconds> retry_after = std::nullopt) {
        close_source();
        awaiting_end_ = false;
        headers_checked_ = false;
        if (fetched_ > high_water_) {  // this attempt stored new bytes
            high_water_ = fetched_;
            failures_in_row_ = 0;
        }
        ++failures_in_row_;
        const RetryPolicy& rp = options_.retry;
        if (failures_in_row_ >= rp.max_attempts) {
            std::string desc = "download failed: " + why;
            if (rp.max_attempts > 1) {
                desc += " (gave up after " + std::to_string(failures_in_row_) +
                        " attempts in a row without progress)";
            }
            return fail(status, kStepFetchFailed, std::move(desc));
        }
        const auto now = clock_.now();
        const auto delay =
            detail::backoff_delay(rp, failures_in_row_, random_.next_unit(), retry_after);
        if (now + delay - download_started_ > rp.total_deadline) {
            return fail(status, kStepFetchFailed,
                        "download failed: " + why +
                            " (no time left for another attempt within "
                            "the total deadline of " +
                            std::to_string(rp.total_deadline.count()) + " ms)");
        }
        // The pause is a good moment to make the progress so far survive a crash.
        if (const Status s = maybe_save_record(true); s != Status::ok) {
            return fail(s, kStepBurnFailed,
                        std::string("storage failed: flushing the image failed: ") + to_string(s));
        }
        phase_ = Phase::backoff;
        next_attempt_at_ = now + delay;
        log_lazy(LogLevel::warning, [&] {
            return "download of version " + job_->version + " interrupted at byte " +
                   std::to_string(fetched_) + " of " + std::to_string(job_->size) + ": " + why +
                   "; retrying in " + std::to_string(delay.count()) + " ms (" +
                   std::to_string(failures_in_row_) + " of at most " +
                   std::to_string(rp.max_attempts) + " attempts without progress)";
        });
        return {};
    }

    /// Waits (at most `timeout`, serving the channel) for the next attempt, then starts it and
    /// reads from it for whatever is left of `timeout`.
    FetchResult backoff_step(std::uint8_t* buf, std::size_t len,
                             std::chrono::milliseconds timeout) {
        timeout = std::max(timeout, std::chrono::milliseconds(0));
        const auto entered = clock_.now();
        if (entered < next_attempt_at_) {
            const auto left =
                std::chrono::ceil<std::chrono::milliseconds>(next_attempt_at_ - entered);
            const auto wait = std::min(left, timeout);
            if (wait.count() > 0) (void)channel_.yield(wait);
            if (!queued_reports_.empty()) flush_queued_reports();
            if (state_ != OtaState::fetching || phase_ != Phase::backoff) return {};
            if (clock_.now() < next_attempt_at_) return {};
        }
        if (!start_attempt()) return {last_error_.status, 0};
        if (phase_ != Phase::streaming) return {};
        const auto spent = std::chrono::ceil<std::chrono::milliseconds>(clock_.now() - entered);
        return stream_step(buf, len, std::max(timeout - spent, std::chrono::milliseconds(0)));
    }

    /// Checks the response headers once the first bytes (or the end) arrived: nothing when the
    /// attempt may go on, else what fetch_yield returns (after transient() or fail()).
    std::optional<FetchResult> check_response() {
        const std::uint64_t size = job_->size;
        const int http = source_.http_status();
        if (http == 206) {
            const std::string_view raw = source_.content_range();
            const auto range = detail::parse_content_range(raw);
            if (!range || range->first != fetched_ || !range->total || *range->total != size ||
                range->last != size - 1) {
                return fail(Status::fetch_failed, kStepFetchFailed,
                            "download failed: HTTP 206 with Content-Range " + quote_header(raw) +
                                ", expected bytes " + std::to_string(fetched_) + "-" +
                                std::to_string(size - 1) + "/" + std::to_string(size));
            }
        } else if (http == 200) {
            if (fetched_ != 0) {
                // The server ignored the Range request: the body starts at byte 0 again.
                if (sink_ != nullptr) {
                    if (auto r = restart_from_zero()) return r;
                } else {
                    skip_delivered_prefix();
                }
            }
        } else if (http == 408 || http == 429 || (http >= 500 && http <= 599)) {
            return transient(Status::fetch_failed, "HTTP " + std::to_string(http),
                             source_.retry_after());
        } else if (http == 0) {
            return transient(Status::fetch_failed, "the response carried no HTTP status");
        } else if (http == 416) {
            return fail(Status::fetch_failed, kStepFetchFailed,
                        "download failed: HTTP 416 (range not satisfiable) for bytes " +
                            std::to_string(fetched_) + "- of a " + std::to_string(size) +
                            "-byte image");
        } else {
            return fail(Status::fetch_failed, kStepFetchFailed,
                        "download failed: HTTP " + std::to_string(http));
        }
        const std::uint64_t body_starts_at = http == 200 ? 0 : fetched_;
        if (const auto length = source_.content_length();
            length && *length != size - body_starts_at) {
            return fail(Status::size_mismatch, kStepFetchFailed,
                        "download failed: Content-Length " + std::to_string(*length) +
                            " does not match the announced size of " + std::to_string(size) +
                            " bytes" +
                            (body_starts_at > 0 ? " from byte " + std::to_string(body_starts_at)
                                                : std::string()));
        }
        return std::nullopt;
    }

    /// A 200 answered a Range request and there is no sink: the application has stored the
    /// first fetched_ bytes itself and cannot be told to start over, so the same number of bytes
    /// is dropped from the new body and the running digest goes on (the final check still covers
    /// every byte handed out). Nothing is ever handed out twice.
    void skip_delivered_prefix() {
        log_lazy(LogLevel::warning, [&] {
            return "the server ignored the Range request for bytes " + std::to_string(fetched_) +
                   "- (HTTP 200): skipping the bytes already delivered";
        });
        skip_ = fetched_;
    }

    /// A 200 answered a Range request: fresh digest, sink begun again, from byte 0.
    std::optional<FetchResult> restart_from_zero() {
        log_lazy(LogLevel::warning, [&] {
            return "the server ignored the Range request for bytes " + std::to_string(fetched_) +
                   "- (HTTP 200): restarting version " + job_->version + " from byte 0";
        });
        if (const Status s = start_digests(); s != Status::ok) {
            return fail(s, kStepGeneralFailed,
                        std::string("restarting the digest failed: ") + to_string(s));
        }
        fetched_ = 0;
        throttle_.reset();
        if (sink_ != nullptr) {
            if (records_supported_) sink_->clear_record();
            recorded_bytes_ = 0;
            recorded_at_ = clock_.now();
            if (const Status s = sink_->begin(job_->size); s != Status::ok) {
                return fail(s, kStepBurnFailed,
                            "storage failed: could not begin an image of " +
                                std::to_string(job_->size) + " bytes: " + to_string(s));
            }
        }
        return std::nullopt;
    }

    /// One read after the last byte: ok while still waiting, or the failure (already handled).
    Status await_end(std::uint8_t* buf, std::size_t len) {
        const auto now = clock_.now();
        const auto left = end_deadline_ > now
                              ? std::chrono::ceil<std::chrono::milliseconds>(end_deadline_ - now)
                              : std::chrono::milliseconds(0);
        const ReadResult r = source_.read(buf, len, left);
        if (r.status != Status::ok) {
            return fail(r.status, kStepFetchFailed,
                        "download failed: " + describe_source_failure(r.status))
                .status;
        }
        if (r.bytes > 0) {
            return fail(Status::size_mismatch, kStepFetchFailed,
                        "download failed: body longer than announced size of " +
                            std::to_string(job_->size) + " bytes")
                .status;
        }
        if (r.end_of_body) return finish_fetch();
        if (clock_.now() >= end_deadline_) {
            return fail(Status::timeout, kStepFetchFailed,
                        "download failed: the body did not end within " +
                            std::to_string(options_.end_of_body_wait.count()) +
                            " ms after the announced " + std::to_string(job_->size) + " bytes")
                .status;
        }
        return Status::ok;
    }

    /// The current image (or file) is complete: FETCHED, or for a multi-file job the file is
    /// verified and committed and the next one is set up. Not ok when that failed (reported).
    Status finish_fetch() {
        awaiting_end_ = false;
        close_source();
        phase_ = Phase::idle;
        state_ = OtaState::fetched;
        log_lazy(LogLevel::info, [&] {
            return "downloaded version " + job_->version + " (" + std::to_string(fetched_) +
                   " bytes" +
                   (attempts_ > 1 ? ", " + std::to_string(attempts_) + " attempts"
                                  : std::string()) +
                   ")";
        });
        if (multi_job_) return finish_file();
        if (options_.auto_progress) (void)report_own(kStepMax, {});
        return Status::ok;
    }

    /// Multi-file: verifies and commits the file just fetched (check_firmware), then moves on to
    /// the next file (state PUSHED) or, after the last, stays FETCHED with the cached verdict.
    Status finish_file() {
        bool valid = false;
        (void)check_firmware(valid);  // reports -3/-4 itself and aborts the file's sink
        if (!valid) {
            const Error e = last_error_;
            return fail(e.status, kStepCheckFailed, e.detail).status;  // not reported twice
        }
        done_bytes_ += job_->size;
        if (file_index_ + 1 == multi_job_->files.size()) {
            fetched_ = 0;  // fetched_size() = done_bytes_ = the whole job
            if (options_.auto_progress) (void)report_own(kStepMax, {});
            return Status::ok;
        }
        load_file(file_index_ + 1);
        // The next file starts at 0: fetched_size() must not count the file just committed twice
        // (done_bytes_ already holds it) while the next one has not started.
        clear_download_progress();
        state_ = OtaState::pushed;
        return Status::ok;
    }

    /// (Re)starts the job's digest and, when the signature check needs a SHA-256 the job's own
    /// digest does not give, the second (SHA-256) digest.
    Status start_digests() {
        if (const Status s = hasher_.start(job_->digest.algorithm); s != Status::ok) return s;
        if (sig_sha_) return sig_hasher_.start(DigestAlgorithm::sha256);
        return Status::ok;
    }

    /// Feeds fetched (or re-read) bytes to the running digests. Does not allocate.
    Status update_digests(const std::uint8_t* data, std::size_t len) noexcept {
        if (const Status s = hasher_.update(data, len); s != Status::ok) return s;
        if (sig_sha_) return sig_hasher_.update(data, len);
        return Status::ok;
    }

    /// The image's SHA-256 for the signature check: from the second digest, or (SHA-256 jobs)
    /// decoded from the job's own digest, already computed as `actual_hex`.
    Status image_sha256(std::string_view actual_hex, std::uint8_t out[kSignedDigestSize]) {
        if (sig_sha_) return sig_hasher_.finish(out, kSignedDigestSize);
        if (job_->digest.algorithm != DigestAlgorithm::sha256 ||
            actual_hex.size() != 2 * kSignedDigestSize) {
            return Status::internal;
        }
        const auto nibble = [](char c) {
            return static_cast<unsigned>(c >= 'a' ? c - 'a' + 10 : c - '0');
        };
        for (std::size_t i = 0; i < kSignedDigestSize; ++i) {  // finish_hex: lower-case
            out[i] = static_cast<std::uint8_t>(nibble(actual_hex[2 * i]) << 4U |
                                               nibble(actual_hex[2 * i + 1]));
        }
        return Status::ok;
    }

    // ---- download: crash resume -----------------------------------------------------------

    /// Begins the sink for the current job, or resumes the partial image of an earlier run of
    /// the same job (`resume_from` = the bytes to re-hash). Any record that does not match is
    /// discarded. The status is begin()'s.
    Status prepare_sink(std::uint64_t& resume_from) {
        const UpgradeJob& job = *job_;
        resume_from = 0;
        records_ = false;
        records_supported_ = false;
        recorded_bytes_ = 0;
        if (options_.resume.enabled) {
            record_ = detail::resume_identity(job);
            record_identity_len_ = record_.size();
            if (record_identity_len_ + detail::kResumeRecordTailMax <=
                FirmwareSink::kMaxResumeRecordSize) {
                record_.reserve(record_identity_len_ + detail::kResumeRecordTailMax);
                std::vector<std::uint8_t> stored;
                const Status ls = sink_->load_record(stored);
                if (ls != Status::invalid_state) {
                    records_supported_ = true;
                    records_ = true;  // a failing save turns this off again for the job
                    if (ls == Status::ok && !stored.empty()) {
                        if (resume_partial(stored, resume_from)) return Status::ok;
                    } else if (ls != Status::ok) {
                        log(LogLevel::warning, std::string("cannot load the resume record: ") +
                                                   to_string(ls) + "; starting from byte 0");
                        sink_->clear_record();
                    }
                }
            }
        }
        return sink_->begin(job.size);
    }

    /// Tries to resume from the `stored` record: true (sink resumed, `resume_from` set) or false
    /// (record removed; the caller begins afresh).
    bool resume_partial(const std::vector<std::uint8_t>& stored, std::uint64_t& resume_from) {
        const UpgradeJob& job = *job_;
        const std::string_view text(reinterpret_cast<const char*>(stored.data()), stored.size());
        const std::string_view identity(record_.data(), record_identity_len_);
        const auto bytes = detail::parse_resume_record(text, identity);
        std::string why;
        if (!bytes) {
            why = "it belongs to another job or is damaged";
        } else if (*bytes == 0 || *bytes > job.size) {
            why = "it claims " + std::to_string(*bytes) + " bytes of " + std::to_string(job.size);
        } else {
            std::uint64_t have = 0;
            const Status rs = sink_->resume(job.size, have);
            if (rs == Status::ok && have >= *bytes) {
                resume_from = *bytes;
                recorded_bytes_ = *bytes;
                return true;
            }
            why = rs == Status::ok
                      ? "the partial image holds only " + std::to_string(have) + " of the " +
                            std::to_string(*bytes) + " recorded bytes"
                      : std::string("the partial image cannot be reopened: ") + to_string(rs);
        }
        log(LogLevel::warning, "discarding the resume record for version " + job.version + ": " +
                                   why + "; starting from byte 0");
        sink_->clear_record();
        return false;
    }

    /// Re-hashes (a bounded part of) the resumed bytes, then starts the first attempt.
    FetchResult rehash_step(std::uint8_t* buf, std::size_t len, std::chrono::milliseconds timeout) {
        const auto deadline = clock_.now() + timeout;
        while (rehashed_ < rehash_target_) {
            const auto n =
                static_cast<std::size_t>(std::min<std::uint64_t>(len, rehash_target_ - rehashed_));
            if (const Status s = sink_->read(rehashed_, buf, n); s != Status::ok) {
                log(LogLevel::warning, "cannot read back the partial image of version " +
                                           job_->version + " at byte " + std::to_string(rehashed_) +
                                           ": " + to_string(s) + "; starting from byte 0");
                if (auto r = discard_resumed()) return *r;
                break;
            }
            if (const Status s = update_digests(buf, n); s != Status::ok) {
                return fail(s, kStepGeneralFailed,
                            std::string("digest update failed: ") + to_string(s));
            }
            rehashed_ += n;
            if (rehashed_ < rehash_target_ && clock_.now() >= deadline) return {};
        }
        fetched_ = rehashed_;
        high_water_ = fetched_;
        if (fetched_ > 0) {
            log_lazy(LogLevel::info, [&] {
                return "re-hashed " + std::to_string(fetched_) + " stored bytes of version " +
                       job_->version + "; continuing the download there";
            });
        }
        if (fetched_ == job_->size) {  // everything was already stored
            phase_ = Phase::idle;
            if (const Status s = finish_fetch(); s != Status::ok) return {s, 0};
            return {};
        }
        if (options_.auto_progress) auto_progress();
        if (!start_attempt()) return {last_error_.status, 0};
        return {};
    }

    /// The resumed bytes cannot be used: drop them and start at byte 0.
    std::optional<FetchResult> discard_resumed() {
        rehashed_ = 0;
        rehash_target_ = 0;
        if (records_supported_) sink_->clear_record();
        recorded_bytes_ = 0;
        if (const Status s = start_digests(); s != Status::ok) {
            return fail(s, kStepGeneralFailed,
                        std::string("restarting the digest failed: ") + to_string(s));
        }
        if (const Status s = sink_->begin(job_->size); s != Status::ok) {
            return fail(s, kStepBurnFailed,
                        "storage failed: could not begin an image of " +
                            std::to_string(job_->size) + " bytes: " + to_string(s));
        }
        return std::nullopt;
    }

    /// Flushes the sink and saves the resume record when enough new bytes and time passed
    /// (ResumePolicy), or whenever there is something new with `force`. Only a failing flush is
    /// an error; a failing save turns records off for this job.
    Status maybe_save_record(bool force) {
        if (!records_ || sink_ == nullptr || fetched_ <= recorded_bytes_) return Status::ok;
        const auto now = clock_.now();
        if (!force && (fetched_ - recorded_bytes_ < options_.resume.record_every_bytes ||
                       now - recorded_at_ < options_.resume.record_min_interval)) {
            return Status::ok;
        }
        // Durable bytes first: the record must never claim more than the medium holds.
        if (const Status s = sink_->flush(); s != Status::ok) return s;
        detail::finish_resume_record(record_, record_identity_len_, fetched_);
        const Status s = sink_->save_record(reinterpret_cast<const std::uint8_t*>(record_.data()),
                                            record_.size());
        if (s != Status::ok) {
            log(LogLevel::warning, std::string("cannot save the resume record: ") + to_string(s) +
                                       "; this download will not survive a restart");
            records_ = false;
            return Status::ok;
        }
        recorded_bytes_ = fetched_;
        recorded_at_ = now;
        return Status::ok;
    }

    std::string describe_source_failure(Status s) const {
        std::string detail = source_.last_error_detail();
        if (detail.empty()) detail = to_string(s);
        return detail;
    }

    /// Reports `step`, records the error and drops the job (state INITED).
    FetchResult fail(Status status, int step, std::string desc) {
        log_lazy(LogLevel::error, [&] {
            return desc + " (version " + (job_ ? job_->version : std::string()) + ", url " +
                   (job_ ? redact_url(job_->url) : std::string()) + ")";
        });
        if (auto e = report_own(step, desc); !e.ok()) {
            log_lazy(LogLevel::warning,
                     [&] { return "reporting the failure failed: " + e.message(); });
        }
        last_error_ = {status, std::move(desc)};
        drop_job();
        state_ = OtaState::inited;
        return {status, 0};
    }

    void close_source() noexcept {
        if (!source_open_) return;
        source_.close();
        source_open_ = false;
    }

    /// Drops the sink's partial image and the resume record that points at it.
    void abort_sink() noexcept {
        if (sink_ != nullptr && sink_active_) {
            if (records_supported_) sink_->clear_record();
            sink_->abort();
        }
        sink_active_ = false;
        records_ = false;
        records_supported_ = false;
    }

    void clear_download_progress() noexcept {
        fetched_ = 0;
        headers_checked_ = false;
        awaiting_end_ = false;
        check_.reset();
        phase_ = Phase::idle;
        attempts_ = 0;
        failures_in_row_ = 0;
        high_water_ = 0;
        attempt_bytes_ = 0;
        skip_ = 0;
        rehash_target_ = 0;
        rehashed_ = 0;
        recorded_bytes_ = 0;
    }

    /// Forgets the current job, releasing the source and any uncommitted image.
    void drop_job() noexcept {
        close_source();
        abort_sink();
        clear_download_progress();
        job_.reset();
        multi_job_.reset();
        sink_ = app_sink_;
        file_index_ = 0;
        done_bytes_ = 0;
    }

    MqttChannel& channel_;
    ByteSource& source_;
    ClientOptions options_;
    const Clock& clock_;
    Topics topics_;

    OtaState state_ = OtaState::uninited;
    std::uint64_t next_id_ = 1;
    std::optional<std::string> reported_version_;
    Error last_error_;
    std::function<void(const UpgradeJob&)> job_handler_;
    FileSinkProvider file_sink_provider_;

    // Multi-file jobs: the job as announced; job_ then describes the file being downloaded.
    std::optional<UpgradeJob> multi_job_;
    std::size_t file_index_ = 0;
    std::uint64_t done_bytes_ = 0;      // bytes of the files already verified and committed
    FirmwareSink* app_sink_ = nullptr;  // set_sink()'s, restored after a multi-file job

    // The current job and its download.
    std::optional<UpgradeJob> job_;
    std::uint64_t fetched_ = 0;
    Hasher hasher_;
    bool sig_sha_ = false;  // a second SHA-256 digest runs for the signature check
    Hasher sig_hasher_;
    FirmwareSink* sink_ = nullptr;
    bool sink_active_ = false;  // begin() called, neither committed nor aborted since
    bool source_open_ = false;
    bool headers_checked_ = false;
    bool awaiting_end_ = false;
    Clock::time_point end_deadline_{};
    std::array<std::uint8_t, 8> scratch_{};  // end-of-body probe; any byte there is an error
    detail::ProgressThrottle throttle_;
    bool failure_reported_ = false;
    std::optional<CheckResult> check_;

    // Attempts and retries (RetryPolicy).
    Phase phase_ = Phase::idle;
    std::size_t attempts_ = 0;      // source opens for this job
    int failures_in_row_ = 0;       // failed attempts since the last one that made progress
    std::uint64_t high_water_ = 0;  // most bytes fetched before the current attempt
    Clock::time_point download_started_{};
    Clock::time_point next_attempt_at_{};
    detail::JitterRandom random_;
    // Stall detection.
    std::uint64_t attempt_bytes_ = 0;  // bytes received in the current attempt
    std::uint64_t skip_ = 0;           // bytes of a full body that the application already has
    std::uint64_t stall_window_bytes_ = 0;
    Clock::time_point stall_window_start_{};
    Clock::time_point last_read_call_{};

    // Crash resume (ResumePolicy).
    bool records_supported_ = false;  // the sink keeps resume records
    bool records_ = false;            // ...and this job saves them
    std::string record_;              // identity, then the tail written by each save
    std::size_t record_identity_len_ = 0;
    std::uint64_t recorded_bytes_ = 0;  // bytes covered by the last saved record
    Clock::time_point recorded_at_{};
    std::uint64_t rehash_target_ = 0;
    std::uint64_t rehashed_ = 0;

    std::deque<QueuedReport> queued_reports_;
};

// ---- OtaClient: forwards to Impl, keeping exceptions inside the library ----------------------

namespace {

template <class F>
Error guarded(F&& f) noexcept {
    try {
        return f();
    } catch (const std::bad_alloc&) {
        return Error{Status::no_memory};
    } catch (const std::exception& e) {
        try {
            return Error{Status::internal, e.what()};
        } catch (...) {
            return Error{Status::internal};
        }
    } catch (...) {
        return Error{Status::internal};
    }
}

}  // namespace

OtaClient::OtaClient(MqttChannel& channel, ByteSource& source, ClientOptions options,
                     const Clock& clock)
    : impl_(std::make_unique<Impl>(channel, source, std::move(options), clock)) {}

OtaClient::~OtaClient() = default;

Error OtaClient::init() {
    return guarded([&] { return impl_->init(); });
}

void OtaClient::deinit() noexcept {
    impl_->deinit();
}

Error OtaClient::report_version(std::string_view version) {
    return guarded([&] { return impl_->report_version(version); });
}

Error OtaClient::report_progress(int step, std::string_view desc) {
    return guarded([&] { return impl_->report_progress(step, desc); });
}

Error OtaClient::request_image() {
    return guarded([&] { return impl_->request_image(); });
}

Error OtaClient::poll(std::chrono::milliseconds timeout) {
    return guarded([&] { return impl_->poll(timeout); });
}

bool OtaClient::is_fetching() const noexcept {
    const OtaState s = impl_->state();
    return s == OtaState::pushed || s == OtaState::fetching;
}

bool OtaClient::is_fetch_finished() const noexcept {
    return impl_->state() == OtaState::fetched;
}

FetchResult OtaClient::fetch_yield(std::uint8_t* buf, std::size_t len,
                                   std::chrono::milliseconds timeout) {
    try {
        return impl_->fetch_yield(buf, len, timeout);
    } catch (const std::bad_alloc&) {
        return {Status::no_memory, 0};
    } catch (...) {
        return {Status::internal, 0};
    }
}

Error OtaClient::check_firmware(bool& valid) {
    valid = false;
    return guarded([&] { return impl_->check_firmware(valid); });
}

void OtaClient::reset() noexcept {
    impl_->reset();
}

Error OtaClient::restart_download() {
    return guarded([&] { return impl_->restart_download(); });
}

void OtaClient::set_file_sink_provider(FileSinkProvider provider) {
    impl_->set_file_sink_provider(std::move(provider));
}

std::size_t OtaClient::file_index() const noexcept {
    return impl_->file_index();
}

std::size_t OtaClient::file_count() const noexcept {
    return impl_->file_count();
}

Error OtaClient::set_sink(FirmwareSink* sink) {
    return guarded([&] { return impl_->set_sink(sink); });
}

void OtaClient::set_job_handler(std::function<void(const UpgradeJob&)> handler) {
    impl_->set_job_handler(std::move(handler));
}

OtaState OtaClient::state() const noexcept {
    return impl_->state();
}
std::uint64_t OtaClient::fetched_size() const noexcept {
    return impl_->fetched_size();
}
std::size_t OtaClient::queued_reports() const noexcept {
    return impl_->queued_reports();
}
std::uint64_t OtaClient::file_size() const noexcept {
    return impl_->file_size();
}
const UpgradeJob* OtaClient::job() const noexcept {
    return impl_->job();
}
std::string_view OtaClient::expected_digest() const noexcept {
    return impl_->expected_digest();
}
std::string_view OtaClient::version() const noexcept {
    return impl_->version();
}
std::string_view OtaClient::module() const noexcept {
    return impl_->module();
}
const Error& OtaClient::last_error() const noexcept {
    return impl_->last_error();
}
const ClientOptions& OtaClient::options() const noexcept {
    return impl_->options();
}

}  // namespace ota
