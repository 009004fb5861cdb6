// Faults on purpose: a ByteSource wrapper that gives a simulated device its link speed and its
// failures (a cut connection, a stall, a corrupted byte), on top of the real transfer.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ota/byte_source.hpp"
#include "ota/clock.hpp"

namespace ota::fleet {

/// What a FaultSource does to one download. Byte positions are offsets in the image (a resumed
/// attempt starts at its Range offset), so a fault happens at the same place whatever the
/// attempts before it did. Each fault happens once per FaultSource (until set_plan() again).
struct FaultPlan {
    std::uint64_t link_bytes_per_s = 0;       ///< token-bucket rate of the link; 0 = unlimited
    std::optional<std::uint64_t> cut_at;      ///< the transfer fails (fetch_failed) at this byte
    std::optional<std::uint64_t> stall_at;    ///< no byte comes for `stall` from this byte on
    std::chrono::milliseconds stall{0};       ///< length of the stall
    std::optional<std::uint64_t> corrupt_at;  ///< this byte is inverted -> digest mismatch
};

/// Wraps the real byte source of a device. read() never waits (the timeout the client passes is
/// capped at `max_wait`, 0 by default), because a scheduler worker serves many devices: while the
/// link's budget is spent or a stall lasts it returns "nothing yet" and ready_at() says when to
/// come back. Not thread-safe (one device, one worker), like every ByteSource.
class FaultSource final : public ByteSource {
  public:
    /// `inner` must outlive this source.
    explicit FaultSource(ByteSource& inner, const Clock& clock = steady_clock(),
                         std::chrono::milliseconds max_wait = std::chrono::milliseconds(0));

    /// Sets the faults for the next downloads and re-arms the one-shot faults.
    void set_plan(const FaultPlan& plan);
    [[nodiscard]] const FaultPlan& plan() const noexcept { return plan_; }

    Error open(std::string_view url, std::uint64_t offset) override;
    ReadResult read(std::uint8_t* buf, std::size_t len, std::chrono::milliseconds timeout) override;
    [[nodiscard]] std::string last_error_detail() const override;
    void close() noexcept override;

    /// When holding bytes back (link budget spent, stall running): the time from which read()
    /// can deliver again; nullopt when nothing is held back by this wrapper.
    [[nodiscard]] std::optional<Clock::time_point> ready_at() const noexcept { return ready_at_; }
    /// Image offset of the next byte read() hands out.
    [[nodiscard]] std::uint64_t position() const noexcept { return position_; }
    /// Whether each fault has happened.
    [[nodiscard]] bool cut_done() const noexcept { return cut_done_; }
    [[nodiscard]] bool stall_done() const noexcept { return stall_done_; }
    [[nodiscard]] bool corrupt_done() const noexcept { return corrupt_done_; }

  private:
    std::size_t link_budget(Clock::time_point now, std::size_t len);

    ByteSource& inner_;
    const Clock& clock_;
    std::chrono::milliseconds max_wait_;
    FaultPlan plan_;
    std::uint64_t position_ = 0;
    bool cut_done_ = false;
    bool stall_done_ = false;
    bool corrupt_done_ = false;
    bool cut_now_ = false;  // last_error_detail() describes our cut
    std::optional<Clock::time_point> stall_until_;
    std::optional<Clock::time_point> ready_at_;
    double tokens_ = 0;
    Clock::time_point refilled_{};
};

}  // namespace ota::fleet
