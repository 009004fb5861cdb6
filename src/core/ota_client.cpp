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
#include <exception>
#include <new>
#include <string>
#include <string_view>
#include <utility>

#include "core/client_impl.hpp"
#include "core/job_admission.hpp"
#include "core/lazy_log.hpp"
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

using detail::log_lazy;

constexpr int kSubscribeQos = 1;
constexpr int kInformQos = 1;
constexpr int kFirmwareGetQos = 1;

}  // namespace

Error OtaClient::Impl::init() {
    if (state_ != OtaState::uninited) {
        return {Status::invalid_state, std::string("init() called in state ") + to_string(state_)};
    }
    if (auto e = options_.validate(); !e.ok()) return e;
    topics_ = make_topics(options_.product_key, options_.device_name);
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
    reporter_.start_job();
    log_lazy(LogLevel::debug, [&] {
        return "ota client for " + options_.product_key + "/" + options_.device_name +
               " initialised";
    });
    return {};
}

void OtaClient::Impl::deinit() noexcept {
    channel_.remove_listener(*this);
    if (state_ == OtaState::uninited) return;
    drop_job();
    state_ = OtaState::uninited;
    reported_version_.reset();
    reporter_.clear_queue();
}

Error OtaClient::Impl::report_version(std::string_view version) {
    if (state_ == OtaState::uninited) return {Status::invalid_state, "client not initialised"};
    if (version.empty() || version.size() > kMaxVersionLength) {
        return {Status::invalid_argument,
                "version must be 1.." + std::to_string(kMaxVersionLength) + " characters long"};
    }
    reported_version_ = std::string(version);
    return publish_inform();
}

Error OtaClient::Impl::report_progress(int step, std::string_view desc) {
    if (state_ == OtaState::uninited) return {Status::invalid_state, "client not initialised"};
    if (step < kStepMin || step > kStepMax) {
        return {Status::invalid_argument,
                "progress step " + std::to_string(step) + " is outside -4..100"};
    }
    reporter_.flush();  // keeps the cloud's view in order
    return reporter_.report(step, desc, current_module());
}

Error OtaClient::Impl::request_image() {
    if (state_ == OtaState::uninited) return {Status::invalid_state, "client not initialised"};
    const std::string payload = encode_firmware_get(ids_.next(), options_.module);
    const Status s = channel_.publish(topics_.firmware_get, payload, kFirmwareGetQos);
    if (s != Status::ok) return {s, "firmware/get not published"};
    return {};
}

Error OtaClient::Impl::poll(std::chrono::milliseconds timeout) {
    const Status s = channel_.yield(timeout);
    if (reporter_.queued() > 0) reporter_.flush();
    if (s != Status::ok) return {s, "channel yield failed"};
    return {};
}

void OtaClient::Impl::reset() noexcept {
    if (state_ == OtaState::uninited) return;
    drop_job();
    state_ = OtaState::inited;
}

Error OtaClient::Impl::restart_download() {
    if (state_ != OtaState::pushed && state_ != OtaState::fetching && state_ != OtaState::fetched) {
        return {Status::invalid_state,
                std::string("restart_download() called in state ") + to_string(state_)};
    }
    attempt_.close();
    abort_sink();  // also removes the resume record: the restart is from byte 0
    clear_download_progress();
    reporter_.restart();
    state_ = OtaState::pushed;
    return {};
}

Error OtaClient::Impl::set_sink(FirmwareSink* sink) {
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
    if (!multi_file()) sink_ = sink;
    return {};
}

void OtaClient::Impl::on_message(std::string_view topic, std::string_view payload) {
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

void OtaClient::Impl::on_connected() {
    if (state_ == OtaState::uninited) return;
    try {
        if (reported_version_) {
            if (auto e = publish_inform(); !e.ok()) {
                log(LogLevel::warning, "re-reporting the version failed: " + e.message());
            }
        }
        reporter_.flush();
    } catch (const std::exception& e) {
        log(LogLevel::error, std::string("re-reporting after a reconnect failed: ") + e.what());
    } catch (...) {
        log(LogLevel::error, "re-reporting after a reconnect failed: unknown exception");
    }
}

Error OtaClient::Impl::publish_inform() {
    const std::string payload = encode_inform(ids_.next(), *reported_version_, options_.module);
    const Status s = channel_.publish(topics_.inform, payload, kInformQos);
    if (s != Status::ok) return {s, "version report not published"};
    return {};
}

void OtaClient::Impl::handle_malformed(const DecodeError& error, const char* what) {
    log_lazy(LogLevel::warning,
             [&] { return std::string("rejected ") + what + ": " + error.message; });
    const Status s = reporter_.publish(kStepGeneralFailed, error.message, options_.module);
    if (s != Status::ok) {
        log_lazy(LogLevel::warning, [&] {
            return std::string("reporting the rejected message failed: ") + to_string(s);
        });
    }
    last_error_ = {Status::malformed_message, error.message};
}

void OtaClient::Impl::take_job(UpgradeJob job) {
    if (!detail::module_matches(options_.module, job.module)) {
        log_lazy(LogLevel::debug, [&] {
            return "ignoring a job for module '" + job.module + "' (this client: '" +
                   options_.module + "')";
        });
        return;
    }
    if (state_ == OtaState::fetching || state_ == OtaState::uninited) {
        log_lazy(LogLevel::info, [&] {
            return "ignoring a job for version " + job.version + " in state " + to_string(state_);
        });
        return;
    }
    detail::Admission a = detail::admit_job(
        job, options_, {&reported_version_, static_cast<bool>(file_sink_provider_)});
    if (a.kind == detail::Admission::Kind::refuse) {
        log_lazy(LogLevel::warning, [&] {
            return "refused a job for version " + job.version + ": " + a.error.detail;
        });
        const Status s = reporter_.publish(kStepGeneralFailed, a.error.detail, job.module);
        if (s != Status::ok) {
            log_lazy(LogLevel::warning, [&] {
                return std::string("reporting the refused job failed: ") + to_string(s);
            });
        }
        last_error_ = std::move(a.error);
        return;
    }
    drop_job();  // a PUSHED or FETCHED job is replaced; its uncommitted image is dropped
    job_ = std::move(job);
    targets_ = detail::download_targets(*job_);
    state_ = OtaState::pushed;
    reporter_.start_job();
    log_lazy(LogLevel::info, [&] {
        return "accepted a job for version " + job_->version + " (" +
               std::to_string(target().size) + " bytes, " + to_string(target().digest.algorithm) +
               ") from " + redact_url(target().url);
    });
    if (job_handler_) {
        // Copies: the handler may reset() the client or replace itself while running.
        const UpgradeJob snapshot = *job_;
        const auto handler = job_handler_;
        handler(snapshot);
    }
}

FetchResult OtaClient::Impl::fail(Status status, int step, std::string desc) {
    log_lazy(LogLevel::error, [&] {
        return desc + " (version " + (job_ ? job_->version : std::string()) + ", url " +
               (job_ ? redact_url(target().url) : std::string()) + ")";
    });
    if (auto e = report_own(step, desc); !e.ok()) {
        log_lazy(LogLevel::warning, [&] { return "reporting the failure failed: " + e.message(); });
    }
    last_error_ = {status, std::move(desc)};
    drop_job();
    state_ = OtaState::inited;
    return {status, 0};
}

void OtaClient::Impl::abort_sink() noexcept {
    if (sink_ != nullptr && sink_active_) {
        journal_.close(*sink_);
        sink_->abort();
    } else {
        journal_.reset();
    }
    sink_active_ = false;
}

void OtaClient::Impl::clear_download_progress() noexcept {
    fetched_ = 0;
    attempt_.close();
    check_.reset();
    phase_ = Phase::idle;
    attempts_ = 0;
    schedule_.clear();
    rehash_target_ = 0;
    rehashed_ = 0;
}

void OtaClient::Impl::drop_job() noexcept {
    attempt_.close();
    abort_sink();
    clear_download_progress();
    job_.reset();
    targets_.clear();
    sink_ = app_sink_;
    file_index_ = 0;
    done_bytes_ = 0;
}

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
