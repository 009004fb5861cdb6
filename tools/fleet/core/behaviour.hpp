// The seeded behaviour mix of a simulated fleet: which device gets which link speed and which
// failures, reproducibly.
//
// Why a hand-written PRNG: std::uniform_*_distribution differ between standard libraries, so a
// seed would not give the same fleet everywhere. Every draw here comes from splitmix64 (Steele,
// Lea, Flood 2014; the seeding generator of xoshiro) and is turned into a double in [0, 1) from
// its top 53 bits, which is exact and portable.
//
// Why per (seed, global index, kind): a device's behaviour must not depend on --first/--count
// (several processes with disjoint ranges equal one run) nor on which other kinds are enabled
// (raising cut=5 to cut=10 keeps the same stall devices). Each kind has its own stream, seeded by
// hashing (seed, index, kind); a device gets a kind when its stream's first draw u satisfies
// u * 100 < percent.
//
// The "terminal" kinds (corrupt, storage, never-return, rollback) decide the final outcome and so
// exclude each other: they share one stream and one draw, split into consecutive intervals
// [0, corrupt), [corrupt, corrupt+storage), ... so their percents must add up to <= 100. The other
// kinds (cut, stall, late, churn, link speed) are independent and combine freely.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "ota/status.hpp"
#include "outcome.hpp"

namespace ota::fleet {

/// One class of link speed: `percent` of the devices get `bytes_per_s`.
struct LinkClass {
    double percent = 0;             ///< 0..100
    std::uint64_t bytes_per_s = 0;  ///< >= 1
};

/// The mix: percent of devices per kind (each 0..100, fractions allowed) and the timings drawn
/// for the devices that get a kind. Defaults: no faults, unlimited links.
struct MixSpec {
    double cut = 0;           ///< connection cut once mid-download, then the client resumes
    double stall = 0;         ///< the transfer stalls once mid-download
    double corrupt = 0;       ///< one byte corrupted -> digest mismatch (terminal)
    double storage = 0;       ///< the sink fails mid-image (terminal)
    double never_return = 0;  ///< "reboots" and never reconnects (terminal)
    double rollback = 0;      ///< comes back reporting the old version (terminal)
    double late = 0;          ///< connects late
    double churn = 0;         ///< disconnects and reconnects periodically while idle
    /// Longest stall (ms, key `stall-ms`); a stall lasts uniform [stall_ms/2,
    /// stall_ms]. 1..3,600,000.
    std::uint32_t stall_ms = 4000;
    /// Longest late-join delay (ms, key `late-ms`); drawn uniform [late_ms/2,
    /// late_ms]. 1..3,600,000.
    std::uint32_t late_ms = 20000;
    /// Longest churn period (ms, key `churn-ms`); drawn uniform [churn_ms/2,
    /// churn_ms]. 1..3,600,000.
    std::uint32_t churn_ms = 10000;
    /// Link speed classes (--link); the devices in no class have an unlimited link. Sum <= 100.
    std::vector<LinkClass> link;
};

/// Parses `--mix`: comma-separated `key=value` with keys cut, stall, corrupt, storage,
/// never-return, rollback, late, churn (percent 0..100) and stall-ms, late-ms, churn-ms
/// (1..3,600,000). Empty = no faults. Keys not given keep `out`'s value (so parse into a default
/// MixSpec). Errors (invalid_argument) name the key and the range; the terminal kinds' sum must be
/// <= 100.
[[nodiscard]] Error parse_mix(std::string_view spec, MixSpec& out);

/// Parses `--link`: comma-separated `percent%:rate`, rate in bytes/s with an optional k/m/g suffix
/// (x1024), e.g. `10%:64k,30%:1m`. Sum of percents <= 100. Sets `out.link`.
[[nodiscard]] Error parse_link(std::string_view spec, MixSpec& out);

/// What one device does in a run (all times in ms, fractions of the image size in (0, 1)).
struct Behaviour {
    std::uint64_t link_bytes_per_s = 0;              ///< 0 = unlimited
    std::optional<double> cut_at_fraction;           ///< cut once there, then resume
    std::uint32_t stall_ms = 0;                      ///< 0 = no stall
    double stall_at_fraction = 0;                    ///< where the stall happens (with stall_ms)
    bool corrupt = false;                            ///< corrupt one byte -> digest mismatch
    std::optional<double> storage_fail_at_fraction;  ///< the sink's write fails there
    bool never_return = false;                       ///< no reconnect after the "reboot"
    bool rollback = false;                           ///< reports the old version after the reboot
    std::uint32_t late_join_ms = 0;                  ///< delay before the first connect; 0 = none
    std::uint32_t churn_period_ms = 0;               ///< idle disconnect/reconnect period; 0 = none

    /// Field-wise equality (used by the determinism tests).
    friend bool operator==(const Behaviour& a, const Behaviour& b) noexcept;
};

/// The behaviour of the device with global index `index` in a run with `seed`: a pure function
/// of (seed, index, mix) - the same on every platform and for every --first/--count.
[[nodiscard]] Behaviour assign(std::uint64_t seed, std::uint64_t index, const MixSpec& mix);

/// The final outcome a device with this behaviour reaches when a job is pushed to it and the run
/// lasts long enough: corrupt -> digest_mismatch, storage -> storage_failed, never_return ->
/// never_returned, rollback -> rolled_back, otherwise updated (a cut resumes, a stall is shorter
/// than the client's timeouts, late joiners and churners get the job when connected).
[[nodiscard]] Outcome expected_outcome(const Behaviour& behaviour) noexcept;

/// splitmix64: the PRNG every draw uses (documented so that other tools can reproduce a mix).
class SplitMix64 {
  public:
    /// A generator whose first output is splitmix64's for this state (seed).
    explicit SplitMix64(std::uint64_t state) noexcept : state_(state) {}
    /// The next 64-bit output.
    std::uint64_t next() noexcept;
    /// The next output as a double in [0, 1): top 53 bits times 2^-53.
    double next_unit() noexcept;

  private:
    std::uint64_t state_;
};

}  // namespace ota::fleet
