// Parsing of `ota_cloud console ...` into REST requests (see console_args.hpp). Every option is
// checked here, with the option named in the error, so that no request leaves with a bad value.
#include "console_args.hpp"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

namespace ota_cloud {

const char* const kConsoleUsage =
    "usage: ota_cloud console <command> [--url URL] [--ca-file PEM] [--token-file F]\n"
    "  upload --file F --product-key PK --version V [--module M] [--sign-method SHA256|Md5]\n"
    "  verify --firmware-id N --devices a,b\n"
    "  rollout --firmware-id N [--devices a,b | --devices-file F] [--source-version V]...\n"
    "          [--tag T] [--percent P] [--phase SPEC]... [--rate N] [--timeout S] [--retries N]\n"
    "          [--retry-interval S] [--dynamic] [--force] [--name NAME] [--download https|mqtt]\n"
    "  status --rollout N [--wait SECONDS]\n"
    "  pause|resume|cancel|retry-failed --rollout N\n"
    "  devices register --product-key PK (--names a,b | --names-file F) [--tag T]\n"
    "  devices list [--product-key PK]\n"
    "--url defaults to $OTA_CONSOLE_URL, else https://127.0.0.1:8443; TLS is always verified\n"
    "(--ca-file: the CA of the console's certificate). The token comes from --token-file or the\n"
    "OTA_CONSOLE_TOKEN environment variable. --phase SPEC: N (devices), P% or rest, then\n"
    "optional ,success=S ,max-failures=F ,manual. status --wait exits 0 when the rollout\n"
    "completed with every task succeeded, 3 when it ended otherwise (or paused), 6 on timeout.\n"
    "Errors of the API print as `code: message` (exit 1); usage errors exit 2.\n";

namespace {

using nlohmann::json;

// Options given on the command line, in order (repeatable ones appear several times).
using OptionList = std::vector<std::pair<std::string, std::string>>;

const std::set<std::string> kFlags = {"--dynamic", "--force"};
const std::set<std::string> kRepeatable = {"--source-version", "--phase"};
const std::set<std::string> kCommon = {"--url", "--ca-file", "--token-file"};

struct Parser {
    OptionList opts;
    std::string error;

    bool has(const std::string& k) const {
        for (const auto& o : opts) {
            if (o.first == k) return true;
        }
        return false;
    }
    std::string get(const std::string& k) const {
        for (const auto& o : opts) {
            if (o.first == k) return o.second;
        }
        return {};
    }
    std::vector<std::string> all(const std::string& k) const {
        std::vector<std::string> out;
        for (const auto& o : opts) {
            if (o.first == k) out.push_back(o.second);
        }
        return out;
    }
    bool fail(std::string e) {
        if (error.empty()) error = std::move(e);
        return false;
    }
    // A whole number in [lo, hi] from option `k` into `out` (untouched when absent).
    bool number(const std::string& k, std::uint64_t lo, std::uint64_t hi, std::uint64_t& out) {
        if (!has(k)) return true;
        const std::string v = get(k);
        char* end = nullptr;
        errno = 0;
        const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
        if (v.empty() || v[0] == '-' || v[0] == '+' || *end != '\0' || errno != 0 || n < lo ||
            n > hi) {
            return fail(k + " needs a whole number from " + std::to_string(lo) + " to " +
                        std::to_string(hi) + " (got \"" + v + "\")");
        }
        out = n;
        return true;
    }
    bool required(const std::string& k) {
        if (has(k) && !get(k).empty()) return true;
        return fail(k + " is required");
    }
};

// Splits the options after the subcommand words; only `allowed` (plus the common ones) pass.
bool collect(const std::vector<std::string>& args, std::size_t first,
             const std::set<std::string>& allowed, Parser& p) {
    for (std::size_t i = first; i < args.size(); ++i) {
        const std::string& opt = args[i];
        if (opt.rfind("--", 0) != 0) return p.fail("unexpected argument \"" + opt + "\"");
        if (allowed.count(opt) == 0 && kCommon.count(opt) == 0) {
            return p.fail("unknown option " + opt + " for this command");
        }
        if (p.has(opt) && kRepeatable.count(opt) == 0) return p.fail(opt + " given twice");
        if (kFlags.count(opt) != 0) {
            p.opts.emplace_back(opt, "1");
        } else if (i + 1 < args.size()) {
            p.opts.emplace_back(opt, args[++i]);
        } else {
            return p.fail(opt + " needs a value");
        }
    }
    return true;
}

bool rollout_id(Parser& p, std::string& id) {
    std::uint64_t n = 0;
    if (!p.required("--rollout") || !p.number("--rollout", 1, INT64_MAX, n)) return false;
    id = std::to_string(n);
    return true;
}

// --devices a,b or --devices-file F (exactly one may be given) into `names`.
bool device_names(Parser& p, const std::string& list_opt, const std::string& file_opt,
                  std::vector<std::string>& names) {
    if (p.has(list_opt) && p.has(file_opt)) {
        return p.fail(list_opt + " and " + file_opt + " exclude each other");
    }
    if (p.has(list_opt)) {
        names = split_list(p.get(list_opt));
        if (names.empty()) return p.fail(list_opt + " needs at least one name");
    } else if (p.has(file_opt)) {
        std::string e;
        if (!read_name_file(p.get(file_opt), names, e)) return p.fail(file_opt + ": " + e);
        if (names.empty()) return p.fail(file_opt + ": the file holds no names");
    }
    return true;
}

void json_body(HttpRequest& r, const json& body) {
    r.method = "POST";
    r.body = body.dump();
    r.content_type = "application/json";
}

bool build_upload(Parser& p, ConsoleCommand& c) {
    if (!p.required("--file") || !p.required("--product-key") || !p.required("--version")) {
        return false;
    }
    std::string path = "/api/v1/firmware?product_key=" + url_encode(p.get("--product-key")) +
                       "&version=" + url_encode(p.get("--version"));
    if (p.has("--module")) path += "&module=" + url_encode(p.get("--module"));
    if (p.has("--sign-method")) {
        const std::string m = p.get("--sign-method");
        if (m != "SHA256" && m != "Md5") return p.fail("--sign-method is SHA256 or Md5");
        path += "&sign_method=" + m;
    }
    std::ifstream probe(p.get("--file"), std::ios::binary);
    if (!probe) return p.fail("--file: cannot read " + p.get("--file"));
    c.request.method = "POST";
    c.request.path = path;
    c.request.body_file = p.get("--file");
    c.request.content_type = "application/octet-stream";
    return true;
}

bool build_verify(Parser& p, ConsoleCommand& c) {
    std::uint64_t id = 0;
    if (!p.required("--firmware-id") || !p.number("--firmware-id", 1, INT64_MAX, id)) return false;
    std::vector<std::string> names;
    if (!p.required("--devices") || !device_names(p, "--devices", "--devices-file", names)) {
        return false;
    }
    if (names.size() > 10) return p.fail("--devices: a verify rollout takes at most 10 devices");
    c.request.path = "/api/v1/firmware/" + std::to_string(id) + "/verify";
    json_body(c.request, json{{"device_names", names}});
    return true;
}

bool build_rollout(Parser& p, ConsoleCommand& c) {
    std::uint64_t id = 0;
    if (!p.required("--firmware-id") || !p.number("--firmware-id", 1, INT64_MAX, id)) return false;
    json body{{"firmware_id", id}};
    if (p.has("--name")) body["name"] = p.get("--name");
    if (p.has("--dynamic")) body["dynamic"] = true;
    if (p.has("--force")) body["force"] = true;
    json sel = json::object();
    std::vector<std::string> names;
    if (!device_names(p, "--devices", "--devices-file", names)) return false;
    if (!names.empty()) sel["device_names"] = names;
    if (p.has("--source-version")) sel["source_versions"] = p.all("--source-version");
    if (p.has("--tag")) sel["tag"] = p.get("--tag");
    std::uint64_t percent = 100;
    if (!p.number("--percent", 1, 100, percent)) return false;
    if (p.has("--percent")) sel["percent"] = percent;
    if (!sel.empty()) body["selection"] = sel;
    json phases = json::array();
    for (const auto& spec : p.all("--phase")) {
        std::string text;
        std::string e;
        if (!phase_json(spec, text, e)) return p.fail("--phase " + spec + ": " + e);
        phases.push_back(json::parse(text));
    }
    // No --phase: one phase of every selected device.
    if (phases.empty()) phases.push_back(json::object());
    body["phases"] = phases;
    json policy = json::object();
    const std::pair<const char*, const char*> fields[] = {{"--rate", "push_rate_per_minute"},
                                                          {"--timeout", "task_timeout_s"},
                                                          {"--retries", "retry_count"},
                                                          {"--retry-interval", "retry_interval_s"}};
    const std::uint64_t lows[] = {0, 1, 0, 0};
    const std::uint64_t highs[] = {10000000, 30 * 86400, 100, 86400};
    for (std::size_t i = 0; i < 4; ++i) {
        std::uint64_t v = 0;
        if (!p.number(fields[i].first, lows[i], highs[i], v)) return false;
        if (p.has(fields[i].first)) policy[fields[i].second] = v;
    }
    if (p.has("--download")) {
        const std::string d = p.get("--download");
        if (d != "https" && d != "mqtt") return p.fail("--download must be https or mqtt");
        policy["download_protocol"] = d;
    }
    if (!policy.empty()) body["policy"] = policy;
    c.request.path = "/api/v1/rollouts";
    json_body(c.request, body);
    return true;
}

bool build_status(Parser& p, ConsoleCommand& c) {
    std::string id;
    if (!rollout_id(p, id)) return false;
    if (p.has("--wait")) {
        const std::string v = p.get("--wait");
        char* end = nullptr;
        const double s = std::strtod(v.c_str(), &end);
        if (v.empty() || *end != '\0' || !(s > 0) || s > 30 * 86400) {
            return p.fail("--wait needs a number of seconds above 0 (got \"" + v + "\")");
        }
        c.wait_s = s;
    }
    c.request.path = "/api/v1/rollouts/" + id;
    return true;
}

bool build_devices(const std::vector<std::string>& args, Parser& p, ConsoleCommand& c) {
    const std::string what = args.size() > 1 ? args[1] : "";
    if (what == "register") {
        if (!collect(args, 2, {"--product-key", "--names", "--names-file", "--tag"}, p) ||
            !p.required("--product-key")) {
            return false;
        }
        std::vector<std::string> names;
        if (!device_names(p, "--names", "--names-file", names)) return false;
        if (names.empty()) return p.fail("--names or --names-file is required");
        if (names.size() > 10000) return p.fail("at most 10000 devices per registration");
        json devices = json::array();
        for (const auto& n : names) {
            json d{{"product_key", p.get("--product-key")}, {"device_name", n}};
            d["tags"] = p.has("--tag") ? json::array({p.get("--tag")}) : json::array();
            devices.push_back(d);
        }
        c.request.path = "/api/v1/devices";
        json_body(c.request, json{{"devices", devices}});
        return true;
    }
    if (what == "list") {
        if (!collect(args, 2, {"--product-key"}, p)) return false;
        c.request.path = "/api/v1/devices?limit=1000";
        if (p.has("--product-key")) {
            c.request.path += "&product_key=" + url_encode(p.get("--product-key"));
        }
        c.follow_pages = true;
        return true;
    }
    return p.fail("devices needs register or list");
}

}  // namespace

std::string url_encode(const std::string& s) {
    static const char* const hex = "0123456789ABCDEF";
    std::string out;
    for (const char ch : s) {
        const auto u = static_cast<unsigned char>(ch);
        if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') ||
            u == '-' || u == '_' || u == '.' || u == '~') {
            out += ch;
        } else {
            out += '%';
            out += hex[u >> 4U];
            out += hex[u & 15U];
        }
    }
    return out;
}

std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size()) {
        std::size_t end = s.find(',', start);
        if (end == std::string::npos) end = s.size();
        std::string item = s.substr(start, end - start);
        const auto b = item.find_first_not_of(" \t");
        const auto e = item.find_last_not_of(" \t");
        if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
        start = end + 1;
    }
    return out;
}

bool read_name_file(const std::string& path, std::vector<std::string>& names, std::string& error) {
    std::ifstream in(path);
    if (!in) {
        error = "cannot read " + path;
        return false;
    }
    std::string line;
    while (std::getline(in, line)) {
        const auto b = line.find_first_not_of(" \t\r");
        if (b == std::string::npos || line[b] == '#') continue;
        const auto e = line.find_last_not_of(" \t\r");
        names.push_back(line.substr(b, e - b + 1));
    }
    if (in.bad()) {
        error = "cannot read " + path;
        return false;
    }
    return true;
}

bool phase_json(const std::string& spec, std::string& text, std::string& error) {
    const auto items = split_list(spec);
    if (items.empty()) {
        error = "empty phase";
        return false;
    }
    json phase = json::object();
    auto whole = [](const std::string& v, std::uint64_t hi, std::uint64_t& out) {
        char* end = nullptr;
        errno = 0;
        const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
        if (v.empty() || v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 || n > hi) {
            return false;
        }
        out = n;
        return true;
    };
    const std::string& size = items[0];
    std::uint64_t n = 0;
    if (size == "rest") {
        // devices 0 and percent 0: what remains
    } else if (!size.empty() && size.back() == '%') {
        if (!whole(size.substr(0, size.size() - 1), 100, n) || n == 0) {
            error = "a percentage is 1% to 100%";
            return false;
        }
        phase["percent"] = n;
    } else if (whole(size, 10000000, n) && n > 0) {
        phase["devices"] = n;
    } else {
        error = "starts with a number of devices, a percentage (10%) or rest";
        return false;
    }
    for (std::size_t i = 1; i < items.size(); ++i) {
        const std::string& it = items[i];
        const auto eq = it.find('=');
        const std::string key = it.substr(0, eq);
        const std::string value = eq == std::string::npos ? "" : it.substr(eq + 1);
        if (key == "manual" && eq == std::string::npos) {
            phase["manual"] = true;
        } else if (key == "success" && whole(value, 100, n)) {
            phase["success_percent"] = n;
        } else if (key == "max-failures" && whole(value, 10000000, n)) {
            phase["max_failures"] = n;
        } else {
            error = "unknown or bad item \"" + it + "\" (success=0..100, max-failures=N, manual)";
            return false;
        }
    }
    text = phase.dump();
    return true;
}

bool load_token(const std::string& token_file, const char* env_token, std::string& token,
                std::string& error) {
    if (!token_file.empty()) {
        std::ifstream in(token_file);
        std::string line;
        if (!in || !std::getline(in, line)) {
            error = "cannot read the token file " + token_file;
            return false;
        }
        const auto b = line.find_first_not_of(" \t\r");
        const auto e = line.find_last_not_of(" \t\r");
        token = b == std::string::npos ? "" : line.substr(b, e - b + 1);
        if (token.empty()) {
            error = "the token file " + token_file + " is empty";
            return false;
        }
        return true;
    }
    if (env_token != nullptr && *env_token != '\0') {
        token = env_token;
        return true;
    }
    error = "no token: give --token-file F or set OTA_CONSOLE_TOKEN";
    return false;
}

ConsoleParse parse_console_args(const std::vector<std::string>& args, const char* env_url) {
    ConsoleParse out;
    Parser p;
    ConsoleCommand& c = out.command;
    if (env_url != nullptr && *env_url != '\0') c.base_url = env_url;
    const std::string cmd = args.empty() ? "" : args[0];
    bool ok = false;
    if (cmd == "upload") {
        ok = collect(args, 1, {"--file", "--product-key", "--version", "--module", "--sign-method"},
                     p) &&
             build_upload(p, c);
    } else if (cmd == "verify") {
        ok = collect(args, 1, {"--firmware-id", "--devices"}, p) && build_verify(p, c);
    } else if (cmd == "rollout") {
        ok = collect(args, 1,
                     {"--firmware-id", "--devices", "--devices-file", "--source-version", "--tag",
                      "--percent", "--phase", "--rate", "--timeout", "--retries",
                      "--retry-interval", "--dynamic", "--force", "--name", "--download"},
                     p) &&
             build_rollout(p, c);
    } else if (cmd == "status") {
        ok = collect(args, 1, {"--rollout", "--wait"}, p) && build_status(p, c);
    } else if (cmd == "pause" || cmd == "resume" || cmd == "cancel" || cmd == "retry-failed") {
        std::string id;
        ok = collect(args, 1, {"--rollout"}, p) && rollout_id(p, id);
        if (ok) {
            c.request.method = "POST";
            c.request.path = "/api/v1/rollouts/" + id + "/" + cmd;
        }
    } else if (cmd == "devices") {
        ok = build_devices(args, p, c);
    } else {
        p.fail(cmd.empty() ? "a command is required" : "unknown command \"" + cmd + "\"");
    }
    if (ok) {
        if (p.has("--url")) c.base_url = p.get("--url");
        while (!c.base_url.empty() && c.base_url.back() == '/') c.base_url.pop_back();
        if (c.base_url.rfind("https://", 0) != 0 && c.base_url.rfind("http://", 0) != 0) {
            ok = p.fail("--url must start with https:// (or http:// for a console without TLS)");
        }
        c.ca_file = p.get("--ca-file");
        c.token_file = p.get("--token-file");
    }
    out.ok = ok;
    out.error = p.error;
    return out;
}

}  // namespace ota_cloud
