#include "support/scripted_source.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

namespace ota::test {

Error ScriptedSource::open(std::string_view url, std::uint64_t offset) {
    opens_.push_back(OpenCall{std::string(url), offset,
                              clock_ != nullptr ? clock_->now() : Clock::time_point{}});
    if (!upcoming_.empty()) {
        response_ = std::move(upcoming_.front());
        upcoming_.pop_front();
    }
    open_ = false;
    if (!open_error_.ok()) return open_error_;
    if (response_.open_error) return *response_.open_error;
    open_ = true;
    headers_known_ = false;
    failed_ = false;
    if (response_.range_from_offset) {
        const std::size_t total = response_.body.size();
        response_.honor_offset = true;
        response_.content_length = total - std::min<std::uint64_t>(offset, total);
        if (offset > 0) {
            response_.status = 206;
            response_.content_range = "bytes " + std::to_string(offset) + "-" +
                                      std::to_string(total - 1) + "/" + std::to_string(total);
        } else {
            response_.status = 200;
            response_.content_range.clear();
        }
    }
    // An offset beyond what size_t can index (32-bit targets) is past any body a test can hold:
    // clamped, never wrapped, so it cannot alias an earlier position.
    start_ = response_.honor_offset ? static_cast<std::size_t>(std::min<std::uint64_t>(
                                          offset, std::numeric_limits<std::size_t>::max()))
                                    : 0;
    pos_ = start_;
    idle_left_ = response_.idle_reads;
    idle_end_left_ = response_.idle_before_end;
    head_given_ = false;
    return {};
}

std::size_t ScriptedSource::available_end() const noexcept {
    std::size_t end = response_.body.size() + response_.extra_bytes;
    if (response_.end_after) end = std::min(end, *response_.end_after);
    return end;
}

ReadResult ScriptedSource::read(std::uint8_t* buf, std::size_t len,
                                std::chrono::milliseconds timeout) {
    ++reads_;
    last_timeout_ = timeout;
    if (!open_ || failed_) return ReadResult{Status::fetch_failed, 0, false};
    if (idle_left_ > 0) {
        --idle_left_;
        return {};
    }
    headers_known_ = true;
    if (response_.fail_after && pos_ >= *response_.fail_after) {
        failed_ = true;
        return ReadResult{response_.fail_status, 0, false};
    }
    if (response_.stall_after && pos_ >= *response_.stall_after) return {};
    const std::size_t end = available_end();
    if (pos_ >= end) {
        if (response_.never_end) return {};
        if (idle_end_left_ > 0) {
            --idle_end_left_;
            return {};
        }
        return with_head(ReadResult{Status::ok, 0, true});
    }
    std::size_t n = std::min({len, response_.max_chunk, end - pos_});
    if (response_.fail_after) n = std::min(n, *response_.fail_after - pos_);
    if (response_.stall_after) n = std::min(n, *response_.stall_after - pos_);
    const std::size_t body_size = response_.body.size();
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t at = pos_ + i;
        buf[i] = at < body_size ? response_.body[at] : std::uint8_t{0xEE};
    }
    pos_ += n;
    const bool end_now = response_.end_with_last_chunk && pos_ >= end && !response_.never_end &&
                         response_.idle_before_end == 0;
    return with_head(ReadResult{Status::ok, n, end_now});
}

ReadResult ScriptedSource::with_head(ReadResult r) noexcept {
    if (!head_given_) {
        // Taken from the script now, not at open(): a test may change the response in between.
        head_.http_status = response_.status;
        head_.content_range = response_.content_range;
        head_.content_length = response_.content_length;
        head_.retry_after = response_.retry_after;
        r.head = &head_;
        head_given_ = true;
    }
    return r;
}

std::string ScriptedSource::last_error_detail() const {
    if (!failed_) return {};
    return std::string("scripted transfer failure: ") + to_string(response_.fail_status);
}

void ScriptedSource::close() noexcept {
    ++closes_;
    open_ = false;
}

}  // namespace ota::test
