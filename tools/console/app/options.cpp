// ota_console's command line: see options.hpp.
#include "app/options.hpp"

#include <charconv>
#include <functional>
#include <map>
#include <string_view>
#include <utility>

namespace console {

const char* const kConsoleUsage =
    "usage: ota_console --data DIR [--db postgresql://...] --broker-host H --broker-port P\n"
    "         [--broker-ca PEM | --broker-no-tls] --broker-user U\n"
    "         [--broker-password-file F (else env OTA_CONSOLE_BROKER_PASSWORD)]\n"
    "         [--http-bind ADDR (127.0.0.1)] [--http-port N (8443; 0 = random)]\n"
    "         [--files-port N (0 = random)] [--public-url URL] [--public-files-url URL]\n"
    "         [--tls-cert PEM --tls-key PEM | --http-no-tls] [--token-file F (DIR/api-token)]\n"
    "         [--public-base-url URL [--allow-http-files]] [--url-ttl-s N (86400)]\n"
    "         [--signing-key PEM]\n"
    "         [--max-upload-mib N (1024)] [--online-window-s N (600)]\n"
    "         [--share-group G (ota_console)] [--ready-file F]\n"
    "The local OTA console: REST API, web page and firmware files over HTTPS, the devices'\n"
    "OTA topics over MQTT. Without --tls-cert a self-signed certificate is generated into\n"
    "DIR/tls/ (naming 127.0.0.1, localhost and the --public-url host); the API token is generated "
    "into --token-file on first start and printed once.\n"
    "With --db several consoles share one PostgreSQL database (one of them schedules) and\n"
    "one --share-group, so each device message reaches one of them; consoles with separate\n"
    "stores on one broker need different groups (\"\" = plain subscriptions).\n"
    "Firmware downloads are served on their own port (--files-port) at signed URLs under\n"
    "--public-files-url, else the --public-url host (else --http-bind) with that port.\n"
    "--http-bind 0.0.0.0 (or ::) needs --public-url, the address clients reach.\n"
    "--ready-file F is written once HTTP and MQTT are up. SIGINT/SIGTERM stop it (exit 0).\n"
    "Exit: 0 stopped by a signal, 2 usage error (an unreadable file named by an option\n"
    "too), 1 any other failure.\n";

namespace {

bool parse_int(std::string_view s, std::int64_t lo, std::int64_t hi, std::int64_t& out) {
    std::int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || v < lo || v > hi) {
        return false;
    }
    out = v;
    return true;
}

bool starts_with(const std::string& s, std::string_view prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

std::string parse_console_options(int argc, const char* const* argv, ConsoleOptions& o) {
    using Setter = std::function<std::string(const std::string&)>;
    auto text = [](std::string& field) -> Setter {
        return [&field](const std::string& v) -> std::string {
            if (v.empty()) return "needs a non-empty value";
            field = v;
            return {};
        };
    };
    auto number = [](std::int64_t& field, std::int64_t lo, std::int64_t hi) -> Setter {
        return [&field, lo, hi](const std::string& v) -> std::string {
            if (!parse_int(v, lo, hi, field)) {
                return "needs a whole number from " + std::to_string(lo) + " to " +
                       std::to_string(hi);
            }
            return {};
        };
    };
    std::int64_t broker_port = 0;
    std::int64_t http_port = o.http_port;
    std::int64_t files_port = o.files_port;
    const std::map<std::string, Setter> with_value = {
        {"--data", text(o.data_dir)},
        {"--db", text(o.db_url)},
        {"--broker-host", text(o.broker_host)},
        {"--broker-port", number(broker_port, 1, 65535)},
        {"--broker-ca", text(o.broker_ca)},
        {"--broker-user", text(o.broker_user)},
        {"--broker-password-file", text(o.broker_password_file)},
        {"--http-bind", text(o.http_bind)},
        {"--http-port", number(http_port, 0, 65535)},
        {"--tls-cert", text(o.tls_cert)},
        {"--tls-key", text(o.tls_key)},
        {"--token-file", text(o.token_file)},
        {"--public-base-url", text(o.public_base_url)},
        {"--public-url", text(o.public_url)},
        {"--public-files-url", text(o.public_files_url)},
        {"--files-port", number(files_port, 0, 65535)},
        {"--url-ttl-s", number(o.url_ttl_s, 60, 365LL * 86400)},
        {"--signing-key", text(o.signing_key)},
        {"--max-upload-mib", number(o.max_upload_mib, 1, 1024LL * 1024)},
        {"--online-window-s", number(o.online_window_s, 1, 365LL * 86400)},
        {"--share-group",
         [&o](const std::string& v) -> std::string {
             // "" = plain subscriptions; a group name is one topic level without wildcards.
             if (v.find_first_of("/+#") != std::string::npos) {
                 return "must not contain '/', '+' or '#'";
             }
             o.share_group = v;
             return {};
         }},
        {"--ready-file", text(o.ready_file)},
    };
    bool seen_port = false;
    for (int i = 1; i < argc; ++i) {
        const std::string opt = argv[i];
        if (opt == "-h" || opt == "--help") return "help";
        if (opt == "--broker-no-tls") {
            o.broker_no_tls = true;
            continue;
        }
        if (opt == "--http-no-tls") {
            o.http_no_tls = true;
            continue;
        }
        if (opt == "--allow-http-files") {
            o.allow_http_files = true;
            continue;
        }
        const auto it = with_value.find(opt);
        if (it == with_value.end()) return "unknown option " + opt;
        if (i + 1 >= argc) return opt + " needs a value";
        if (const std::string err = it->second(argv[++i]); !err.empty()) {
            return opt + " " + err;
        }
        if (opt == "--broker-port") seen_port = true;
    }
    if (o.data_dir.empty()) return "--data is required";
    if (o.broker_host.empty()) return "--broker-host is required";
    if (!seen_port) return "--broker-port is required";
    if (o.broker_user.empty()) return "--broker-user is required";
    if (o.broker_no_tls && !o.broker_ca.empty()) {
        return "--broker-ca and --broker-no-tls exclude each other";
    }
    if (o.tls_cert.empty() != o.tls_key.empty()) return "--tls-cert and --tls-key go together";
    if (o.http_no_tls && !o.tls_cert.empty()) {
        return "--tls-cert/--tls-key and --http-no-tls exclude each other";
    }
    if (!o.db_url.empty() && !starts_with(o.db_url, "postgresql://") &&
        !starts_with(o.db_url, "postgres://")) {
        return "--db must be a postgresql:// URL";
    }
    for (const auto& [name, url] : {std::pair{"--public-url", &o.public_url},
                                    std::pair{"--public-files-url", &o.public_files_url},
                                    std::pair{"--public-base-url", &o.public_base_url}}) {
        if (!url->empty() && !starts_with(*url, "https://") && !starts_with(*url, "http://")) {
            return std::string(name) + " must start with https:// or http://";
        }
    }
    if (starts_with(o.public_base_url, "http://") && !o.allow_http_files) {
        return "--public-base-url is plain http:// (devices refuse it unless they allow http); "
               "give --allow-http-files to use it anyway";
    }
    if ((o.http_bind == "0.0.0.0" || o.http_bind == "::" || o.http_bind == "[::]") &&
        o.public_url.empty()) {
        return "--http-bind " + o.http_bind +
               " (every address) needs --public-url, the address clients reach the console at";
    }
    o.broker_port = static_cast<std::uint16_t>(broker_port);
    o.http_port = static_cast<int>(http_port);
    o.files_port = static_cast<int>(files_port);
    if (o.token_file.empty()) o.token_file = o.data_dir + "/api-token";
    return {};
}

}  // namespace console
