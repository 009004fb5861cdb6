// FaultSource: see fault_source.hpp. The link is a token bucket holding 100 ms of the rate (at
// least 4 KiB), handed out a full bucket at a time: a throttled device receives a burst about ten
// times a second (as over a slow real link, rather than one large burst per second) and runs
// about ten times a second, however often the transfer pool wakes it.
#include "fault_source.hpp"

#include <algorithm>

namespace ota::fleet {

namespace {
constexpr double kMinBucket = 4096;
}  // namespace

FaultSource::FaultSource(ByteSource& inner, const Clock& clock, std::chrono::milliseconds max_wait)
    : inner_(inner), clock_(clock), max_wait_(max_wait) {}

void FaultSource::set_plan(const FaultPlan& plan) {
    plan_ = plan;
    cut_done_ = stall_done_ = corrupt_done_ = false;
    stall_until_.reset();
    ready_at_.reset();
    tokens_ = 0;
    refilled_ = clock_.now();
}

Error FaultSource::open(std::string_view url, std::uint64_t offset) {
    position_ = offset;
    cut_now_ = false;
    ready_at_.reset();
    return inner_.open(url, offset);
}

std::size_t FaultSource::link_budget(Clock::time_point now, std::size_t len) {
    if (plan_.link_bytes_per_s == 0) return len;
    const double rate = static_cast<double>(plan_.link_bytes_per_s);
    const double bucket = std::max(kMinBucket, rate / 10);
    const double elapsed = std::chrono::duration<double>(now - refilled_).count();
    tokens_ = std::min(bucket, tokens_ + elapsed * rate);
    refilled_ = now;
    // Bytes go out a full bucket at a time (or all that was asked for, if less): a woken device
    // takes ~100 ms of its link in one go instead of a trickle on every wake-up (the transfer
    // pool wakes it whenever its ring gets new bytes).
    const double need = std::min(bucket, static_cast<double>(len));
    // Within a byte counts as there (floating-point refills), and a wait is at least 1 ms, so
    // that a device is never re-run at once for a rounding error.
    if (tokens_ + 1.0 < need) {
        const auto wait = std::chrono::duration_cast<Clock::time_point::duration>(
            std::chrono::duration<double>((need - tokens_) / rate));
        ready_at_ = now + std::max<Clock::time_point::duration>(wait, std::chrono::milliseconds(1));
        return 0;
    }
    return static_cast<std::size_t>(std::min<double>(tokens_, static_cast<double>(len)));
}

ReadResult FaultSource::read(std::uint8_t* buf, std::size_t len,
                             std::chrono::milliseconds timeout) {
    ready_at_.reset();
    const Clock::time_point now = clock_.now();
    if (plan_.cut_at && !cut_done_ && position_ >= *plan_.cut_at) {
        cut_done_ = true;
        cut_now_ = true;
        inner_.close();
        return {Status::fetch_failed, 0, false, nullptr};
    }
    if (plan_.stall_at && !stall_done_ && position_ >= *plan_.stall_at) {
        if (!stall_until_) stall_until_ = now + plan_.stall;
        if (now < *stall_until_) {
            ready_at_ = *stall_until_;
            return {};
        }
        stall_done_ = true;
    }
    // Never read past the byte where the next fault happens.
    std::size_t n = len;
    auto stop_before = [&](const std::optional<std::uint64_t>& at, bool done) {
        if (at && !done && *at > position_) {
            n = static_cast<std::size_t>(std::min<std::uint64_t>(n, *at - position_));
        }
    };
    stop_before(plan_.cut_at, cut_done_);
    stop_before(plan_.stall_at, stall_done_);
    n = link_budget(now, n);
    if (n == 0) return {};
    ReadResult r = inner_.read(buf, n, std::min(timeout, max_wait_));
    if (r.bytes > 0) {
        if (plan_.corrupt_at && !corrupt_done_ && *plan_.corrupt_at >= position_ &&
            *plan_.corrupt_at < position_ + r.bytes) {
            buf[*plan_.corrupt_at - position_] ^= 0xFF;
            corrupt_done_ = true;
        }
        position_ += r.bytes;
        if (plan_.link_bytes_per_s != 0) tokens_ -= static_cast<double>(r.bytes);
    }
    return r;
}

std::string FaultSource::last_error_detail() const {
    if (cut_now_)
        return "connection cut by the fleet simulator at byte " + std::to_string(position_);
    return inner_.last_error_detail();
}

void FaultSource::close() noexcept {
    inner_.close();
}

}  // namespace ota::fleet
