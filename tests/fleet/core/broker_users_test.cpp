#include "core/broker_users.hpp"

#include <gtest/gtest.h>

TEST(FleetSkeleton, broker_usersBuilds) {
    SUCCEED();
}
