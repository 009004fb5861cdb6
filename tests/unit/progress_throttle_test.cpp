#include "core/progress_throttle.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace {

using namespace std::chrono_literals;
using ota::Clock;
using ota::ProgressPolicy;
using ota::detail::ProgressThrottle;

const Clock::time_point kT0 = Clock::time_point{} + 10s;

TEST(ProgressThrottle, FirstStepOfAJobPasses) {
    ProgressThrottle t(ProgressPolicy{5, 50ms});
    EXPECT_TRUE(t.should_send(3, kT0));
}

TEST(ProgressThrottle, NeedsBothPointsAndTime) {
    ProgressThrottle t(ProgressPolicy{5, 50ms});
    t.mark_sent(10, kT0);
    EXPECT_FALSE(t.should_send(14, kT0 + 1s));    // enough time, too few points
    EXPECT_FALSE(t.should_send(15, kT0 + 49ms));  // enough points, too little time
    EXPECT_TRUE(t.should_send(15, kT0 + 50ms));   // both exactly at the limit
    EXPECT_TRUE(t.should_send(40, kT0 + 2s));
}

TEST(ProgressThrottle, ZeroHundredAndFailuresAlwaysPass) {
    ProgressThrottle t(ProgressPolicy{5, 50ms});
    t.mark_sent(99, kT0);
    for (int step : {0, 100, -1, -2, -3, -4}) {
        EXPECT_TRUE(t.should_send(step, kT0)) << step;
    }
    t.mark_sent(100, kT0);
    EXPECT_TRUE(t.should_send(100, kT0));
}

TEST(ProgressThrottle, MarkSentMovesTheBaseline) {
    ProgressThrottle t(ProgressPolicy{5, 50ms});
    t.mark_sent(0, kT0);
    EXPECT_TRUE(t.should_send(5, kT0 + 50ms));
    t.mark_sent(5, kT0 + 50ms);
    EXPECT_FALSE(t.should_send(9, kT0 + 200ms));
    EXPECT_FALSE(t.should_send(10, kT0 + 99ms));
    EXPECT_TRUE(t.should_send(10, kT0 + 100ms));
}

TEST(ProgressThrottle, FailuresDoNotMoveTheBaseline) {
    ProgressThrottle t(ProgressPolicy{5, 50ms});
    t.mark_sent(20, kT0);
    t.mark_sent(-2, kT0 + 1s);
    EXPECT_FALSE(t.should_send(24, kT0 + 2s));
    EXPECT_TRUE(t.should_send(25, kT0 + 2s));
}

TEST(ProgressThrottle, LowerStepThanLastSentIsSuppressed) {
    ProgressThrottle t(ProgressPolicy{5, 50ms});
    t.mark_sent(50, kT0);
    EXPECT_FALSE(t.should_send(30, kT0 + 10s));
}

TEST(ProgressThrottle, ResetStartsAFreshJob) {
    ProgressThrottle t(ProgressPolicy{5, 50ms});
    t.mark_sent(50, kT0);
    EXPECT_FALSE(t.should_send(51, kT0));
    t.reset();
    EXPECT_TRUE(t.should_send(51, kT0));
    EXPECT_TRUE(t.should_send(1, kT0));
}

TEST(ProgressThrottle, MinPointsOneAndZeroIntervalPassEveryIncrease) {
    ProgressThrottle t(ProgressPolicy{1, 0ms});
    t.mark_sent(1, kT0);
    EXPECT_TRUE(t.should_send(2, kT0));
    EXPECT_FALSE(t.should_send(1, kT0));
}

TEST(ProgressThrottle, OfficialSdkCadenceOverAJob) {
    // One step per percent, 10 ms apart: the 5-point/50-ms policy lets every fifth one through.
    ProgressThrottle t(ProgressPolicy{5, 50ms});
    int sent = 0;
    Clock::time_point now = kT0;
    for (int step = 0; step <= 100; ++step) {
        if (t.should_send(step, now)) {
            t.mark_sent(step, now);
            ++sent;
        }
        now += 10ms;
    }
    EXPECT_EQ(sent, 21);  // 0, 5, 10, ..., 95, 100
}

}  // namespace
