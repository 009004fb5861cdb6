// One download attempt: a ranged GET of the target from the bytes already fetched, the judgement
// of its response head (status, Content-Range, Content-Length), the skip of bytes a server that
// ignored the Range sends again, the end-of-body wait and stall detection. Internal. It reads from
// the byte source and returns an outcome; the client stores the bytes and decides what a failure
// means for the job (RetrySchedule).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ota/byte_source.hpp"
#include "ota/clock.hpp"
#include "ota/options.hpp"
#include "ota/status.hpp"

namespace ota::detail {

/// What one step of an attempt came to.
struct AttemptOutcome {
    /// nothing: no data yet (or the attempt started). data: `bytes` new image bytes at the start
    /// of the buffer, and/or the end of the body. transient: the attempt is over and another may
    /// continue (RetryPolicy). stall: the same, because too few bytes came within the stall
    /// window. failed: the download cannot go on (step -2).
    enum class Kind { nothing, data, transient, stall, failed };
    Kind kind = Kind::nothing;
    Status status = Status::ok;
    std::size_t bytes = 0;
    bool end_of_body = false;
    /// data: the server ignored the Range request and the client has a sink: the body starts at
    /// byte 0 again, so the download must restart there (digest, sink) before storing `bytes`.
    bool restart_from_zero = false;
    /// transient: the cause; failed: the whole description for the failure report.
    std::string why;
    std::optional<std::chrono::seconds> retry_after;  ///< transient: the server's wish
};

/// The attempts of one download target, one at a time, over one byte source.
class DownloadAttempt {
  public:
    /// `source`, `policy` and `clock` must outlive the attempt.
    DownloadAttempt(ByteSource& source, const RetryPolicy& policy, const Clock& clock) noexcept
        : source_(&source), policy_(policy), clock_(clock) {}

    /// The source of the next attempts (an open attempt is closed first): the client picks the
    /// HTTPS or the MQTT source by the target's protocol. `source` must outlive the attempt.
    void use_source(ByteSource& source) noexcept {
        if (&source == source_) return;
        close();
        source_ = &source;
    }

    /// Starts an attempt for `url` at `offset` (Range from there when > 0). nothing when the
    /// request is on its way; transient or failed otherwise.
    [[nodiscard]] AttemptOutcome open(std::string_view url, std::uint64_t offset);

    /// One read of up to `len` bytes into `buf`, waiting up to `timeout`, for a target of `size`
    /// bytes; `has_sink` tells how a 200 to a Range request is handled (restart with a sink, skip
    /// the bytes the application has without one).
    [[nodiscard]] AttemptOutcome read(std::uint8_t* buf, std::size_t len,
                                      std::chrono::milliseconds timeout, std::uint64_t size,
                                      bool has_sink);

    /// All `size` bytes are there: from now on wait until `wait` from now for the end of the body.
    void expect_end(std::chrono::milliseconds wait) noexcept;
    /// True between expect_end() and the end of the attempt.
    [[nodiscard]] bool awaiting_end() const noexcept { return awaiting_end_; }
    /// One read while awaiting the end: data with end_of_body when it came, nothing while still
    /// waiting, failed for any byte beyond `size`, a transfer error or the deadline.
    [[nodiscard]] AttemptOutcome read_end(std::uint8_t* buf, std::size_t len, std::uint64_t size);

    /// Stall detector (RetryPolicy::stall_*): true when the window that just ended brought too
    /// few bytes. Time the application spent away from fetch_yield() does not count.
    [[nodiscard]] bool stalled() noexcept;
    /// The transient cause for a stall.
    [[nodiscard]] std::string stall_description() const;

    /// Ends the attempt (closes the source when open). Safe to call repeatedly.
    void close() noexcept;

  private:
    AttemptOutcome judge(const ResponseHead* head, std::uint64_t size, bool has_sink);
    std::string describe_failure(Status s) const;

    ByteSource* source_;
    const RetryPolicy& policy_;
    const Clock& clock_;
    bool open_ = false;
    bool head_checked_ = false;
    bool awaiting_end_ = false;
    std::chrono::milliseconds end_wait_{0};
    Clock::time_point end_deadline_{};
    std::uint64_t offset_ = 0;         // where this attempt's Range starts
    std::uint64_t attempt_bytes_ = 0;  // bytes received in this attempt (skipped ones included)
    std::uint64_t skip_ = 0;           // bytes of a full body that the application already has
    std::uint64_t stall_window_bytes_ = 0;
    Clock::time_point stall_window_start_{};
    Clock::time_point last_read_call_{};
};

}  // namespace ota::detail
