// The local OTA console's records: firmware, devices, rollouts, tasks and events.
//
// Why one header of plain structs: the store (SQLite or PostgreSQL), the rollout engine, the REST
// API and the MQTT side all speak these types; none of them owns them. Times are wall-clock
// milliseconds since the Unix epoch (Millis), because they are written to the store and must mean
// the same after a restart or in another console process; 0 means "not set".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/device_key.hpp"

namespace console {

/// Wall-clock milliseconds since the Unix epoch; 0 = not set.
using Millis = std::int64_t;

// The module of a device's main firmware, and a device's key (tools/common, shared with the
// device-message decoder and ota_fleet's cloud).
using ota_tools::DeviceKey;
using ota_tools::kDefaultModule;

/// An uploaded image. The file is stored content-addressed under its SHA-256.
struct Firmware {
    std::int64_t id = 0;
    std::string product_key;
    std::string module = kDefaultModule;
    std::string version;
    std::uint64_t size = 0;
    std::string md5;     ///< 32 lowercase hex
    std::string sha256;  ///< 64 lowercase hex
    /// The push's signMethod: "SHA256" (default) or "Md5"; the sign is the matching digest.
    std::string sign_method = "SHA256";
    /// The push's extData as JSON text ("" = none); carries the image signature when signed.
    std::string ext_data;
    bool verified = false;  ///< a verify rollout succeeded on every one of its devices
    Millis created_at = 0;
};

/// A registered device. Messages of devices that are not registered change nothing.
struct Device {
    DeviceKey key;
    std::vector<std::string> tags;                ///< group tags, sorted, no duplicates
    std::map<std::string, std::string> versions;  ///< module -> last reported version
    Millis created_at = 0;
    Millis last_seen_at = 0;  ///< last message of any kind from the device; 0 = never
};

/// Which devices a rollout takes. Every non-empty criterion must hold (they are ANDed).
struct Selection {
    std::string product_key;                   ///< always the firmware's product
    std::vector<std::string> device_names;     ///< empty = every device of the product
    std::vector<std::string> source_versions;  ///< empty = any version of the firmware's module
    std::string tag;                           ///< empty = any
    /// 1..100: the devices whose stable hash of "pk/dn" mod 100 is below it (the same devices
    /// every time, so a live count and a later dynamic join agree).
    std::uint32_t percent = 100;
};

/// One ordered phase of a rollout.
struct Phase {
    /// Size: `devices` devices, or when 0, `percent` % of the selected devices (rounded up);
    /// both 0 = all that remain (only allowed for the last phase).
    std::uint32_t devices = 0;
    std::uint32_t percent = 0;
    /// Success gate: when every task of the phase is final and at least this share succeeded,
    /// the next phase starts (or the rollout pauses for a person when `manual`); below it the
    /// rollout pauses.
    std::uint32_t success_percent = 100;
    bool manual = false;
    /// Abort gate: more than this many failed/timed-out tasks in the phase pause the rollout.
    std::uint32_t max_failures = 0;
};

/// What every phase of a rollout shares.
struct Policy {
    std::uint32_t push_rate_per_minute = 0;  ///< 0 = unlimited
    std::uint32_t task_timeout_s = 1800;     ///< from the push, and again from the first progress
    std::uint32_t retry_count = 0;           ///< re-queues after a failure or a timeout
    std::uint32_t retry_interval_s = 60;
    Millis start_at = 0;  ///< 0 = at once
    Millis end_at = 0;    ///< 0 = none; after it no new push, queued tasks end as canceled
    /// "https" (the push carries a signed url) or "mqtt" (`dProtocol:"mqtt"`, streamId = the
    /// firmware id, streamFileId 1: the device fetches blocks from the console over MQTT).
    std::string download_protocol = "https";
};

enum class RolloutKind { normal, verify };
enum class RolloutState { scheduled, running, paused, canceling, completed, canceled };

[[nodiscard]] const char* to_string(RolloutKind k) noexcept;
[[nodiscard]] const char* to_string(RolloutState s) noexcept;
[[nodiscard]] std::optional<RolloutKind> rollout_kind_from(std::string_view s) noexcept;
[[nodiscard]] std::optional<RolloutState> rollout_state_from(std::string_view s) noexcept;

struct Rollout {
    std::int64_t id = 0;
    std::int64_t firmware_id = 0;
    std::string name;
    RolloutKind kind = RolloutKind::normal;
    RolloutState state = RolloutState::scheduled;
    bool dynamic = false;  ///< also takes matching devices that appear or report later
    bool force = false;    ///< allows an unverified firmware in a normal rollout
    Selection selection;
    std::vector<Phase> phases;  ///< at least one
    Policy policy;
    std::uint32_t current_phase = 0;  ///< index into phases
    std::string reason;               ///< why it is paused/canceled ("" otherwise)
    Millis created_at = 0;
    Millis updated_at = 0;
    Millis finished_at = 0;
};

/// queued -> notified -> in_progress -> succeeded | failed | timed_out | canceled.
enum class TaskState { queued, notified, in_progress, succeeded, failed, timed_out, canceled };

[[nodiscard]] const char* to_string(TaskState s) noexcept;
[[nodiscard]] std::optional<TaskState> task_state_from(std::string_view s) noexcept;
/// succeeded, failed, timed_out and canceled.
[[nodiscard]] bool is_final(TaskState s) noexcept;
inline constexpr TaskState kAllTaskStates[] = {
    TaskState::queued, TaskState::notified,  TaskState::in_progress, TaskState::succeeded,
    TaskState::failed, TaskState::timed_out, TaskState::canceled};

/// One device's part in a rollout.
struct Task {
    std::int64_t id = 0;
    std::int64_t rollout_id = 0;
    DeviceKey device;
    std::string module = kDefaultModule;
    std::uint32_t phase = 0;
    TaskState state = TaskState::queued;
    std::uint32_t attempt = 0;   ///< pushes sent so far (retries included)
    std::string from_version;    ///< the device's version when the task was made
    std::int32_t last_step = 0;  ///< last progress step (-4..100)
    bool downloaded = false;     ///< step 100 seen in this attempt
    std::string reason;          ///< why it failed / timed out / was canceled
    Millis queued_at = 0;        ///< may be pushed from then on (retries: now + interval)
    Millis notified_at = 0;
    Millis first_progress_at = 0;
    Millis deadline_at = 0;  ///< notified_at or first_progress_at + task timeout; 0 = none
    Millis finished_at = 0;
    Millis updated_at = 0;
};

/// A state change, kept for GET /events (server-sent events) and other console processes.
struct Event {
    std::int64_t seq = 0;  ///< increasing, assigned by the store
    Millis at = 0;
    std::string type;  ///< "task", "rollout", "firmware", "device"
    std::int64_t rollout_id = 0;
    std::string json;  ///< the changed record as the API shows it
};

/// A failure the REST API turns into {"code","message"} with an HTTP status. Thrown by the
/// engine and the store for bad requests and unknown ids; never for device messages.
class ApiError : public std::runtime_error {
  public:
    ApiError(int http_status, std::string code, const std::string& message)
        : std::runtime_error(message), http_status_(http_status), code_(std::move(code)) {}
    [[nodiscard]] int http_status() const noexcept { return http_status_; }
    [[nodiscard]] const std::string& code() const noexcept { return code_; }

  private:
    int http_status_;
    std::string code_;
};

}  // namespace console
