// Selection and phase sizes (see selection.hpp).
#include "engine/selection.hpp"

#include <algorithm>
#include <utility>

namespace console {

std::uint32_t fnv1a32(const std::string& s) noexcept {
    std::uint32_t h = 2166136261u;
    for (const char c : s) {
        h ^= static_cast<std::uint8_t>(c);
        h *= 16777619u;
    }
    return h;
}

std::uint32_t percent_bucket(const DeviceKey& key) noexcept {
    return fnv1a32(key.product_key + "/" + key.device_name) % 100u;
}

namespace {

bool contains(const std::vector<std::string>& list, const std::string& s) {
    return std::find(list.begin(), list.end(), s) != list.end();
}

/// Every criterion but the name list.
bool matches_besides_names(const Selection& s, const std::string& module, const Device& d) {
    if (d.key.product_key != s.product_key) return false;
    if (!s.source_versions.empty()) {
        const auto v = d.versions.find(module);
        if (v == d.versions.end() || !contains(s.source_versions, v->second)) return false;
    }
    if (!s.tag.empty() && !contains(d.tags, s.tag)) return false;
    return s.percent >= 100 || percent_bucket(d.key) < s.percent;
}

}  // namespace

bool selection_matches(const Selection& s, const std::string& module, const Device& d) {
    if (!s.device_names.empty() && !contains(s.device_names, d.key.device_name)) return false;
    return matches_besides_names(s, module, d);
}

SelectionMatcher::SelectionMatcher(const Selection& s, std::string module)
    : selection_(s),
      module_(std::move(module)),
      names_(s.device_names.begin(), s.device_names.end()) {}

bool SelectionMatcher::matches(const Device& d) const {
    if (!selection_.device_names.empty() && names_.count(d.key.device_name) == 0) return false;
    return matches_besides_names(selection_, module_, d);
}

std::vector<std::size_t> phase_sizes(const std::vector<Phase>& phases, std::size_t n) {
    std::vector<std::size_t> out;
    std::size_t left = n;
    for (const Phase& p : phases) {
        std::size_t want = left;
        if (p.devices > 0) {
            want = p.devices;
        } else if (p.percent > 0) {
            want = (static_cast<std::size_t>(p.percent) * n + 99) / 100;
        }
        want = std::min(want, left);
        out.push_back(want);
        left -= want;
    }
    return out;
}

}  // namespace console
