#include "identity.hpp"

#include <fstream>
#include <sstream>
#include <unordered_map>

#include "numbers.hpp"

namespace ota::fleet {
namespace {

Error bad(std::string text) {
    return {Status::invalid_argument, std::move(text)};
}

// The checks ota::make_connection_info makes (lengths, characters that would break a topic or
// the clientId), so that a bad name fails here with the device named, not at connect time.
Error check_identity(const DeviceIdentity& device, const std::string& where) {
    ConnectOptions options;
    options.custom_host = "127.0.0.1";
    options.port = 1;
    ConnectionInfo info;
    Error e = make_connection_info(device, options, info);
    if (!e.ok()) return bad(where + ": " + e.detail);
    return {};
}

bool is_header(std::string_view first_field) {
    std::string lower(first_field);
    for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    return lower == "pk" || lower == "product_key" || lower == "productkey";
}

}  // namespace

Error NamePattern::parse(std::string_view pattern, NamePattern& out) {
    const std::string quoted = "--name-pattern '" + std::string(pattern) + "'";
    if (pattern.empty()) return bad("--name-pattern is empty");
    NamePattern p;
    bool seen = false;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        std::string& text = seen ? p.suffix_ : p.prefix_;
        if (c != '%') {
            text += c;
            continue;
        }
        if (i + 1 < pattern.size() && pattern[i + 1] == '%') {
            text += '%';
            ++i;
            continue;
        }
        if (seen) return bad(quoted + ": more than one %d (exactly one %d or %0Nd allowed)");
        int width = 0;
        std::size_t j = i + 1;
        if (j < pattern.size() && pattern[j] == '0') {
            ++j;
            if (j >= pattern.size() || pattern[j] < '1' || pattern[j] > '9') {
                return bad(quoted + ": %0 must be followed by a width 1..9 and 'd' (e.g. %05d)");
            }
            width = pattern[j] - '0';
            ++j;
        }
        if (j >= pattern.size() || pattern[j] != 'd') {
            return bad(quoted + ": at position " + std::to_string(i) +
                       " only %d, %0Nd (N 1..9) or %% are allowed");
        }
        p.width_ = width;
        seen = true;
        i = j;
    }
    if (!seen) return bad(quoted + ": no %d or %0Nd for the device index");
    out = std::move(p);
    return {};
}

std::string NamePattern::format(std::uint64_t index) const {
    std::string digits = std::to_string(index);
    if (digits.size() < static_cast<std::size_t>(width_)) {
        digits.insert(0, static_cast<std::size_t>(width_) - digits.size(), '0');
    }
    return prefix_ + digits + suffix_;
}

Error parse_devices_csv(std::string_view text, std::vector<DeviceIdentity>& out) {
    std::vector<DeviceIdentity> rows;
    // pk + '/' + dn -> the line that named it first: two rows with one device would share a
    // broker session (each taking it over from the other) and one cloud record.
    std::unordered_map<std::string, std::size_t> line_of;
    std::size_t line_number = 0;
    bool first_content = true;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        const std::string_view line = detail::trim(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        ++line_number;
        if (line.empty()) continue;
        std::string_view fields[3];
        std::size_t n = 0;
        std::string_view rest = line;
        for (;;) {
            const std::size_t comma = rest.find(',');
            if (n < 3) fields[n] = detail::trim(rest.substr(0, comma));
            ++n;
            if (comma == std::string_view::npos) break;
            rest = rest.substr(comma + 1);
        }
        const std::string where = "devices CSV line " + std::to_string(line_number);
        if (first_content && n == 3 && is_header(fields[0])) {
            first_content = false;
            continue;
        }
        first_content = false;
        if (n != 3) {
            return bad(where + ": " + std::to_string(n) + " fields, expected 3 (pk,dn,ds)");
        }
        static const char* const kNames[3] = {"product key", "device name", "device secret"};
        for (std::size_t f = 0; f < 3; ++f) {
            if (fields[f].empty()) return bad(where + ": " + kNames[f] + " is empty");
            if (fields[f].front() == '"') {
                return bad(where + ": quoted fields are not supported");
            }
        }
        rows.push_back({std::string(fields[0]), std::string(fields[1]), std::string(fields[2])});
        Error e = check_identity(rows.back(), where);
        if (!e.ok()) return e;
        const auto [it, added] =
            line_of.emplace(rows.back().product_key + "/" + rows.back().device_name, line_number);
        if (!added) {
            return bad(where + ": device " + rows.back().device_name + " is already on line " +
                       std::to_string(it->second));
        }
    }
    out = std::move(rows);
    return {};
}

Error load_identities(const IdentitySpec& spec, std::uint64_t first, std::uint64_t count,
                      std::vector<DeviceIdentity>& out) {
    if (first > kMaxDeviceIndex) {
        return bad("--first: " + std::to_string(first) + " is out of range 0..2147483647");
    }
    if (!spec.devices_csv.empty()) {
        std::ifstream in(spec.devices_csv, std::ios::binary);
        if (!in) {
            return {Status::storage_failed, "--devices: cannot read " + spec.devices_csv};
        }
        std::ostringstream text;
        text << in.rdbuf();
        std::vector<DeviceIdentity> rows;
        Error e = parse_devices_csv(text.str(), rows);
        if (!e.ok()) return {e.status, spec.devices_csv + ": " + e.detail};
        if (first > rows.size() || (count == 0 && first == rows.size())) {
            return bad("--first: " + std::to_string(first) + " is past the " +
                       std::to_string(rows.size()) + " devices of " + spec.devices_csv);
        }
        const std::uint64_t available = rows.size() - first;
        if (count > available) {
            return bad("--count: " + std::to_string(count) + " devices from --first " +
                       std::to_string(first) + " but " + spec.devices_csv + " has only " +
                       std::to_string(available) + " from there");
        }
        const std::uint64_t n = count == 0 ? available : count;
        for (std::uint64_t i = first; i < first + n; ++i) {
            if (!spec.product_key.empty() && rows[i].product_key != spec.product_key) {
                return bad(spec.devices_csv + ": device " + std::to_string(i) + " (" +
                           rows[i].device_name + ") has product key " + rows[i].product_key +
                           ", not --product-key " + spec.product_key);
            }
        }
        out.assign(rows.begin() + static_cast<std::ptrdiff_t>(first),
                   rows.begin() + static_cast<std::ptrdiff_t>(first + n));
        return {};
    }
    if (spec.product_key.empty()) return bad("--product-key is required with --name-pattern");
    std::string secret = spec.secret;
    if (secret.empty() && !spec.secret_file.empty()) {
        std::ifstream in(spec.secret_file, std::ios::binary);
        std::string line;
        if (!in || !std::getline(in, line)) {
            return {Status::storage_failed, "--secret-file: cannot read " + spec.secret_file};
        }
        secret = std::string(detail::trim(line));
        if (secret.empty()) {
            return bad("--secret-file: the first line of " + spec.secret_file + " is empty");
        }
    }
    if (secret.empty()) return bad("--secret (or --secret-file) is required with --name-pattern");
    NamePattern pattern;
    Error e = NamePattern::parse(spec.name_pattern, pattern);
    if (!e.ok()) return e;
    if (count < 1) return bad("--count: 0 is out of range 1..1000000");
    if (count - 1 > kMaxDeviceIndex - first) {
        return bad("--first + --count: the last index " + std::to_string(first + count - 1) +
                   " is past 2147483647");
    }
    std::vector<DeviceIdentity> devices;
    devices.reserve(count);
    for (std::uint64_t i = first; i < first + count; ++i) {
        devices.push_back({spec.product_key, pattern.format(i), secret});
    }
    // Names differ only in their digits: the first and the last device cover every length and
    // every character the pattern can produce.
    e = check_identity(devices.front(), "device " + std::to_string(first));
    if (e.ok()) e = check_identity(devices.back(), "device " + std::to_string(first + count - 1));
    if (!e.ok()) return e;
    out = std::move(devices);
    return {};
}

}  // namespace ota::fleet
