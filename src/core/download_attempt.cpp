#include "core/download_attempt.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/content_range.hpp"
#include "core/lazy_log.hpp"

namespace ota::detail {
namespace {

/// What a source that broke its contract (bytes without a head) is judged by: no HTTP status,
/// which the attempt treats as a transient failure.
const ResponseHead kNoHead{};

}  // namespace

namespace {

/// Untrusted header values quoted in a progress desc are cut to this length.
constexpr std::size_t kMaxQuotedHeader = 64;

std::string quote_header(std::string_view value) {
    std::string out = "'";
    out.append(value.substr(0, kMaxQuotedHeader));
    if (value.size() > kMaxQuotedHeader) out += "...";
    out += "'";
    return out;
}

AttemptOutcome transient(Status status, std::string why,
                         std::optional<std::chrono::seconds> retry_after = std::nullopt) {
    AttemptOutcome o;
    o.kind = AttemptOutcome::Kind::transient;
    o.status = status;
    o.why = std::move(why);
    o.retry_after = retry_after;
    return o;
}

AttemptOutcome failed(Status status, std::string desc) {
    AttemptOutcome o;
    o.kind = AttemptOutcome::Kind::failed;
    o.status = status;
    o.why = std::move(desc);
    return o;
}

AttemptOutcome data(std::size_t bytes, bool end_of_body) {
    AttemptOutcome o;
    o.kind = AttemptOutcome::Kind::data;
    o.bytes = bytes;
    o.end_of_body = end_of_body;
    return o;
}

}  // namespace

AttemptOutcome DownloadAttempt::open(std::string_view url, std::uint64_t offset) {
    close();
    const auto now = clock_.now();
    head_checked_ = false;
    awaiting_end_ = false;
    offset_ = offset;
    attempt_bytes_ = 0;
    skip_ = 0;
    stall_window_start_ = now;
    stall_window_bytes_ = 0;
    last_read_call_ = now;
    if (Error e = source_->open(url, offset); !e.ok()) {
        std::string why = "could not start the download: " + e.message();
        if (e.status == Status::fetch_failed || e.status == Status::timeout) {
            return transient(Status::fetch_failed, std::move(why));
        }
        return failed(Status::fetch_failed, "download failed: " + why);
    }
    open_ = true;
    return {};
}

void DownloadAttempt::close() noexcept {
    awaiting_end_ = false;
    head_checked_ = false;
    if (!open_) return;
    source_->close();
    open_ = false;
}

std::string DownloadAttempt::describe_failure(Status s) const {
    std::string detail = source_->last_error_detail();
    if (detail.empty()) detail = to_string(s);
    return detail;
}

AttemptOutcome DownloadAttempt::read(std::uint8_t* buf, std::size_t len,
                                     std::chrono::milliseconds timeout, std::uint64_t size,
                                     bool has_sink) {
    const ReadResult r = source_->read(buf, len, timeout);
    if (r.status != Status::ok) {
        std::string why = describe_failure(r.status);
        // Only these two may go away on the next attempt; a source says fetch_refused (TLS
        // verification, a refused redirect, an oversized header) for what will not.
        if (r.status == Status::timeout || r.status == Status::fetch_failed) {
            return transient(r.status, std::move(why));
        }
        return failed(r.status, "download failed: " + why);
    }
    if (r.bytes == 0 && !r.end_of_body) {  // nothing yet
        if (stalled()) {
            AttemptOutcome o = transient(Status::timeout, stall_description());
            o.kind = AttemptOutcome::Kind::stall;
            return o;
        }
        return {};
    }
    bool restart = false;
    if (!head_checked_) {
        AttemptOutcome verdict = judge(r.head != nullptr ? r.head : &kNoHead, size, has_sink);
        if (verdict.kind != AttemptOutcome::Kind::nothing) return verdict;
        restart = verdict.restart_from_zero;
        head_checked_ = true;
    }
    if (r.bytes > len) {
        return failed(Status::internal,
                      "download failed: the byte source returned more bytes than requested");
    }
    std::size_t got = r.bytes;
    if (skip_ > 0 && got > 0) {
        // A full body answered a Range request and the application already holds the start of
        // the image: drop that part again, the new bytes follow in place.
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(got, skip_));
        skip_ -= n;
        attempt_bytes_ += n;
        got -= n;
        if (got > 0) std::memmove(buf, buf + n, got);
        if (got == 0 && !r.end_of_body) return {};
    }
    attempt_bytes_ += got;
    AttemptOutcome o = data(got, r.end_of_body);
    o.restart_from_zero = restart;
    return o;
}

AttemptOutcome DownloadAttempt::judge(const ResponseHead* head, std::uint64_t size, bool has_sink) {
    AttemptOutcome go_on;
    const int http = head->http_status;
    if (http == 206) {
        const std::string_view raw = head->content_range;
        const auto range = parse_content_range(raw);
        if (!range || range->first != offset_ || !range->total || *range->total != size ||
            range->last != size - 1) {
            return failed(Status::fetch_failed,
                          "download failed: HTTP 206 with Content-Range " + quote_header(raw) +
                              ", expected bytes " + std::to_string(offset_) + "-" +
                              std::to_string(size - 1) + "/" + std::to_string(size));
        }
    } else if (http == 200) {
        if (offset_ != 0) {
            // The server ignored the Range request: the body starts at byte 0 again.
            if (has_sink) {
                go_on.restart_from_zero = true;
            } else {
                // The application has stored the first bytes itself and cannot be told to start
                // over: the same number of bytes is dropped from the new body and the running
                // digest goes on (the final check still covers every byte handed out).
                log_lazy(LogLevel::warning, [&] {
                    return "the server ignored the Range request for bytes " +
                           std::to_string(offset_) +
                           "- (HTTP 200): skipping the bytes already delivered";
                });
                skip_ = offset_;
            }
        }
    } else if (http == 408 || http == 429 || (http >= 500 && http <= 599)) {
        return transient(Status::fetch_failed, "HTTP " + std::to_string(http), head->retry_after);
    } else if (http == 0) {
        return transient(Status::fetch_failed, "the response carried no HTTP status");
    } else if (http == 416) {
        return failed(Status::fetch_failed,
                      "download failed: HTTP 416 (range not satisfiable) for bytes " +
                          std::to_string(offset_) + "- of a " + std::to_string(size) +
                          "-byte image");
    } else {
        return failed(Status::fetch_failed, "download failed: HTTP " + std::to_string(http));
    }
    const std::uint64_t body_starts_at = http == 200 ? 0 : offset_;
    if (const auto length = head->content_length; length && *length != size - body_starts_at) {
        return failed(Status::size_mismatch,
                      "download failed: Content-Length " + std::to_string(*length) +
                          " does not match the announced size of " + std::to_string(size) +
                          " bytes" +
                          (body_starts_at > 0 ? " from byte " + std::to_string(body_starts_at)
                                              : std::string()));
    }
    return go_on;
}

void DownloadAttempt::expect_end(std::chrono::milliseconds wait) noexcept {
    awaiting_end_ = true;
    end_wait_ = wait;
    end_deadline_ = clock_.now() + wait;
}

AttemptOutcome DownloadAttempt::read_end(std::uint8_t* buf, std::size_t len, std::uint64_t size) {
    const auto now = clock_.now();
    const auto left = end_deadline_ > now
                          ? std::chrono::ceil<std::chrono::milliseconds>(end_deadline_ - now)
                          : std::chrono::milliseconds(0);
    const ReadResult r = source_->read(buf, len, left);
    if (r.status != Status::ok) {
        return failed(r.status, "download failed: " + describe_failure(r.status));
    }
    if (r.bytes > 0) {
        return failed(Status::size_mismatch,
                      "download failed: body longer than announced size of " +
                          std::to_string(size) + " bytes");
    }
    if (r.end_of_body) return data(0, true);
    if (clock_.now() >= end_deadline_) {
        return failed(Status::timeout, "download failed: the body did not end within " +
                                           std::to_string(end_wait_.count()) +
                                           " ms after the announced " + std::to_string(size) +
                                           " bytes");
    }
    return {};
}

bool DownloadAttempt::stalled() noexcept {
    if (policy_.stall_floor_bytes_per_s == 0) return false;
    const auto now = clock_.now();
    if (now - last_read_call_ > policy_.stall_window) {
        stall_window_start_ = now;
        stall_window_bytes_ = attempt_bytes_;
    }
    last_read_call_ = now;
    if (now - stall_window_start_ < policy_.stall_window) return false;
    const auto window_ms = static_cast<std::uint64_t>(policy_.stall_window.count());
    const std::uint64_t need = policy_.stall_floor_bytes_per_s * window_ms / 1000;
    const bool slow = attempt_bytes_ - stall_window_bytes_ < need;
    stall_window_start_ = now;
    stall_window_bytes_ = attempt_bytes_;
    return slow;
}

std::string DownloadAttempt::stall_description() const {
    return "stalled: fewer than " + std::to_string(policy_.stall_floor_bytes_per_s) +
           " bytes/s over " + std::to_string(policy_.stall_window.count()) + " ms";
}

}  // namespace ota::detail
