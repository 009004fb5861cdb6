// The command line of `ota_fleet run|users|merge` turned into typed options.
//
// Why pure: no file is opened here (paths are only stored), so every error message is unit-tested,
// and ota_fleet's main() does nothing but parse, then hand the options to the runtime. Errors name
// the option and its range, e.g. "--threads: 0 is out of range 1..64".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "behaviour.hpp"
#include "identity.hpp"
#include "ota/status.hpp"

namespace ota::fleet {

/// The subcommand.
enum class Command { run, users, merge, help };

/// Where a device's image goes.
enum class SinkKind {
    hash,   ///< hash only, bytes discarded (default)
    file,   ///< ota::FileSink under `dir` (one file per device)
    flash,  ///< simulated flash (hal_posix)
};

/// When the in-process cloud starts pushing.
enum class PushWhen {
    connected,      ///< to each device as soon as it is connected (default)
    all_connected,  ///< to all, once every device (late joiners aside) is connected
};

/// The in-process cloud's job (--push-*); present when --push-url is given.
struct PushOptions {
    std::string url;                      ///< --push-url: the image URL devices download
    std::string file;                     ///< --push-file: the image (for size and digest)
    std::string version;                  ///< --push-version: the new version (1..64 characters)
    double rate_per_s = 100;              ///< --push-rate: pushes per second, 0.1..100000
    PushWhen when = PushWhen::connected;  ///< --push-when connected|all-connected
    std::string cloud_user;               ///< --cloud-user
    std::string cloud_password_file;      ///< --cloud-password-file (the password is never logged)
};

/// `ota_fleet run`.
struct RunOptions {
    IdentitySpec identity;
    std::uint64_t first = 0;  ///< --first: 0..kMaxDeviceIndex
    /// --count: 1..1,000,000; default 1 with a pattern, 0 (= every row from first) with a CSV.
    std::uint64_t count = 0;
    std::string host;                ///< --host (required)
    std::uint16_t port = 0;          ///< --port 1..65535 (required)
    std::string ca_file;             ///< --ca-file (required unless --no-tls)
    bool tls = true;                 ///< false with --no-tls
    std::string http_ca_file;        ///< --http-ca-file (default: ca_file)
    bool allow_http = false;         ///< --allow-http: plain http image URLs accepted
    std::string version = "1.0.0";   ///< --version: the version devices start with (1..64 chars)
    double connect_rate = 500;       ///< --connect-rate: connects started per second, 1..100000
    std::uint32_t threads = 2;       ///< --threads 1..64
    std::uint32_t reboot_ms = 2000;  ///< --reboot-ms 0..600000
    MixSpec mix;                     ///< --mix (and --link into mix.link)
    std::string mix_text;            ///< --mix as given (for the summary)
    std::string link_text;           ///< --link as given
    std::uint64_t seed = 1;          ///< --seed 0..2^64-1
    SinkKind sink = SinkKind::hash;  ///< --sink hash|file:DIR|flash
    std::string sink_dir;            ///< DIR of file:DIR
    double duration_s = 0;           ///< --duration 0..604800 (0 = no bound)
    double job_timeout_s = 600;      ///< --job-timeout 1..604800
    std::string json_path;           ///< --json FILE
    std::string csv_path;            ///< --csv FILE
    bool quiet = false;              ///< --quiet: no live status line
    /// false with --no-connect-waker: no extra connection keeps paho's receive thread polling
    /// while connects are outstanding (sim/connect_waker.hpp; for A/B measurements).
    bool connect_waker = true;
    bool has_push = false;  ///< --push-url given
    PushOptions push;
};

/// `ota_fleet users`.
struct UsersOptions {
    IdentitySpec identity;
    std::uint64_t first = 0;  ///< as RunOptions
    std::uint64_t count = 0;  ///< as RunOptions
    std::string passwd_out;   ///< --passwd-out FILE (required)
    std::string acl_out;      ///< --acl-out FILE (required)
};

/// `ota_fleet merge OUT.json IN.json...`.
struct MergeOptions {
    std::string out;                  ///< OUT.json
    std::vector<std::string> inputs;  ///< at least one
};

/// A parsed command line: `command` says which of run/users/merge is filled; help means print
/// usage_text(help_topic) and exit 0.
struct ParsedCommand {
    Command command = Command::help;
    Command help_topic = Command::help;  ///< the subcommand whose --help was asked (help = all)
    RunOptions run;
    UsersOptions users;
    MergeOptions merge;
};

/// Parses argv (argv[0] is the program and skipped). Errors: invalid_argument whose detail
/// names the option and its range or what is missing (usage error: exit 2); then only
/// out.help_topic is set (to the subcommand being parsed, for printing its usage).
[[nodiscard]] Error parse_command_line(int argc, const char* const* argv, ParsedCommand& out);
/// The same from a vector of arguments (without the program name).
[[nodiscard]] Error parse_command_line(const std::vector<std::string>& args, ParsedCommand& out);

/// The usage text of one subcommand, or of all with Command::help.
[[nodiscard]] std::string usage_text(Command topic);

/// Short name ("run", "users", "merge", "help").
[[nodiscard]] const char* to_string(Command command) noexcept;

}  // namespace ota::fleet
