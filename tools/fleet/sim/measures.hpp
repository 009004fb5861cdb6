// Process-level measures of a fleet run (RSS, CPU) and the live one-line status.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "device.hpp"

namespace ota::fleet {

/// Resident set size of this process in KiB (/proc/self/statm), 0 when unknown.
[[nodiscard]] std::uint64_t process_rss_kib() noexcept;
/// CPU time of this process so far (getrusage): user and system seconds.
struct CpuTimes {
    double user_s = 0;
    double system_s = 0;
};
/// The process's CPU time so far.
[[nodiscard]] CpuTimes process_cpu() noexcept;
/// Milliseconds since the Unix epoch (system clock), for the summary's wall-clock windows.
[[nodiscard]] std::uint64_t unix_ms_now() noexcept;

/// The live status: on a terminal one line redrawn with '\r' once a second, otherwise a plain
/// line every 10 seconds (logs stay readable). Reads only the counters, never the devices.
class StatusLine {
  public:
    /// Writes to `out` (stderr in ota_fleet); `tty` chooses the form; `devices` is the total.
    StatusLine(std::FILE* out, bool tty, std::uint64_t devices);
    /// Draws a line if one is due at `now`.
    void tick(const FleetCounters& counters, SimClock::time_point now);
    /// Ends the live line (a newline on a terminal).
    void close();
    /// The text of one status line (without '\r' or newline).
    [[nodiscard]] std::string format(const FleetCounters& counters, SimClock::time_point now) const;

  private:
    std::FILE* out_;
    bool tty_;
    std::uint64_t devices_;
    SimClock::time_point start_;
    SimClock::time_point next_;
    SimClock::time_point last_at_;
    std::uint64_t last_bytes_ = 0;
    CpuTimes last_cpu_;
    mutable double rate_mib_s_ = 0;
    mutable double cpu_percent_ = 0;
    bool drawn_ = false;
};

}  // namespace ota::fleet
