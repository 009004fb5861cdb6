// `ota_cloud console ...`: drives a running ota_console over its REST API (upload, verify,
// rollouts and their control, status with a wait, device registration and listing).
//
// Why in ota_cloud: it is the one command-line tool of this repository for the cloud side; CI
// scripts that used `ota_cloud push` against one device can drive a whole console the same way.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ota_cloud {

/// Exit codes of the console mode.
inline constexpr int kConsoleExitOk = 0;
inline constexpr int kConsoleExitError = 1;  ///< API error or console unreachable
inline constexpr int kConsoleExitUsage = 2;
inline constexpr int kConsoleExitNotAllSucceeded = 3;  ///< status --wait: ended otherwise
inline constexpr int kConsoleExitTimeout = 6;          ///< status --wait: still running

/// Where a GET /rollouts/{id} answer stands for `status --wait`: -1 while the rollout is still
/// going (scheduled, running, canceling), else the exit code (0 completed with every task
/// succeeded, 3 completed otherwise, canceled or paused). A body of an unexpected shape is 1.
[[nodiscard]] int rollout_wait_outcome(const nlohmann::json& view);

/// Runs the console mode on the words after `ota_cloud console`; prints the API's JSON answers
/// on stdout and errors on stderr. Returns the exit code.
[[nodiscard]] int run_console(const std::vector<std::string>& args);

}  // namespace ota_cloud
