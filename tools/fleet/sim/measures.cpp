// Process measures and the status line: see measures.hpp.
#include "measures.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cinttypes>
#include <fstream>

namespace ota::fleet {

std::uint64_t process_rss_kib() noexcept {
    std::ifstream in("/proc/self/statm");
    std::uint64_t size = 0;
    std::uint64_t resident = 0;
    if (!(in >> size >> resident)) return 0;
    const long page = ::sysconf(_SC_PAGESIZE);
    return resident * static_cast<std::uint64_t>(page > 0 ? page : 4096) / 1024;
}

CpuTimes process_cpu() noexcept {
    rusage ru{};
    if (::getrusage(RUSAGE_SELF, &ru) != 0) return {};
    auto secs = [](const timeval& tv) {
        return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
    };
    return {secs(ru.ru_utime), secs(ru.ru_stime)};
}

std::uint64_t unix_ms_now() noexcept {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

StatusLine::StatusLine(std::FILE* out, bool tty, std::uint64_t devices)
    : out_(out),
      tty_(tty),
      devices_(devices),
      start_(SimClock::now()),
      next_(start_ + (tty ? std::chrono::seconds(1) : std::chrono::seconds(10))),
      last_at_(start_),
      last_cpu_(process_cpu()) {}

std::string StatusLine::format(const FleetCounters& c, SimClock::time_point now) const {
    auto n = [](const std::atomic<std::uint64_t>& a) {
        return static_cast<unsigned long long>(a.load(std::memory_order_relaxed));
    };
    auto outcome = [&](Outcome o) { return n(c.outcomes[static_cast<std::size_t>(o)]); };
    const double secs = std::chrono::duration<double>(now - start_).count();
    const unsigned long long updated = outcome(Outcome::updated);
    const unsigned long long rolled_back = outcome(Outcome::rolled_back);
    // Relaxed loads of counters written in another order: clamp, never wrap around.
    const unsigned long long settled = n(c.settled);
    const unsigned long long other =
        settled > updated + rolled_back ? settled - updated - rolled_back : 0;
    char line[200];
    std::snprintf(line, sizeof line,
                  "%5.0fs conn %llu/%llu fail %llu | jobs %llu dl %llu | done %llu: upd %llu rb "
                  "%llu bad %llu | %.1f MiB/s | %llu MiB cpu %.0f%%",
                  secs, n(c.connected_now), static_cast<unsigned long long>(devices_),
                  n(c.connect_failures), n(c.jobs), n(c.downloading), settled, updated, rolled_back,
                  other, rate_mib_s_, static_cast<unsigned long long>(process_rss_kib() / 1024),
                  cpu_percent_);
    return line;
}

void StatusLine::tick(const FleetCounters& counters, SimClock::time_point now) {
    if (now < next_) return;
    const double dt = std::chrono::duration<double>(now - last_at_).count();
    const std::uint64_t bytes = counters.bytes.load(std::memory_order_relaxed);
    const CpuTimes cpu = process_cpu();
    if (dt > 0) {
        rate_mib_s_ = static_cast<double>(bytes - last_bytes_) / (1024.0 * 1024.0) / dt;
        cpu_percent_ =
            100.0 * ((cpu.user_s + cpu.system_s) - (last_cpu_.user_s + last_cpu_.system_s)) / dt;
    }
    last_at_ = now;
    last_bytes_ = bytes;
    last_cpu_ = cpu;
    next_ = now + (tty_ ? std::chrono::seconds(1) : std::chrono::seconds(10));
    const std::string text = format(counters, now);
    if (tty_) {
        std::fprintf(out_, "\r%s\x1b[K", text.c_str());
    } else {
        std::fprintf(out_, "%s\n", text.c_str());
    }
    std::fflush(out_);
    drawn_ = true;
}

void StatusLine::close() {
    if (tty_ && drawn_) std::fputc('\n', out_);
    std::fflush(out_);
    drawn_ = false;
}

}  // namespace ota::fleet
