#include "behaviour.hpp"

#include <cmath>
#include <string>

#include "numbers.hpp"

namespace ota::fleet {
namespace {

constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

// The splitmix64 output function (a bijective 64-bit mixer).
constexpr std::uint64_t mix64(std::uint64_t z) noexcept {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// One stream per kind. The numbers are part of the mix's definition: changing one changes every
// seeded fleet, so they are fixed here and never reordered.
enum class Stream : std::uint64_t {
    terminal = 1,
    cut = 2,
    stall = 3,
    late = 4,
    churn = 5,
    link = 6
};

// The stream of (seed, index, kind): the state is a hash of all three, so neighbouring indexes
// and kinds give unrelated sequences.
SplitMix64 stream(std::uint64_t seed, std::uint64_t index, Stream kind) noexcept {
    const std::uint64_t k = static_cast<std::uint64_t>(kind);
    return SplitMix64(mix64(mix64(seed + k * kGolden) ^ mix64(index + kGolden)));
}

// A fraction of the image in [0.1, 0.9): far enough from both ends that the event happens
// mid-transfer for any image size the fleet uses.
double mid_fraction(SplitMix64& rng) noexcept {
    return 0.1 + 0.8 * rng.next_unit();
}

// Uniform integer in [longest/2, longest] (at least 1).
std::uint32_t upper_half(SplitMix64& rng, std::uint32_t longest) noexcept {
    const std::uint32_t lo = longest / 2 == 0 ? 1 : longest / 2;
    const auto span = static_cast<double>(longest - lo + 1);
    auto v = lo + static_cast<std::uint32_t>(std::floor(rng.next_unit() * span));
    return v > longest ? longest : v;
}

constexpr std::uint32_t kMaxTimingMs = 3600000;

Error bad(std::string text) {
    return {Status::invalid_argument, std::move(text)};
}

}  // namespace

std::uint64_t SplitMix64::next() noexcept {
    state_ += kGolden;
    return mix64(state_);
}

double SplitMix64::next_unit() noexcept {
    return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0);  // 2^-53
}

Error parse_mix(std::string_view spec, MixSpec& out) {
    MixSpec mix = out;
    std::string_view rest = spec;
    while (!detail::trim(rest).empty()) {
        const std::size_t comma = rest.find(',');
        const std::string_view item = detail::trim(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        const std::size_t eq = item.find('=');
        if (eq == std::string_view::npos) {
            return bad("--mix: '" + std::string(item) + "' is not key=value");
        }
        const std::string key(detail::trim(item.substr(0, eq)));
        std::string_view value = detail::trim(item.substr(eq + 1));
        double* percent = nullptr;
        std::uint32_t* timing = nullptr;
        if (key == "cut")
            percent = &mix.cut;
        else if (key == "stall")
            percent = &mix.stall;
        else if (key == "corrupt")
            percent = &mix.corrupt;
        else if (key == "storage")
            percent = &mix.storage;
        else if (key == "never-return")
            percent = &mix.never_return;
        else if (key == "rollback")
            percent = &mix.rollback;
        else if (key == "late")
            percent = &mix.late;
        else if (key == "churn")
            percent = &mix.churn;
        else if (key == "stall-ms")
            timing = &mix.stall_ms;
        else if (key == "late-ms")
            timing = &mix.late_ms;
        else if (key == "churn-ms")
            timing = &mix.churn_ms;
        else {
            return bad("--mix: unknown key '" + key +
                       "' (cut, stall, corrupt, storage, never-return, rollback, late, churn, "
                       "stall-ms, late-ms, churn-ms)");
        }
        if (percent != nullptr) {
            if (!value.empty() && value.back() == '%') value.remove_suffix(1);
            double p = 0;
            if (!detail::parse_double(value, p) || p < 0 || p > 100) {
                return bad("--mix: " + key + "=" + std::string(value) +
                           " is not a percent in range 0..100");
            }
            *percent = p;
        } else {
            std::uint64_t ms = 0;
            if (!detail::parse_u64(value, ms) || ms < 1 || ms > kMaxTimingMs) {
                return bad("--mix: " + key + "=" + std::string(value) +
                           " is out of range 1..3600000 (ms)");
            }
            *timing = static_cast<std::uint32_t>(ms);
        }
    }
    const double terminal = mix.corrupt + mix.storage + mix.never_return + mix.rollback;
    if (terminal > 100 + 1e-9) {
        return bad(
            "--mix: corrupt + storage + never-return + rollback = " + std::to_string(terminal) +
            " exceeds 100 (they exclude each other: one final outcome per device)");
    }
    out = std::move(mix);
    return {};
}

Error parse_link(std::string_view spec, MixSpec& out) {
    std::vector<LinkClass> classes;
    double sum = 0;
    std::string_view rest = spec;
    while (!detail::trim(rest).empty()) {
        const std::size_t comma = rest.find(',');
        const std::string_view item = detail::trim(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        const std::size_t sep = item.find("%:");
        if (sep == std::string_view::npos) {
            return bad("--link: '" + std::string(item) + "' is not percent%:rate (e.g. 10%:64k)");
        }
        LinkClass c;
        const std::string_view percent = item.substr(0, sep);
        const std::string_view rate = item.substr(sep + 2);
        if (!detail::parse_double(percent, c.percent) || c.percent < 0 || c.percent > 100) {
            return bad("--link: '" + std::string(percent) + "' is not a percent in range 0..100");
        }
        if (!detail::parse_scaled_u64(rate, c.bytes_per_s) || c.bytes_per_s < 1) {
            return bad("--link: rate '" + std::string(rate) +
                       "' is not bytes/s >= 1 with an optional k/m/g suffix");
        }
        sum += c.percent;
        classes.push_back(c);
    }
    if (sum > 100 + 1e-9) {
        return bad("--link: the percents add up to " + std::to_string(sum) + ", more than 100");
    }
    out.link = std::move(classes);
    return {};
}

bool operator==(const Behaviour& a, const Behaviour& b) noexcept {
    return a.link_bytes_per_s == b.link_bytes_per_s && a.cut_at_fraction == b.cut_at_fraction &&
           a.stall_ms == b.stall_ms && a.stall_at_fraction == b.stall_at_fraction &&
           a.corrupt == b.corrupt && a.storage_fail_at_fraction == b.storage_fail_at_fraction &&
           a.never_return == b.never_return && a.rollback == b.rollback &&
           a.late_join_ms == b.late_join_ms && a.churn_period_ms == b.churn_period_ms;
}

Behaviour assign(std::uint64_t seed, std::uint64_t index, const MixSpec& mix) {
    Behaviour b;
    {
        // One draw for all terminal kinds: consecutive intervals, so they exclude each other.
        SplitMix64 rng = stream(seed, index, Stream::terminal);
        const double u = rng.next_unit() * 100;
        double edge = mix.corrupt;
        if (u < edge) {
            b.corrupt = true;
        } else if (u < (edge += mix.storage)) {
            b.storage_fail_at_fraction = mid_fraction(rng);
        } else if (u < (edge += mix.never_return)) {
            b.never_return = true;
        } else if (u < (edge += mix.rollback)) {
            b.rollback = true;
        }
    }
    if (SplitMix64 rng = stream(seed, index, Stream::cut); rng.next_unit() * 100 < mix.cut) {
        b.cut_at_fraction = mid_fraction(rng);
    }
    if (SplitMix64 rng = stream(seed, index, Stream::stall); rng.next_unit() * 100 < mix.stall) {
        b.stall_ms = upper_half(rng, mix.stall_ms);
        b.stall_at_fraction = mid_fraction(rng);
    }
    if (SplitMix64 rng = stream(seed, index, Stream::late); rng.next_unit() * 100 < mix.late) {
        b.late_join_ms = upper_half(rng, mix.late_ms);
    }
    if (SplitMix64 rng = stream(seed, index, Stream::churn); rng.next_unit() * 100 < mix.churn) {
        b.churn_period_ms = upper_half(rng, mix.churn_ms);
    }
    if (!mix.link.empty()) {
        SplitMix64 rng = stream(seed, index, Stream::link);
        const double u = rng.next_unit() * 100;
        double edge = 0;
        for (const LinkClass& c : mix.link) {
            edge += c.percent;
            if (u < edge) {
                b.link_bytes_per_s = c.bytes_per_s;
                break;
            }
        }
    }
    return b;
}

Outcome expected_outcome(const Behaviour& behaviour) noexcept {
    if (behaviour.corrupt) return Outcome::digest_mismatch;
    if (behaviour.storage_fail_at_fraction) return Outcome::storage_failed;
    if (behaviour.never_return) return Outcome::never_returned;
    if (behaviour.rollback) return Outcome::rolled_back;
    return Outcome::updated;
}

}  // namespace ota::fleet
