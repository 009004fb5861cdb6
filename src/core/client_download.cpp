// OtaClient::Impl, the fetch path: starting a download (fresh or crash-resumed), its attempts and
// retries, the end of the body, and the verdict on the image (see ota_client.cpp for the
// decisions behind it). The parts do the work and return outcomes; this file decides what each
// outcome means for the job (report, retry, drop).
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "core/client_impl.hpp"
#include "core/lazy_log.hpp"
#include "ota/log.hpp"

namespace ota {

namespace {

using detail::AttemptOutcome;
using detail::log_lazy;

/// Whole percent of `done` out of `total` without overflowing 64 bits (0 when total is 0).
int percent_of(std::uint64_t done, std::uint64_t total) noexcept {
    if (total == 0) return 0;
    if (done >= total) return 100;
    constexpr std::uint64_t kLimit = std::numeric_limits<std::uint64_t>::max() / 100;
    const std::uint64_t p = done <= kLimit ? done * 100 / total : done / (total / 100);
    return static_cast<int>(std::min<std::uint64_t>(p, 100));
}

}  // namespace

FetchResult OtaClient::Impl::fetch_yield(std::uint8_t* buf, std::size_t len,
                                         std::chrono::milliseconds timeout) {
    // Queued pushes, replies and reconnects first; the channel does not allocate when idle.
    (void)channel_.yield(std::chrono::milliseconds(0));
    if (reporter_.queued() > 0) reporter_.flush();
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
    if (attempt_.awaiting_end()) return {await_end(buf, len), 0};
    return stream_step(buf, len, timeout);
}

Error OtaClient::Impl::check_firmware(bool& valid) {
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
    detail::Verdict v = verifier_.verdict(target().digest, options_.signature, job_->ext_data_json);
    if (v.kind == detail::Verdict::Kind::valid) {
        result.valid = true;
        if (sink_ != nullptr && sink_active_) {
            const Status cs = sink_->commit();
            if (cs != Status::ok) {
                const std::string desc =
                    std::string("storage failed: committing the image failed: ") + to_string(cs);
                (void)report_own(kStepBurnFailed, desc);
                abort_sink();
                result.valid = false;
                result.error = {Status::storage_failed, desc};
                last_error_ = result.error;
            } else {
                sink_active_ = false;
                journal_.close(*sink_);
            }
        }
    } else {
        // A mismatch or a refused signature: valid is false and the call itself succeeds;
        // a digest that could not be computed fails the call too.
        if (v.kind != detail::Verdict::Kind::digest_error) log(LogLevel::error, v.error.detail);
        (void)report_own(kStepCheckFailed, v.error.detail);
        abort_sink();
        if (v.kind == detail::Verdict::Kind::digest_error) result.error = v.error;
        last_error_ = std::move(v.error);
    }
    check_ = result;
    valid = result.valid;
    return result.error;
}

void OtaClient::Impl::auto_progress() {
    // Capped at 99: 100 is reported when the end of the body has been confirmed.
    const int percent = std::min(percent_of(done_bytes_ + fetched_, job_->size), 99);
    if (percent <= 0) return;  // 0 went out when the download started
    if (!reporter_.would_send(percent)) return;
    (void)report_own(percent, {});
}

bool OtaClient::Impl::start_download() {
    const detail::DownloadTarget& t = target();
    clear_download_progress();
    if (const Status s = verifier_.start(t.digest.algorithm,
                                         options_.signature.needs_digest(job_->ext_data_json));
        s != Status::ok) {
        (void)fail(s, kStepGeneralFailed,
                   std::string("starting the digest failed: ") + to_string(s));
        return false;
    }
    const auto now = clock_.now();
    schedule_.start(now);
    std::uint64_t resume_from = 0;
    if (multi_file()) {
        sink_ = file_sink_provider_(job_->files[t.index], t.index, targets_.size());
        if (sink_ == nullptr) {
            (void)fail(Status::storage_failed, kStepBurnFailed,
                       "storage failed: no sink for file " + std::to_string(t.index + 1) + " of " +
                           std::to_string(targets_.size()));
            return false;
        }
    }
    if (sink_ != nullptr) {
        if (t.size > sink_->capacity()) {
            (void)fail(Status::storage_full, kStepBurnFailed,
                       "storage failed: the image of " + std::to_string(t.size) +
                           " bytes does not fit the storage (capacity " +
                           std::to_string(sink_->capacity()) + " bytes)");
            return false;
        }
        sink_active_ = true;  // a refused begin() is aborted too, to leave the sink idle
        const Status s = journal_.open(*sink_, t, job_->version, job_->module, now, resume_from);
        if (s != Status::ok) {
            (void)fail(s, kStepBurnFailed,
                       "storage failed: could not begin an image of " + std::to_string(t.size) +
                           " bytes: " + to_string(s));
            return false;
        }
    }
    state_ = OtaState::fetching;
    log_lazy(LogLevel::info, [&] {
        return "downloading version " + job_->version + " from " + redact_url(t.url) +
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

bool OtaClient::Impl::start_attempt() {
    ++attempts_;
    const AttemptOutcome o = attempt_.open(target().url, fetched_);
    if (o.kind == AttemptOutcome::Kind::transient) {
        return transient(o.status, o.why).status == Status::ok;
    }
    if (o.kind == AttemptOutcome::Kind::failed) {
        (void)fail(o.status, kStepFetchFailed, o.why);
        return false;
    }
    phase_ = Phase::streaming;
    if (attempts_ > 1) {
        log_lazy(LogLevel::info, [&] {
            return "download attempt " + std::to_string(attempts_) + " for version " +
                   job_->version + " from byte " + std::to_string(fetched_);
        });
    }
    return true;
}

FetchResult OtaClient::Impl::stream_step(std::uint8_t* buf, std::size_t len,
                                         std::chrono::milliseconds timeout) {
    const std::uint64_t size = target().size;
    const AttemptOutcome o = attempt_.read(buf, len, timeout, size, sink_ != nullptr);
    switch (o.kind) {
        case AttemptOutcome::Kind::nothing:
            return {};
        case AttemptOutcome::Kind::transient:
            return transient(o.status, o.why, o.retry_after);
        case AttemptOutcome::Kind::failed:
            return fail(o.status, kStepFetchFailed, o.why);
        case AttemptOutcome::Kind::data:
            break;
    }
    if (o.restart_from_zero) {
        if (auto r = restart_from_zero()) return *r;
    }
    const std::size_t got = o.bytes;
    if (got == 0) {  // end of body before `size` bytes: resumable
        return transient(Status::size_mismatch, short_body_description());
    }
    if (got > size - fetched_) {
        return fail(Status::size_mismatch, kStepFetchFailed,
                    "download failed: body longer than announced size of " + std::to_string(size) +
                        " bytes");
    }
    if (const Status s = verifier_.update(buf, got); s != Status::ok) {
        return fail(s, kStepGeneralFailed, std::string("digest update failed: ") + to_string(s));
    }
    if (sink_ != nullptr) {
        if (const Status s = sink_->write(fetched_, buf, got); s != Status::ok) {
            return fail(s, kStepBurnFailed,
                        "storage failed: writing " + std::to_string(got) + " bytes at offset " +
                            std::to_string(fetched_) + " failed: " + to_string(s));
        }
    }
    fetched_ += got;
    if (fetched_ == size) {
        if (o.end_of_body) {
            if (const Status s = finish_fetch(); s != Status::ok) return {s, 0};
            return {Status::ok, got};
        }
        attempt_.expect_end(options_.end_of_body_wait);
        // The caller's buffer holds the bytes being returned: probe into the scratch buffer.
        const Status s = await_end(scratch_.data(), scratch_.size());
        if (s != Status::ok) return {s, 0};
        return {Status::ok, got};
    }
    if (o.end_of_body) {
        // These bytes are stored; the rest is asked for again.
        const FetchResult t = transient(Status::size_mismatch, short_body_description());
        return t.status == Status::ok ? FetchResult{Status::ok, got} : t;
    }
    if (const Status s = save_record(false); s != Status::ok) {
        return fail(s, kStepBurnFailed,
                    std::string("storage failed: flushing the image failed: ") + to_string(s));
    }
    if (options_.auto_progress) auto_progress();
    if (attempt_.stalled()) {
        const FetchResult t = transient(Status::timeout, attempt_.stall_description());
        return t.status == Status::ok ? FetchResult{Status::ok, got} : t;
    }
    return {Status::ok, got};
}

std::string OtaClient::Impl::short_body_description() const {
    return "body shorter than announced: got " + std::to_string(fetched_) + " of " +
           std::to_string(target().size) + " bytes";
}

FetchResult OtaClient::Impl::transient(Status status, const std::string& why,
                                       std::optional<std::chrono::seconds> retry_after) {
    attempt_.close();
    const RetryPolicy& rp = options_.retry;
    const auto d = schedule_.after_failure(fetched_, clock_.now(), retry_after);
    if (d.kind == detail::RetryDecision::Kind::out_of_attempts) {
        std::string desc = "download failed: " + why;
        if (rp.max_attempts > 1) {
            desc += " (gave up after " + std::to_string(d.failures_in_row) +
                    " attempts in a row without progress)";
        }
        return fail(status, kStepFetchFailed, std::move(desc));
    }
    if (d.kind == detail::RetryDecision::Kind::out_of_time) {
        return fail(status, kStepFetchFailed,
                    "download failed: " + why +
                        " (no time left for another attempt within "
                        "the total deadline of " +
                        std::to_string(rp.total_deadline.count()) + " ms)");
    }
    // The pause is a good moment to make the progress so far survive a crash.
    if (const Status s = save_record(true); s != Status::ok) {
        return fail(s, kStepBurnFailed,
                    std::string("storage failed: flushing the image failed: ") + to_string(s));
    }
    phase_ = Phase::backoff;
    next_attempt_at_ = d.at;
    log_lazy(LogLevel::warning, [&] {
        return "download of version " + job_->version + " interrupted at byte " +
               std::to_string(fetched_) + " of " + std::to_string(target().size) + ": " + why +
               "; retrying in " + std::to_string(d.delay.count()) + " ms (" +
               std::to_string(d.failures_in_row) + " of at most " +
               std::to_string(rp.max_attempts) + " attempts without progress)";
    });
    return {};
}

FetchResult OtaClient::Impl::backoff_step(std::uint8_t* buf, std::size_t len,
                                          std::chrono::milliseconds timeout) {
    timeout = std::max(timeout, std::chrono::milliseconds(0));
    const auto entered = clock_.now();
    if (entered < next_attempt_at_) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(next_attempt_at_ - entered);
        const auto wait = std::min(left, timeout);
        if (wait.count() > 0) (void)channel_.yield(wait);
        if (reporter_.queued() > 0) reporter_.flush();
        if (state_ != OtaState::fetching || phase_ != Phase::backoff) return {};
        if (clock_.now() < next_attempt_at_) return {};
    }
    if (!start_attempt()) return {last_error_.status, 0};
    if (phase_ != Phase::streaming) return {};
    const auto spent = std::chrono::ceil<std::chrono::milliseconds>(clock_.now() - entered);
    return stream_step(buf, len, std::max(timeout - spent, std::chrono::milliseconds(0)));
}

std::optional<FetchResult> OtaClient::Impl::restart_from_zero() {
    log_lazy(LogLevel::warning, [&] {
        return "the server ignored the Range request for bytes " + std::to_string(fetched_) +
               "- (HTTP 200): restarting version " + job_->version + " from byte 0";
    });
    if (const Status s = verifier_.restart(); s != Status::ok) {
        return fail(s, kStepGeneralFailed,
                    std::string("restarting the digest failed: ") + to_string(s));
    }
    fetched_ = 0;
    reporter_.restart();
    journal_.restart(*sink_, clock_.now());
    if (const Status s = sink_->begin(target().size); s != Status::ok) {
        return fail(s, kStepBurnFailed,
                    "storage failed: could not begin an image of " + std::to_string(target().size) +
                        " bytes: " + to_string(s));
    }
    return std::nullopt;
}

Status OtaClient::Impl::await_end(std::uint8_t* buf, std::size_t len) {
    const AttemptOutcome o = attempt_.read_end(buf, len, target().size);
    if (o.kind == AttemptOutcome::Kind::failed) {
        return fail(o.status, kStepFetchFailed, o.why).status;
    }
    if (o.kind == AttemptOutcome::Kind::data) return finish_fetch();
    return Status::ok;
}

Status OtaClient::Impl::finish_fetch() {
    attempt_.close();
    phase_ = Phase::idle;
    state_ = OtaState::fetched;
    log_lazy(LogLevel::info, [&] {
        return "downloaded version " + job_->version + " (" + std::to_string(fetched_) + " bytes" +
               (attempts_ > 1 ? ", " + std::to_string(attempts_) + " attempts" : std::string()) +
               ")";
    });
    if (multi_file()) return finish_file();
    if (options_.auto_progress) (void)report_own(kStepMax, {});
    return Status::ok;
}

Status OtaClient::Impl::finish_file() {
    bool valid = false;
    (void)check_firmware(valid);  // reports -3/-4 itself and aborts the file's sink
    if (!valid) {
        const Error e = last_error_;
        return fail(e.status, kStepCheckFailed, e.detail).status;  // not reported twice
    }
    done_bytes_ += target().size;
    if (file_index_ + 1 == targets_.size()) {
        fetched_ = 0;  // fetched_size() = done_bytes_ = the whole job
        if (options_.auto_progress) (void)report_own(kStepMax, {});
        return Status::ok;
    }
    ++file_index_;
    // The next file starts at 0: fetched_size() must not count the file just committed twice
    // (done_bytes_ already holds it) while the next one has not started.
    clear_download_progress();
    state_ = OtaState::pushed;
    return Status::ok;
}

FetchResult OtaClient::Impl::rehash_step(std::uint8_t* buf, std::size_t len,
                                         std::chrono::milliseconds timeout) {
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
        if (const Status s = verifier_.update(buf, n); s != Status::ok) {
            return fail(s, kStepGeneralFailed,
                        std::string("digest update failed: ") + to_string(s));
        }
        rehashed_ += n;
        if (rehashed_ < rehash_target_ && clock_.now() >= deadline) return {};
    }
    fetched_ = rehashed_;
    schedule_.set_baseline(fetched_);
    if (fetched_ > 0) {
        log_lazy(LogLevel::info, [&] {
            return "re-hashed " + std::to_string(fetched_) + " stored bytes of version " +
                   job_->version + "; continuing the download there";
        });
    }
    if (fetched_ == target().size) {  // everything was already stored
        phase_ = Phase::idle;
        if (const Status s = finish_fetch(); s != Status::ok) return {s, 0};
        return {};
    }
    if (options_.auto_progress) auto_progress();
    if (!start_attempt()) return {last_error_.status, 0};
    return {};
}

std::optional<FetchResult> OtaClient::Impl::discard_resumed() {
    rehashed_ = 0;
    rehash_target_ = 0;
    journal_.discard(*sink_);
    if (const Status s = verifier_.restart(); s != Status::ok) {
        return fail(s, kStepGeneralFailed,
                    std::string("restarting the digest failed: ") + to_string(s));
    }
    if (const Status s = sink_->begin(target().size); s != Status::ok) {
        return fail(s, kStepBurnFailed,
                    "storage failed: could not begin an image of " + std::to_string(target().size) +
                        " bytes: " + to_string(s));
    }
    return std::nullopt;
}

Status OtaClient::Impl::save_record(bool force) {
    if (sink_ == nullptr) return Status::ok;
    return journal_.save(*sink_, fetched_, clock_.now(), force);
}

}  // namespace ota
