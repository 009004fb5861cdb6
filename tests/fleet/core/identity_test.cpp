#include "core/identity.hpp"

#include <gtest/gtest.h>

TEST(FleetSkeleton, identityBuilds) {
    SUCCEED();
}
