// OtaClient: the basic OTA API's state machine (PROTOCOL.md section 6).
//
// Decisions worth knowing when reading this file:
//  - The end of the body is awaited inside the fetch_yield() call that delivered the last byte:
//    one extra read() (waiting up to ClientOptions::end_of_body_wait) goes into a small scratch
//    buffer, so the returned bytes stay intact in the caller's buffer. If the source returns early
//    without an answer, the following fetch_yield() calls keep reading (into the caller's buffer,
//    returning 0) until the deadline; a body that has not ended by then fails the download (-2,
//    Status::timeout): exactly `size` bytes cannot be confirmed.
//  - Failures in the download path are reported (-2 / -4) once, the sink's partial image is
//    dropped, the source closed and the job forgotten (state INITED). A digest mismatch keeps the
//    state FETCHED (the result is cached) until reset() or a new push.
//  - Refused jobs (size 0, too large, multi-file, plain http) and malformed pushes are reported as
//    step -1 outside the per-job failure budget: they never became the current job.
//  - The fetch hot path touches only preallocated state: no string is built and no std::function
//    copied per chunk; progress messages are composed only when the throttle lets one through.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/content_range.hpp"
#include "core/progress_throttle.hpp"
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
    return {};
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
          throttle_(options_.progress) {}

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
        if (s != Status::ok) return {s, "channel yield failed"};
        return {};
    }

    // ---- download -------------------------------------------------------------------------

    FetchResult fetch_yield(std::uint8_t* buf, std::size_t len, std::chrono::milliseconds timeout) {
        // Queued pushes, replies and reconnects first; the channel does not allocate when idle.
        (void)channel_.yield(std::chrono::milliseconds(0));
        if (state_ != OtaState::pushed && state_ != OtaState::fetching) {
            last_error_ = {Status::invalid_state,
                           std::string("fetch_yield() called in state ") + to_string(state_)};
            return {Status::invalid_state, 0};
        }
        if (buf == nullptr || len == 0) {
            last_error_ = {Status::invalid_argument, "fetch_yield() needs a non-empty buffer"};
            return {Status::invalid_argument, 0};
        }
        if (state_ == OtaState::pushed && !start_download()) return {last_error_.status, 0};
        if (awaiting_end_) {
            const Status s = await_end(buf, len);
            return {s, 0};
        }

        const ReadResult r = source_.read(buf, len, timeout);
        if (r.status != Status::ok) {
            return fail(r.status, kStepFetchFailed,
                        "download failed: " + describe_source_failure(r.status));
        }
        if (r.bytes == 0 && !r.end_of_body) return {};  // nothing yet
        if (!headers_checked_) {
            if (!validate_response()) return {last_error_.status, 0};
            headers_checked_ = true;
        }
        if (r.bytes > len) {
            return fail(Status::internal, kStepFetchFailed,
                        "download failed: the byte source returned more bytes than requested");
        }
        const std::uint64_t size = job_->size;
        if (r.bytes == 0) {  // end of body before `size` bytes
            return fail(Status::size_mismatch, kStepFetchFailed,
                        "download failed: body shorter than announced: got " +
                            std::to_string(fetched_) + " of " + std::to_string(size) + " bytes");
        }
        if (r.bytes > size - fetched_) {
            return fail(Status::size_mismatch, kStepFetchFailed,
                        "download failed: body longer than announced size of " +
                            std::to_string(size) + " bytes");
        }
        if (const Status s = hasher_.update(buf, r.bytes); s != Status::ok) {
            return fail(s, kStepGeneralFailed,
                        std::string("digest update failed: ") + to_string(s));
        }
        if (sink_ != nullptr) {
            if (const Status s = sink_->write(fetched_, buf, r.bytes); s != Status::ok) {
                return fail(s, kStepBurnFailed,
                            "storage failed: writing " + std::to_string(r.bytes) +
                                " bytes at offset " + std::to_string(fetched_) +
                                " failed: " + to_string(s));
            }
        }
        fetched_ += r.bytes;

        if (fetched_ == size) {
            if (r.end_of_body) {
                finish_fetch();
                return {Status::ok, r.bytes};
            }
            awaiting_end_ = true;
            end_deadline_ = clock_.now() + options_.end_of_body_wait;
            // The caller's buffer holds the bytes being returned: probe into the scratch buffer.
            const Status s = await_end(scratch_.data(), scratch_.size());
            if (s != Status::ok) return {s, 0};
            return {Status::ok, r.bytes};
        }
        if (r.end_of_body) {
            return fail(Status::size_mismatch, kStepFetchFailed,
                        "download failed: body shorter than announced: got " +
                            std::to_string(fetched_) + " of " + std::to_string(size) + " bytes");
        }
        if (options_.auto_progress) auto_progress();
        return {Status::ok, r.bytes};
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
            (void)report(kStepCheckFailed, desc);
            abort_sink();
            result.error = {hs, desc};
            last_error_ = result.error;
        } else if (hex_equal(job_->digest.hex, actual)) {
            result.valid = true;
            if (sink_ != nullptr && sink_active_) {
                const Status cs = sink_->commit();
                if (cs != Status::ok) {
                    const std::string desc =
                        std::string("storage failed: committing the image failed: ") +
                        to_string(cs);
                    (void)report(kStepBurnFailed, desc);
                    abort_sink();
                    result.valid = false;
                    result.error = {Status::storage_failed, desc};
                    last_error_ = result.error;
                } else {
                    sink_active_ = false;
                }
            }
        } else {
            const std::string desc = std::string("digest mismatch: expected ") +
                                     to_string(job_->digest.algorithm) + " " + job_->digest.hex +
                                     ", got " + actual;
            log(LogLevel::error, desc);
            (void)report(kStepCheckFailed, desc);
            abort_sink();
            last_error_ = {Status::digest_mismatch, desc};
        }
        check_ = result;
        valid = result.valid;
        return result.error;
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
        abort_sink();
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
        sink_ = sink;
        return {};
    }

    void set_job_handler(std::function<void(const UpgradeJob&)> handler) {
        job_handler_ = std::move(handler);
    }

    // ---- getters --------------------------------------------------------------------------

    OtaState state() const noexcept { return state_; }
    std::uint64_t fetched_size() const noexcept { return fetched_; }
    std::uint64_t file_size() const noexcept { return job_ ? job_->size : 0; }
    const UpgradeJob* job() const noexcept { return job_ ? &*job_ : nullptr; }
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
        if (state_ == OtaState::uninited || !reported_version_) return;
        try {
            if (auto e = publish_inform(); !e.ok()) {
                log(LogLevel::warning, "re-reporting the version failed: " + e.message());
            }
        } catch (const std::exception& e) {
            log(LogLevel::error, std::string("re-reporting the version failed: ") + e.what());
        }
    }

  private:
    struct CheckResult {
        bool valid = false;
        Error error;
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

    /// A progress report under the policy and the one-failure-per-job rule.
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

    void auto_progress() {
        // Capped at 99: 100 is reported when the end of the body has been confirmed.
        const int percent = std::min(percent_of(fetched_, job_->size), 99);
        if (percent <= 0) return;  // 0 went out when the download started
        if (!throttle_.should_send(percent, clock_.now())) return;
        (void)report(percent, {});
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
        if (!job.files.empty()) {
            return Error{Status::invalid_argument, "multi-file jobs need the multi-file API"};
        }
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
        return std::nullopt;
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

    bool start_download() {
        const UpgradeJob& job = *job_;
        clear_download_progress();
        if (const Status s = hasher_.start(job.digest.algorithm); s != Status::ok) {
            (void)fail(s, kStepGeneralFailed,
                       std::string("starting the digest failed: ") + to_string(s));
            return false;
        }
        if (sink_ != nullptr) {
            sink_active_ = true;  // a refused begin() is aborted too, to leave the sink idle
            if (const Status s = sink_->begin(job.size); s != Status::ok) {
                (void)fail(s, kStepBurnFailed,
                           "storage failed: could not begin an image of " +
                               std::to_string(job.size) + " bytes: " + to_string(s));
                return false;
            }
        }
        if (Error e = source_.open(job.url, 0); !e.ok()) {
            (void)fail(Status::fetch_failed, kStepFetchFailed,
                       "download failed: could not start the download: " + e.message());
            return false;
        }
        source_open_ = true;
        state_ = OtaState::fetching;
        log_lazy(LogLevel::info, [&] {
            return "downloading version " + job.version + " from " + redact_url(job.url);
        });
        if (options_.auto_progress) (void)report(0, {});
        return true;
    }

    /// Checks the response headers once the first bytes (or the end) arrived.
    bool validate_response() {
        const std::uint64_t size = job_->size;
        const int http = source_.http_status();
        if (http == 206) {
            const std::string_view raw = source_.content_range();
            const auto range = detail::parse_content_range(raw);
            if (!range || range->first != fetched_ || !range->total || *range->total != size ||
                range->last != size - 1) {
                (void)fail(Status::fetch_failed, kStepFetchFailed,
                           "download failed: HTTP 206 with Content-Range " + quote_header(raw) +
                               ", expected bytes " + std::to_string(fetched_) + "-" +
                               std::to_string(size - 1) + "/" + std::to_string(size));
                return false;
            }
        } else if (http != 200 || fetched_ != 0) {
            (void)fail(Status::fetch_failed, kStepFetchFailed,
                       http == 0 ? std::string("download failed: no HTTP status")
                                 : "download failed: HTTP " + std::to_string(http));
            return false;
        }
        if (const auto length = source_.content_length(); length && *length != size - fetched_) {
            (void)fail(Status::size_mismatch, kStepFetchFailed,
                       "download failed: Content-Length " + std::to_string(*length) +
                           " does not match the announced size of " + std::to_string(size) +
                           " bytes");
            return false;
        }
        return true;
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
        if (r.end_of_body) {
            finish_fetch();
            return Status::ok;
        }
        if (clock_.now() >= end_deadline_) {
            return fail(Status::timeout, kStepFetchFailed,
                        "download failed: the body did not end within " +
                            std::to_string(options_.end_of_body_wait.count()) +
                            " ms after the announced " + std::to_string(job_->size) + " bytes")
                .status;
        }
        return Status::ok;
    }

    void finish_fetch() {
        awaiting_end_ = false;
        close_source();
        state_ = OtaState::fetched;
        log_lazy(LogLevel::info, [&] {
            return "downloaded version " + job_->version + " (" + std::to_string(fetched_) +
                   " bytes)";
        });
        if (options_.auto_progress) (void)report(kStepMax, {});
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
        if (auto e = report(step, desc); !e.ok()) {
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

    void abort_sink() noexcept {
        if (sink_ != nullptr && sink_active_) sink_->abort();
        sink_active_ = false;
    }

    void clear_download_progress() noexcept {
        fetched_ = 0;
        headers_checked_ = false;
        awaiting_end_ = false;
        check_.reset();
    }

    /// Forgets the current job, releasing the source and any uncommitted image.
    void drop_job() noexcept {
        close_source();
        abort_sink();
        clear_download_progress();
        job_.reset();
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

    // The current job and its download.
    std::optional<UpgradeJob> job_;
    std::uint64_t fetched_ = 0;
    Hasher hasher_;
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
