// Device identities of a simulated fleet: global device index -> device triple (pk, dn, ds).
//
// Why by global index: several ota_fleet processes take disjoint ranges (--first, --count) of one
// fleet, and everything a device is (its name, its secret, its seeded behaviour) must depend on its
// global index only, so that the ranges together equal one big run.
//
// Two sources: a name pattern (`sim-%05d`: the index formatted into the name, one secret for
// all) or a CSV file of `pk,dn,ds` lines (the row number, from 0 after an optional header line,
// is the index).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ota/auth.hpp"
#include "ota/status.hpp"

namespace ota::fleet {

/// Largest global device index a fleet may use (the pattern formats it as a C `int`).
inline constexpr std::uint64_t kMaxDeviceIndex = 2147483647;

/// Where the identities come from: product_key + name_pattern + secret (or secret_file), or
/// devices_csv.
struct IdentitySpec {
    std::string product_key;   ///< --product-key: 1..20 characters (optional with devices_csv)
    std::string name_pattern;  ///< --name-pattern, e.g. "sim-%05d"; empty with devices_csv
    std::string secret;        ///< --secret: the one device secret (never logged)
    std::string devices_csv;   ///< --devices: path of a pk,dn,ds CSV; empty with a pattern
    /// --secret-file: a file whose first line is the secret, used when `secret` is empty (keeps
    /// the secret out of `ps` and shell history).
    std::string secret_file;
};

/// A validated device-name pattern: literal text around exactly one `%d` or `%0Nd` (N 1..9);
/// `%%` is a literal percent sign.
class NamePattern {
  public:
    /// Parses `pattern`. Errors (invalid_argument, naming the pattern): no conversion, more than
    /// one, any conversion other than %d / %0Nd, a width outside 1..9, an empty pattern.
    [[nodiscard]] static Error parse(std::string_view pattern, NamePattern& out);

    /// The name of device `index` (e.g. 7 -> "sim-00007"); no length check (see load_identities).
    [[nodiscard]] std::string format(std::uint64_t index) const;

  private:
    std::string prefix_;
    std::string suffix_;
    int width_ = 0;  // 0: plain %d
};

/// Parses the text of a devices CSV: one `pk,dn,ds` per line (surrounding spaces trimmed, CR
/// tolerated, blank lines skipped, no quoting). A first line `pk,dn,ds` (or `product_key,...`)
/// is a header and skipped. Errors name the line by its 1-based number in the file; a device
/// (product key + device name) listed twice is an error naming both lines.
[[nodiscard]] Error parse_devices_csv(std::string_view text, std::vector<DeviceIdentity>& out);

/// The identities of devices first..first+count-1 (global indexes), validated (lengths and
/// characters as ota::make_connection_info requires them). With a CSV, count 0 means "every
/// row from first"; a CSV with fewer rows, or a product_key that differs from a row's, is an
/// error. With a pattern count must be >= 1 and first+count-1 <= kMaxDeviceIndex; the secret is
/// `secret` or else the first line of `secret_file` (storage_failed when it cannot be read).
[[nodiscard]] Error load_identities(const IdentitySpec& spec, std::uint64_t first,
                                    std::uint64_t count, std::vector<DeviceIdentity>& out);

}  // namespace ota::fleet
