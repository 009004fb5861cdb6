// FaultSource (link throttle, cut, stall, corrupt) over a fake inner source and a fake clock, and
// the fleet's sinks (DiscardSink, FailingSink).
#include "fault_source.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "sim_sinks.hpp"

namespace ota::fleet {
namespace {

using namespace std::chrono_literals;

class FakeClock final : public Clock {
  public:
    time_point now() const noexcept override { return now_; }
    void advance(std::chrono::nanoseconds d) { now_ += d; }

  private:
    time_point now_{std::chrono::seconds(1000)};
};

// A body of `size` bytes (byte i = i & 0xFF) from the open offset on, all available at once.
class FakeSource final : public ByteSource {
  public:
    explicit FakeSource(std::uint64_t size) : size_(size) {}
    Error open(std::string_view, std::uint64_t offset) override {
        ++opens;
        last_offset = offset;
        pos_ = offset;
        open_ = true;
        head_sent_ = false;
        return {};
    }
    ReadResult read(std::uint8_t* buf, std::size_t len,
                    std::chrono::milliseconds timeout) override {
        last_timeout = timeout;
        if (!open_) return {Status::invalid_state, 0, false, nullptr};
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(len, size_ - pos_));
        for (std::size_t i = 0; i < n; ++i) buf[i] = static_cast<std::uint8_t>((pos_ + i) & 0xFF);
        pos_ += n;
        ReadResult r{Status::ok, n, pos_ == size_, nullptr};
        if (!head_sent_) {
            head_sent_ = true;
            r.head = &head_;
        }
        return r;
    }
    std::string last_error_detail() const override { return "inner detail"; }
    void close() noexcept override {
        open_ = false;
        ++closes;
    }
    int opens = 0;
    int closes = 0;
    std::uint64_t last_offset = 0;
    std::chrono::milliseconds last_timeout{-1};

  private:
    std::uint64_t size_;
    std::uint64_t pos_ = 0;
    bool open_ = false;
    bool head_sent_ = false;
    ResponseHead head_{200, std::nullopt, "", std::nullopt};
};

std::vector<std::uint8_t> expected_bytes(std::size_t from, std::size_t n) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>((from + i) & 0xFF);
    return v;
}

TEST(FaultSource, WithoutAPlanPassesEverythingThroughAndNeverWaits) {
    FakeClock clock;
    FakeSource inner(1000);
    FaultSource s(inner, clock);
    ASSERT_TRUE(s.open("https://x/fw", 0).ok());
    std::vector<std::uint8_t> buf(4096);
    const ReadResult r = s.read(buf.data(), buf.size(), 5000ms);
    EXPECT_EQ(r.status, Status::ok);
    EXPECT_EQ(r.bytes, 1000u);
    EXPECT_TRUE(r.end_of_body);
    EXPECT_NE(r.head, nullptr);
    EXPECT_EQ(inner.last_timeout, 0ms);  // the client's wait is capped
    EXPECT_EQ(s.position(), 1000u);
    EXPECT_FALSE(s.ready_at());
    buf.resize(1000);
    EXPECT_EQ(buf, expected_bytes(0, 1000));
}

TEST(FaultSource, CutFailsOnceAtTheByteAndTheResumeContinues) {
    FakeClock clock;
    FakeSource inner(10000);
    FaultSource s(inner, clock);
    FaultPlan plan;
    plan.cut_at = 3000;
    s.set_plan(plan);
    ASSERT_TRUE(s.open("u", 0).ok());
    std::vector<std::uint8_t> buf(8192);
    ReadResult r = s.read(buf.data(), buf.size(), 0ms);
    EXPECT_EQ(r.bytes, 3000u);  // stops right before the cut
    r = s.read(buf.data(), buf.size(), 0ms);
    EXPECT_EQ(r.status, Status::fetch_failed);
    EXPECT_EQ(inner.closes, 1);
    EXPECT_TRUE(s.cut_done());
    EXPECT_NE(s.last_error_detail().find("cut by the fleet simulator at byte 3000"),
              std::string::npos);
    // The client resumes with a Range request: no second cut.
    ASSERT_TRUE(s.open("u", 3000).ok());
    EXPECT_EQ(inner.last_offset, 3000u);
    EXPECT_EQ(s.last_error_detail(), "inner detail");
    r = s.read(buf.data(), buf.size(), 0ms);
    EXPECT_EQ(r.status, Status::ok);
    EXPECT_EQ(r.bytes, 7000u);
    EXPECT_TRUE(r.end_of_body);
    buf.resize(7000);
    EXPECT_EQ(buf, expected_bytes(3000, 7000));
}

TEST(FaultSource, StallHoldsBytesBackForItsDurationOnce) {
    FakeClock clock;
    FakeSource inner(10000);
    FaultSource s(inner, clock);
    FaultPlan plan;
    plan.stall_at = 5000;
    plan.stall = 2000ms;
    s.set_plan(plan);
    ASSERT_TRUE(s.open("u", 0).ok());
    std::vector<std::uint8_t> buf(8192);
    EXPECT_EQ(s.read(buf.data(), buf.size(), 0ms).bytes, 5000u);
    const ReadResult held = s.read(buf.data(), buf.size(), 0ms);
    EXPECT_EQ(held.status, Status::ok);
    EXPECT_EQ(held.bytes, 0u);
    ASSERT_TRUE(s.ready_at());
    EXPECT_EQ(*s.ready_at(), clock.now() + 2000ms);
    clock.advance(1999ms);
    EXPECT_EQ(s.read(buf.data(), buf.size(), 0ms).bytes, 0u);
    clock.advance(1ms);
    EXPECT_EQ(s.read(buf.data(), buf.size(), 0ms).bytes, 5000u);
    EXPECT_TRUE(s.stall_done());
    EXPECT_FALSE(s.ready_at());
}

TEST(FaultSource, CorruptInvertsExactlyOneByte) {
    FakeClock clock;
    FakeSource inner(1000);
    FaultSource s(inner, clock);
    FaultPlan plan;
    plan.corrupt_at = 500;
    s.set_plan(plan);
    ASSERT_TRUE(s.open("u", 0).ok());
    std::vector<std::uint8_t> got;
    std::vector<std::uint8_t> buf(300);  // the byte falls inside the second read
    for (int i = 0; i < 4; ++i) {
        const ReadResult r = s.read(buf.data(), buf.size(), 0ms);
        got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(r.bytes));
    }
    ASSERT_EQ(got.size(), 1000u);
    std::vector<std::uint8_t> want = expected_bytes(0, 1000);
    want[500] ^= 0xFF;
    EXPECT_EQ(got, want);
    EXPECT_TRUE(s.corrupt_done());
}

TEST(FaultSource, LinkRateLimitsBytesOverTimeABucketAtATime) {
    FakeClock clock;
    FakeSource inner(1 << 20);
    FaultSource s(inner, clock);
    FaultPlan plan;
    plan.link_bytes_per_s = 64 * 1024;  // bucket: 100 ms = 6553 bytes
    s.set_plan(plan);
    ASSERT_TRUE(s.open("u", 0).ok());
    std::vector<std::uint8_t> buf(65536);
    std::uint64_t total = 0;
    int reads_with_bytes = 0;
    // Ten simulated seconds in 10 ms steps.
    for (int step = 0; step < 1000; ++step) {
        clock.advance(10ms);
        const ReadResult r = s.read(buf.data(), buf.size(), 0ms);
        ASSERT_EQ(r.status, Status::ok);
        if (r.bytes == 0) {
            // Held back: come back when a full bucket is there, not before.
            ASSERT_TRUE(s.ready_at());
            EXPECT_GT(*s.ready_at(), clock.now());
            EXPECT_LE(*s.ready_at(), clock.now() + 100ms);
        } else {
            ++reads_with_bytes;
            EXPECT_GE(r.bytes, 6553u);  // a whole bucket ...
            EXPECT_LE(r.bytes, 6554u);  // ... and never more
        }
        total += r.bytes;
    }
    const double rate = static_cast<double>(total) / 10.0;
    EXPECT_NEAR(rate, 64.0 * 1024, 64.0 * 1024 * 0.05);
    EXPECT_NEAR(reads_with_bytes, 100, 5);  // about ten bursts a second
    // A long pause does not bank more than one bucket.
    clock.advance(10s);
    EXPECT_LE(s.read(buf.data(), buf.size(), 0ms).bytes, 6554u);
    EXPECT_EQ(s.read(buf.data(), buf.size(), 0ms).bytes, 0u);
    ASSERT_TRUE(s.ready_at());
}

TEST(FaultSource, ASmallerRequestThanTheBucketIsServedAsSoonAsItsBytesAreThere) {
    FakeClock clock;
    FakeSource inner(1 << 20);
    FaultSource s(inner, clock);
    FaultPlan plan;
    plan.link_bytes_per_s = 1024 * 1024;  // bucket: 104857 bytes
    s.set_plan(plan);
    ASSERT_TRUE(s.open("u", 0).ok());
    std::vector<std::uint8_t> buf(1000);
    EXPECT_EQ(s.read(buf.data(), buf.size(), 0ms).bytes, 0u);  // empty bucket at first
    ASSERT_TRUE(s.ready_at());
    EXPECT_LE(*s.ready_at() - clock.now(), 1ms);  // 1000 bytes take < 1 ms at 1 MiB/s
    clock.advance(1ms);
    EXPECT_EQ(s.read(buf.data(), buf.size(), 0ms).bytes, 1000u);
}

TEST(FaultSource, SetPlanRearmsTheOneShotFaults) {
    FakeClock clock;
    FakeSource inner(100);
    FaultSource s(inner, clock);
    FaultPlan plan;
    plan.cut_at = 10;
    s.set_plan(plan);
    std::vector<std::uint8_t> buf(100);
    ASSERT_TRUE(s.open("u", 0).ok());
    EXPECT_EQ(s.read(buf.data(), buf.size(), 0ms).bytes, 10u);
    EXPECT_EQ(s.read(buf.data(), buf.size(), 0ms).status, Status::fetch_failed);
    s.set_plan(plan);
    EXPECT_FALSE(s.cut_done());
    ASSERT_TRUE(s.open("u", 0).ok());
    EXPECT_EQ(s.read(buf.data(), buf.size(), 0ms).bytes, 10u);
    EXPECT_EQ(s.read(buf.data(), buf.size(), 0ms).status, Status::fetch_failed);
}

TEST(DiscardSink, AcceptsAnImageAndKeepsNothing) {
    DiscardSink sink;
    std::uint8_t data[16] = {};
    EXPECT_EQ(sink.write(0, data, 16), Status::invalid_state);
    ASSERT_EQ(sink.begin(32), Status::ok);
    EXPECT_EQ(sink.write(0, data, 16), Status::ok);
    EXPECT_EQ(sink.write(16, data, 16), Status::ok);
    EXPECT_EQ(sink.write(30, data, 16), Status::invalid_argument);
    EXPECT_EQ(sink.written(), 32u);
    EXPECT_EQ(sink.flush(), Status::ok);
    EXPECT_NE(sink.read(0, data, 16), Status::ok);
    EXPECT_EQ(sink.commit(), Status::ok);
    EXPECT_EQ(sink.commits(), 1u);
    EXPECT_EQ(sink.commit(), Status::invalid_state);
    EXPECT_EQ(sink.capacity(), std::numeric_limits<std::uint64_t>::max());
}

TEST(FailingSink, FailsTheWriteThatReachesTheByteOnce) {
    DiscardSink inner;
    FailingSink sink(inner);
    std::uint8_t data[100] = {};
    sink.arm(250);
    ASSERT_EQ(sink.begin(1000), Status::ok);
    EXPECT_EQ(sink.write(0, data, 100), Status::ok);
    EXPECT_EQ(sink.write(100, data, 100), Status::ok);
    EXPECT_EQ(sink.write(200, data, 100), Status::storage_failed);
    EXPECT_TRUE(sink.failed());
    EXPECT_NE(sink.error_detail().find("on purpose"), std::string::npos);
    EXPECT_EQ(sink.write(200, data, 100), Status::ok);  // once
    sink.arm(std::nullopt);
    EXPECT_FALSE(sink.failed());
    EXPECT_EQ(sink.write(300, data, 100), Status::ok);
    EXPECT_EQ(inner.written(), 400u);
}

}  // namespace
}  // namespace ota::fleet
