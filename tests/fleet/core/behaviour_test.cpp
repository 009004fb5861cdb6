#include "core/behaviour.hpp"

#include <gtest/gtest.h>

TEST(FleetSkeleton, behaviourBuilds) {
    SUCCEED();
}
