// Device identities: name patterns, the devices CSV, ranges.
#include "core/identity.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace ota::fleet {
namespace {

std::string pattern_error(const char* pattern) {
    NamePattern p;
    Error e = NamePattern::parse(pattern, p);
    EXPECT_EQ(e.status, Status::invalid_argument) << pattern;
    return e.detail;
}

TEST(FleetNamePattern, FormatsTheIndex) {
    NamePattern p;
    ASSERT_TRUE(NamePattern::parse("sim-%05d", p).ok());
    EXPECT_EQ(p.format(7), "sim-00007");
    EXPECT_EQ(p.format(123456), "sim-123456");  // wider than the width, as printf
    ASSERT_TRUE(NamePattern::parse("%d", p).ok());
    EXPECT_EQ(p.format(0), "0");
    ASSERT_TRUE(NamePattern::parse("a%%b-%03d-x", p).ok());
    EXPECT_EQ(p.format(5), "a%b-005-x");
    EXPECT_FALSE(NamePattern::parse("dev%9d%%", p).ok());
}

TEST(FleetNamePattern, Errors) {
    EXPECT_EQ(pattern_error(""), "--name-pattern is empty");
    EXPECT_EQ(pattern_error("sim"), "--name-pattern 'sim': no %d or %0Nd for the device index");
    EXPECT_EQ(pattern_error("a%db%d"),
              "--name-pattern 'a%db%d': more than one %d (exactly one %d or %0Nd allowed)");
    EXPECT_EQ(pattern_error("a%s"),
              "--name-pattern 'a%s': at position 1 only %d, %0Nd (N 1..9) or %% are allowed");
    EXPECT_EQ(pattern_error("a%5d"),
              "--name-pattern 'a%5d': at position 1 only %d, %0Nd (N 1..9) or %% are allowed");
    EXPECT_EQ(pattern_error("a%00d"),
              "--name-pattern 'a%00d': %0 must be followed by a width 1..9 and 'd' (e.g. %05d)");
    EXPECT_EQ(pattern_error("a%012d"),
              "--name-pattern 'a%012d': at position 1 only %d, %0Nd (N 1..9) or %% are allowed");
    EXPECT_EQ(pattern_error("a%"),
              "--name-pattern 'a%': at position 1 only %d, %0Nd (N 1..9) or %% are allowed");
    EXPECT_EQ(pattern_error("%%d"), "--name-pattern '%%d': no %d or %0Nd for the device index");
}

TEST(FleetDevicesCsv, ParsesWithAndWithoutHeader) {
    std::vector<DeviceIdentity> rows;
    ASSERT_TRUE(parse_devices_csv("pk,dn,ds\r\na1PK, dev1 ,s1\r\n\n a1PK,dev2,s2", rows).ok());
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].product_key, "a1PK");
    EXPECT_EQ(rows[0].device_name, "dev1");
    EXPECT_EQ(rows[0].device_secret, "s1");
    EXPECT_EQ(rows[1].device_name, "dev2");
    ASSERT_TRUE(parse_devices_csv("Product_Key,device_name,device_secret\nk,d,s\n", rows).ok());
    EXPECT_EQ(rows.size(), 1u);
    ASSERT_TRUE(parse_devices_csv("k,d,s\nk,e,t\n", rows).ok());
    EXPECT_EQ(rows.size(), 2u);
    ASSERT_TRUE(parse_devices_csv("", rows).ok());
    EXPECT_TRUE(rows.empty());
}

TEST(FleetDevicesCsv, BadLinesNamedByNumber) {
    const auto error = [](const char* text) {
        std::vector<DeviceIdentity> rows{{"x", "y", "z"}};
        Error e = parse_devices_csv(text, rows);
        EXPECT_EQ(e.status, Status::invalid_argument) << text;
        EXPECT_EQ(rows.size(), 1u);  // untouched on error
        return e.detail;
    };
    EXPECT_EQ(error("pk,dn,ds\nk,d,s\n\nk,d\n"),
              "devices CSV line 4: 2 fields, expected 3 (pk,dn,ds)");
    EXPECT_EQ(error("k,d,s,extra\n"), "devices CSV line 1: 4 fields, expected 3 (pk,dn,ds)");
    EXPECT_EQ(error("k,,s\n"), "devices CSV line 1: device name is empty");
    EXPECT_EQ(error("k,d, \n"), "devices CSV line 1: device secret is empty");
    EXPECT_EQ(error("\"k\",d,s\n"), "devices CSV line 1: quoted fields are not supported");
    // Characters the clientId or a topic cannot hold, as make_connection_info checks them.
    EXPECT_NE(error("k,d/x,s\n").find("devices CSV line 1: "), std::string::npos);
    EXPECT_NE(error("k,d+x,s\n").find("line 1"), std::string::npos);
    EXPECT_NE(error("k,012345678901234567890123456789012,s\n").find("line 1"), std::string::npos);
    // One device twice (same pk and dn) is refused with both lines; same dn, other pk is fine.
    EXPECT_EQ(error("pk,dn,ds\nk,d,s\nk,e,s\nk,d,t\n"),
              "devices CSV line 4: device d is already on line 2");
    {
        std::vector<DeviceIdentity> two;
        EXPECT_TRUE(parse_devices_csv("k,d,s\nq,d,s\n", two).ok());
        EXPECT_EQ(two.size(), 2u);
    }
    // A second header-like line is data, and "pk" then is a (valid) product key of 2 chars.
    std::vector<DeviceIdentity> rows;
    EXPECT_TRUE(parse_devices_csv("pk,dn,ds\npk,dn,ds\n", rows).ok());
    EXPECT_EQ(rows.size(), 1u);
}

TEST(FleetLoadIdentities, FromPattern) {
    IdentitySpec spec{"a1PK", "sim-%05d", "secret", "", ""};
    std::vector<DeviceIdentity> out;
    ASSERT_TRUE(load_identities(spec, 10, 3, out).ok());
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].device_name, "sim-00010");
    EXPECT_EQ(out[2].device_name, "sim-00012");
    EXPECT_EQ(out[1].product_key, "a1PK");
    EXPECT_EQ(out[1].device_secret, "secret");
    ASSERT_TRUE(load_identities(spec, kMaxDeviceIndex, 1, out).ok());
    EXPECT_EQ(out[0].device_name, "sim-2147483647");
}

TEST(FleetLoadIdentities, PatternErrors) {
    std::vector<DeviceIdentity> out;
    const auto error = [&out](IdentitySpec spec, std::uint64_t first, std::uint64_t count) {
        Error e = load_identities(spec, first, count, out);
        EXPECT_FALSE(e.ok());
        return e.detail;
    };
    EXPECT_EQ(error({"a1PK", "sim-%d", "s", "", ""}, 0, 0),
              "--count: 0 is out of range 1..1000000");
    EXPECT_EQ(error({"a1PK", "sim-%d", "s", "", ""}, kMaxDeviceIndex, 2),
              "--first + --count: the last index 2147483648 is past 2147483647");
    EXPECT_EQ(error({"a1PK", "sim-%d", "s", "", ""}, kMaxDeviceIndex + 1, 1),
              "--first: 2147483648 is out of range 0..2147483647");
    EXPECT_EQ(error({"", "sim-%d", "s", "", ""}, 0, 1),
              "--product-key is required with --name-pattern");
    EXPECT_EQ(error({"a1PK", "sim-%d", "", "", ""}, 0, 1),
              "--secret (or --secret-file) is required with --name-pattern");
    EXPECT_EQ(error({"a1PK", "sim-%d", "", "", "/nonexistent/secret"}, 0, 1),
              "--secret-file: cannot read /nonexistent/secret");
    // The longest name decides: 30 characters of prefix + 3 digits is 33 > 32.
    const std::string detail = error({"a1PK", std::string(30, 'x') + "%d", "s", "", ""}, 99, 2);
    EXPECT_NE(detail.find("device 100: "), std::string::npos) << detail;
    EXPECT_NE(error({"a1PK", "a/%d", "s", "", ""}, 0, 1).find("device 0: "), std::string::npos);
    // The secret never appears in an error.
    const std::string secret = "TopSecret1234";
    EXPECT_EQ(error({"a1PK", "a b%d", secret, "", ""}, 0, 1).find(secret), std::string::npos);
}

class FleetDevicesCsvFile : public ::testing::Test {
  protected:
    void SetUp() override {
        char name[] = "/tmp/ota_fleet_ids_XXXXXX";
        const int fd = mkstemp(name);
        ASSERT_GE(fd, 0);
        close(fd);
        path_ = name;
        std::ofstream(path_) << "pk,dn,ds\n"
                             << "a1PK,d0,s0\na1PK,d1,s1\na1PK,d2,s2\na1PK,d3,s3\n";
    }
    void TearDown() override { std::remove(path_.c_str()); }
    std::string path_;
};

TEST_F(FleetDevicesCsvFile, RangesOfTheRows) {
    IdentitySpec spec{"", "", "", path_, ""};
    std::vector<DeviceIdentity> out;
    ASSERT_TRUE(load_identities(spec, 0, 0, out).ok());
    EXPECT_EQ(out.size(), 4u);
    ASSERT_TRUE(load_identities(spec, 1, 2, out).ok());
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].device_name, "d1");
    EXPECT_EQ(out[1].device_secret, "s2");
    ASSERT_TRUE(load_identities(spec, 3, 0, out).ok());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].device_name, "d3");
    spec.product_key = "a1PK";
    EXPECT_TRUE(load_identities(spec, 0, 4, out).ok());
}

TEST_F(FleetDevicesCsvFile, SecretFromAFile) {
    // Reuses the fixture's file as the secret file: its first line, trimmed, is the secret.
    std::vector<DeviceIdentity> out;
    ASSERT_TRUE(load_identities({"a1PK", "d%d", "", "", path_}, 0, 2, out).ok());
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[1].device_secret, "pk,dn,ds");
    EXPECT_EQ(out[1].device_name, "d1");
    // --secret wins when both are set (the parser refuses that combination anyway).
    ASSERT_TRUE(load_identities({"a1PK", "d%d", "S", "", path_}, 0, 1, out).ok());
    EXPECT_EQ(out[0].device_secret, "S");
    std::ofstream(path_, std::ios::trunc) << "\n";
    Error e = load_identities({"a1PK", "d%d", "", "", path_}, 0, 1, out);
    EXPECT_EQ(e.detail, "--secret-file: the first line of " + path_ + " is empty");
}

TEST_F(FleetDevicesCsvFile, Errors) {
    IdentitySpec spec{"", "", "", path_, ""};
    std::vector<DeviceIdentity> out;
    Error e = load_identities(spec, 2, 3, out);
    EXPECT_EQ(e.detail,
              "--count: 3 devices from --first 2 but " + path_ + " has only 2 from there");
    e = load_identities(spec, 4, 0, out);
    EXPECT_EQ(e.detail, "--first: 4 is past the 4 devices of " + path_);
    spec.product_key = "other";
    e = load_identities(spec, 0, 0, out);
    EXPECT_EQ(e.detail, path_ + ": device 0 (d0) has product key a1PK, not --product-key other");
    spec = {"", "", "", path_ + ".missing", ""};
    e = load_identities(spec, 0, 0, out);
    EXPECT_EQ(e.status, Status::storage_failed);
    EXPECT_EQ(e.detail, "--devices: cannot read " + path_ + ".missing");
    std::ofstream(path_, std::ios::app) << "a1PK,bad\n";
    spec = {"", "", "", path_, ""};
    e = load_identities(spec, 0, 0, out);
    EXPECT_EQ(e.detail, path_ + ": devices CSV line 6: 2 fields, expected 3 (pk,dn,ds)");
}

}  // namespace
}  // namespace ota::fleet
