// Helpers the engine's source files share (not part of the contract).
//
// Why a header of its own: the engine is split by responsibility (rollout operations, device
// messages, the scheduler); the few constants and texts they share live here once.
#pragma once

#include <cstdint>
#include <string>

#include "model/model.hpp"
#include "store/store.hpp"

namespace console::engine_detail {

/// How long a push that could not be handed to the MQTT client waits before the next try.
inline constexpr Millis kRepushDelayMs = 5000;
/// Most expired tasks one tick handles (the rest in the next ticks).
inline constexpr std::size_t kExpireBatch = 5000;
/// Page size when the engine walks a rollout's tasks.
inline constexpr std::size_t kPage = 1000;

/// The task's failure text for a negative step: "download failed: <desc>" etc.
[[nodiscard]] std::string step_reason(int step, const std::string& desc);

/// The get_reply of a job: the push's shape with the request's id echoed as a string.
/// `protocol` is the rollout's Policy::download_protocol ("https" or "mqtt").
[[nodiscard]] std::string get_reply_payload(const Firmware& f, const std::string& url,
                                            const std::string& request_id,
                                            const std::string& protocol);

/// True once the rollout's end time (if any) has passed: no push, no retry, no join after it.
[[nodiscard]] inline bool past_end(const Rollout& r, Millis now) {
    return r.policy.end_at != 0 && now >= r.policy.end_at;
}

/// One phase's task numbers.
struct PhaseCounts {
    std::int64_t total = 0;
    std::int64_t open = 0;
    std::int64_t succeeded = 0;
    std::int64_t failures = 0;  ///< failed + timed_out (final)
};

/// The numbers of `phase` out of a rollout's counts.
[[nodiscard]] PhaseCounts phase_counts(const TaskCounts& counts, std::uint32_t phase);

/// Tasks of any phase that are not final.
[[nodiscard]] std::int64_t open_tasks(const TaskCounts& counts);

/// Milliseconds of `s` seconds.
[[nodiscard]] inline Millis seconds_ms(std::uint32_t s) {
    return static_cast<Millis>(s) * 1000;
}

}  // namespace console::engine_detail
