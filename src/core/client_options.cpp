// Option validation beside each options struct (ota/options.hpp). The ranges are the named
// constants of the structs, so that the doc comments, the checks and the messages cannot drift
// apart; the messages name the field and its range and are part of the observable behaviour.
#include <chrono>
#include <string>
#include <string_view>

#include "common/ascii.hpp"
#include "ota/auth.hpp"
#include "ota/options.hpp"
#include "ota/protocol.hpp"

namespace ota {

namespace {

std::string ms(std::chrono::milliseconds d) {
    return std::to_string(d.count()) + " ms";
}

/// A topic level of the device's identity: not empty, not too long, and nothing that would
/// change the topic's structure ('/', '+', '#') or its text (control characters).
Error check_topic_level(const char* what, std::string_view value, std::size_t max_len) {
    if (value.empty()) return {Status::invalid_argument, std::string(what) + " is empty"};
    if (value.size() > max_len) {
        return {Status::invalid_argument,
                std::string(what) + " is longer than " + std::to_string(max_len) + " characters"};
    }
    const bool bad_char =
        value.find_first_of("/+#") != std::string_view::npos || detail::has_control_char(value);
    if (bad_char) {
        return {Status::invalid_argument,
                std::string(what) +
                    " contains a character not allowed in a topic level ('/', '+', '#' or a "
                    "control character)"};
    }
    return {};
}

}  // namespace

Error ProgressPolicy::validate() const {
    if (min_points < kMinPoints || min_points > kMaxPoints) {
        return {Status::invalid_argument,
                "progress.min_points must be in " + std::to_string(kMinPoints) + ".." +
                    std::to_string(kMaxPoints) + ", got " + std::to_string(min_points)};
    }
    if (min_interval.count() < 0) {
        return {Status::invalid_argument, "progress.min_interval must not be negative"};
    }
    return {};
}

Error RetryPolicy::validate() const {
    if (max_attempts < 1 || max_attempts > kMaxAttempts) {
        return {Status::invalid_argument, "retry.max_attempts must be in 1.." +
                                              std::to_string(kMaxAttempts) + ", got " +
                                              std::to_string(max_attempts)};
    }
    if (total_deadline < kMinTotalDeadline || total_deadline > kMaxTotalDeadline) {
        return {Status::invalid_argument,
                "retry.total_deadline must be in 1 s .. 7 days, got " + ms(total_deadline)};
    }
    if (max_backoff < kMinBackoff || max_backoff > kMaxBackoff) {
        return {Status::invalid_argument,
                "retry.max_backoff must be in 1 ms .. 1 h, got " + ms(max_backoff)};
    }
    if (initial_backoff < kMinBackoff || initial_backoff > max_backoff) {
        return {Status::invalid_argument,
                "retry.initial_backoff must be in 1 ms .. max_backoff, got " + ms(initial_backoff)};
    }
    // Written as negations so that NaN is rejected too.
    if (!(multiplier >= kMinMultiplier && multiplier <= kMaxMultiplier)) {
        return {Status::invalid_argument, "retry.multiplier must be in 1.0 .. 10.0"};
    }
    if (!(jitter >= 0.0 && jitter < 1.0)) {
        return {Status::invalid_argument, "retry.jitter must be in 0.0 .. 1.0 (excluded)"};
    }
    if (stall_window < kMinStallWindow || stall_window > kMaxStallWindow) {
        return {Status::invalid_argument,
                "retry.stall_window must be in 1 s .. 1 h, got " + ms(stall_window)};
    }
    return {};
}

Error ResumePolicy::validate() const {
    if (record_every_bytes < 1 || record_every_bytes > kMaxRecordEveryBytes) {
        return {Status::invalid_argument, "resume.record_every_bytes must be in 1 .. 1 GiB"};
    }
    if (record_min_interval.count() < 0 || record_min_interval > kMaxRecordMinInterval) {
        return {Status::invalid_argument,
                "resume.record_min_interval must be in 0 .. 1 h, got " + ms(record_min_interval)};
    }
    return {};
}

Error MqttDownloadOptions::validate() const {
    if (block_size < kMinBlockSize || block_size > kMaxBlockSize) {
        return {Status::invalid_argument,
                "mqtt_download.block_size must be in " + std::to_string(kMinBlockSize) + ".." +
                    std::to_string(kMaxBlockSize) + ", got " + std::to_string(block_size)};
    }
    if (window < 1 || window > kMaxWindow) {
        return {Status::invalid_argument, "mqtt_download.window must be in 1.." +
                                              std::to_string(kMaxWindow) + ", got " +
                                              std::to_string(window)};
    }
    if (reply_timeout < kMinReplyTimeout || reply_timeout > kMaxReplyTimeout) {
        return {Status::invalid_argument,
                "mqtt_download.reply_timeout must be in 10 ms .. 120 s, got " + ms(reply_timeout)};
    }
    if (min_reply_timeout < kMinReplyTimeout || min_reply_timeout > reply_timeout) {
        return {Status::invalid_argument,
                "mqtt_download.min_reply_timeout must be in 10 ms .. reply_timeout, got " +
                    ms(min_reply_timeout)};
    }
    if (max_requests_per_block < 1 || max_requests_per_block > kMaxRequestsPerBlock) {
        return {Status::invalid_argument, "mqtt_download.max_requests_per_block must be in 1.." +
                                              std::to_string(kMaxRequestsPerBlock) + ", got " +
                                              std::to_string(max_requests_per_block)};
    }
    return {};
}

Error ClientOptions::validate() const {
    if (auto e = check_topic_level("product_key", product_key, kMaxProductKeyLength); !e.ok()) {
        return e;
    }
    if (auto e = check_topic_level("device_name", device_name, kMaxDeviceNameLength); !e.ok()) {
        return e;
    }
    if (module.size() > kMaxModuleLength) {
        return {Status::invalid_argument,
                "module is longer than " + std::to_string(kMaxModuleLength) + " characters"};
    }
    if (progress_qos != 0 && progress_qos != 1) {
        return {Status::invalid_argument,
                "progress_qos must be 0 or 1, got " + std::to_string(progress_qos)};
    }
    if (Error e = progress.validate(); !e.ok()) return e;
    if (max_image_size < 1) {
        return {Status::invalid_argument, "max_image_size must be at least 1"};
    }
    if (end_of_body_wait.count() < 1 || end_of_body_wait > kMaxEndOfBodyWait) {
        return {Status::invalid_argument,
                "end_of_body_wait must be in 1 ms .. 60 s, got " + ms(end_of_body_wait)};
    }
    if (Error e = signature.validate(); !e.ok()) return e;
    if (Error e = retry.validate(); !e.ok()) return e;
    if (Error e = mqtt_download.validate(); !e.ok()) return e;
    return resume.validate();
}

}  // namespace ota
