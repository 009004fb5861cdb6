// compare_versions: a table of orderings checked in both directions (antisymmetry), the SemVer
// specification's precedence chain, and the anti-downgrade policy decisions and their texts.
#include "ota/version.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "ota/status.hpp"

namespace ota {
namespace {

int sign(int v) {
    return (v > 0) - (v < 0);
}

struct Ordering {
    std::string a;
    std::string b;
    int expected;  ///< sign of compare_versions(a, b)
};

void PrintTo(const Ordering& o, std::ostream* os) {
    *os << '"' << o.a << "\" vs \"" << o.b << '"';
}

class VersionOrdering : public ::testing::TestWithParam<Ordering> {};

TEST_P(VersionOrdering, ComparesAndIsAntisymmetric) {
    const Ordering& o = GetParam();
    EXPECT_EQ(sign(compare_versions(o.a, o.b)), o.expected);
    EXPECT_EQ(sign(compare_versions(o.b, o.a)), -o.expected);
}

const std::string kHuge1 = "1." + std::string(40, '9');            // 1.999...9 (40 digits)
const std::string kHuge2 = "1.1" + std::string(40, '0');           // 1.1000...0 (41 digits)
const std::string kHugeZeros = "1." + std::string(60, '0') + "7";  // leading zeros: == 1.7

INSTANTIATE_TEST_SUITE_P(
    Table, VersionOrdering,
    ::testing::Values(
        // Dotted numeric: numbers, not text.
        Ordering{"1.10.0", "1.9.9", 1}, Ordering{"1.0.0", "1.0.1", -1},
        Ordering{"2.0", "1.99.99", 1}, Ordering{"1.2.3", "1.2.3", 0}, Ordering{"0.0.1", "0.0.0", 1},
        Ordering{"10", "9", 1},
        // Missing segments count as 0.
        Ordering{"1.0", "1.0.0", 0}, Ordering{"1", "1.0.0.0", 0}, Ordering{"1.0.0.1", "1.0", 1},
        // Leading zeros and numbers of any length.
        Ordering{"1.01", "1.1", 0}, Ordering{"1.007", "1.10", -1}, Ordering{kHuge2, kHuge1, 1},
        Ordering{kHugeZeros, "1.7", 0},
        Ordering{"99999999999999999999999999.0", "99999999999999999999999998.9", 1},
        // A leading v/V is ignored.
        Ordering{"v2", "1.9", 1}, Ordering{"V1.2.0", "1.2", 0}, Ordering{"v1.0", "v1.0.1", -1},
        // Pre-releases (SemVer precedence) and build metadata.
        Ordering{"1.2.0-rc1", "1.2.0", -1}, Ordering{"1.2.0-rc1", "1.2.0-rc2", -1},
        Ordering{"1.2.0-rc10", "1.2.0-rc9", 1}, Ordering{"1.2.0-rc.10", "1.2.0-rc.9", 1},
        Ordering{"1.2.0-rc1", "1.1.9", 1}, Ordering{"1.2-beta", "1.2.0-alpha", 1},
        Ordering{"1.0.0-1", "1.0.0-alpha", -1}, Ordering{"1.0.0-alpha", "1.0.0-alpha.0", -1},
        Ordering{"1.0.0+build.5", "1.0.0+build.7", 0}, Ordering{"1.0.0-rc1+b2", "1.0.0-rc1", 0},
        Ordering{"1.0.0+b1", "1.0.0-rc1", 1},
        // Free-form SDK strings: embedded numbers left to right.
        Ordering{"app-1.0.0-20180101.1001", "app-1.0.0-20180102.0900", -1},
        Ordering{"app-1.0.0-20180101.1001", "app-1.0.0-20180101.1001", 0},
        Ordering{"app-1.0.0-20180101.1001", "app-1.0.1-20170101.0000", -1},
        Ordering{"fw_v3_build12", "fw_v3_build9", 1}, Ordering{"app-1.0", "fw-1.0.0", 0},
        Ordering{"1.2.3", "app-1.2.4", -1}, Ordering{"release 2", "v1.9", 1},
        Ordering{"1.0 ", "1.0.0", 0},
        // No digits: bytewise; digits beat none; empty is the oldest.
        Ordering{"alpha", "beta", -1}, Ordering{"stable", "stable", 0},
        Ordering{"latest", "0.0.1", -1}, Ordering{"", "", 0}, Ordering{"", "0", -1},
        Ordering{"", "a", -1}, Ordering{"v", "1", -1}, Ordering{"..", ".", 1},
        // Malformed dotted strings fall back to free-form comparison.
        Ordering{"1..2", "1.2", 0}, Ordering{"1.2.", "1.2.1", -1}, Ordering{"1.2-", "1.2", 0}));

// SemVer 2.0.0 section 11: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta <
// 1.0.0-beta.2 < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0, and 1.0.0 < 2.0.0 < 2.1.0 < 2.1.1.
TEST(CompareVersions, FollowsTheSemverPrecedenceChain) {
    const std::vector<std::string> chain = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
                                            "1.0.0-beta",  "1.0.0-beta.2",  "1.0.0-beta.11",
                                            "1.0.0-rc.1",  "1.0.0",         "2.0.0",
                                            "2.1.0",       "2.1.1"};
    for (std::size_t i = 0; i < chain.size(); ++i) {
        for (std::size_t j = 0; j < chain.size(); ++j) {
            const int expected = i < j ? -1 : (i > j ? 1 : 0);
            EXPECT_EQ(sign(compare_versions(chain[i], chain[j])), expected)
                << chain[i] << " vs " << chain[j];
        }
    }
}

TEST(CompareVersions, MixedPreReleaseIdentifiersCompareRunByRun) {
    // Inside one alphanumeric identifier digit runs compare as numbers, other runs bytewise, and
    // a digit run against a letter run goes by the first byte (digits before letters, as ASCII).
    EXPECT_LT(compare_versions("1.0.0-1a", "1.0.0-a1"), 0);
    EXPECT_GT(compare_versions("1.0.0-a1", "1.0.0-1a"), 0);
    // An identifier that is a prefix of the other sorts first.
    EXPECT_LT(compare_versions("1.0.0-rc", "1.0.0-rc1"), 0);
    EXPECT_GT(compare_versions("1.0.0-rc1", "1.0.0-rc"), 0);
    EXPECT_EQ(compare_versions("1.0.0-rc01x", "1.0.0-rc1x"), 0);
}

TEST(CompareVersions, ToleratesArbitraryBytesAndLongInput) {
    const std::string binary("\x00\xff\x01.2\x80", 6);
    EXPECT_EQ(compare_versions(binary, binary), 0);
    // Free-form: the only digit run of `binary` is 2.
    EXPECT_GT(compare_versions("2.1", binary), 0);
    EXPECT_LT(compare_versions("1.9", binary), 0);
    // 100k dot-separated segments: linear time, and the last one decides.
    std::string a;
    for (int i = 0; i < 100000; ++i) a += "7.";
    std::string b = a + "1";
    a += "0";
    EXPECT_LT(compare_versions(a, b), 0);
    EXPECT_EQ(compare_versions(std::string(100000, 'x'), std::string(100000, 'x')), 0);
}

TEST(DowngradePolicy, Names) {
    EXPECT_STREQ(to_string(DowngradePolicy::allow), "allow");
    EXPECT_STREQ(to_string(DowngradePolicy::refuse_older), "refuse_older");
    EXPECT_STREQ(to_string(DowngradePolicy::refuse_older_or_equal), "refuse_older_or_equal");
}

TEST(DowngradePolicy, OutOfRangeValueIsUnknown) {
    EXPECT_STREQ(to_string(static_cast<DowngradePolicy>(9)), "unknown");
}

TEST(DowngradePolicy, AllowTakesEverything) {
    EXPECT_TRUE(check_upgrade_allowed(DowngradePolicy::allow, "1.2.0", "1.0.0").ok());
    EXPECT_TRUE(check_upgrade_allowed(DowngradePolicy::allow, "1.2.0", "1.2.0").ok());
    EXPECT_TRUE(check_upgrade_allowed(DowngradePolicy::allow, "1.2.0", "").ok());
}

TEST(DowngradePolicy, RefuseOlderAllowsReinstallAndUpgrades) {
    const auto p = DowngradePolicy::refuse_older;
    EXPECT_TRUE(check_upgrade_allowed(p, "1.2.0", "1.2.1").ok());
    EXPECT_TRUE(check_upgrade_allowed(p, "1.2.0", "1.2.0").ok());
    EXPECT_TRUE(check_upgrade_allowed(p, "1.2.0", "v1.2").ok());
    const Error e = check_upgrade_allowed(p, "1.2.0", "1.0.0");
    EXPECT_EQ(e.status, Status::invalid_argument);
    EXPECT_EQ(e.detail,
              "offered version 1.0.0 is older than the running 1.2.0 (downgrades are refused)");
    EXPECT_FALSE(check_upgrade_allowed(p, "1.2.0", "1.2.0-rc1").ok());
    EXPECT_FALSE(
        check_upgrade_allowed(p, "app-1.0.0-20180102.0900", "app-1.0.0-20180101.1001").ok());
}

TEST(DowngradePolicy, RefuseOlderOrEqualNeedsStrictlyNewer) {
    const auto p = DowngradePolicy::refuse_older_or_equal;
    EXPECT_TRUE(check_upgrade_allowed(p, "1.9.9", "1.10.0").ok());
    EXPECT_TRUE(check_upgrade_allowed(p, "1.2.0-rc1", "1.2.0").ok());
    EXPECT_TRUE(
        check_upgrade_allowed(p, "app-1.0.0-20180101.1001", "app-1.0.0-20180102.0900").ok());
    const Error older = check_upgrade_allowed(p, "1.2.0", "1.0.0");
    EXPECT_EQ(older.status, Status::invalid_argument);
    EXPECT_EQ(older.detail,
              "offered version 1.0.0 is not newer than the running 1.2.0 (downgrades are refused)");
    const Error same = check_upgrade_allowed(p, "1.0", "1.0.0");
    EXPECT_EQ(same.status, Status::invalid_argument);
    EXPECT_EQ(same.detail,
              "offered version 1.0.0 is not newer than the running 1.0 (downgrades are refused)");
}

TEST(DowngradePolicy, NoRunningVersionAllowsAnything) {
    EXPECT_TRUE(check_upgrade_allowed(DowngradePolicy::refuse_older_or_equal, "", "0.0.1").ok());
    EXPECT_TRUE(check_upgrade_allowed(DowngradePolicy::refuse_older, "", "").ok());
}

TEST(DowngradePolicy, LongVersionsAreShortenedInTheDetail) {
    const std::string running = "9." + std::string(200, '1');
    const Error e = check_upgrade_allowed(DowngradePolicy::refuse_older, running, "1.0");
    ASSERT_FALSE(e.ok());
    EXPECT_LT(e.detail.size(), 200u);
    EXPECT_NE(e.detail.find("..."), std::string::npos);
}

}  // namespace
}  // namespace ota
