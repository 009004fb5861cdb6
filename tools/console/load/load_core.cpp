// Options, percentiles, /metrics parsing and the backlog verdict of ota_console_load (see
// load_core.hpp).
#include "load_core.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>

namespace console_load {

const char* const kLoadUsage =
    "usage: ota_console_load --url https://127.0.0.1:PORT [--ca-file PEM] [--token-file F]\n"
    "         --broker-port P [--broker-host 127.0.0.1] [--broker-ca PEM | --broker-no-tls]\n"
    "         --broker-user U [--broker-password-file F] [--product-key PK]\n"
    "         [--scenario push|progress|both] [--connections K (8)]\n"
    "         [--push-devices N (1000)] [--progress-devices N (2000)] [--duration S (20)]\n"
    "         [--interval-ms MS (1000)] [--api-pause-ms MS (50)] [--push-timeout S (30)]\n"
    "Registers the devices, reports version 1.0.0 for each, then\n"
    "  push:     a rollout of --push-devices at an unlimited push rate (force): time from the\n"
    "            POST to the last push seen on /ota/device/upgrade/+/+;\n"
    "  progress: a rollout of --progress-devices, then each device reports progress once per\n"
    "            --interval-ms for --duration s (spread evenly) while API latency and /metrics\n"
    "            are sampled, beside a plain subscriber of the same flow (the broker's limit).\n"
    "Prints one JSON summary. Token: --token-file or OTA_CONSOLE_TOKEN; broker password:\n"
    "--broker-password-file or OTA_LOAD_BROKER_PASSWORD. Loopback only.\n";

namespace {

bool whole(const std::string& v, std::uint64_t lo, std::uint64_t hi, std::uint64_t& out) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 || n < lo || n > hi) {
        return false;
    }
    out = n;
    return true;
}

}  // namespace

std::optional<LoadOptions> parse_load_args(const std::vector<std::string>& args,
                                           std::string& error) {
    LoadOptions o;
    std::set<std::string> seen;
    struct Num {
        const char* name;
        std::uint64_t lo;
        std::uint64_t hi;
        std::uint32_t* out;
    };
    std::uint32_t port = 0;
    const Num nums[] = {{"--broker-port", 1, 65535, &port},
                        {"--connections", 1, 64, &o.connections},
                        {"--push-devices", 1, 100000, &o.push_devices},
                        {"--progress-devices", 1, 100000, &o.progress_devices},
                        {"--duration", 1, 600, &o.duration_s},
                        {"--interval-ms", 10, 60000, &o.interval_ms},
                        {"--api-pause-ms", 0, 10000, &o.api_pause_ms},
                        {"--push-timeout", 1, 600, &o.push_timeout_s}};
    const std::pair<const char*, std::string*> strs[] = {
        {"--url", &o.url},
        {"--ca-file", &o.ca_file},
        {"--token-file", &o.token_file},
        {"--broker-host", &o.broker_host},
        {"--broker-ca", &o.broker_ca},
        {"--broker-user", &o.broker_user},
        {"--broker-password-file", &o.broker_password_file},
        {"--product-key", &o.product_key},
        {"--scenario", &o.scenario}};
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (!seen.insert(a).second) {
            error = a + " given twice";
            return std::nullopt;
        }
        if (a == "--broker-no-tls") {
            o.broker_tls = false;
            continue;
        }
        if (i + 1 >= args.size()) {
            error = a.rfind("--", 0) == 0 ? a + " needs a value" : "unexpected argument " + a;
            return std::nullopt;
        }
        const std::string& v = args[i + 1];
        bool known = false;
        for (const auto& n : nums) {
            if (a != n.name) continue;
            std::uint64_t x = 0;
            if (!whole(v, n.lo, n.hi, x)) {
                error = a + " needs a whole number from " + std::to_string(n.lo) + " to " +
                        std::to_string(n.hi) + " (got \"" + v + "\")";
                return std::nullopt;
            }
            *n.out = static_cast<std::uint32_t>(x);
            known = true;
        }
        for (const auto& s : strs) {
            if (a == s.first) {
                *s.second = v;
                known = true;
            }
        }
        if (!known) {
            error = a.rfind("--", 0) == 0 ? "unknown option " + a : "unexpected argument " + a;
            return std::nullopt;
        }
        ++i;
    }
    o.broker_port = static_cast<std::uint16_t>(port);
    if (o.url.rfind("https://", 0) != 0 && o.url.rfind("http://", 0) != 0) {
        error = "--url https://HOST:PORT is required";
    } else if (o.broker_port == 0) {
        error = "--broker-port is required";
    } else if (o.broker_user.empty()) {
        error = "--broker-user is required";
    } else if (o.scenario != "push" && o.scenario != "progress" && o.scenario != "both") {
        error = "--scenario is push, progress or both";
    } else if (!o.broker_tls && !o.broker_ca.empty()) {
        error = "--broker-ca and --broker-no-tls exclude each other";
    } else if (o.product_key.find_first_of("/+# ") != std::string::npos) {
        error = "--product-key must not hold '/', '+', '#' or spaces";
    }
    if (!error.empty()) return std::nullopt;
    return o;
}

Percentiles percentiles(std::vector<double> ms) {
    Percentiles p;
    p.n = ms.size();
    if (ms.empty()) return p;
    std::sort(ms.begin(), ms.end());
    auto rank = [&ms](double q) {
        // Nearest rank: the smallest value with at least q of the samples at or below it.
        const auto r = static_cast<std::size_t>(std::ceil(q * static_cast<double>(ms.size())));
        return ms[std::min(ms.size(), std::max<std::size_t>(r, 1)) - 1];
    };
    p.p50_ms = rank(0.50);
    p.p99_ms = rank(0.99);
    p.max_ms = ms.back();
    return p;
}

std::map<std::string, double> parse_metrics(const std::string& text) {
    std::map<std::string, double> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        const auto sp = line.rfind(' ');
        if (sp == std::string::npos || sp == 0) continue;
        const std::string value = line.substr(sp + 1);
        char* end = nullptr;
        const double v = std::strtod(value.c_str(), &end);
        if (value.empty() || *end != '\0') continue;
        out[line.substr(0, sp)] = v;
    }
    return out;
}

Backlog backlog_of(const std::vector<Sample>& samples, double rate_per_s) {
    Backlog b;
    if (samples.empty()) return b;
    for (const auto& s : samples) b.max_queue_depth = std::max(b.max_queue_depth, s.queue_depth);
    b.lag_end = samples.back().published - samples.back().processed;
    const std::size_t from = samples.size() / 2;
    const auto n = static_cast<double>(samples.size() - from);
    if (samples.size() - from >= 2) {
        double st = 0;
        double sl = 0;
        for (std::size_t i = from; i < samples.size(); ++i) {
            st += samples[i].t_s;
            sl += static_cast<double>(samples[i].published - samples[i].processed);
        }
        const double mt = st / n;
        const double ml = sl / n;
        double num = 0;
        double den = 0;
        for (std::size_t i = from; i < samples.size(); ++i) {
            const double dt = samples[i].t_s - mt;
            num += dt * (static_cast<double>(samples[i].published - samples[i].processed) - ml);
            den += dt * dt;
        }
        b.lag_slope_per_s = den > 0 ? num / den : 0;
    }
    b.growing =
        static_cast<double>(b.lag_end) > rate_per_s || b.lag_slope_per_s > 0.01 * rate_per_s;
    return b;
}

std::int64_t baseline_lag(const std::vector<Sample>& samples) {
    return samples.empty() ? 0 : samples.back().published - samples.back().baseline;
}

}  // namespace console_load
