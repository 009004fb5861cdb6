#include "core/stats.hpp"

#include <gtest/gtest.h>

TEST(FleetSkeleton, statsBuilds) {
    SUCCEED();
}
