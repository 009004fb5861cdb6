#include "stats.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

namespace ota::fleet {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

std::size_t slot(Outcome o) {
    return static_cast<std::size_t>(o);
}

// Seconds between the earliest start and the latest end of a window over all processes; nullopt
// when no process recorded one.
std::optional<double> window_s(const std::vector<ProcessRecord>& processes,
                               std::uint64_t ProcessRecord::*begin,
                               std::uint64_t ProcessRecord::*end) {
    std::uint64_t lo = 0;
    std::uint64_t hi = 0;
    for (const ProcessRecord& p : processes) {
        if (p.*begin == 0 || p.*end == 0) continue;
        lo = lo == 0 ? p.*begin : std::min(lo, p.*begin);
        hi = std::max(hi, p.*end);
    }
    if (lo == 0 || hi <= lo) return std::nullopt;
    return static_cast<double>(hi - lo) / 1000.0;
}

std::string number(std::optional<double> v, const char* format = "%.3f") {
    if (!v) return {};
    char buf[64];
    std::snprintf(buf, sizeof buf, format, *v);
    return buf;
}

std::string csv_cell(const std::string& text) {
    if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
    std::string out = "\"";
    for (char c : text) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::string summary_line(const char* name, const SampleSummary& s, const char* unit) {
    if (s.count == 0) return std::string(name) + ": -\n";
    return std::string(name) + " (" + unit + ", n=" + std::to_string(s.count) + "): p50 " +
           number(s.p50, "%.1f") + "  p90 " + number(s.p90, "%.1f") + "  p99 " +
           number(s.p99, "%.1f") + "  max " + number(s.max, "%.1f") + "\n";
}

std::string counts_line(const char* name, const OutcomeCounts& counts) {
    std::string out = name;
    out += ":";
    bool any = false;
    for (Outcome o : kAllOutcomes) {
        if (counts[slot(o)] == 0) continue;
        out += std::string(" ") + to_string(o) + " " + std::to_string(counts[slot(o)]);
        any = true;
    }
    return out + (any ? "\n" : " -\n");
}

}  // namespace

void SampleSet::add(double value) {
    if (std::isnan(value)) return;
    if (!values_.empty() && value < values_.back()) sorted_ = false;
    values_.push_back(value);
}

void SampleSet::merge(const SampleSet& other) {
    for (double v : other.values_) add(v);
}

void SampleSet::sort() const {
    if (sorted_) return;
    std::sort(values_.begin(), values_.end());
    sorted_ = true;
}

std::optional<double> SampleSet::percentile(double p) const {
    if (values_.empty()) return std::nullopt;
    sort();
    p = std::clamp(p, 0.0, 100.0);
    const double n = static_cast<double>(values_.size());
    // p * n / 100 rather than p / 100 * n: exact for the usual p and n (90 * 10 / 100 is 9,
    // 0.9 * 10 is 9.000000000000002 and would pick the 10th sample).
    auto rank = static_cast<std::size_t>(std::ceil(p * n / 100.0));
    rank = std::clamp<std::size_t>(rank, 1, values_.size());
    return values_[rank - 1];
}

std::optional<double> SampleSet::max() const {
    if (values_.empty()) return std::nullopt;
    return *std::max_element(values_.begin(), values_.end());
}

std::optional<double> SampleSet::mean() const {
    if (values_.empty()) return std::nullopt;
    double sum = 0;
    for (double v : values_) sum += v;
    return sum / static_cast<double>(values_.size());
}

SampleSummary summarize(const SampleSet& samples) {
    SampleSummary s;
    s.count = samples.count();
    s.p50 = samples.percentile(50);
    s.p90 = samples.percentile(90);
    s.p99 = samples.percentile(99);
    s.max = samples.max();
    s.mean = samples.mean();
    return s;
}

std::optional<double> DeviceRecord::download_mib_per_s() const {
    if (!download_ms || *download_ms <= 0) return std::nullopt;
    return static_cast<double>(download_bytes) / kMiB / (*download_ms / 1000.0);
}

FleetAggregate FleetSummary::aggregate() const {
    FleetAggregate a;
    a.devices = devices.size();
    SampleSet latency;
    SampleSet push;
    SampleSet rate;
    SampleSet job;
    for (const DeviceRecord& d : devices) {
        ++a.outcomes[slot(d.outcome)];
        if (d.cloud_outcome) ++a.cloud_outcomes[slot(*d.cloud_outcome)];
        if (d.expected) ++a.expected[slot(*d.expected)];
        if (d.connects > 0) ++a.connected;
        if (d.connect_latency_ms) latency.add(*d.connect_latency_ms);
        if (d.push_to_progress_ms) push.add(*d.push_to_progress_ms);
        if (auto r = d.download_mib_per_s()) rate.add(*r);
        if (d.job_ms) job.add(*d.job_ms);
        a.download_bytes += d.download_bytes;
    }
    a.connect_latency_ms = summarize(latency);
    a.push_to_progress_ms = summarize(push);
    a.download_mib_per_s = summarize(rate);
    a.job_ms = summarize(job);
    if (auto w = window_s(processes, &ProcessRecord::connect_first_unix_ms,
                          &ProcessRecord::connect_last_unix_ms)) {
        a.connects_per_s = static_cast<double>(a.connected) / *w;
    }
    if (auto w = window_s(processes, &ProcessRecord::download_first_unix_ms,
                          &ProcessRecord::download_last_unix_ms)) {
        a.total_download_mib_per_s = static_cast<double>(a.download_bytes) / kMiB / *w;
    }
    double rss_delta = 0;
    std::uint64_t rss_devices = 0;
    for (const ProcessRecord& p : processes) {
        a.cpu_s += p.cpu_user_s + p.cpu_system_s;
        if (p.rss_idle_kib == 0 || p.count == 0) continue;
        rss_delta += static_cast<double>(p.rss_idle_kib) - static_cast<double>(p.rss_base_kib);
        rss_devices += p.count;
    }
    if (rss_devices > 0) a.rss_per_device_kib = rss_delta / static_cast<double>(rss_devices);
    return a;
}

Error merge(const std::vector<FleetSummary>& parts, FleetSummary& out) {
    if (parts.empty()) return {Status::invalid_argument, "merge: no summaries to merge"};
    FleetSummary merged;
    merged.seed = parts.front().seed;
    merged.mix = parts.front().mix;
    merged.link = parts.front().link;
    std::set<std::uint64_t> seen;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const FleetSummary& part = parts[i];
        const std::string which = "merge: summary " + std::to_string(i + 1);
        if (part.seed != merged.seed) {
            return {Status::invalid_argument, which + " has seed " + std::to_string(part.seed) +
                                                  ", the first has " + std::to_string(merged.seed)};
        }
        if (part.mix != merged.mix || part.link != merged.link) {
            return {Status::invalid_argument,
                    which + " has another --mix or --link than the first"};
        }
        merged.processes.insert(merged.processes.end(), part.processes.begin(),
                                part.processes.end());
        for (const DeviceRecord& d : part.devices) {
            if (!seen.insert(d.index).second) {
                return {Status::invalid_argument,
                        which + " repeats device " + std::to_string(d.index) +
                            " (the ranges overlap; use disjoint --first/--count)"};
            }
            merged.devices.push_back(d);
        }
    }
    // Sorted, so that the merged file is the same whatever order the inputs came in.
    std::stable_sort(
        merged.processes.begin(), merged.processes.end(),
        [](const ProcessRecord& a, const ProcessRecord& b) { return a.first < b.first; });
    std::sort(merged.devices.begin(), merged.devices.end(),
              [](const DeviceRecord& a, const DeviceRecord& b) { return a.index < b.index; });
    out = std::move(merged);
    return {};
}

std::string format_report(const FleetSummary& summary) {
    const FleetAggregate a = summary.aggregate();
    std::string out;
    out += "devices " + std::to_string(a.devices) + " in " +
           std::to_string(summary.processes.size()) + " process(es), connected " +
           std::to_string(a.connected) + ", seed " + std::to_string(summary.seed) + "\n";
    out += counts_line("outcomes (device)", a.outcomes);
    bool cloud = false;
    for (std::uint64_t c : a.cloud_outcomes) cloud = cloud || c > 0;
    if (cloud) out += counts_line("outcomes (cloud)", a.cloud_outcomes);
    bool expected = false;
    for (std::uint64_t c : a.expected) expected = expected || c > 0;
    if (expected) out += counts_line("outcomes (expected)", a.expected);
    out += "connects/s: " + (a.connects_per_s ? number(a.connects_per_s, "%.1f") : "-") + "\n";
    out += summary_line("connect latency", a.connect_latency_ms, "ms");
    out += summary_line("push -> first progress", a.push_to_progress_ms, "ms");
    out += summary_line("download per device", a.download_mib_per_s, "MiB/s");
    out += summary_line("job completion", a.job_ms, "ms");
    out +=
        "download total: " + number(static_cast<double>(a.download_bytes) / kMiB, "%.1f") + " MiB" +
        (a.total_download_mib_per_s ? ", " + number(a.total_download_mib_per_s, "%.1f") + " MiB/s"
                                    : std::string()) +
        "\n";
    out += "RSS per idle device: " +
           (a.rss_per_device_kib ? number(a.rss_per_device_kib, "%.1f") + " KiB" : "-") + ", CPU " +
           number(a.cpu_s, "%.2f") + " s\n";
    return out;
}

std::string device_csv(const FleetSummary& summary) {
    std::vector<const DeviceRecord*> rows;
    rows.reserve(summary.devices.size());
    for (const DeviceRecord& d : summary.devices) rows.push_back(&d);
    std::stable_sort(rows.begin(), rows.end(), [](const DeviceRecord* a, const DeviceRecord* b) {
        return a->index < b->index;
    });
    std::string out =
        "index,device_name,outcome,cloud_outcome,expected,connect_latency_ms,connected_at_ms,"
        "connects,connect_failures,push_to_progress_ms,download_bytes,download_ms,"
        "download_mib_per_s,job_ms,detail\n";
    const auto outcome = [](const std::optional<Outcome>& o) {
        return o ? std::string(to_string(*o)) : std::string();
    };
    for (const DeviceRecord* d : rows) {
        out += std::to_string(d->index) + "," + csv_cell(d->device_name) + "," +
               to_string(d->outcome) + "," + outcome(d->cloud_outcome) + "," +
               outcome(d->expected) + "," + number(d->connect_latency_ms) + "," +
               number(d->connected_at_ms) + "," + std::to_string(d->connects) + "," +
               std::to_string(d->connect_failures) + "," + number(d->push_to_progress_ms) + "," +
               std::to_string(d->download_bytes) + "," + number(d->download_ms) + "," +
               number(d->download_mib_per_s()) + "," + number(d->job_ms) + "," +
               csv_cell(d->detail) + "\n";
    }
    return out;
}

namespace {

// The temporary file next to `path` (same directory, so that rename() replaces atomically).
std::string temp_path_for(const std::string& path) {
    return path + ".tmp." + std::to_string(::getpid());
}

}  // namespace

Error check_writable(const std::string& path) {
    const std::string tmp = temp_path_for(path);
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) return {Status::storage_failed, "cannot open " + path + " for writing"};
    }
    std::remove(tmp.c_str());
    return {};
}

Error write_text_file(const std::string& path, std::string_view text) {
    const std::string tmp = temp_path_for(path);
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) return {Status::storage_failed, "cannot open " + path + " for writing"};
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        out.flush();
        if (!out) {
            out.close();
            std::remove(tmp.c_str());
            return {Status::storage_failed, "cannot write " + path};
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        return {Status::storage_failed, "cannot replace " + path};
    }
    return {};
}

Error read_text_file(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {Status::storage_failed, "cannot open " + path + " for reading"};
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return {Status::storage_failed, "cannot read " + path};
    out = text.str();
    return {};
}

}  // namespace ota::fleet
