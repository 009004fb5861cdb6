// OtaClient::Impl, the fetch path: starting a download (fresh or crash-resumed), its attempts and
// retries, the end of the body, and the verdict on the image. The parts do the work and return
// outcomes; the steps below turn each outcome into an event, and the actions the transition
// table names (act_*) decide what it means for the job (report, retry, drop).
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
//    instead of being handed out twice. A permanent failure (or running out of attempts or time)
//    is reported (-2 / -4) once, the sink's partial image is dropped and the source closed; the
//    job ends in FETCHED with the verdict "invalid" cached, like a digest mismatch, until
//    reset() or a new push (the seed's loop waits for IsFetchFinish and then divides by the
//    job's size).
//  - Crash resume: with a sink that keeps resume records, the client periodically flushes the
//    sink and saves the job's identity with the flushed byte count (resume_record.hpp). When the
//    same job starts again, the stored bytes are re-hashed through the sink (in the caller's
//    buffer, a bounded amount per fetch_yield) and the download continues from there.
//  - The fetch hot path touches only preallocated state: no string is built and no std::function
//    copied per chunk; progress messages are composed only when the throttle lets one through.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "core/client_impl.hpp"
#include "core/lazy_log.hpp"
#include "core/percent.hpp"
#include "ota/log.hpp"

namespace ota::detail {

// ---- fetch_yield and check_firmware -----------------------------------------------------------

FetchResult ClientMachine::fetch_yield(std::uint8_t* buf, std::size_t len,
                                       std::chrono::milliseconds timeout) {
    const Running running(running_);
    // Queued pushes, replies and reconnects first; the channel does not allocate when idle.
    (void)channel_.yield(std::chrono::milliseconds(0));
    apply_queued_events();
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
    delivered_ = 0;
    if (state_ == OtaState::pushed) {
        dispatch(Event::fetch);
        if (state_ != OtaState::fetching) return fetch_result();
    }
    switch (phase_) {
        case Phase::rehash:
            rehash_step(buf, len, timeout);
            break;
        case Phase::backoff:
            backoff_step(buf, len, timeout);
            break;
        case Phase::idle:
            // Only reachable when a failure already dropped the job.
            return {last_error_.ok() ? Status::internal : last_error_.status, 0};
        case Phase::streaming:
            if (attempt_.awaiting_end()) {
                await_end(buf, len);
            } else {
                stream_step(buf, len, timeout);
            }
            break;
    }
    drain();
    return fetch_result();
}

FetchResult ClientMachine::fetch_result() const noexcept {
    // The call that saw the download fail returns the failure, without the bytes; later calls
    // find the state FETCHED (invalid_state).
    if (job_failed_ || state_ == OtaState::inited) return {last_error_.status, 0};
    return {Status::ok, delivered_};
}

bool ClientMachine::download_healthy() const noexcept {
    return state_ == OtaState::fetching || (state_ == OtaState::fetched && !job_failed_);
}

bool ClientMachine::act_fail() noexcept {
    try {
        log_lazy(LogLevel::error, [&] {
            return failure_.desc + " (version " + (job_ ? job_->version : std::string()) +
                   (job_ && target().protocol == DownloadProtocol::mqtt ? ", from " : ", url ") +
                   (job_ ? source_description(target()) : std::string()) + ")";
        });
        if (auto e = report_own(failure_.step, failure_.desc); !e.ok()) {
            log_lazy(LogLevel::warning,
                     [&] { return "reporting the failure failed: " + e.message(); });
        }
        last_error_ = {failure_.status, std::move(failure_.desc)};
    } catch (...) {
        last_error_ = {failure_.status};
    }
    // The job itself stays (FETCHED), as in the original SDK: a loop waiting for
    // is_fetch_finished() ends, check_firmware() answers "invalid" without reporting again, and
    // the job's size, version and digest stay readable (the seed divides by the size) until a
    // new push or reset() replaces it. Only the partial image goes: the failure is definitive.
    attempt_.close();
    abort_sink();
    phase_ = Phase::idle;
    job_failed_ = true;
    if (!check_) {
        try {
            check_ = CheckResult{false, last_error_};
        } catch (...) {
            check_ = CheckResult{false, Error{last_error_.status}};
        }
    }
    return true;
}

Error ClientMachine::check_firmware(bool& valid) {
    if (state_ != OtaState::fetched) {
        valid = false;
        return {Status::invalid_state,
                std::string("check_firmware() called in state ") + to_string(state_)};
    }
    if (!check_) dispatch(Event::verdict);
    valid = check_ && check_->valid;
    return check_ ? check_->error : Error{Status::internal};
}

bool ClientMachine::act_verify() {
    if (!check_) {
        CheckResult result;
        Verdict v = verifier_.verdict(target().digest, options_.signature, job_->ext_data_json);
        if (v.kind == Verdict::Kind::valid) {
            result.valid = true;
            if (sink_ != nullptr && sink_active_) {
                const Status cs = sink_->commit();
                if (cs != Status::ok) {
                    const std::string desc = with_storage_reason(
                        std::string("storage failed: committing the image failed: ") +
                        to_string(cs));
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
            if (v.kind != Verdict::Kind::digest_error) log(LogLevel::error, v.error.detail);
            (void)report_own(kStepCheckFailed, v.error.detail);
            abort_sink();
            if (v.kind == Verdict::Kind::digest_error) result.error = v.error;
            last_error_ = std::move(v.error);
        }
        check_ = result;
    }
    if (!multi_file()) return true;
    if (!check_->valid) {
        // The job fails once: the -3/-4 above was its failure report.
        fail(last_error_.status, kStepCheckFailed, last_error_.detail);
        return true;
    }
    done_bytes_ += target().size;
    if (file_index_ + 1 == targets_.size()) {
        fetched_ = 0;  // fetched_size() = done_bytes_ = the whole job
        if (options_.auto_progress) (void)report_own(kStepMax, {});
        return true;
    }
    ++file_index_;
    // The next file starts at 0: fetched_size() must not count the file just committed twice
    // (done_bytes_ already holds it) while the next one has not started.
    clear_download_progress();
    return false;
}

// ---- starting a download ----------------------------------------------------------------------

bool ClientMachine::act_start_download() {
    const DownloadTarget& t = target();
    clear_download_progress();
    if (const Status s = verifier_.start(t.digest.algorithm,
                                         options_.signature.needs_digest(job_->ext_data_json));
        s != Status::ok) {
        fail(s, kStepGeneralFailed, std::string("starting the digest failed: ") + to_string(s));
        return false;
    }
    const auto now = clock_.now();
    schedule_.start(now);
    std::uint64_t resume_from = 0;
    if (multi_file()) {
        sink_ = file_sink_provider_(job_->files[t.index], t.index, targets_.size());
        if (sink_ == nullptr) {
            fail(Status::storage_failed, kStepBurnFailed,
                 "storage failed: no sink for file " + std::to_string(t.index + 1) + " of " +
                     std::to_string(targets_.size()));
            return false;
        }
    }
    if (sink_ != nullptr) {
        if (t.size > sink_->capacity()) {
            fail(Status::storage_full, kStepBurnFailed,
                 "storage failed: the image of " + std::to_string(t.size) +
                     " bytes does not fit the storage (capacity " +
                     std::to_string(sink_->capacity()) + " bytes)");
            return false;
        }
        sink_active_ = true;  // a refused begin() is aborted too, to leave the sink idle
        const Status s = journal_.open(*sink_, t, job_->version, job_->module, now, resume_from);
        if (s != Status::ok) {
            fail(s, kStepBurnFailed,
                 "storage failed: could not begin an image of " + std::to_string(t.size) +
                     " bytes: " + to_string(s));
            return false;
        }
    }
    log_lazy(LogLevel::info, [&] {
        return "downloading version " + job_->version + " from " + source_description(t) +
               (resume_from > 0 ? " (resuming at byte " + std::to_string(resume_from) + ")"
                                : std::string());
    });
    // Step 0 whatever auto_progress says: the original library sent it itself.
    if (file_index_ == 0) (void)report_own(0, {});
    if (resume_from > 0) {
        phase_ = Phase::rehash;
        rehash_target_ = resume_from;
        rehashed_ = 0;
        return true;
    }
    start_attempt();
    return true;
}

void ClientMachine::start_attempt() {
    ++attempts_;
    const AttemptOutcome o = attempt_.open(select_source(), fetched_);
    if (o.kind != AttemptOutcome::Kind::nothing) {
        apply_outcome(o);
        return;
    }
    phase_ = Phase::streaming;
    if (attempts_ > 1) {
        log_lazy(LogLevel::info, [&] {
            return "download attempt " + std::to_string(attempts_) + " for version " +
                   job_->version + " from byte " + std::to_string(fetched_);
        });
    }
}

void ClientMachine::apply_outcome(const AttemptOutcome& o) {
    switch (o.kind) {
        case AttemptOutcome::Kind::nothing:
            return;
        case AttemptOutcome::Kind::transient:
            interrupt(Event::transient_failure, o.status, o.why, o.retry_after);
            break;
        case AttemptOutcome::Kind::stall:
            interrupt(Event::stall, o.status, o.why);
            break;
        case AttemptOutcome::Kind::failed:
            fail(o.status, kStepFetchFailed, o.why);
            break;
        case AttemptOutcome::Kind::data:
            raise(o.bytes == 0 && o.end_of_body && attempt_.awaiting_end() ? Event::end_of_body
                                                                           : Event::bytes_read);
            break;
    }
}

void ClientMachine::drain() {
    if (const auto e = std::exchange(follow_up_, std::nullopt)) dispatch(*e);
}

// ---- reading ----------------------------------------------------------------------------------

void ClientMachine::stream_step(std::uint8_t* buf, std::size_t len,
                                std::chrono::milliseconds timeout) {
    read_ = attempt_.read(buf, len, timeout, target().size, sink_ != nullptr);
    read_buf_ = buf;
    apply_outcome(read_);
}

bool ClientMachine::act_store_bytes() {
    const std::uint64_t size = target().size;
    std::uint8_t* buf = read_buf_;
    if (read_.restart_from_zero && !restart_from_zero()) return true;
    const std::size_t got = read_.bytes;
    if (got == 0) {  // end of body before `size` bytes: resumable
        interrupt(Event::transient_failure, Status::size_mismatch, short_body_description());
        return true;
    }
    if (got > size - fetched_) {
        fail(Status::size_mismatch, kStepFetchFailed,
             "download failed: body longer than announced size of " + std::to_string(size) +
                 " bytes");
        return true;
    }
    if (const Status s = verifier_.update(buf, got); s != Status::ok) {
        fail(s, kStepGeneralFailed, std::string("digest update failed: ") + to_string(s));
        return true;
    }
    if (sink_ != nullptr) {
        if (const Status s = sink_->write(fetched_, buf, got); s != Status::ok) {
            fail(s, kStepBurnFailed,
                 "storage failed: writing " + std::to_string(got) + " bytes at offset " +
                     std::to_string(fetched_) + " failed: " + to_string(s));
            return true;
        }
    }
    fetched_ += got;
    delivered_ = got;
    if (fetched_ == size) {
        if (read_.end_of_body) {
            raise(Event::end_of_body);
            return true;
        }
        attempt_.expect_end(options_.end_of_body_wait);
        // The caller's buffer holds the bytes being returned: probe into the scratch buffer.
        const AttemptOutcome end = attempt_.read_end(scratch_.data(), scratch_.size(), size);
        if (end.kind == AttemptOutcome::Kind::failed) fail(end.status, kStepFetchFailed, end.why);
        if (end.kind == AttemptOutcome::Kind::data) raise(Event::end_of_body);
        return true;
    }
    if (read_.end_of_body) {
        // These bytes are stored; the rest is asked for again.
        interrupt(Event::transient_failure, Status::size_mismatch, short_body_description());
        return true;
    }
    if (const Status s = save_record(false); s != Status::ok) {
        fail(s, kStepBurnFailed,
             std::string("storage failed: flushing the image failed: ") + to_string(s));
        return true;
    }
    if (options_.auto_progress) auto_progress();
    if (attempt_.stalled()) interrupt(Event::stall, Status::timeout, attempt_.stall_description());
    return true;
}

void ClientMachine::await_end(std::uint8_t* buf, std::size_t len) {
    apply_outcome(attempt_.read_end(buf, len, target().size));
}

std::string ClientMachine::short_body_description() const {
    return "body shorter than announced: got " + std::to_string(fetched_) + " of " +
           std::to_string(target().size) + " bytes";
}

bool ClientMachine::restart_from_zero() {
    log_lazy(LogLevel::warning, [&] {
        return "the server ignored the Range request for bytes " + std::to_string(fetched_) +
               "- (HTTP 200): restarting version " + job_->version + " from byte 0";
    });
    if (const Status s = verifier_.restart(); s != Status::ok) {
        fail(s, kStepGeneralFailed, std::string("restarting the digest failed: ") + to_string(s));
        return false;
    }
    fetched_ = 0;
    // The throttle keeps the highest step already sent: the cloud's progress bar does not jump
    // back; it moves again once the new body passes that point.
    journal_.restart(*sink_, clock_.now());
    if (const Status s = sink_->begin(target().size); s != Status::ok) {
        fail(s, kStepBurnFailed,
             "storage failed: could not begin an image of " + std::to_string(target().size) +
                 " bytes: " + to_string(s));
        return false;
    }
    return true;
}

bool ClientMachine::act_finish() {
    attempt_.close();
    phase_ = Phase::idle;
    log_lazy(LogLevel::info, [&] {
        return "downloaded version " + job_->version + " (" + std::to_string(fetched_) + " bytes" +
               (attempts_ > 1 ? ", " + std::to_string(attempts_) + " attempts" : std::string()) +
               ")";
    });
    if (multi_file()) {
        raise(Event::verdict);  // verified and committed before the next file starts
    } else if (options_.auto_progress) {
        (void)report_own(kStepMax, {});
    }
    return true;
}

// ---- retries ----------------------------------------------------------------------------------

bool ClientMachine::act_retry() {
    attempt_.close();
    const RetryPolicy& rp = options_.retry;
    const Interruption& in = interruption_;
    const auto d = schedule_.after_failure(fetched_, clock_.now(), in.retry_after);
    if (d.kind == RetryDecision::Kind::out_of_attempts) {
        std::string desc = "download failed: " + in.why;
        if (rp.max_attempts > 1) {
            desc += " (gave up after " + std::to_string(d.failures_in_row) +
                    " attempts in a row without progress)";
        }
        fail(in.status, kStepFetchFailed, std::move(desc));
        return true;
    }
    if (d.kind == RetryDecision::Kind::out_of_time) {
        fail(in.status, kStepFetchFailed,
             "download failed: " + in.why +
                 " (no time left for another attempt within the total deadline of " +
                 std::to_string(rp.total_deadline.count()) + " ms)");
        return true;
    }
    // The pause is a good moment to make the progress so far survive a crash.
    if (const Status s = save_record(true); s != Status::ok) {
        fail(s, kStepBurnFailed,
             std::string("storage failed: flushing the image failed: ") + to_string(s));
        return true;
    }
    phase_ = Phase::backoff;
    next_attempt_at_ = d.at;
    log_lazy(LogLevel::warning, [&] {
        return "download of version " + job_->version + " interrupted at byte " +
               std::to_string(fetched_) + " of " + std::to_string(target().size) + ": " + in.why +
               "; retrying in " + std::to_string(d.delay.count()) + " ms (" +
               std::to_string(d.failures_in_row) + " of at most " +
               std::to_string(rp.max_attempts) + " attempts without progress)";
    });
    return true;
}

void ClientMachine::backoff_step(std::uint8_t* buf, std::size_t len,
                                 std::chrono::milliseconds timeout) {
    timeout = std::max(timeout, std::chrono::milliseconds(0));
    const auto entered = clock_.now();
    if (entered < next_attempt_at_) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(next_attempt_at_ - entered);
        const auto wait = std::min(left, timeout);
        if (wait.count() > 0) {
            (void)channel_.yield(wait);
            apply_queued_events();  // none of them can end a download (FETCHING)
        }
        if (reporter_.queued() > 0) reporter_.flush();
        if (clock_.now() < next_attempt_at_) return;
    }
    start_attempt();
    if (follow_up_) return;  // the attempt could not start
    const auto spent = std::chrono::ceil<std::chrono::milliseconds>(clock_.now() - entered);
    stream_step(buf, len, std::max(timeout - spent, std::chrono::milliseconds(0)));
}

// ---- crash resume -----------------------------------------------------------------------------

void ClientMachine::rehash_step(std::uint8_t* buf, std::size_t len,
                                std::chrono::milliseconds timeout) {
    const auto deadline = clock_.now() + timeout;
    while (rehashed_ < rehash_target_) {
        const auto n =
            static_cast<std::size_t>(std::min<std::uint64_t>(len, rehash_target_ - rehashed_));
        if (const Status s = sink_->read(rehashed_, buf, n); s != Status::ok) {
            log(LogLevel::warning, "cannot read back the partial image of version " +
                                       job_->version + " at byte " + std::to_string(rehashed_) +
                                       ": " + to_string(s) + "; starting from byte 0");
            if (!discard_resumed()) return;
            break;
        }
        if (const Status s = verifier_.update(buf, n); s != Status::ok) {
            fail(s, kStepGeneralFailed, std::string("digest update failed: ") + to_string(s));
            return;
        }
        rehashed_ += n;
        if (rehashed_ < rehash_target_ && clock_.now() >= deadline) return;
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
        raise(Event::end_of_body);
        return;
    }
    if (options_.auto_progress) auto_progress();
    start_attempt();
}

bool ClientMachine::discard_resumed() {
    rehashed_ = 0;
    rehash_target_ = 0;
    journal_.discard(*sink_);
    if (const Status s = verifier_.restart(); s != Status::ok) {
        fail(s, kStepGeneralFailed, std::string("restarting the digest failed: ") + to_string(s));
        return false;
    }
    if (const Status s = sink_->begin(target().size); s != Status::ok) {
        fail(s, kStepBurnFailed,
             "storage failed: could not begin an image of " + std::to_string(target().size) +
                 " bytes: " + to_string(s));
        return false;
    }
    return true;
}

Status ClientMachine::save_record(bool force) {
    if (sink_ == nullptr) return Status::ok;
    return journal_.save(*sink_, fetched_, clock_.now(), force);
}

void ClientMachine::auto_progress() {
    // Capped at 99: 100 is reported when the end of the body has been confirmed.
    const int percent = std::min(percent_of(done_bytes_ + fetched_, job_->size), 99);
    if (percent <= 0) return;  // 0 went out when the download started
    if (!reporter_.would_send(percent)) return;
    (void)report_own(percent, {});
}

}  // namespace ota::detail
