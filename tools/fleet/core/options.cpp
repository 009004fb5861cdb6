#include "options.hpp"

#include <cmath>
#include <map>
#include <set>

#include "numbers.hpp"

namespace ota::fleet {
namespace {

Error bad(std::string text) {
    return {Status::invalid_argument, std::move(text)};
}

constexpr std::uint64_t kMaxCount = 1000000;

// --name value / --name=value pairs and flags of one subcommand, before their meaning is checked.
struct RawOptions {
    std::map<std::string, std::string> values;
    std::set<std::string> flags;
    std::vector<std::string> positional;
    bool help = false;
};

Error split(const std::vector<std::string>& args, std::size_t start, const char* command,
            const std::set<std::string>& value_names, const std::set<std::string>& flag_names,
            RawOptions& out) {
    for (std::size_t i = start; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "--help" || arg == "-h") {
            out.help = true;
            continue;
        }
        if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
            out.positional.push_back(arg);
            continue;
        }
        std::string name = arg.substr(2);
        std::string value;
        bool has_value = false;
        if (const std::size_t eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
            has_value = true;
        }
        if (flag_names.count(name) != 0) {
            if (has_value) return bad("--" + name + " takes no value");
            out.flags.insert(name);
            continue;
        }
        if (value_names.count(name) == 0) {
            return bad("unknown option --" + name + " for '" + command + "' (see ota_fleet " +
                       command + " --help)");
        }
        if (!has_value) {
            if (i + 1 >= args.size()) return bad("--" + name + " needs a value");
            value = args[++i];
        }
        if (!out.values.emplace(name, value).second) return bad("--" + name + " is given twice");
    }
    return {};
}

class Fields {
  public:
    explicit Fields(const RawOptions& raw) : raw_(raw) {}

    bool has(const std::string& name) const { return raw_.values.count(name) != 0; }
    bool flag(const std::string& name) const { return raw_.flags.count(name) != 0; }

    Error text(const std::string& name, std::string& out) const {
        if (const auto it = raw_.values.find(name); it != raw_.values.end()) {
            if (it->second.empty()) return bad("--" + name + " is empty");
            out = it->second;
        }
        return {};
    }

    Error integer(const std::string& name, std::uint64_t lo, std::uint64_t hi,
                  std::uint64_t& out) const {
        const auto it = raw_.values.find(name);
        if (it == raw_.values.end()) return {};
        std::uint64_t v = 0;
        const std::string range = std::to_string(lo) + ".." + std::to_string(hi);
        if (!detail::parse_u64(it->second, v)) {
            return bad("--" + name + ": '" + it->second + "' is not a whole number (" + range +
                       ")");
        }
        if (v < lo || v > hi) {
            return bad("--" + name + ": " + it->second + " is out of range " + range);
        }
        out = v;
        return {};
    }

    template <typename T>
    Error integer_as(const std::string& name, std::uint64_t lo, std::uint64_t hi, T& out) const {
        std::uint64_t v = out;
        Error e = integer(name, lo, hi, v);
        if (e.ok()) out = static_cast<T>(v);
        return e;
    }

    Error real(const std::string& name, double lo, double hi, const char* range,
               double& out) const {
        const auto it = raw_.values.find(name);
        if (it == raw_.values.end()) return {};
        double v = 0;
        if (!detail::parse_double(it->second, v)) {
            return bad("--" + name + ": '" + it->second + "' is not a number (" + range + ")");
        }
        if (v < lo || v > hi) {
            return bad("--" + name + ": " + it->second + " is out of range " + range);
        }
        out = v;
        return {};
    }

  private:
    const RawOptions& raw_;
};

Error check_version(const char* option, const std::string& version) {
    if (version.size() > 64) {
        return bad(std::string(option) + ": " + std::to_string(version.size()) +
                   " characters, more than 64");
    }
    return {};
}

// Product key, pattern/secret or CSV, --first and --count: shared by run and users.
Error parse_identity(const Fields& f, IdentitySpec& spec, std::uint64_t& first,
                     std::uint64_t& count) {
    Error e = f.text("product-key", spec.product_key);
    if (e.ok()) e = f.text("name-pattern", spec.name_pattern);
    if (e.ok()) e = f.text("secret", spec.secret);
    if (e.ok()) e = f.text("devices", spec.devices_csv);
    if (e.ok()) e = f.text("secret-file", spec.secret_file);
    if (!e.ok()) return e;
    if (spec.name_pattern.empty() == spec.devices_csv.empty()) {
        return bad(
            spec.devices_csv.empty()
                ? "the devices are missing: give --name-pattern P --secret S or --devices CSV"
                : "--name-pattern and --devices exclude each other");
    }
    if (!spec.name_pattern.empty()) {
        if (spec.product_key.empty()) return bad("--product-key is required with --name-pattern");
        if (!spec.secret.empty() && !spec.secret_file.empty()) {
            return bad("--secret and --secret-file exclude each other");
        }
        if (spec.secret.empty() && spec.secret_file.empty()) {
            return bad("--secret (or --secret-file) is required with --name-pattern");
        }
        if (spec.product_key.size() > kMaxProductKeyLength) {
            return bad("--product-key: " + std::to_string(spec.product_key.size()) +
                       " characters, more than 20");
        }
        NamePattern pattern;
        e = NamePattern::parse(spec.name_pattern, pattern);
        if (!e.ok()) return e;
    } else if (!spec.secret.empty() || !spec.secret_file.empty()) {
        return bad(std::string(spec.secret.empty() ? "--secret-file" : "--secret") +
                   " is not used with --devices (the CSV holds each device's secret)");
    }
    e = f.integer("first", 0, kMaxDeviceIndex, first);
    if (!e.ok()) return e;
    count = spec.name_pattern.empty() ? 0 : 1;
    e = f.integer("count", 1, kMaxCount, count);
    if (!e.ok()) return e;
    if (!spec.name_pattern.empty() && count - 1 > kMaxDeviceIndex - first) {
        return bad("--first + --count: the last device index " + std::to_string(first + count - 1) +
                   " is past " + std::to_string(kMaxDeviceIndex));
    }
    return {};
}

const std::set<std::string> kIdentityOptions = {
    "product-key", "name-pattern", "secret", "secret-file", "devices", "first", "count"};

Error parse_sink(const std::string& text, RunOptions& run) {
    if (text == "hash") {
        run.sink = SinkKind::hash;
    } else if (text == "flash") {
        run.sink = SinkKind::flash;
    } else if (text.compare(0, 5, "file:") == 0 && text.size() > 5) {
        run.sink = SinkKind::file;
        run.sink_dir = text.substr(5);
    } else {
        return bad("--sink: '" + text + "' is not hash, file:DIR or flash");
    }
    return {};
}

Error parse_push(const Fields& f, RunOptions& run) {
    static const char* const kPushOnly[] = {"push-file", "push-version", "push-rate",
                                            "push-when", "cloud-user",   "cloud-password-file"};
    if (!f.has("push-url")) {
        for (const char* name : kPushOnly) {
            if (f.has(name)) return bad(std::string("--") + name + " needs --push-url");
        }
        return {};
    }
    run.has_push = true;
    PushOptions& p = run.push;
    Error e = f.text("push-url", p.url);
    if (e.ok()) e = f.text("push-file", p.file);
    if (e.ok()) e = f.text("push-version", p.version);
    if (e.ok()) e = f.text("cloud-user", p.cloud_user);
    if (e.ok()) e = f.text("cloud-password-file", p.cloud_password_file);
    if (e.ok()) e = f.real("push-rate", 0.1, 100000, "0.1..100000 per second", p.rate_per_s);
    if (!e.ok()) return e;
    for (const auto& [name, value] :
         {std::pair<const char*, const std::string*>{"push-file", &p.file},
          {"push-version", &p.version},
          {"cloud-user", &p.cloud_user},
          {"cloud-password-file", &p.cloud_password_file}}) {
        if (value->empty()) return bad(std::string("--") + name + " is required with --push-url");
    }
    e = check_version("--push-version", p.version);
    if (!e.ok()) return e;
    if (p.version == run.version) {
        return bad("--push-version: '" + p.version + "' is the devices' --version already");
    }
    std::string when = "connected";
    e = f.text("push-when", when);
    if (!e.ok()) return e;
    if (when == "connected") {
        p.when = PushWhen::connected;
    } else if (when == "all-connected") {
        p.when = PushWhen::all_connected;
    } else {
        return bad("--push-when: '" + when + "' is not connected or all-connected");
    }
    return {};
}

Error parse_run(const RawOptions& raw, RunOptions& run) {
    if (!raw.positional.empty()) {
        return bad("run: unexpected argument '" + raw.positional.front() + "'");
    }
    const Fields f(raw);
    Error e = parse_identity(f, run.identity, run.first, run.count);
    if (!e.ok()) return e;
    e = f.text("host", run.host);
    if (e.ok() && run.host.empty()) e = bad("--host is required");
    if (e.ok() && !f.has("port")) e = bad("--port is required");
    if (e.ok()) e = f.integer_as("port", 1, 65535, run.port);
    if (!e.ok()) return e;
    run.tls = !f.flag("no-tls");
    e = f.text("ca-file", run.ca_file);
    if (e.ok() && run.tls && run.ca_file.empty()) {
        e = bad("--ca-file is required for MQTT over TLS (or give --no-tls)");
    }
    if (e.ok()) e = f.text("http-ca-file", run.http_ca_file);
    if (!e.ok()) return e;
    if (run.http_ca_file.empty()) run.http_ca_file = run.ca_file;
    run.allow_http = f.flag("allow-http");
    run.quiet = f.flag("quiet");
    run.connect_waker = !f.flag("no-connect-waker");
    e = f.text("version", run.version);
    if (e.ok()) e = check_version("--version", run.version);
    if (e.ok()) e = f.real("connect-rate", 1, 100000, "1..100000 per second", run.connect_rate);
    if (e.ok()) e = f.integer_as("threads", 1, 64, run.threads);
    if (e.ok()) e = f.integer_as("reboot-ms", 0, 600000, run.reboot_ms);
    if (e.ok()) e = f.integer("seed", 0, UINT64_MAX, run.seed);
    if (e.ok()) e = f.real("duration", 0, 604800, "0..604800 s (0 = no bound)", run.duration_s);
    if (e.ok()) e = f.real("job-timeout", 1, 604800, "1..604800 s", run.job_timeout_s);
    if (e.ok()) e = f.text("json", run.json_path);
    if (e.ok()) e = f.text("csv", run.csv_path);
    if (!e.ok()) return e;
    if (f.has("mix")) {
        run.mix_text = raw.values.at("mix");
        e = parse_mix(run.mix_text, run.mix);
        if (!e.ok()) return e;
    }
    if (f.has("link")) {
        run.link_text = raw.values.at("link");
        e = parse_link(run.link_text, run.mix);
        if (!e.ok()) return e;
    }
    if (f.has("sink")) {
        e = parse_sink(raw.values.at("sink"), run);
        if (!e.ok()) return e;
    }
    return parse_push(f, run);
}

Error parse_users(const RawOptions& raw, UsersOptions& users) {
    if (!raw.positional.empty()) {
        return bad("users: unexpected argument '" + raw.positional.front() + "'");
    }
    const Fields f(raw);
    Error e = parse_identity(f, users.identity, users.first, users.count);
    if (e.ok()) e = f.text("passwd-out", users.passwd_out);
    if (e.ok()) e = f.text("acl-out", users.acl_out);
    if (e.ok() && users.passwd_out.empty()) e = bad("--passwd-out is required");
    if (e.ok() && users.acl_out.empty()) e = bad("--acl-out is required");
    return e;
}

std::optional<Command> command_named(const std::string& name) {
    if (name == "run") return Command::run;
    if (name == "users") return Command::users;
    if (name == "merge") return Command::merge;
    return std::nullopt;
}

}  // namespace

const char* to_string(Command command) noexcept {
    switch (command) {
        case Command::run:
            return "run";
        case Command::users:
            return "users";
        case Command::merge:
            return "merge";
        case Command::help:
            return "help";
    }
    return "help";
}

Error parse_command_line(int argc, const char* const* argv, ParsedCommand& out) {
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
    return parse_command_line(args, out);
}

Error parse_command_line(const std::vector<std::string>& args, ParsedCommand& out) {
    ParsedCommand parsed;
    if (args.empty()) return bad("missing command: run, users or merge (see ota_fleet --help)");
    const std::string& name = args.front();
    if (name == "--help" || name == "-h" || name == "help") {
        parsed.command = Command::help;
        if (args.size() > 1) {
            const auto topic = command_named(args[1]);
            if (!topic) return bad("help: unknown command '" + args[1] + "'");
            parsed.help_topic = *topic;
        }
        out = std::move(parsed);
        return {};
    }
    const auto command = command_named(name);
    if (!command) {
        return bad("unknown command '" + name + "': run, users or merge (see ota_fleet --help)");
    }
    RawOptions raw;
    Error e;
    switch (*command) {
        case Command::run: {
            std::set<std::string> values = kIdentityOptions;
            for (const char* v : {"host",
                                  "port",
                                  "ca-file",
                                  "http-ca-file",
                                  "version",
                                  "connect-rate",
                                  "threads",
                                  "reboot-ms",
                                  "mix",
                                  "link",
                                  "seed",
                                  "sink",
                                  "duration",
                                  "job-timeout",
                                  "json",
                                  "csv",
                                  "push-url",
                                  "push-file",
                                  "push-version",
                                  "push-rate",
                                  "push-when",
                                  "cloud-user",
                                  "cloud-password-file"}) {
                values.insert(v);
            }
            e = split(args, 1, "run", values, {"no-tls", "allow-http", "quiet", "no-connect-waker"},
                      raw);
            if (e.ok() && !raw.help) e = parse_run(raw, parsed.run);
            break;
        }
        case Command::users: {
            std::set<std::string> values = kIdentityOptions;
            values.insert("passwd-out");
            values.insert("acl-out");
            e = split(args, 1, "users", values, {}, raw);
            if (e.ok() && !raw.help) e = parse_users(raw, parsed.users);
            break;
        }
        case Command::merge:
            e = split(args, 1, "merge", {}, {}, raw);
            if (e.ok() && !raw.help) {
                if (raw.positional.size() < 2) {
                    e = bad("merge: give OUT.json and at least one IN.json");
                } else {
                    parsed.merge.out = raw.positional.front();
                    parsed.merge.inputs.assign(raw.positional.begin() + 1, raw.positional.end());
                }
            }
            break;
        case Command::help:
            break;
    }
    if (!e.ok()) {
        out.help_topic = *command;  // the caller prints this subcommand's usage with the error
        return e;
    }
    if (raw.help) {
        parsed.command = Command::help;
        parsed.help_topic = *command;
    } else {
        parsed.command = *command;
    }
    out = std::move(parsed);
    return {};
}

}  // namespace ota::fleet
