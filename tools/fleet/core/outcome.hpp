// The final outcome of one simulated device's job, shared by the device side (ota_fleet_sim),
// the in-process cloud (FleetCloud) and the statistics.
//
// Why one enum for both views: the summary puts the device's and the cloud's view of each device
// side by side, and the integration tests compare both with the outcome the seed predicts
// (expected_outcome in behaviour.hpp), so all three must speak the same names.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace ota::fleet {

/// Final outcome of a device in a run.
enum class Outcome : int {
    updated = 0,      ///< The new version was reported after the "reboot".
    digest_mismatch,  ///< The image's digest did not match (step -3).
    download_failed,  ///< The download failed for good (step -2).
    storage_failed,   ///< The sink failed to write or commit the image (step -4).
    never_returned,   ///< The device "rebooted" and never reconnected.
    rolled_back,      ///< The device came back reporting the old version.
    no_job,           ///< Connected, but no job reached it before the run ended.
    connect_failed,   ///< The device never got connected.
    stopped,          ///< The run ended (duration, job timeout, SIGINT) while the job was running.
};

/// Number of Outcome values (they are 0..kOutcomeCount-1).
inline constexpr std::size_t kOutcomeCount = 9;

/// Every Outcome in declaration order, e.g. for tables and JSON maps.
inline constexpr std::array<Outcome, kOutcomeCount> kAllOutcomes = {
    Outcome::updated,        Outcome::digest_mismatch, Outcome::download_failed,
    Outcome::storage_failed, Outcome::never_returned,  Outcome::rolled_back,
    Outcome::no_job,         Outcome::connect_failed,  Outcome::stopped};

/// The snake_case name used in JSON, CSV and reports ("updated", "digest_mismatch", ...).
[[nodiscard]] const char* to_string(Outcome outcome) noexcept;

/// The Outcome named `name` (as to_string writes it), or nullopt for an unknown name.
[[nodiscard]] std::optional<Outcome> outcome_from_string(std::string_view name) noexcept;

}  // namespace ota::fleet
