#include "core/options.hpp"

#include <gtest/gtest.h>

TEST(FleetSkeleton, optionsBuilds) {
    SUCCEED();
}
