// OtaClient: the basic OTA API's state machine (PROTOCOL.md section 6).
//
// Decisions worth knowing when reading this file:
//  - Every state change is a row of the transition table (transitions.hpp), applied by
//    dispatch(). Actions return whether they succeeded and may leave one follow-up event, which
//    the dispatcher applies after them: no action applies an event itself.
//  - Channel callbacks (on_message, on_connected) only queue events. The queue is applied at one
//    point: right after the channel's yield() in poll(), fetch_yield() and the backoff wait. So
//    the application's job handler (called after the transition that took the job, outside any
//    action) may reset() the client, and nothing has to be checked again after a yield(). A
//    client that is not inside its own poll()/fetch_yield() when its channel is served by another
//    client sharing it applies its events at once (none of its actions is running then), so that
//    poll() still hands events to every listener of the channel (client.hpp).
//  - Reports the client makes itself: 1..99 (and 0) are dropped while the channel is down; the
//    final 100 and failure steps are queued and published once it is back (the reconnect event,
//    or the next poll()/fetch_yield() that finds it connected). The application's own
//    report_progress() is never queued: it returns not_connected and the application decides.
//  - Incoming jobs and malformed messages (admission, refusal reports, the running version) are
//    handled in client_push.cpp.
//  - The download itself (attempts, retries, crash resume, verification) is in
//    client_download.cpp.
#include <exception>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/client_impl.hpp"
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

}  // namespace ota

namespace ota::detail {

namespace {

constexpr int kSubscribeQos = 1;
constexpr int kInformQos = 1;
constexpr int kFirmwareGetQos = 1;

}  // namespace

// ---- the state machine ------------------------------------------------------------------------

void ClientMachine::dispatch(Event event) {
    follow_up_.reset();  // one left by an action that threw belongs to no event any more
    for (std::optional<Event> next = event; next; next = std::exchange(follow_up_, std::nullopt)) {
        const Transition& t = transition(state_, *next);
        state_ = run(t.action) ? t.next : t.otherwise;
    }
}

bool ClientMachine::run(Action action) {
    switch (action) {
        case Action::none:
            return true;
        case Action::init:
            return act_init();
        case Action::take_job:
            return act_take_job();
        case Action::replace_job:
            return act_replace_job();
        case Action::report_malformed:
            return act_report_malformed();
        case Action::log_malformed:
            return act_log_malformed();
        case Action::start_download:
            return act_start_download();
        case Action::store_bytes:
            return act_store_bytes();
        case Action::finish:
            return act_finish();
        case Action::retry:
            return act_retry();
        case Action::fail:
            return act_fail();
        case Action::verify:
            return act_verify();
        case Action::restart:
            return act_restart();
        case Action::drop_job:
            return act_drop_job();
        case Action::republish:
            return act_republish();
        case Action::shut_down:
            return act_shut_down();
    }
    return true;
}

void ClientMachine::fail(Status status, int step, std::string desc) {
    failure_ =
        Failure{status, step,
                step == kStepBurnFailed ? with_storage_reason(std::move(desc)) : std::move(desc)};
    raise(Event::permanent_failure);
}

void ClientMachine::interrupt(Event event, Status status, std::string why,
                              std::optional<std::chrono::seconds> retry_after) {
    interruption_ = Interruption{status, std::move(why), retry_after};
    raise(event);
}

void ClientMachine::apply_queued_events() {
    while (!queued_events_.empty()) {
        QueuedEvent event = std::move(queued_events_.front());
        queued_events_.pop_front();
        // Nothing may escape into the application's poll() or fetch_yield().
        try {
            incoming_ = &event;
            notify_job_ = false;
            if (event.job && transition(state_, event.event).action == Action::none) {
                log_lazy(LogLevel::info, [&] {
                    return "ignoring a job for version " + event.job->version + " in state " +
                           to_string(state_);
                });
            }
            dispatch(event.event);
            incoming_ = nullptr;
            if (notify_job_ && job_handler_ && job_) {
                notify_job_ = false;
                // Copies: the handler may reset() the client or replace itself while running;
                // it runs after the transition, outside any action.
                const UpgradeJob snapshot = *job_;
                const auto handler = job_handler_;
                handler(snapshot);
            }
        } catch (const std::exception& e) {
            incoming_ = nullptr;
            log(LogLevel::error, std::string("handling an OTA message failed: ") + e.what());
        } catch (...) {
            incoming_ = nullptr;
            log(LogLevel::error, "handling an OTA message failed: unknown exception");
        }
    }
}

// ---- lifecycle --------------------------------------------------------------------------------

Error ClientMachine::init() {
    if (state_ != OtaState::uninited) {
        return {Status::invalid_state, std::string("init() called in state ") + to_string(state_)};
    }
    dispatch(Event::init);
    return state_ == OtaState::inited ? Error{} : init_error_;
}

bool ClientMachine::act_init() {
    if (init_error_ = options_.validate(); !init_error_.ok()) return false;
    topics_ = make_topics(options_.product_key, options_.device_name);
    channel_.add_listener(*this);
    for (const std::string* topic : {&topics_.upgrade, &topics_.get_reply}) {
        const Status s = channel_.subscribe(*topic, kSubscribeQos);
        // A disconnected channel remembers the subscription and restores it on connect.
        if (s != Status::ok && s != Status::not_connected) {
            channel_.remove_listener(*this);
            init_error_ = {s, "subscribing to " + *topic + " failed"};
            return false;
        }
    }
    last_error_ = {};
    reporter_.start_job();
    log_lazy(LogLevel::debug, [&] {
        return "ota client for " + options_.product_key + "/" + options_.device_name +
               " initialised";
    });
    return true;
}

void ClientMachine::deinit() noexcept {
    channel_.remove_listener(*this);
    dispatch(Event::stop);
}

bool ClientMachine::act_shut_down() noexcept {
    stop_job();  // a stop is not a failure: the partial image stays resumable
    reported_version_.reset();
    reporter_.clear_queue();
    queued_events_.clear();
    return true;
}

void ClientMachine::reset() noexcept {
    dispatch(Event::reset);
}

bool ClientMachine::act_drop_job() noexcept {
    drop_job();
    return true;
}

Error ClientMachine::restart_download() {
    if (state_ != OtaState::pushed && state_ != OtaState::fetching && state_ != OtaState::fetched) {
        return {Status::invalid_state,
                std::string("restart_download() called in state ") + to_string(state_)};
    }
    dispatch(Event::restart);
    return {};
}

bool ClientMachine::act_restart() noexcept {
    attempt_.close();
    abort_sink();  // also removes the resume record: the restart is from byte 0
    clear_download_progress();
    reporter_.restart();
    return true;
}

// ---- reports ----------------------------------------------------------------------------------

Error ClientMachine::report_version(std::string_view version) {
    if (state_ == OtaState::uninited) return {Status::invalid_state, "client not initialised"};
    if (version.empty() || version.size() > kMaxVersionLength) {
        return {Status::invalid_argument,
                "version must be 1.." + std::to_string(kMaxVersionLength) + " characters long"};
    }
    reported_version_ = std::string(version);
    return publish_inform();
}

Error ClientMachine::report_progress(int step, std::string_view desc) {
    if (state_ == OtaState::uninited) return {Status::invalid_state, "client not initialised"};
    if (step < kStepMin || step > kStepMax) {
        return {Status::invalid_argument,
                "progress step " + std::to_string(step) + " is outside -4..100"};
    }
    if (step == kStepFetchFailed && download_healthy()) {
        // The seed's loop reports -2 for any FetchYield() without bytes: only the client knows
        // whether the download failed (and then it has reported that already).
        return {Status::invalid_state, "progress step -2 refused: the download has not failed"};
    }
    reporter_.flush();  // keeps the cloud's view in order
    return reporter_.report(step, desc, current_module());
}

Error ClientMachine::request_image() {
    if (state_ == OtaState::uninited) return {Status::invalid_state, "client not initialised"};
    const std::string payload = encode_firmware_get(ids_.next(), options_.module);
    const Status s = channel_.publish(topics_.firmware_get, payload, kFirmwareGetQos);
    if (s != Status::ok) return {s, "firmware/get not published"};
    return {};
}

Error ClientMachine::poll(std::chrono::milliseconds timeout) {
    const Running running(running_);
    const Status s = channel_.yield(timeout);
    apply_queued_events();
    if (reporter_.queued() > 0) reporter_.flush();
    if (s != Status::ok) return {s, "channel yield failed"};
    return {};
}

Error ClientMachine::publish_inform() {
    const std::string payload = encode_inform(ids_.next(), *reported_version_, options_.module);
    const Status s = channel_.publish(topics_.inform, payload, kInformQos);
    version_current_ = s == Status::ok;
    if (s != Status::ok) return {s, "version report not published"};
    return {};
}

Error ClientMachine::set_sink(FirmwareSink* sink) {
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

// ---- channel events ---------------------------------------------------------------------------

void ClientMachine::on_connected() {
    if (state_ == OtaState::uninited) return;
    try {
        queued_events_.push_back(QueuedEvent{Event::reconnected, std::nullopt, {}, ""});
        if (running_ == 0) apply_queued_events();
    } catch (...) {
        log(LogLevel::error, "re-reporting after a reconnect failed: unknown exception");
    }
}

bool ClientMachine::act_republish() {
    try {
        if (reported_version_ && !version_current_) {
            if (auto e = publish_inform(); !e.ok()) {
                log(LogLevel::warning, "re-reporting the version failed: " + e.message());
            }
        }
        reporter_.flush();
    } catch (const std::exception& e) {
        log(LogLevel::error, std::string("re-reporting after a reconnect failed: ") + e.what());
    }
    return true;
}

// ---- failures and cleanup ---------------------------------------------------------------------

void ClientMachine::abort_sink() noexcept {
    if (sink_ != nullptr && sink_active_) {
        journal_.close(*sink_);
        sink_->abort();
    } else {
        journal_.reset();
    }
    sink_active_ = false;
}

void ClientMachine::clear_download_progress() noexcept {
    fetched_ = 0;
    job_failed_ = false;
    attempt_.close();
    check_.reset();
    phase_ = Phase::idle;
    attempts_ = 0;
    schedule_.clear();
    rehash_target_ = 0;
    rehashed_ = 0;
}

void ClientMachine::drop_job() noexcept {
    attempt_.close();
    abort_sink();
    forget_job();
}

void ClientMachine::forget_job() noexcept {
    sink_active_ = false;
    clear_download_progress();
    job_.reset();
    targets_.clear();
    sink_ = app_sink_;
    file_index_ = 0;
    done_bytes_ = 0;
}

}  // namespace ota::detail

namespace ota {

/// OtaClient's implementation is the state machine.
class OtaClient::Impl final : public detail::ClientMachine {
  public:
    using detail::ClientMachine::ClientMachine;
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
