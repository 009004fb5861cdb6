#include "core/resume_journal.hpp"

#include <string>
#include <vector>

#include "core/resume_record.hpp"
#include "ota/log.hpp"

namespace ota::detail {

void ResumeJournal::reset() noexcept {
    supported_ = false;
    enabled_ = false;
    recorded_bytes_ = 0;
}

Status ResumeJournal::open(FirmwareSink& sink, const DownloadTarget& target,
                           std::string_view version, std::string_view module, Clock::time_point now,
                           std::uint64_t& resume_from) {
    resume_from = 0;
    reset();
    recorded_at_ = now;
    if (policy_.enabled) {
        record_ =
            resume_identity(version, target.size, target.digest, identity_url(target), module);
        identity_len_ = record_.size();
        if (identity_len_ + kResumeRecordTailMax <= FirmwareSink::kMaxResumeRecordSize) {
            record_.reserve(identity_len_ + kResumeRecordTailMax);
            std::vector<std::uint8_t> stored;
            const Status ls = sink.load_record(stored);
            if (ls != Status::invalid_state) {
                supported_ = true;
                enabled_ = true;  // a failing save turns this off again for the download
                if (ls == Status::ok && !stored.empty()) {
                    if (try_resume(sink, stored, target.size, version, resume_from)) {
                        return Status::ok;
                    }
                } else if (ls != Status::ok) {
                    log(LogLevel::warning, std::string("cannot load the resume record: ") +
                                               to_string(ls) + "; starting from byte 0");
                    sink.clear_record();
                }
            }
        }
    }
    return sink.begin(target.size);
}

bool ResumeJournal::try_resume(FirmwareSink& sink, const std::vector<std::uint8_t>& stored,
                               std::uint64_t size, std::string_view version,
                               std::uint64_t& resume_from) {
    const std::string_view text(reinterpret_cast<const char*>(stored.data()), stored.size());
    const std::string_view identity(record_.data(), identity_len_);
    const auto bytes = parse_resume_record(text, identity);
    std::string why;
    if (!bytes) {
        why = "it belongs to another job or is damaged";
    } else if (*bytes == 0 || *bytes > size) {
        why = "it claims " + std::to_string(*bytes) + " bytes of " + std::to_string(size);
    } else {
        std::uint64_t have = 0;
        const Status rs = sink.resume(size, have);
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
    log(LogLevel::warning, "discarding the resume record for version " + std::string(version) +
                               ": " + why + "; starting from byte 0");
    sink.clear_record();
    return false;
}

Status ResumeJournal::save(FirmwareSink& sink, std::uint64_t fetched, Clock::time_point now,
                           bool force) {
    if (!enabled_ || fetched <= recorded_bytes_) return Status::ok;
    if (!force && (fetched - recorded_bytes_ < policy_.record_every_bytes ||
                   now - recorded_at_ < policy_.record_min_interval)) {
        return Status::ok;
    }
    // Durable bytes first: the record must never claim more than the medium holds.
    if (const Status s = sink.flush(); s != Status::ok) return s;
    finish_resume_record(record_, identity_len_, fetched);
    const Status s =
        sink.save_record(reinterpret_cast<const std::uint8_t*>(record_.data()), record_.size());
    if (s != Status::ok) {
        log(LogLevel::warning, std::string("cannot save the resume record: ") + to_string(s) +
                                   "; this download will not survive a restart");
        enabled_ = false;
        return Status::ok;
    }
    recorded_bytes_ = fetched;
    recorded_at_ = now;
    return Status::ok;
}

void ResumeJournal::restart(FirmwareSink& sink, Clock::time_point now) noexcept {
    if (supported_) sink.clear_record();
    recorded_bytes_ = 0;
    recorded_at_ = now;
}

void ResumeJournal::discard(FirmwareSink& sink) noexcept {
    if (supported_) sink.clear_record();
    recorded_bytes_ = 0;
}

void ResumeJournal::close(FirmwareSink& sink) noexcept {
    if (supported_) sink.clear_record();
    reset();
}

}  // namespace ota::detail
