// The retry schedule: backoff growth, failures in a row reset by progress, the total deadline,
// and jitter drawn only when a retry is scheduled.
#include "core/retry_schedule.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "support/fake_broker.hpp"

namespace {

using namespace std::chrono_literals;
using ota::RetryPolicy;
using ota::detail::RetryDecision;
using ota::detail::RetrySchedule;

RetryPolicy no_jitter() {
    RetryPolicy p;
    p.jitter = 0.0;
    p.initial_backoff = 1000ms;
    p.max_backoff = 8000ms;
    p.multiplier = 2.0;
    p.max_attempts = 5;
    p.total_deadline = 60s;
    return p;
}

TEST(RetrySchedule, BackoffGrowsUpToTheCap) {
    const RetryPolicy p = no_jitter();
    ota::test::ManualClock clock;
    RetrySchedule s(p, 1);
    s.start(clock.now());
    const long expected[] = {1000, 2000, 4000, 8000};
    for (long ms : expected) {
        const RetryDecision d = s.after_failure(0, clock.now(), std::nullopt);
        ASSERT_EQ(d.kind, RetryDecision::Kind::retry);
        EXPECT_EQ(d.delay.count(), ms);
        EXPECT_EQ(d.at, clock.now() + d.delay);
    }
    EXPECT_EQ(s.after_failure(0, clock.now(), std::nullopt).kind,
              RetryDecision::Kind::out_of_attempts);
}

TEST(RetrySchedule, ProgressResetsTheFailuresInARow) {
    const RetryPolicy p = no_jitter();
    ota::test::ManualClock clock;
    RetrySchedule s(p, 1);
    s.start(clock.now());
    EXPECT_EQ(s.after_failure(0, clock.now(), std::nullopt).failures_in_row, 1);
    EXPECT_EQ(s.after_failure(0, clock.now(), std::nullopt).failures_in_row, 2);
    const RetryDecision d = s.after_failure(10, clock.now(), std::nullopt);
    EXPECT_EQ(d.failures_in_row, 1);
    EXPECT_EQ(d.delay, 1000ms);
    // The baseline of a resumed image: bytes below it are not progress.
    s.start(clock.now());
    s.set_baseline(500);
    EXPECT_EQ(s.after_failure(500, clock.now(), std::nullopt).failures_in_row, 1);
    EXPECT_EQ(s.after_failure(500, clock.now(), std::nullopt).failures_in_row, 2);
}

TEST(RetrySchedule, OneAttemptMeansNoRetry) {
    RetryPolicy p = no_jitter();
    p.max_attempts = 1;
    ota::test::ManualClock clock;
    RetrySchedule s(p, 1);
    s.start(clock.now());
    const RetryDecision d = s.after_failure(100, clock.now(), std::nullopt);
    EXPECT_EQ(d.kind, RetryDecision::Kind::out_of_attempts);
    EXPECT_EQ(d.failures_in_row, 1);
}

TEST(RetrySchedule, GivesUpWhenTheNextAttemptWouldMissTheDeadline) {
    RetryPolicy p = no_jitter();
    p.total_deadline = 10s;
    ota::test::ManualClock clock;
    RetrySchedule s(p, 1);
    s.start(clock.now());
    clock.advance(8500ms);
    EXPECT_EQ(s.after_failure(0, clock.now(), std::nullopt).kind, RetryDecision::Kind::retry);
    clock.advance(1000ms);
    EXPECT_EQ(s.after_failure(0, clock.now(), std::nullopt).kind, RetryDecision::Kind::out_of_time);
}

TEST(RetrySchedule, RetryAfterIsHonouredUpToTheCap) {
    const RetryPolicy p = no_jitter();
    ota::test::ManualClock clock;
    RetrySchedule s(p, 1);
    s.start(clock.now());
    EXPECT_EQ(s.after_failure(0, clock.now(), std::chrono::seconds(3)).delay, 3000ms);
    EXPECT_EQ(s.after_failure(0, clock.now(), std::chrono::seconds(3600)).delay, 8000ms);
}

TEST(RetrySchedule, JitterIsReproducibleForASeedAndShortensTheDelay) {
    RetryPolicy p = no_jitter();
    p.jitter = 0.5;
    ota::test::ManualClock clock;
    RetrySchedule a(p, 42);
    RetrySchedule b(p, 42);
    a.start(clock.now());
    b.start(clock.now());
    for (int i = 0; i < 4; ++i) {
        const auto da = a.after_failure(0, clock.now(), std::nullopt);
        const auto db = b.after_failure(0, clock.now(), std::nullopt);
        EXPECT_EQ(da.delay, db.delay);
        const long nominal = 1000L << i;
        EXPECT_LE(da.delay.count(), nominal);
        EXPECT_GT(da.delay.count(), nominal / 2);
    }
}

}  // namespace
