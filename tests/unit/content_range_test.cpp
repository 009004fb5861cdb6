#include "core/content_range.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace {

using ota::detail::ContentRange;
using ota::detail::parse_content_range;

TEST(ContentRange, ParsesRangeWithTotal) {
    const auto r = parse_content_range("bytes 0-99/100");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->first, 0U);
    EXPECT_EQ(r->last, 99U);
    ASSERT_TRUE(r->total.has_value());
    EXPECT_EQ(*r->total, 100U);
}

TEST(ContentRange, ParsesUnknownTotal) {
    const auto r = parse_content_range("bytes 1048576-2097151/*");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->first, 1048576U);
    EXPECT_EQ(r->last, 2097151U);
    EXPECT_FALSE(r->total.has_value());
}

TEST(ContentRange, UnitIsCaseInsensitive) {
    for (const char* v : {"BYTES 5-9/10", "Bytes 5-9/10", "bYtEs 5-9/10"}) {
        const auto r = parse_content_range(v);
        ASSERT_TRUE(r.has_value()) << v;
        EXPECT_EQ(r->first, 5U) << v;
    }
}

TEST(ContentRange, AcceptsOptionalWhitespaceAroundAndAfterUnit) {
    EXPECT_TRUE(parse_content_range("  bytes 0-0/1 ").has_value());
    EXPECT_TRUE(parse_content_range("\tbytes\t0-0/1\t").has_value());
    EXPECT_TRUE(parse_content_range("bytes   0-0/1").has_value());
}

TEST(ContentRange, LargeValuesUpTo64Bits) {
    const auto r =
        parse_content_range("bytes 5000000000-18446744073709551613/18446744073709551614");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->first, 5000000000ULL);
    EXPECT_EQ(r->last, 18446744073709551613ULL);
    EXPECT_EQ(*r->total, 18446744073709551614ULL);
    // UINT64_MAX itself fits (as last of an unknown-length range).
    const auto m = parse_content_range("bytes 0-18446744073709551615/*");
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->last, UINT64_MAX);
}

TEST(ContentRange, LeadingZerosAreDigits) {
    const auto r = parse_content_range("bytes 00000000000000000001-00000000000000000002/3");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->first, 1U);
    EXPECT_EQ(r->last, 2U);
}

TEST(ContentRange, RejectsOverflowAndTooManyDigits) {
    EXPECT_FALSE(parse_content_range("bytes 0-18446744073709551616/*").has_value());
    EXPECT_FALSE(parse_content_range("bytes 0-99999999999999999999/*").has_value());
    EXPECT_FALSE(parse_content_range("bytes 0-1/184467440737095516150").has_value());
    // 21 digits even though the value is small.
    EXPECT_FALSE(parse_content_range("bytes 000000000000000000001-2/3").has_value());
}

TEST(ContentRange, RejectsInconsistentRanges) {
    EXPECT_FALSE(parse_content_range("bytes 10-9/100").has_value());   // first > last
    EXPECT_FALSE(parse_content_range("bytes 0-100/100").has_value());  // last == total
    EXPECT_FALSE(parse_content_range("bytes 0-200/100").has_value());  // last > total
    EXPECT_FALSE(parse_content_range("bytes 0-0/0").has_value());
}

TEST(ContentRange, RejectsMalformedInput) {
    const char* bad[] = {
        "",
        "bytes",
        "bytes ",
        "bytes0-1/2",  // no space after the unit
        "bits 0-1/2",  // other unit
        "bytesx 0-1/2",
        "bytes */100",  // unsatisfied range: no range to check
        "bytes -1/2",
        "bytes 0-/2",
        "bytes 0-1/",
        "bytes 0-1",
        "bytes 0-1/2x",
        "bytes 0-1/2 x",
        "bytes +0-1/2",
        "bytes 0--1/2",
        "bytes 0 - 1/2",  // whitespace inside the range
        "bytes 0-1 /2",
        "bytes 0-1/ 2",
        "bytes 0x1-2/3",
        "bytes 0-1/**",
        "bytes 0-1/*2",
        "bytes 0-1/2/3",
        "bytes 1,2-3/4",
        "\nbytes 0-1/2",  // only SP/HTAB are whitespace
    };
    for (const char* v : bad) EXPECT_FALSE(parse_content_range(v).has_value()) << '"' << v << '"';
}

TEST(ContentRange, EmbeddedNulIsNotTheEnd) {
    const std::string with_nul("bytes 0-1/2\0junk", 16);
    EXPECT_FALSE(parse_content_range(with_nul).has_value());
    const std::string_view cut(with_nul.data(), 11);
    EXPECT_TRUE(parse_content_range(cut).has_value());
}

TEST(ContentRange, NeverReadsPastTheView) {
    // A view into a larger buffer: the digits after the view's end must not be consumed.
    const std::string buffer = "bytes 0-1/23456";
    const auto r = parse_content_range(std::string_view(buffer).substr(0, 11));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(*r->total, 2U);
    // Every prefix of a valid value parses or fails without touching bytes beyond it.
    for (std::size_t n = 0; n <= buffer.size(); ++n) {
        (void)parse_content_range(std::string_view(buffer).substr(0, n));
    }
    SUCCEED();
}

}  // namespace
