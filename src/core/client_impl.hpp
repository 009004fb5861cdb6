// OtaClient::Impl: the client's state and the declarations of its operations. Internal: shared by
// ota_client.cpp (lifecycle, reports, channel events, jobs) and client_download.cpp (the fetch
// path: attempts, retries, crash resume, verification). The parts it is built from
// (download_attempt, retry_schedule, resume_journal, image_verifier, progress_reporter,
// job_admission) return outcomes and never call back into it.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/download_attempt.hpp"
#include "core/download_target.hpp"
#include "core/image_verifier.hpp"
#include "core/progress_reporter.hpp"
#include "core/resume_journal.hpp"
#include "core/retry_schedule.hpp"
#include "ota/client.hpp"

namespace ota {

class OtaClient::Impl final : public ChannelListener {
  public:
    Impl(MqttChannel& channel, ByteSource& source, ClientOptions options, const Clock& clock)
        : channel_(channel),
          options_(std::move(options)),
          clock_(clock),
          reporter_(channel_, topics_, ids_, clock_, options_.progress, options_.progress_qos),
          attempt_(source, options_.retry, clock_),
          schedule_(options_.retry, options_.retry.jitter_seed),
          journal_(options_.resume) {}

    ~Impl() override { deinit(); }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

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

    void on_message(std::string_view topic, std::string_view payload) override;

    void on_connected() override;

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

    bool multi_file() const noexcept { return job_ && !job_->files.empty(); }
    const detail::DownloadTarget& target() const noexcept { return targets_[file_index_]; }

    std::string_view current_module() const noexcept {
        return job_ ? std::string_view(job_->module) : std::string_view(options_.module);
    }

    Error publish_inform();

    Error report_own(int step, std::string_view desc) {
        return reporter_.report_own(step, desc, current_module());
    }

    void auto_progress();

    void handle_malformed(const DecodeError& error, const char* what);

    void take_job(UpgradeJob job);

    // ---- download: attempts ---------------------------------------------------------------

    /// PUSHED -> FETCHING: digest, sink (fresh or resumed) and the first attempt. False when the
    /// download already failed (reported, state INITED).
    bool start_download();

    /// Opens the source at fetched_. True when the download goes on (streaming, or backing off
    /// after a transient open failure), false after a permanent failure.
    bool start_attempt();

    /// One read of the open attempt (not yet at the end of the image).
    FetchResult stream_step(std::uint8_t* buf, std::size_t len, std::chrono::milliseconds timeout);

    std::string short_body_description() const;

    /// Ends the current attempt after a transient failure and schedules the next one, or fails
    /// the download when no attempt or time is left. {ok, 0} while the download goes on.
    FetchResult transient(Status status, const std::string& why,
                          std::optional<std::chrono::seconds> retry_after = std::nullopt);

    /// Waits (at most `timeout`, serving the channel) for the next attempt, then starts it and
    /// reads from it for whatever is left of `timeout`.
    FetchResult backoff_step(std::uint8_t* buf, std::size_t len, std::chrono::milliseconds timeout);

    /// A 200 answered a Range request: fresh digest, sink begun again, from byte 0.
    std::optional<FetchResult> restart_from_zero();

    /// One read after the last byte: ok while still waiting, or the failure (already handled).
    Status await_end(std::uint8_t* buf, std::size_t len);

    /// The current image (or file) is complete: FETCHED, or for a multi-file job the file is
    /// verified and committed and the next one is set up. Not ok when that failed (reported).
    Status finish_fetch();

    /// Multi-file: verifies and commits the file just fetched (check_firmware), then moves on to
    /// the next file (state PUSHED) or, after the last, stays FETCHED with the cached verdict.
    Status finish_file();

    // ---- download: crash resume -----------------------------------------------------------

    /// Re-hashes (a bounded part of) the resumed bytes, then starts the first attempt.
    FetchResult rehash_step(std::uint8_t* buf, std::size_t len, std::chrono::milliseconds timeout);

    /// The resumed bytes cannot be used: drop them and start at byte 0.
    std::optional<FetchResult> discard_resumed();

    /// Saves the resume record when the journal's policy says so (see ResumeJournal::save).
    Status save_record(bool force);

    /// Reports `step`, records the error and drops the job (state INITED).
    FetchResult fail(Status status, int step, std::string desc);

    /// Drops the sink's partial image and the resume record that points at it.
    void abort_sink() noexcept;

    /// Forgets how far the current target's download got.
    void clear_download_progress() noexcept;

    /// Forgets the current job, releasing the source and any uncommitted image.
    void drop_job() noexcept;

    MqttChannel& channel_;
    const ClientOptions options_;
    const Clock& clock_;
    Topics topics_;
    detail::MessageIds ids_;
    detail::ProgressReporter reporter_;

    OtaState state_ = OtaState::uninited;
    std::optional<std::string> reported_version_;
    Error last_error_;
    std::function<void(const UpgradeJob&)> job_handler_;
    FileSinkProvider file_sink_provider_;

    // The current job (never changed once taken) and what it downloads, one target at a time.
    std::optional<UpgradeJob> job_;
    std::vector<detail::DownloadTarget> targets_;
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
    std::optional<CheckResult> check_;
    detail::ImageVerifier verifier_;
    detail::DownloadAttempt attempt_;
    detail::RetrySchedule schedule_;
    detail::ResumeJournal journal_;
};

}  // namespace ota
