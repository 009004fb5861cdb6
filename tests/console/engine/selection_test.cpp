// Tests of the pure selection rules: the FNV-1a bucket, criteria ANDed, phase sizes.
#include "engine/selection.hpp"

#include <gtest/gtest.h>

#include "engine/engine.hpp"

namespace console {
namespace {

TEST(EngineSelection, Fnv1aMatchesTheReferenceVectors) {
    EXPECT_EQ(fnv1a32(""), 0x811c9dc5u);
    EXPECT_EQ(fnv1a32("a"), 0xe40c292cu);
    EXPECT_EQ(fnv1a32("foobar"), 0xbf9cf968u);
    EXPECT_EQ(percent_bucket({"pk", "dn"}), fnv1a32("pk/dn") % 100u);
}

TEST(EngineSelection, PercentBucketsSpreadOverAFleet) {
    int below_half = 0;
    for (int i = 0; i < 1000; ++i) {
        if (percent_bucket({"pk", "device-" + std::to_string(i)}) < 50) ++below_half;
    }
    EXPECT_GT(below_half, 400);
    EXPECT_LT(below_half, 600);
}

TEST(EngineSelection, EveryCriterionMustHold) {
    Device d;
    d.key = {"pk", "a"};
    d.tags = {"lab"};
    d.versions = {{"default", "1.0"}, {"wifi", "3"}};
    Selection s;
    s.product_key = "pk";
    EXPECT_TRUE(selection_matches(s, "default", d));
    s.source_versions = {"1.0"};
    EXPECT_TRUE(selection_matches(s, "default", d));
    EXPECT_FALSE(selection_matches(s, "wifi", d));    // versions of the firmware's module
    EXPECT_FALSE(selection_matches(s, "camera", d));  // never reported: no match
    s.tag = "lab";
    s.device_names = {"a", "b"};
    EXPECT_TRUE(selection_matches(s, "default", d));
    s.tag = "field";
    EXPECT_FALSE(selection_matches(s, "default", d));
    s.tag.clear();
    s.device_names = {"b"};
    EXPECT_FALSE(selection_matches(s, "default", d));
    s.device_names.clear();
    s.percent = percent_bucket(d.key);  // bucket < percent is needed
    EXPECT_FALSE(selection_matches(s, "default", d));
    s.percent = percent_bucket(d.key) + 1;
    EXPECT_TRUE(selection_matches(s, "default", d));
    s.product_key = "other";
    EXPECT_FALSE(selection_matches(s, "default", d));
}

Phase sized(std::uint32_t devices, std::uint32_t percent) {
    Phase p;
    p.devices = devices;
    p.percent = percent;
    return p;
}

TEST(EngineSelection, PhaseSizes) {
    using V = std::vector<std::size_t>;
    EXPECT_EQ(phase_sizes({sized(0, 0)}, 7), V{7});
    EXPECT_EQ(phase_sizes({sized(2, 0), sized(0, 15), sized(0, 0)}, 10), (V{2, 2, 6}));
    EXPECT_EQ(phase_sizes({sized(0, 1), sized(0, 0)}, 1000), (V{10, 990}));
    EXPECT_EQ(phase_sizes({sized(0, 1), sized(0, 0)}, 3), (V{1, 2}));  // rounded up
    EXPECT_EQ(phase_sizes({sized(5, 0), sized(5, 0)}, 7), (V{5, 2}));  // clamped
    EXPECT_EQ(phase_sizes({sized(3, 0)}, 10), V{3});                   // the others are not taken
    EXPECT_EQ(phase_sizes({sized(3, 0), sized(0, 0)}, 0), (V{0, 0}));
}

TEST(EngineSelection, EmptyGetReplyShape) {
    EXPECT_EQ(empty_get_reply("42"), R"({"code":"1000","data":{},"id":"42","message":"success"})");
}

}  // namespace
}  // namespace console
