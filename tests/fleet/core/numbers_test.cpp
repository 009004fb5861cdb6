// The strict number parsers behind every option and spec (core/numbers.hpp).
#include "core/numbers.hpp"

#include <gtest/gtest.h>

namespace ota::fleet::detail {
namespace {

TEST(FleetNumbers, UnsignedIntegers) {
    std::uint64_t v = 7;
    EXPECT_TRUE(parse_u64("0", v));
    EXPECT_EQ(v, 0u);
    EXPECT_TRUE(parse_u64("18446744073709551615", v));
    EXPECT_EQ(v, UINT64_MAX);
    v = 7;
    for (const char* bad : {"", " 1", "1 ", "+1", "-1", "1x", "0x10", "18446744073709551616"}) {
        EXPECT_FALSE(parse_u64(bad, v)) << bad;
        EXPECT_EQ(v, 7u) << bad;  // untouched
    }
}

TEST(FleetNumbers, Doubles) {
    double v = 0;
    EXPECT_TRUE(parse_double("2.5", v));
    EXPECT_EQ(v, 2.5);
    EXPECT_TRUE(parse_double(".5", v));
    EXPECT_EQ(v, 0.5);
    EXPECT_TRUE(parse_double("-3", v));
    EXPECT_EQ(v, -3);
    v = 9;
    for (const char* bad : {"", "+1", " 1", "1 ", "inf", "nan", "1.2.3", "5%", "1e999"}) {
        EXPECT_FALSE(parse_double(bad, v)) << bad;
        EXPECT_EQ(v, 9) << bad;
    }
}

TEST(FleetNumbers, ScaledRates) {
    std::uint64_t v = 0;
    EXPECT_TRUE(parse_scaled_u64("500", v));
    EXPECT_EQ(v, 500u);
    EXPECT_TRUE(parse_scaled_u64("64k", v));
    EXPECT_EQ(v, 65536u);
    EXPECT_TRUE(parse_scaled_u64("1M", v));
    EXPECT_EQ(v, 1048576u);
    EXPECT_TRUE(parse_scaled_u64("3g", v));
    EXPECT_EQ(v, 3221225472u);
    for (const char* bad : {"", "k", "1kb", "1.5m", "-1k", "17179869184g"}) {
        EXPECT_FALSE(parse_scaled_u64(bad, v)) << bad;
    }
}

TEST(FleetNumbers, Trim) {
    EXPECT_EQ(trim(" \t a b \r"), "a b");
    EXPECT_EQ(trim("   "), "");
    EXPECT_EQ(trim(""), "");
}

}  // namespace
}  // namespace ota::fleet::detail
