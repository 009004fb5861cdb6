// A log line at most every so often per kind of trouble, with the number left out in between.
//
// Why: a device flooding bad messages, or a database that is down while the scheduler ticks five
// times a second, must not flood the log; one line per interval with a count says the same.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "ota/log.hpp"

namespace console {

/// Logs through ota::log at most once per `interval`; later lines within it are counted and the
/// count is appended to the next line that is logged. Thread-safe.
class RateLimitedLog {
  public:
    explicit RateLimitedLog(std::chrono::milliseconds interval = std::chrono::seconds(10))
        : interval_(interval) {}

    /// Logs `line` (never a secret or a device's payload: callers name the topic and reason).
    void log(ota::LogLevel level, const std::string& line) {
        std::string text;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            const auto now = std::chrono::steady_clock::now();
            if (logged_once_ && now - last_ < interval_) {
                ++suppressed_;
                return;
            }
            text = line;
            if (suppressed_ > 0) {
                text += " (" + std::to_string(suppressed_) + " similar message(s) not logged)";
            }
            suppressed_ = 0;
            last_ = now;
            logged_once_ = true;
        }
        ota::log(level, text);
    }

  private:
    const std::chrono::milliseconds interval_;
    std::mutex mutex_;
    std::chrono::steady_clock::time_point last_{};
    bool logged_once_ = false;
    std::uint64_t suppressed_ = 0;
};

}  // namespace console
