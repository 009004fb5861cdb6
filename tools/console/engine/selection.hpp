// Which devices a rollout takes and how they split into phases: pure functions, no store.
//
// Why apart from the engine: the page's live count, create_rollout's preview, the start of a
// rollout and a dynamic join must agree on one rule; as pure functions they are tested directly.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "model/model.hpp"

namespace console {

/// 32-bit FNV-1a of the bytes of `s` (offset basis 2166136261, prime 16777619).
[[nodiscard]] std::uint32_t fnv1a32(const std::string& s) noexcept;

/// The device's stable bucket 0..99 for percentage selections: fnv1a32("pk/dn") % 100.
[[nodiscard]] std::uint32_t percent_bucket(const DeviceKey& key) noexcept;

/// True when the device meets every non-empty criterion of the selection (ANDed): the product,
/// the name list, the source versions of `module` (a device that never reported one does not
/// match a version list), the tag and the percentage bucket.
[[nodiscard]] bool selection_matches(const Selection& s, const std::string& module,
                                     const Device& d);

/// selection_matches() for many devices: the name list (up to 100,000 names) is put in a hash
/// set once, so matching a product's devices costs one lookup per device, not a list walk.
class SelectionMatcher {
  public:
    SelectionMatcher(const Selection& s, std::string module);
    /// Same answer as selection_matches(s, module, d).
    [[nodiscard]] bool matches(const Device& d) const;

  private:
    const Selection& selection_;
    std::string module_;
    std::unordered_set<std::string> names_;
};

/// The number of devices each phase takes out of `n` selected devices, in order: `devices`, or
/// ceil(percent * n / 100), or (0/0, last phase only) all that remain; each clamped to what
/// remains. Devices beyond the sum of the sizes are not taken.
[[nodiscard]] std::vector<std::size_t> phase_sizes(const std::vector<Phase>& phases, std::size_t n);

}  // namespace console
