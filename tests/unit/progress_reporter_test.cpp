// The progress reporter: throttling, the queue of the client's own final and failure reports
// across a broker outage, and one failure report per job.
#include "core/progress_reporter.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "support/fake_broker.hpp"

namespace {

using namespace std::chrono_literals;
using ota::Status;
using ota::detail::MessageIds;
using ota::detail::ProgressReporter;
using ota::test::FakeBroker;
using ota::test::FakeChannel;
using ota::test::ManualClock;

const std::string kProgress = "/ota/device/progress/pk/dn";

class ReporterTest : public ::testing::Test {
  protected:
    ReporterTest() : channel_(broker_, "dev") {
        topics_ = ota::make_topics("pk", "dn");
        policy_.min_points = 5;
        policy_.min_interval = 50ms;
    }

    ProgressReporter make() {
        return ProgressReporter(channel_, topics_, ids_, clock_, policy_, 0);
    }

    /// The steps published on the progress topic, in order.
    std::string steps() const {
        std::string out;
        for (const auto& m : broker_.published_on(kProgress)) {
            const auto at = m.payload.find("\"step\":\"");
            out += m.payload.substr(at + 8, m.payload.find('"', at + 8) - at - 8) + " ";
        }
        return out;
    }

    FakeBroker broker_;
    FakeChannel channel_;
    ManualClock clock_;
    ota::Topics topics_;
    MessageIds ids_;
    ota::ProgressPolicy policy_;
};

TEST_F(ReporterTest, ThrottlesSteps1To99ButNeverTheEnds) {
    ProgressReporter r = make();
    EXPECT_TRUE(r.report_own(0, {}, {}).ok());
    clock_.advance(100ms);
    EXPECT_TRUE(r.report_own(3, {}, {}).ok());  // too few points: suppressed
    EXPECT_FALSE(r.would_send(4));
    EXPECT_TRUE(r.would_send(5));
    EXPECT_TRUE(r.report_own(5, {}, {}).ok());
    EXPECT_TRUE(r.report_own(50, {}, {}).ok());  // too soon after 5
    EXPECT_TRUE(r.report_own(100, {}, {}).ok());
    EXPECT_EQ(steps(), "0 5 100 ");
}

TEST_F(ReporterTest, OneFailurePerJob) {
    ProgressReporter r = make();
    EXPECT_TRUE(r.report(-2, "first", {}).ok());
    EXPECT_TRUE(r.failure_reported());
    EXPECT_TRUE(r.report_own(-3, "second", {}).ok());
    EXPECT_TRUE(r.report(-1, "third", {}).ok());
    EXPECT_EQ(steps(), "-2 ");
    r.start_job();
    EXPECT_FALSE(r.failure_reported());
    EXPECT_TRUE(r.report_own(-4, "next job", {}).ok());
    EXPECT_EQ(steps(), "-2 -4 ");
    r.restart();  // the same job again: still one failure
    EXPECT_TRUE(r.report_own(-2, "again", {}).ok());
    EXPECT_EQ(steps(), "-2 -4 ");
}

TEST_F(ReporterTest, OwnFinalAndFailureReportsWaitForTheBroker) {
    ProgressReporter r = make();
    channel_.disconnect();
    EXPECT_TRUE(r.report_own(0, {}, {}).ok());     // dropped
    EXPECT_TRUE(r.report_own(100, {}, "m").ok());  // queued
    EXPECT_EQ(r.queued(), 1U);
    // The application's own reports are not queued.
    EXPECT_EQ(r.report(-1, {}, {}).status, Status::not_connected);
    EXPECT_EQ(r.queued(), 1U);
    r.flush();  // still down
    EXPECT_EQ(r.queued(), 1U);
    channel_.reconnect();
    r.flush();
    EXPECT_EQ(r.queued(), 0U);
    EXPECT_EQ(steps(), "100 ");
    EXPECT_NE(broker_.published_on(kProgress).back().payload.find("\"module\":\"m\""),
              std::string::npos);
}

TEST_F(ReporterTest, TheQueueKeepsTheNewestReports) {
    ProgressReporter r = make();
    channel_.disconnect();
    for (std::size_t i = 0; i < ProgressReporter::kMaxQueued + 2; ++i) {
        r.start_job();
        EXPECT_TRUE(r.report_own(-1 - static_cast<int>(i % 4), {}, {}).ok());
    }
    EXPECT_EQ(r.queued(), ProgressReporter::kMaxQueued);
    channel_.reconnect();
    r.flush();
    EXPECT_EQ(steps(), "-3 -4 -1 -2 -3 -4 -1 -2 ");
    r.clear_queue();
    EXPECT_EQ(r.queued(), 0U);
}

TEST_F(ReporterTest, PublishIgnoresThePolicyAndIdsAreShared) {
    ProgressReporter r = make();
    EXPECT_EQ(r.publish(-1, "refused", {}), Status::ok);
    EXPECT_EQ(r.publish(-1, "refused again", {}), Status::ok);
    EXPECT_FALSE(r.failure_reported());
    EXPECT_EQ(ids_.next(), 3U);
    EXPECT_EQ(steps(), "-1 -1 ");
}

}  // namespace
