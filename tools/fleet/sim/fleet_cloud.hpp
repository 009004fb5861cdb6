// FleetCloud: the platform's side of one OTA job for a whole simulated fleet, in the ota_fleet
// process (`ota_fleet run --push-url ...`).
//
// Why in-process and on the broker rather than a hook into the devices: the cloud must see what a
// real platform sees (the devices' version reports and progress messages as they cross the
// broker), so that the summary can put the device's own view of its outcome beside the cloud's and
// a disagreement (a lost report, a device that says "updated" while the cloud never heard the new
// version) shows up. It is one PahoChannel as the lab's cloud user: wildcard subscriptions on the
// report topics, one upgrade push per device (ota::encode_upgrade_push, the payload ota_cloud and
// the console send), paced at a rate. It pushes to a device when that device's first version
// report arrives (`--push-when connected`, what a platform does for a device that comes online
// with a pending job) or to all of them once every device has reported (`all-connected`).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/options.hpp"
#include "core/outcome.hpp"
#include "ota/digest.hpp"
#include "ota/options.hpp"
#include "ota/status.hpp"

namespace ota::fleet {

/// One device as the cloud addresses it (its topics use these two names).
struct CloudDevice {
    std::string product_key;
    std::string device_name;
};

/// Settings of a FleetCloud.
struct FleetCloudOptions {
    /// Broker address, TLS and the cloud user's credentials (the password is never logged). An
    /// empty client_id gets "ota-fleet-cloud-<pid>"; clean_session is forced on and
    /// max_queued_messages raised to its limit (a fleet reports in bursts).
    ota::MqttOptions mqtt;
    std::string push_url;      ///< the image's URL as devices fetch it
    std::string push_file;     ///< the image file: size and digest are computed from it
    std::string push_version;  ///< the version the job installs (1..64 characters)
    /// Digest sent in the push (`sign` + `signMethod`; md5 also sets `md5`).
    ota::DigestAlgorithm sign_method = ota::DigestAlgorithm::sha256;
    /// Pushes per second, 0 = as fast as the broker acknowledges (0..100000).
    double push_rate = 0;
    PushWhen push_when = PushWhen::connected;  ///< core/options.hpp (--push-when)
    /// Answer a firmware/get of an already pushed device with the same job (a device that was
    /// offline when the push went out asks for it on reconnect).
    bool answer_firmware_get = true;
};

/// What the cloud saw of one device. Times are steady_clock (the device side measures with the
/// same clock, so the two can be subtracted); an unset optional means "never happened".
struct CloudRecord {
    using Clock = std::chrono::steady_clock;
    std::optional<Clock::time_point> first_inform_at;    ///< first version report
    std::string first_version;                           ///< the version it reported first
    std::optional<Clock::time_point> push_at;            ///< just before the push was published
    std::optional<Clock::time_point> first_progress_at;  ///< first progress after the push
    std::optional<int> last_step;                        ///< last progress step after the push
    bool reached_100 = false;                            ///< step 100 was reported
    std::optional<Clock::time_point> reached_100_at;     ///< when step 100 first arrived
    std::optional<int> failure_step;                     ///< last negative step after the push
    std::string failure_desc;                            ///< its desc (device text, no secrets)
    /// Last version report after the push (the new version means the job succeeded).
    std::optional<Clock::time_point> last_inform_at;
    std::string last_version;
    std::uint32_t informs = 0;     ///< version reports in total
    std::uint32_t progresses = 0;  ///< progress messages after the push
    std::uint32_t gets = 0;        ///< firmware/get requests
};

/// The cloud's view of a device's outcome from its record, for a job installing `push_version`:
/// never reported -> connect_failed; reported but not pushed -> no_job; reported push_version
/// after the push -> updated; last step negative -> digest_mismatch (-3), storage_failed (-4) or
/// download_failed (-2, -1); step 100 followed by a report of another version -> rolled_back;
/// step 100 and no report after it -> never_returned; anything else -> stopped (the job was still
/// running when the run ended).
[[nodiscard]] Outcome cloud_outcome(const CloudRecord& record, std::string_view push_version);

/// Counts of the cloud's view at one moment (cheap; for the live status line).
struct CloudCounts {
    std::size_t informed = 0;  ///< devices that reported a version at least once
    std::size_t pushed = 0;    ///< devices the push was published to
    std::size_t updated = 0;   ///< devices that reported push_version after the push
    std::size_t failed = 0;    ///< devices whose last step is negative
};

/// The cloud's settings from `ota_fleet run`'s options (--host/--port/--no-tls/--ca-file, the
/// --push-* options, --cloud-user; the password read from --cloud-password-file, trailing newline
/// dropped). Errors: invalid_argument without --push-url or with an empty password file,
/// storage_failed when the password file cannot be read.
[[nodiscard]] ota::Error cloud_options_from(const RunOptions& run, FleetCloudOptions& out);

/// The cloud of one fleet run. start() connects and starts threads of its own: one yields the
/// channel and records reports, a small pool publishes the pushes; every other method is
/// thread-safe.
class FleetCloud {
  public:
    /// A cloud for `devices` (index i of the fleet's device list is record i). Nothing happens
    /// on the network until start().
    FleetCloud(FleetCloudOptions options, std::vector<CloudDevice> devices);
    /// Stops (see stop()).
    ~FleetCloud();
    FleetCloud(const FleetCloud&) = delete;
    FleetCloud& operator=(const FleetCloud&) = delete;

    /// Checks the options, reads and hashes push_file, connects, subscribes to every device's
    /// inform, progress and firmware/get topics (wildcards) and starts the cloud's thread.
    /// Errors: invalid_argument (the detail names the option), storage_failed when push_file
    /// cannot be read, the channel's connect/subscribe errors; invalid_state when started twice.
    [[nodiscard]] ota::Error start();

    /// Queues the push for every device not pushed yet (in index order, at push_rate).
    void push_all();

    /// Queues the push for every device that has reported a version so far and, from now on, for
    /// each further device when its first report arrives (as `--push-when connected` does).
    /// For `--push-when all-connected` when some device never reports (ota_fleet_cloud's
    /// --connect-wait). Returns how many devices have reported so far.
    std::size_t push_reported();

    /// Stops the thread and disconnects; records stay readable. Idempotent.
    void stop() noexcept;

    /// A copy of every device's record, in device order.
    [[nodiscard]] std::vector<CloudRecord> records() const;

    /// The current counts.
    [[nodiscard]] CloudCounts counts() const;

    /// The version the job installs.
    [[nodiscard]] const std::string& push_version() const noexcept;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ota::fleet
