// The crash-resume journal of one download (ResumePolicy in ota/options.hpp): opening the sink
// for a target (afresh, or resuming the partial image an earlier run left), saving the resume
// record as the download goes on, and removing it. Internal. It works on the sink it is given and
// returns statuses; the client decides what a failure means for the job.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/download_target.hpp"
#include "ota/clock.hpp"
#include "ota/firmware_sink.hpp"
#include "ota/options.hpp"

namespace ota::detail {

/// The resume record of the target being downloaded into one sink.
class ResumeJournal {
  public:
    /// `policy` must outlive the journal.
    explicit ResumeJournal(const ResumePolicy& policy) noexcept : policy_(policy) {}

    /// Begins `sink` for `target` of the job (`version`, `module`), or resumes the partial image
    /// of an earlier run of the same target: `resume_from` is then the number of stored bytes to
    /// re-hash (0 when starting afresh). A record that does not match is discarded. Returns
    /// begin()'s status (ok after a resume). `now` starts the interval between records.
    [[nodiscard]] Status open(FirmwareSink& sink, const DownloadTarget& target,
                              std::string_view version, std::string_view module,
                              Clock::time_point now, std::uint64_t& resume_from);

    /// Flushes `sink` and saves a record for `fetched` durable bytes when enough new bytes and
    /// time passed since the last one, or whenever there is something new with `force`. Only a
    /// failing flush is an error; a failing save turns records off for this download (logged).
    [[nodiscard]] Status save(FirmwareSink& sink, std::uint64_t fetched, Clock::time_point now,
                              bool force);

    /// The download starts again from byte 0 at `now`: the record is removed.
    void restart(FirmwareSink& sink, Clock::time_point now) noexcept;

    /// The resumed bytes cannot be used after all: the record is removed (the interval between
    /// records keeps running).
    void discard(FirmwareSink& sink) noexcept;

    /// The image is committed or aborted: the record is removed and the journal closed.
    void close(FirmwareSink& sink) noexcept;

    /// Forgets everything about the current download (no sink call).
    void reset() noexcept;

    /// True when the sink keeps resume records.
    [[nodiscard]] bool supported() const noexcept { return supported_; }

  private:
    bool try_resume(FirmwareSink& sink, const std::vector<std::uint8_t>& stored, std::uint64_t size,
                    std::string_view version, std::uint64_t& resume_from);

    const ResumePolicy& policy_;
    bool supported_ = false;  // the sink keeps resume records
    bool enabled_ = false;    // ...and this download saves them
    std::string record_;      // identity, then the tail written by each save
    std::size_t identity_len_ = 0;
    std::uint64_t recorded_bytes_ = 0;  // bytes covered by the last saved record
    Clock::time_point recorded_at_{};
};

}  // namespace ota::detail
