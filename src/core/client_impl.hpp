// OtaClient::Impl: the client's state and the declarations of its operations. Internal: shared by
// ota_client.cpp (lifecycle, reports, channel events, the dispatcher and the job actions) and
// client_download.cpp (the fetch path: attempts, retries, crash resume, verification). Every state
// change is a row of the transition table (transitions.hpp) applied by dispatch(). The parts it is
// built from (download_attempt, retry_schedule, resume_journal, image_verifier,
// progress_reporter, job_admission, refusal_limit) return outcomes and never call back into it.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/download_attempt.hpp"
#include "core/download_target.hpp"
#include "core/image_verifier.hpp"
#include "core/progress_reporter.hpp"
#include "core/refusal_limit.hpp"
#include "core/resume_journal.hpp"
#include "core/retry_schedule.hpp"
#include "core/transitions.hpp"
#include "ota/client.hpp"
#include "ota/mqtt_byte_source.hpp"

namespace ota::detail {

/// The client behind OtaClient (which forwards to it and keeps exceptions inside the library):
/// the state, the transition table's actions and the fetch path. Internal; tests drive it through
/// OtaClient, and the transition test also through dispatch().
class ClientMachine : public ChannelListener {
  public:
    ClientMachine(MqttChannel& channel, ByteSource& source, ClientOptions options,
                  const Clock& clock)
        : channel_(channel),
          options_(std::move(options)),
          clock_(clock),
          reporter_(channel_, topics_, ids_, clock_, options_.progress, options_.progress_qos),
          http_source_(source),
          mqtt_source_(channel_, options_.product_key, options_.device_name, options_.mqtt_download,
                       clock_),
          attempt_(source, options_.retry, clock_),
          schedule_(options_.retry, options_.retry.jitter_seed),
          journal_(options_.resume) {}

    ~ClientMachine() override { deinit(); }
    ClientMachine(const ClientMachine&) = delete;
    ClientMachine& operator=(const ClientMachine&) = delete;

    // ---- lifecycle ------------------------------------------------------------------------

    Error init();

    void deinit() noexcept;

    // ---- reports --------------------------------------------------------------------------

    Error report_version(std::string_view version);

    Error report_progress(int step, std::string_view desc);

    Error request_image();

    Error poll(std::chrono::milliseconds timeout);

    // ---- download -------------------------------------------------------------------------

    FetchResult fetch_yield(std::uint8_t* buf, std::size_t len, std::chrono::milliseconds timeout);

    Error check_firmware(bool& valid);

    void reset() noexcept;

    Error restart_download();

    Error set_sink(FirmwareSink* sink);

    void set_job_handler(std::function<void(const UpgradeJob&)> handler) {
        job_handler_ = std::move(handler);
    }
    void set_file_sink_provider(FileSinkProvider provider) {
        file_sink_provider_ = std::move(provider);
    }

    // ---- getters --------------------------------------------------------------------------

    OtaState state() const noexcept { return state_; }
    std::uint64_t fetched_size() const noexcept {
        // While a resumed image is re-hashed, its stored bytes already count as fetched.
        return done_bytes_ + (phase_ == Phase::rehash ? rehash_target_ : fetched_);
    }
    std::size_t queued_reports() const noexcept { return reporter_.queued(); }
    std::uint64_t file_size() const noexcept { return job_ ? job_->size : 0; }
    const UpgradeJob* job() const noexcept { return job_ ? &*job_ : nullptr; }
    std::size_t file_index() const noexcept { return multi_file() ? file_index_ : 0; }
    std::size_t file_count() const noexcept { return job_ ? targets_.size() : 0; }
    /// The digest of the image (or file) being downloaded.
    std::string_view expected_digest() const noexcept {
        return job_ ? std::string_view(target().digest.hex) : std::string_view{};
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

    /// Queues the event of a push or get_reply (decoded here) for the next apply point.
    void on_message(std::string_view topic, std::string_view payload) override;

    /// Queues the reconnect for the next apply point.
    void on_connected() override;

    /// The version must be reported again once the channel is back (a connected event that
    /// follows no loss, e.g. the first connect's, finds it already reported).
    void on_connection_lost() override { version_current_ = false; }

    /// Applies `event` through the transition table, then the follow-up events the actions
    /// left, one after another. The only place where the state changes.
    void dispatch(Event event);

  private:
    /// An event from the channel, waiting for the next apply point.
    struct QueuedEvent {
        Event event = Event::push;
        std::optional<UpgradeJob> job;  ///< push, get_reply
        std::string message;            ///< malformed: the decoder's message
        const char* what = "";          ///< malformed: "upgrade push" or "firmware/get reply"
    };

    /// Why the download failed, for the permanent_failure event.
    struct Failure {
        Status status = Status::ok;
        int step = 0;
        std::string desc;
    };

    /// Why the attempt was interrupted, for the transient_failure and stall events.
    struct Interruption {
        Status status = Status::ok;
        std::string why;
        std::optional<std::chrono::seconds> retry_after;
    };

    // ---- the state machine (ota_client.cpp) -------------------------------------------------

    /// Runs `action`; true when it succeeded (the state becomes the row's `next`).
    bool run(Action action);
    /// Leaves a follow-up event for the dispatcher (an action never dispatches itself).
    void raise(Event event) noexcept { follow_up_ = event; }
    /// Records why the download failed and raises permanent_failure.
    void fail(Status status, int step, std::string desc);
    /// Records why the attempt ended and raises `event` (transient_failure or stall).
    void interrupt(Event event, Status status, std::string why,
                   std::optional<std::chrono::seconds> retry_after = std::nullopt);
    /// Applies the channel events queued since the last apply point.
    void apply_queued_events();
    /// Marks the client as running one of its own calls that yield to the channel.
    struct Running {
        explicit Running(int& n) noexcept : n_(n) { ++n_; }
        ~Running() { --n_; }
        Running(const Running&) = delete;
        Running& operator=(const Running&) = delete;
        int& n_;
    };
    /// What fetch_yield() returns after its events were applied.
    FetchResult fetch_result() const noexcept;
    /// True while a download runs or after it completed: a -2 from the application would be
    /// false (the client reports a failed download itself).
    bool download_healthy() const noexcept;

    bool act_init();

    // ---- incoming jobs and bad messages (client_push.cpp) -----------------------------------

    bool act_take_job();
    bool act_replace_job();
    bool act_report_malformed();
    bool act_log_malformed();
    /// FETCHED after the job's failure was reported (-2/-3/-4): the cloud no longer waits for it,
    /// so refusals of later messages are reported again (under the rate limit).
    bool job_closed_by_failure() const noexcept;
    /// Admission of the incoming job; `job_running`: a refusal is logged, not reported.
    bool take_incoming_job(bool job_running);
    /// Logs a malformed incoming message and reports it unless `job_running`.
    bool note_malformed(bool job_running);
    /// Step -1 for a refused job or malformed message `what`, `why` the cloud's desc: only
    /// logged while a job runs, else published under refusals_ (the others logged, counted).
    void report_refusal(std::string_view what, std::string_view why, std::string_view module,
                        bool job_running);

    bool act_restart() noexcept;
    bool act_drop_job() noexcept;
    bool act_republish();
    bool act_shut_down() noexcept;
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

    bool multi_file() const noexcept { return job_ && !job_->files.empty(); }
    const DownloadTarget& target() const noexcept { return targets_[file_index_]; }

    std::string_view current_module() const noexcept {
        return job_ ? std::string_view(job_->module) : std::string_view(options_.module);
    }

    Error publish_inform();

    Error report_own(int step, std::string_view desc) {
        return reporter_.report_own(step, desc, current_module());
    }

    void auto_progress();

    // ---- the download's actions (client_download.cpp) ---------------------------------------

    /// PUSHED -> FETCHING: digest, sink (fresh or resumed) and the first attempt. False when the
    /// download could not start (permanent_failure raised).
    bool act_start_download();
    /// Stores the bytes of read_ (digest, sink, record, progress); raises end_of_body,
    /// transient_failure, stall or permanent_failure when the attempt ends.
    bool act_store_bytes();
    /// The target is complete: FETCHED; for a multi-file job the verdict follows.
    bool act_finish();
    /// Schedules the next attempt after interruption_, or raises permanent_failure.
    bool act_retry();
    /// Reports failure_ once, drops the partial image and keeps the job with the verdict
    /// "invalid" (FETCHED).
    bool act_fail() noexcept;
    /// The verdict on the target (cached); multi-file: commits it and moves on to the next file
    /// (false: state PUSHED) or, after the last, stays FETCHED.
    bool act_verify();

    // ---- the download's steps: read, and turn the outcome into events ------------------------

    /// Points the attempt at the source of the current target (client_source.cpp) and returns
    /// what to open: the URL, or the MQTT stream's pseudo-URL.
    std::string select_source();
    /// Opens the source at fetched_ and raises transient_failure or permanent_failure when that
    /// fails; the phase is then streaming.
    void start_attempt();
    /// Raises the event that applies an attempt's outcome.
    void apply_outcome(const AttemptOutcome& outcome);
    /// Applies the event a step raised (the steps run outside any action).
    void drain();
    /// One read of the open attempt (not yet at the end of the image).
    void stream_step(std::uint8_t* buf, std::size_t len, std::chrono::milliseconds timeout);
    /// Waits (at most `timeout`, serving the channel) for the next attempt, then starts it and
    /// reads from it for whatever is left of `timeout`.
    void backoff_step(std::uint8_t* buf, std::size_t len, std::chrono::milliseconds timeout);
    /// Re-hashes (a bounded part of) the resumed bytes, then starts the first attempt.
    void rehash_step(std::uint8_t* buf, std::size_t len, std::chrono::milliseconds timeout);
    /// One read after the last byte into `buf`.
    void await_end(std::uint8_t* buf, std::size_t len);

    std::string short_body_description() const;
    /// A 200 answered a Range request: fresh digest, sink begun again, from byte 0. False after
    /// a failure (raised).
    bool restart_from_zero();
    /// The resumed bytes cannot be used: drop them and start at byte 0. False after a failure.
    bool discard_resumed();
    /// Saves the resume record when the journal's policy says so (see ResumeJournal::save).
    Status save_record(bool force);

    /// Drops the sink's partial image and the resume record that points at it.
    void abort_sink() noexcept;

    /// A stop (client_stop.cpp): forgets the job without reporting anything; the sink is
    /// suspended with its partial image and a fresh resume record, for the next run to resume.
    void stop_job() noexcept;

    /// `desc` plus the sink's reason for its last failure (the OS error), when it has one.
    std::string with_storage_reason(std::string desc) const;

    /// Forgets how far the current target's download got.
    void clear_download_progress() noexcept;

    /// Forgets the current job, releasing the source and any uncommitted image.
    void drop_job() noexcept;
    /// The part drop_job() and stop_job() share once the sink was aborted or suspended: no job,
    /// no download progress, the application's sink again.
    void forget_job() noexcept;

    MqttChannel& channel_;
    const ClientOptions options_;
    const Clock& clock_;
    Topics topics_;
    MessageIds ids_;
    ProgressReporter reporter_;
    RefusalLimit refusals_;  // step -1 reports of refused jobs and malformed messages

    OtaState state_ = OtaState::uninited;
    std::optional<Event> follow_up_;  // left by an action for the dispatcher
    std::deque<QueuedEvent> queued_events_;
    QueuedEvent* incoming_ = nullptr;  // the channel event being applied
    int running_ =
        0;  // > 0 inside poll() or fetch_yield(): channel events wait for the apply point
    bool notify_job_ = false;  // a job was taken: call the job handler
    Error init_error_;         // why the last init failed
    Failure failure_;
    Interruption interruption_;
    AttemptOutcome read_;  // the bytes_read event's data (bytes in read_buf_)
    std::uint8_t* read_buf_ = nullptr;
    std::size_t delivered_ = 0;  // bytes this fetch_yield() hands out
    std::optional<std::string> reported_version_;
    bool version_current_ = false;  // reported_version_ published since the last connection loss
    Error last_error_;
    std::function<void(const UpgradeJob&)> job_handler_;
    FileSinkProvider file_sink_provider_;

    // The current job (never changed once taken) and what it downloads, one target at a time.
    std::optional<UpgradeJob> job_;
    std::vector<DownloadTarget> targets_;
    std::size_t file_index_ = 0;        // the target being downloaded
    std::uint64_t done_bytes_ = 0;      // bytes of the files already verified and committed
    FirmwareSink* app_sink_ = nullptr;  // set_sink()'s, restored after a multi-file job
    FirmwareSink* sink_ = nullptr;
    bool sink_active_ = false;  // begin() called, neither committed nor aborted since

    // The current target's download.
    Phase phase_ = Phase::idle;
    std::uint64_t fetched_ = 0;
    std::size_t attempts_ = 0;  // source opens for this target
    Clock::time_point next_attempt_at_{};
    std::uint64_t rehash_target_ = 0;
    std::uint64_t rehashed_ = 0;
    std::array<std::uint8_t, 8> scratch_{};  // end-of-body probe; any byte there is an error
    std::optional<CheckResult> check_;       // the verdict; also set (invalid) by a failure
    bool job_failed_ = false;                // the download failed for good (act_fail)
    ImageVerifier verifier_;
    ByteSource& http_source_;     // the application's (HTTPS jobs)
    MqttByteSource mqtt_source_;  // on channel_ (jobs with dProtocol "mqtt")
    DownloadAttempt attempt_;
    RetrySchedule schedule_;
    ResumeJournal journal_;
};

}  // namespace ota::detail
