// ota_console's command line (BRIEF: "ota_console command line"): parsed into one struct, with
// every mistake a usage error (exit status 2) whose message names the option.
//
// Why apart from main.cpp: the parsing is pure (no files opened, no network), so its rules are
// plain to read here and main.cpp keeps only the wiring of the parts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace console {

/// Everything the command line sets. Defaults are the documented ones.
struct ConsoleOptions {
    std::string data_dir;
    std::string db_url;  ///< "" = SQLite in data_dir
    std::string broker_host;
    std::uint16_t broker_port = 0;
    std::string broker_ca;
    bool broker_no_tls = false;
    std::string broker_user;
    std::string broker_password_file;  ///< "" = env OTA_CONSOLE_BROKER_PASSWORD (may be unset)
    std::string http_bind = "127.0.0.1";
    int http_port = 8443;  ///< 0 = random
    std::string tls_cert;
    std::string tls_key;
    bool http_no_tls = false;
    std::string token_file;        ///< "" = <data>/api-token
    int files_port = 0;            ///< the files server's port; 0 = random
    std::string public_url;        ///< "" = https://<http_bind>:<port>
    std::string public_files_url;  ///< "" = public_url's host with files_port
    std::string public_base_url;
    bool allow_http_files = false;  ///< accept an http:// public_base_url
    std::int64_t url_ttl_s = 86400;
    std::string signing_key;
    std::int64_t max_upload_mib = 1024;
    std::int64_t online_window_s = 600;
    std::string share_group = "ota_console";
    std::string ready_file;
};

/// The usage text (printed with a usage error and for --help).
extern const char* const kConsoleUsage;

/// Parses argv. Returns the error message ("" = ok; "help" when --help/-h was given).
[[nodiscard]] std::string parse_console_options(int argc, const char* const* argv,
                                                ConsoleOptions& out);

}  // namespace console
