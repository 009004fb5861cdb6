// Records <-> rows of the SQL store (records.cpp): column lists, readers, parameters.
//
// Why a header: sql_store.cpp writes the queries, records.cpp knows the columns; a SELECT uses the
// column list and the matching reader, an INSERT/UPDATE the matching parameters.
#pragma once

#include "model/model.hpp"
#include "store/db.hpp"

namespace console::sql {

/// The columns firmware_from() reads, in its order.
inline constexpr const char* kFirmwareColumns =
    "id, product_key, module, version, size, md5, sha256, sign_method, ext_data, verified, "
    "created_at";
/// The columns rollout_from() reads, in its order.
inline constexpr const char* kRolloutColumns =
    "id, firmware_id, name, kind, state, is_dynamic, forced, spec, current_phase, reason, "
    "created_at, updated_at, finished_at";
/// The columns task_from() reads, in its order.
inline constexpr const char* kTaskColumns =
    "id, rollout_id, product_key, device_name, module, phase, state, attempt, from_version, "
    "last_step, downloaded, reason, queued_at, notified_at, first_progress_at, deadline_at, "
    "finished_at, updated_at";
/// The task states that are not final, as an SQL list.
inline constexpr const char* kOpenStates = "('queued', 'notified', 'in_progress')";

[[nodiscard]] Firmware firmware_from(const Row& r);
/// Throws std::runtime_error when a stored kind, state or spec cannot be read.
[[nodiscard]] Rollout rollout_from(const Row& row);
/// The rollout's columns after id, in kRolloutColumns order ($1..$12).
[[nodiscard]] Params rollout_params(const Rollout& r);
/// Throws std::runtime_error when a stored state cannot be read.
[[nodiscard]] Task task_from(const Row& row);
/// The task's columns after id, in kTaskColumns order ($1..$17).
[[nodiscard]] Params task_params(const Task& t);

}  // namespace console::sql
