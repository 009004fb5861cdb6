// OtaClient::Impl at the sink seam: what a stop does (deinit(), the client's destruction, and
// through them IOT_OTA_Deinit and the FotaAgent's stop), and the storage reason a failure report
// carries.
//
// Decisions worth knowing when reading this file:
//  - A stop is not a failure: nothing is reported, and the sink is suspended instead of aborted,
//    so its partial image and resume record stay for the next run. Before suspending, the bytes
//    written so far are flushed and recorded, so the next run resumes from where this one stopped
//    rather than from the last periodic record.
//  - Only a definitive failure (act_fail, a mismatching digest, a failed commit) or an explicit
//    reset()/restart_download()/new job aborts the sink.
#include <exception>
#include <string>

#include "core/client_impl.hpp"
#include "core/lazy_log.hpp"
#include "ota/log.hpp"

namespace ota::detail {

void ClientMachine::stop_job() noexcept {
    attempt_.close();
    if (sink_ != nullptr && sink_active_) {
        try {
            // During a re-hash fetched_ is not yet the stored length: the record on the medium
            // still describes the partial image, and it stays as it is.
            const Status s = phase_ == Phase::rehash ? Status::ok : save_record(true);
            if (s != Status::ok) {
                log(LogLevel::warning, std::string("stopping: flushing the image failed: ") +
                                           to_string(s) + "; the next start resumes from the " +
                                           "last record");
            }
            log_lazy(LogLevel::info, [&] {
                return "stopped the download of version " + job_->version + " at byte " +
                       std::to_string(fetched_size()) + "; the next start resumes there";
            });
        } catch (const std::exception&) {
            // Only the log line or the record could not be built; the suspend below still runs.
        }
        journal_.reset();  // forgets the record without removing it
        sink_->suspend();
    } else {
        journal_.reset();
    }
    forget_job();
}

std::string ClientMachine::with_storage_reason(std::string desc) const {
    if (sink_ == nullptr) return desc;
    const std::string reason = sink_->error_detail();
    if (reason.empty() || desc.find(reason) != std::string::npos) return desc;
    return desc + " (" + reason + ")";
}

}  // namespace ota::detail
