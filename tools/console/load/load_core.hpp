// The pure parts of ota_console_load: its options, latency percentiles, the /metrics parser and
// the backlog verdict. No network here, so the unit tests check the numbers the benchmark's
// verdict rests on.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace console_load {

/// The command line (see kLoadUsage).
struct LoadOptions {
    std::string url;  ///< the console's base URL, https://127.0.0.1:PORT
    std::string ca_file;
    std::string token_file;  ///< empty: env OTA_CONSOLE_TOKEN
    std::string broker_host = "127.0.0.1";
    std::uint16_t broker_port = 0;
    std::string broker_ca;
    bool broker_tls = true;
    std::string broker_user;
    std::string broker_password_file;  ///< empty: env OTA_LOAD_BROKER_PASSWORD
    std::string product_key;           ///< empty: a fresh one per run
    std::uint32_t connections = 8;
    std::string scenario = "both";  ///< push, progress or both
    std::uint32_t push_devices = 1000;
    std::uint32_t progress_devices = 2000;
    std::uint32_t duration_s = 20;
    std::uint32_t interval_ms = 1000;  ///< each device reports once per interval
    std::uint32_t api_pause_ms = 50;   ///< between two pairs of API requests
    std::uint32_t push_timeout_s = 30;
};

extern const char* const kLoadUsage;

/// Parses argv[1..]; returns the options or sets `error` (for exit 2).
[[nodiscard]] std::optional<LoadOptions> parse_load_args(const std::vector<std::string>& args,
                                                         std::string& error);

/// Nearest-rank percentiles of latencies in milliseconds.
struct Percentiles {
    std::size_t n = 0;
    double p50_ms = 0;
    double p99_ms = 0;
    double max_ms = 0;
};
[[nodiscard]] Percentiles percentiles(std::vector<double> ms);

/// Prometheus text -> {"name" or "name{labels}": value}; comments and bad lines skipped.
[[nodiscard]] std::map<std::string, double> parse_metrics(const std::string& text);

/// One sample of the progress scenario, taken once a second.
struct Sample {
    double t_s = 0;                ///< since the load started
    std::int64_t published = 0;    ///< progress messages sent by the generator
    std::int64_t received = 0;     ///< console's mqtt_messages_received since the start
    std::int64_t processed = 0;    ///< console's mqtt_messages_processed since the start
    std::int64_t queue_depth = 0;  ///< console's mqtt_queue_depth
    std::int64_t baseline = 0;     ///< messages the plain subscriber received since the start
};

/// Whether the console keeps up: lag = published - processed.
struct Backlog {
    std::int64_t lag_end = 0;    ///< at the last sample taken while the load ran
    double lag_slope_per_s = 0;  ///< least-squares slope of the lag over the second half
    std::int64_t max_queue_depth = 0;
    bool growing = false;
};

/// The verdict over the samples taken while the load ran, for an offered rate of
/// `rate_per_s`: the backlog grows when the lag at the end is above one second of messages or
/// its slope over the second half is above 1 % of the rate.
[[nodiscard]] Backlog backlog_of(const std::vector<Sample>& samples, double rate_per_s);

/// The lag of the plain subscriber (published - baseline) at the last sample.
[[nodiscard]] std::int64_t baseline_lag(const std::vector<Sample>& samples);

}  // namespace console_load
