// OtaClient::Impl: what the client does with the jobs and bad messages that arrive on the upgrade
// and firmware/get reply topics (the take_job, replace_job, report_malformed and log_malformed
// actions of the transition table).
//
// The rules (issue 10), and why:
//  - While a job runs (PUSHED, FETCHING, FETCHED), a malformed message or a refused job is
//    logged, never reported: progress messages carry no job id, so the cloud would take a -1 as
//    the running job's failure. The table says which states those are (replace_job,
//    log_malformed).
//  - Otherwise (INITED) it is reported as step -1, but at most once per second (RefusalLimit):
//    a flood of bad pushes must not become a flood of reports. The others are logged and
//    counted; the next report that goes out is logged with their number.
//  - A job for the version the client last reported is not downloaded again: the client reports
//    its version once more, which is how the cloud closes such a task (job admission's
//    `running` outcome).
#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include "core/client_impl.hpp"
#include "core/job_admission.hpp"
#include "core/lazy_log.hpp"
#include "ota/log.hpp"

namespace ota::detail {

void ClientMachine::on_message(std::string_view topic, std::string_view payload) {
    if (state_ == OtaState::uninited) return;
    const bool is_push = topic == topics_.upgrade;
    const bool is_reply = !is_push && topic == topics_.get_reply;
    if (!is_push && !is_reply) return;
    // Nothing may escape into the channel (or through it into the application's poll()).
    try {
        DecodeResult r = is_push ? decode_upgrade_push(payload) : decode_get_reply(payload);
        QueuedEvent e;
        if (r.error) {
            e.event = Event::malformed;
            e.message = std::move(r.error->message);
            e.what = is_push ? "upgrade push" : "firmware/get reply";
        } else if (r.job) {
            e.event = is_push ? Event::push : Event::get_reply;
            e.job = std::move(r.job);
        } else {
            log_lazy(LogLevel::debug, [] { return std::string("no pending upgrade job"); });
            return;
        }
        queued_events_.push_back(std::move(e));
        // A client that is not inside its own poll() or fetch_yield() (its channel is served by
        // another client's call) applies the event now: no action of its own is running.
        if (running_ == 0) apply_queued_events();
    } catch (const std::exception& e) {
        log(LogLevel::error, std::string("handling an OTA message failed: ") + e.what());
    } catch (...) {
        log(LogLevel::error, "handling an OTA message failed: unknown exception");
    }
}

void ClientMachine::report_refusal(std::string_view what, std::string_view why,
                                   std::string_view module, bool job_running) {
    if (job_running) {
        log_lazy(LogLevel::warning, [&] {
            return std::string(what) + ": " + std::string(why) +
                   "; not reported while a job runs (the cloud would fail that job)";
        });
        return;
    }
    if (!refusals_.allow(clock_.now())) {
        if (refusals_.suppressed() == 1) {
            log(LogLevel::warning,
                "more refused messages arrive: at most one is reported per "
                "second, the others are only logged (at debug level)");
        }
        log_lazy(LogLevel::debug, [&] {
            return std::string(what) + ": " + std::string(why) + " (not reported: rate limit)";
        });
        return;
    }
    const std::uint64_t left_out = refusals_.take_suppressed();
    log_lazy(LogLevel::warning, [&] {
        return std::string(what) + ": " + std::string(why) +
               (left_out == 0 ? std::string()
                              : " (" + std::to_string(left_out) +
                                    " refused message(s) before it were not reported)");
    });
    const Status s = reporter_.publish(kStepGeneralFailed, why, module);
    if (s != Status::ok) {
        log_lazy(LogLevel::warning,
                 [&] { return std::string("reporting the refusal failed: ") + to_string(s); });
    }
}

bool ClientMachine::act_report_malformed() {
    return note_malformed(false);
}

bool ClientMachine::act_log_malformed() {
    return note_malformed(!job_closed_by_failure());
}

bool ClientMachine::note_malformed(bool job_running) {
    const QueuedEvent& e = *incoming_;
    report_refusal(std::string("rejected ") + e.what, e.message, options_.module, job_running);
    last_error_ = {Status::malformed_message, e.message};
    return true;
}

bool ClientMachine::act_take_job() {
    return take_incoming_job(false);
}

bool ClientMachine::act_replace_job() {
    return take_incoming_job(!job_closed_by_failure());
}

bool ClientMachine::job_closed_by_failure() const noexcept {
    // A job whose -2/-3/-4 went out is over for the cloud: a refusal then fails no running job.
    return state_ == OtaState::fetched && check_ && !check_->valid;
}

bool ClientMachine::take_incoming_job(bool job_running) {
    UpgradeJob& job = *incoming_->job;
    const Admission a =
        admit_job(job, options_, {&reported_version_, static_cast<bool>(file_sink_provider_)});
    switch (a.kind) {
        case Admission::Kind::accept:
            break;
        case Admission::Kind::ignore:
            log_lazy(LogLevel::debug, [&] { return "ignoring a job " + a.error.detail; });
            return false;
        case Admission::Kind::running:
            log_lazy(LogLevel::info, [&] {
                return "not downloading the job for version " + job.version + ": " +
                       a.error.detail +
                       "; reporting the version again (the cloud closes the "
                       "task on it)";
            });
            if (auto e = publish_inform(); !e.ok()) {
                log(LogLevel::warning, "re-reporting the version failed: " + e.message());
            }
            return false;
        case Admission::Kind::refuse:
            report_refusal("refused a job for version " + job.version, a.error.detail, job.module,
                           job_running);
            last_error_ = a.error;
            return false;
    }
    drop_job();  // a PUSHED or FETCHED job is replaced; its uncommitted image is dropped
    job_ = std::move(job);
    targets_ = download_targets(*job_);
    reporter_.start_job();
    log_lazy(LogLevel::info, [&] {
        return "accepted a job for version " + job_->version + " (" +
               std::to_string(target().size) + " bytes, " + to_string(target().digest.algorithm) +
               ") from " + source_description(target());
    });
    notify_job_ = true;
    return true;
}

}  // namespace ota::detail
