// `ota_cloud console ...`: the command line of the console mode turned into REST API requests.
//
// Why apart from the HTTP code: parsing and request building are pure (no network, no files but
// --devices-file / --names-file), so unit tests check every subcommand's request exactly, and the
// load generator (tools/console/load) builds its requests with the same functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ota_cloud {

/// One REST call: method, path under the console's base URL (with the query), and a body that
/// is either JSON text (`body`) or the contents of `body_file` (an image upload).
struct HttpRequest {
    std::string method = "GET";
    std::string path;  ///< "/api/v1/..." including "?query"
    std::string body;
    std::string body_file;  ///< when set, the body is this file's bytes (streamed)
    std::string content_type;
};

/// What `ota_cloud console` does after parsing.
struct ConsoleCommand {
    std::string base_url = "https://127.0.0.1:8443";  ///< --url or env OTA_CONSOLE_URL
    std::string ca_file;     ///< --ca-file: the CA (or certificate) the console's TLS chains to
    std::string token_file;  ///< --token-file; empty = env OTA_CONSOLE_TOKEN
    HttpRequest request;
    /// `status --wait S`: poll until the rollout is completed, canceled or paused (S > 0).
    double wait_s = 0;
    /// `devices list`: follow next_cursor and print every page's items as one list.
    bool follow_pages = false;
};

/// A parse: the command, or an error message for the usage (exit 2).
struct ConsoleParse {
    bool ok = false;
    ConsoleCommand command;
    std::string error;
};

/// Usage text of the console mode.
extern const char* const kConsoleUsage;

/// Parses the words after `ota_cloud console` (`args[0]` is the subcommand). `env_url` is
/// OTA_CONSOLE_URL (may be null). Reads --devices-file / --names-file when given.
[[nodiscard]] ConsoleParse parse_console_args(const std::vector<std::string>& args,
                                              const char* env_url);

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
[[nodiscard]] std::string url_encode(const std::string& s);

/// Splits "a,b,,c" into {"a","b","c"} (empty items dropped, spaces around items trimmed).
[[nodiscard]] std::vector<std::string> split_list(const std::string& s);

/// The names in a file, one per line (blank lines and '#' comments skipped). Returns false and
/// sets `error` when it cannot be read.
[[nodiscard]] bool read_name_file(const std::string& path, std::vector<std::string>& names,
                                  std::string& error);

/// One --phase SPEC as the JSON text of a phase: "N" devices, "P%" percent, "rest" (the
/// devices that remain), then optional ",success=S", ",max-failures=F", ",manual". Returns
/// false and sets `error` for a bad spec.
[[nodiscard]] bool phase_json(const std::string& spec, std::string& json, std::string& error);

/// The bearer token: the first line of `token_file` (trimmed), else `env_token`. Returns false
/// and sets `error` (never containing the token) when there is none.
[[nodiscard]] bool load_token(const std::string& token_file, const char* env_token,
                              std::string& token, std::string& error);

}  // namespace ota_cloud
