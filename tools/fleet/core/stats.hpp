// Measures of a fleet run: per-device records, per-process records, the summary built from them,
// its JSON form, merging of several processes' summaries, and the per-device CSV.
//
// Why raw per-device records in the JSON (and not a histogram): percentiles of a merged run must
// equal those of one big run, and with the raw samples they do exactly; at about 285 bytes per
// device a 20,000-device process writes 5.7 MB in 0.05 s and reads it back in 0.1 s (measured,
// -O2), which is small next to the run. Percentiles are
// nearest-rank: p-th percentile of n sorted samples = the sample at rank ceil(p/100 * n) (1-based;
// rank 1 for p = 0), so every reported value is a measured one.
//
// Rates (connects/s, total download MiB/s) are counts over a wall-clock window (Unix ms) that each
// process records; merged, the window runs from the earliest start to the latest end, so several
// concurrent processes add up and sequential ones do not overstate.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ota/status.hpp"
#include "outcome.hpp"

namespace ota::fleet {

/// A set of samples with nearest-rank percentiles (see the file comment).
class SampleSet {
  public:
    /// Adds one sample (NaN is ignored).
    void add(double value);
    /// Adds every sample of `other`.
    void merge(const SampleSet& other);
    /// Number of samples.
    [[nodiscard]] std::size_t count() const noexcept { return values_.size(); }
    /// Nearest-rank percentile, p in [0, 100]; nullopt when empty.
    [[nodiscard]] std::optional<double> percentile(double p) const;
    /// Largest sample; nullopt when empty.
    [[nodiscard]] std::optional<double> max() const;
    /// Arithmetic mean; nullopt when empty.
    [[nodiscard]] std::optional<double> mean() const;
    /// The samples (in insertion order until a percentile sorted them).
    [[nodiscard]] const std::vector<double>& values() const noexcept { return values_; }

  private:
    void sort() const;
    mutable std::vector<double> values_;
    mutable bool sorted_ = true;
};

/// p50/p90/p99/max/mean of a SampleSet (all nullopt when it had no samples).
struct SampleSummary {
    std::size_t count = 0;                           ///< samples
    std::optional<double> p50, p90, p99, max, mean;  ///< nearest-rank percentiles, max, mean
};

/// Summarises `samples`.
[[nodiscard]] SampleSummary summarize(const SampleSet& samples);

/// What one simulated device measured (device side) and what the cloud saw of it. Times are
/// milliseconds on the process's steady clock; nullopt = did not happen.
struct DeviceRecord {
    std::uint64_t index = 0;                    ///< global device index
    std::string device_name;                    ///< dn
    Outcome outcome = Outcome::stopped;         ///< the device's view
    std::optional<Outcome> cloud_outcome;       ///< the cloud's view (with the in-process cloud)
    std::optional<Outcome> expected;            ///< what the seed predicts (expected_outcome)
    std::optional<double> connect_latency_ms;   ///< first start_connect -> connected
    std::optional<double> connected_at_ms;      ///< run start -> first connected
    std::uint32_t connects = 0;                 ///< successful connects (reconnects included)
    std::uint32_t connect_failures = 0;         ///< failed connect attempts
    std::optional<double> push_to_progress_ms;  ///< push received -> first progress sent
    std::uint64_t download_bytes = 0;           ///< body bytes received (all attempts)
    std::optional<double> download_ms;          ///< first byte request -> image complete
    std::optional<double> job_ms;               ///< push -> new version reported
    std::string detail;  ///< last failure description (no secrets), may be empty

    /// Download rate in MiB/s (download_bytes / download_ms), nullopt without a download time.
    [[nodiscard]] std::optional<double> download_mib_per_s() const;
};

/// What one ota_fleet process measured about itself. Unix times in ms (0 = not recorded).
struct ProcessRecord {
    std::uint64_t first = 0;                   ///< --first
    std::uint64_t count = 0;                   ///< devices in this process
    std::uint32_t threads = 0;                 ///< --threads
    std::string host;                          ///< the machine's host name (informational)
    std::uint64_t started_unix_ms = 0;         ///< the run started
    std::uint64_t ended_unix_ms = 0;           ///< the run ended
    std::uint64_t connect_first_unix_ms = 0;   ///< first connect started
    std::uint64_t connect_last_unix_ms = 0;    ///< last first-connect finished
    std::uint64_t download_first_unix_ms = 0;  ///< first download started
    std::uint64_t download_last_unix_ms = 0;   ///< last download ended
    std::uint64_t rss_base_kib = 0;            ///< RSS before the devices were created
    std::uint64_t rss_idle_kib = 0;  ///< RSS with every device connected and idle (0 = never)
    std::uint64_t rss_peak_kib = 0;  ///< largest RSS sampled
    double cpu_user_s = 0;           ///< getrusage user time of the whole process
    double cpu_system_s = 0;         ///< getrusage system time of the whole process
    /// SUBSCRIBEs the connect waker sent to the broker (0 without a waker; its own load on the
    /// broker, beside the devices' MQTT traffic).
    std::uint64_t waker_subscribes = 0;
};

/// Counts per Outcome, indexed by static_cast<std::size_t>(Outcome).
using OutcomeCounts = std::array<std::uint64_t, kOutcomeCount>;

/// Figures computed from a FleetSummary's records.
struct FleetAggregate {
    std::uint64_t devices = 0;             ///< device records
    OutcomeCounts outcomes{};              ///< device view
    OutcomeCounts cloud_outcomes{};        ///< cloud view (devices without one are not counted)
    OutcomeCounts expected{};              ///< seed's prediction (devices without one not counted)
    std::uint64_t connected = 0;           ///< devices that connected at least once
    std::optional<double> connects_per_s;  ///< connected / merged connect window
    SampleSummary connect_latency_ms;      ///< of DeviceRecord::connect_latency_ms
    SampleSummary push_to_progress_ms;     ///< of DeviceRecord::push_to_progress_ms
    SampleSummary download_mib_per_s;      ///< per device (DeviceRecord::download_mib_per_s)
    SampleSummary job_ms;                  ///< of DeviceRecord::job_ms
    std::uint64_t download_bytes = 0;      ///< all devices' body bytes
    std::optional<double> total_download_mib_per_s;  ///< all bytes / merged download window
    std::optional<double>
        rss_per_device_kib;  ///< sum(idle - base) / devices of processes with idle
    double cpu_s = 0;        ///< user + system over all processes
};

/// The summary of a run (one process) or of a merge (several): every record, plus the run's
/// parameters for the reader.
struct FleetSummary {
    std::uint64_t seed = 0;                ///< --seed
    std::string mix;                       ///< --mix as given
    std::string link;                      ///< --link as given
    std::vector<ProcessRecord> processes;  ///< one per ota_fleet process (merge: sorted by first)
    std::vector<DeviceRecord> devices;     ///< one per device (merge: sorted by index)

    /// Computes the aggregate figures from the records.
    [[nodiscard]] FleetAggregate aggregate() const;
    /// JSON text: {"format":"ota_fleet-summary/1", seed, mix, link, "aggregate":{...},
    /// "processes":[...], "devices":[...]}; "aggregate" is informational (from_json recomputes).
    [[nodiscard]] std::string to_json() const;
    /// Parses to_json's text. Errors: malformed_message naming the field.
    [[nodiscard]] static Error from_json(std::string_view text, FleetSummary& out);
};

/// Merges summaries of disjoint device ranges into one: records concatenated (devices sorted by
/// index). Errors: invalid_argument for an empty list, different seeds, or a device index that
/// appears twice (ranges overlap).
[[nodiscard]] Error merge(const std::vector<FleetSummary>& parts, FleetSummary& out);

/// The human-readable end-of-run report (a few lines: outcomes, rates, percentiles, memory).
[[nodiscard]] std::string format_report(const FleetSummary& summary);

/// The per-device CSV: a header line, then one line per device in index order. Columns:
/// index,device_name,outcome,cloud_outcome,expected,connect_latency_ms,connected_at_ms,connects,
/// connect_failures,push_to_progress_ms,download_bytes,download_ms,download_mib_per_s,job_ms,detail
/// (empty cell = nullopt; detail quoted with "" doubling when it holds a comma, quote or newline).
[[nodiscard]] std::string device_csv(const FleetSummary& summary);

/// Writes `text` to `path` (replacing it): to a temporary file beside it, then renamed over it,
/// so a reader never sees half a file and a failed write leaves the old one. Errors:
/// storage_failed naming the path.
[[nodiscard]] Error write_text_file(const std::string& path, std::string_view text);
/// Checks before a long run that write_text_file(path) can work: creates and removes the
/// temporary file beside `path`. Errors: storage_failed naming the path.
[[nodiscard]] Error check_writable(const std::string& path);
/// Reads the whole file at `path`. Errors: storage_failed naming the path.
[[nodiscard]] Error read_text_file(const std::string& path, std::string& out);

}  // namespace ota::fleet
