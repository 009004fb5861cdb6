// Firmware version ordering and the anti-downgrade policy.
#pragma once

#include <string_view>

#include "ota/status.hpp"

namespace ota {

/// Orders two firmware version strings: negative when `a` is older than `b`, 0 when they name
/// the same version, positive when `a` is newer. Never allocates, never throws, accepts any bytes.
///
/// Rules, applied in this order:
/// 1. A leading 'v' or 'V' directly followed by a digit is ignored ("v2" == "2").
/// 2. When both strings are *dotted numeric* — digits ('.' digits)*, optionally followed by a
///    pre-release "-ident(.ident)*" and/or build metadata "+..." (idents of [0-9A-Za-z-]) — they
///    are compared the semantic-versioning way: numeric segments left to right as numbers of any
///    length (no overflow; leading zeros ignored), a missing segment counting as 0 ("1.0" ==
///    "1.0.0", "1.10.0" > "1.9.9"); then a version with a pre-release is older than the same one
///    without ("1.2.0-rc1" < "1.2.0"); pre-releases compare identifier by identifier, numeric ones
///    as numbers and lower than alphanumeric ones, and fewer identifiers are older when all shared
///    ones are equal ("alpha" < "alpha.1"); build metadata is ignored. One deliberate departure
///    from SemVer 2.0: inside an alphanumeric identifier, digit runs compare as numbers, so
///    "rc10" > "rc9" (SemVer's ASCII rule would put "rc10" first). Every ordering example of the
///    SemVer specification still holds.
/// 3. Otherwise (free-form strings such as the original SDK's "app-1.0.0-20180101.1001"), the
///    runs of decimal digits embedded in each string are compared left to right as numbers, a
///    missing run counting as 0; the text between them is not compared, so "app-1.0" ==
///    "fw-1.0.0". This is not SemVer-aware: "fw-1.0-rc1" counts as newer than "fw-1.0".
/// 4. A string with at least one digit is newer than a string without any; two strings without
///    digits compare lexicographically (bytewise). Hence "" is older than every non-empty string.
///
/// Rule 2 is used only when both sides qualify, so the order is total within each kind; mixing a
/// pre-release with a free-form string may not be transitive.
[[nodiscard]] int compare_versions(std::string_view a, std::string_view b) noexcept;

/// Which offered versions a device accepts, relative to the version it runs.
enum class DowngradePolicy {
    allow,                 ///< any version (the original SDK's behaviour; the default)
    refuse_older,          ///< refuse versions older than the running one; allow reinstalls
    refuse_older_or_equal  ///< accept only strictly newer versions
};

/// "allow", "refuse_older" or "refuse_older_or_equal".
[[nodiscard]] const char* to_string(DowngradePolicy policy) noexcept;

/// Decides whether a job offering version `offered` may be taken by a device running `running`
/// under `policy`, using compare_versions(). Ok when allowed — always for
/// DowngradePolicy::allow, and also when `running` is empty (no version reported yet, nothing to
/// compare against). Otherwise invalid_argument with a detail fit for a step -1 progress desc,
/// e.g. "offered version 1.0.0 is not newer than the running 1.2.0"; versions longer than 64
/// bytes are shortened in the detail.
[[nodiscard]] Error check_upgrade_allowed(DowngradePolicy policy, std::string_view running,
                                          std::string_view offered);

}  // namespace ota
