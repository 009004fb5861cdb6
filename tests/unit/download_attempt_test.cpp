// One download attempt: the response is judged from ReadResult::head only; Content-Range and
// Content-Length checks; a 200 to a Range request; stall detection; the end-of-body wait.
#include "core/download_attempt.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "support/fake_broker.hpp"
#include "support/scripted_source.hpp"

namespace {

using namespace std::chrono_literals;
using ota::Status;
using ota::detail::AttemptOutcome;
using ota::detail::DownloadAttempt;
using ota::test::ManualClock;
using ota::test::ScriptedResponse;
using ota::test::ScriptedSource;
using Kind = AttemptOutcome::Kind;

std::vector<std::uint8_t> body(std::size_t n) {
    std::vector<std::uint8_t> b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 7 + 1);
    return b;
}

/// A source whose old getters contradict its head: the attempt must believe the head.
class HeadOnlySource final : public ota::ByteSource {
  public:
    ota::ResponseHead head;
    ota::Error open(std::string_view, std::uint64_t) override {
        first_ = true;
        return {};
    }
    ota::ReadResult read(std::uint8_t* buf, std::size_t len, std::chrono::milliseconds) override {
        ota::ReadResult r;
        r.bytes = std::min<std::size_t>(len, 4);
        for (std::size_t i = 0; i < r.bytes; ++i) buf[i] = 0xAB;
        if (first_) r.head = &head;
        first_ = false;
        return r;
    }
    std::string last_error_detail() const override { return {}; }
    void close() noexcept override {}

  private:
    bool first_ = true;
};

class AttemptTest : public ::testing::Test {
  protected:
    AttemptTest() : attempt_(source_, policy_, clock_) { source_.set_clock(&clock_); }

    AttemptOutcome read(std::uint64_t size, bool has_sink = true) {
        return attempt_.read(buf_.data(), buf_.size(), 0ms, size, has_sink);
    }

    ota::RetryPolicy policy_;
    ManualClock clock_;
    ScriptedSource source_;
    DownloadAttempt attempt_;
    std::vector<std::uint8_t> buf_ = std::vector<std::uint8_t>(64);
};

TEST_F(AttemptTest, JudgesTheResponseFromTheHeadOnly) {
    HeadOnlySource src;
    src.head.http_status = 200;
    src.head.content_length = 8;
    DownloadAttempt a(src, policy_, clock_);
    ASSERT_EQ(a.open("https://x/fw", 0).kind, Kind::nothing);
    AttemptOutcome o = a.read(buf_.data(), buf_.size(), 0ms, 8, true);
    EXPECT_EQ(o.kind, Kind::data);
    EXPECT_EQ(o.bytes, 4U);
    o = a.read(buf_.data(), buf_.size(), 0ms, 8, true);  // no head any more: not judged again
    EXPECT_EQ(o.kind, Kind::data);
}

TEST_F(AttemptTest, AcceptsAMatching206AndRefusesAnotherRange) {
    ScriptedResponse r;
    r.body = body(100);
    r.range_from_offset = true;
    source_.set_response(r);
    ASSERT_EQ(attempt_.open("https://x/fw", 40).kind, Kind::nothing);
    EXPECT_EQ(source_.opens().back().offset, 40U);
    AttemptOutcome o = read(100);
    ASSERT_EQ(o.kind, Kind::data);
    EXPECT_EQ(buf_[0], r.body[40]);

    r.range_from_offset = false;
    r.status = 206;
    r.content_range = "bytes 0-99/100";
    source_.set_response(r);
    ASSERT_EQ(attempt_.open("https://x/fw", 40).kind, Kind::nothing);
    o = read(100);
    EXPECT_EQ(o.kind, Kind::failed);
    EXPECT_EQ(o.status, Status::fetch_failed);
    EXPECT_EQ(o.why,
              "download failed: HTTP 206 with Content-Range 'bytes 0-99/100', expected bytes "
              "40-99/100");
}

TEST_F(AttemptTest, A200ToARangeRestartsWithASinkAndSkipsWithout) {
    ScriptedResponse r;
    r.body = body(100);
    r.max_chunk = 30;
    source_.set_response(r);
    ASSERT_EQ(attempt_.open("https://x/fw", 40).kind, Kind::nothing);
    AttemptOutcome o = read(100, /*has_sink=*/true);
    ASSERT_EQ(o.kind, Kind::data);
    EXPECT_TRUE(o.restart_from_zero);
    EXPECT_EQ(o.bytes, 30U);
    EXPECT_EQ(buf_[0], r.body[0]);

    ASSERT_EQ(attempt_.open("https://x/fw", 40).kind, Kind::nothing);
    EXPECT_EQ(read(100, false).kind, Kind::nothing);  // bytes 0..29: all already delivered
    o = read(100, false);
    ASSERT_EQ(o.kind, Kind::data);
    EXPECT_FALSE(o.restart_from_zero);
    EXPECT_EQ(o.bytes, 20U);  // bytes 40..59 of 30..59
    EXPECT_EQ(buf_[0], r.body[40]);
}

TEST_F(AttemptTest, StatusClasses) {
    ScriptedResponse r;
    r.body = body(10);
    r.status = 503;
    r.retry_after = std::chrono::seconds(7);
    source_.set_response(r);
    ASSERT_EQ(attempt_.open("https://x/fw", 0).kind, Kind::nothing);
    AttemptOutcome o = read(10);
    EXPECT_EQ(o.kind, Kind::transient);
    EXPECT_EQ(o.why, "HTTP 503");
    ASSERT_TRUE(o.retry_after.has_value());
    EXPECT_EQ(*o.retry_after, std::chrono::seconds(7));

    r.status = 404;
    source_.set_response(r);
    ASSERT_EQ(attempt_.open("https://x/fw", 0).kind, Kind::nothing);
    o = read(10);
    EXPECT_EQ(o.kind, Kind::failed);
    EXPECT_EQ(o.why, "download failed: HTTP 404");

    r.status = 416;
    source_.set_response(r);
    ASSERT_EQ(attempt_.open("https://x/fw", 4).kind, Kind::nothing);
    o = read(10);
    EXPECT_EQ(o.kind, Kind::failed);
    EXPECT_EQ(o.why,
              "download failed: HTTP 416 (range not satisfiable) for bytes 4- of a 10-byte image");

    r.status = 200;
    r.content_length = 11;
    source_.set_response(r);
    ASSERT_EQ(attempt_.open("https://x/fw", 0).kind, Kind::nothing);
    o = read(10);
    EXPECT_EQ(o.kind, Kind::failed);
    EXPECT_EQ(o.status, Status::size_mismatch);
    EXPECT_EQ(o.why,
              "download failed: Content-Length 11 does not match the announced size of 10 bytes");
}

TEST_F(AttemptTest, OnlyFetchFailedAndTimeoutFromTheSourceAreTransient) {
    for (const Status st : {Status::fetch_failed, Status::timeout}) {
        SCOPED_TRACE(ota::to_string(st));
        ScriptedResponse r;
        r.body = body(100);
        r.fail_after = 10;
        r.fail_status = st;
        source_.set_response(r);
        ASSERT_EQ(attempt_.open("https://x/fw", 0).kind, Kind::nothing);
        EXPECT_EQ(read(100).kind, Kind::data);
        const AttemptOutcome o = read(100);
        EXPECT_EQ(o.kind, Kind::transient);
        EXPECT_EQ(o.status, st);
    }
    // What the source calls refused (TLS verification, a refused redirect, an oversized header)
    // and everything else ends the download, with the source's explanation.
    for (const Status st : {Status::fetch_refused, Status::no_memory, Status::internal}) {
        SCOPED_TRACE(ota::to_string(st));
        ScriptedResponse r;
        r.body = body(100);
        r.fail_after = 0;
        r.fail_status = st;
        source_.set_response(r);
        ASSERT_EQ(attempt_.open("https://x/fw", 0).kind, Kind::nothing);
        const AttemptOutcome o = read(100);
        EXPECT_EQ(o.kind, Kind::failed);
        EXPECT_EQ(o.status, st);
        EXPECT_EQ(o.why,
                  std::string("download failed: scripted transfer failure: ") + ota::to_string(st));
    }
}

TEST_F(AttemptTest, ClientErrorsOtherThan408And429AreFinal) {
    for (int status = 400; status <= 499; ++status) {
        SCOPED_TRACE(status);
        ScriptedResponse r;
        r.body = body(10);
        r.status = status;
        source_.set_response(r);
        ASSERT_EQ(attempt_.open("https://x/fw", 0).kind, Kind::nothing);
        const AttemptOutcome o = read(10);
        if (status == 408 || status == 429) {
            EXPECT_EQ(o.kind, Kind::transient);
        } else {
            EXPECT_EQ(o.kind, Kind::failed);
            EXPECT_EQ(o.status, Status::fetch_failed);
            EXPECT_NE(o.why.find("HTTP " + std::to_string(status)), std::string::npos) << o.why;
        }
    }
}

TEST_F(AttemptTest, AContentRangeThatCannotMatchIsFinal) {
    // Asked for bytes 40- of a 100-byte image.
    for (const char* range :
         {"bytes 40-99/101", "bytes 40-99/99", "bytes 40-99/*", "bytes 140-199/200",
          "bytes 120-99/100", "bytes 40-98/100", "bytes 41-99/100", "bytes */100", ""}) {
        SCOPED_TRACE(range);
        ScriptedResponse r;
        r.body = body(100);
        r.status = 206;
        r.content_range = range;
        source_.set_response(r);
        ASSERT_EQ(attempt_.open("https://x/fw", 40).kind, Kind::nothing);
        const AttemptOutcome o = read(100);
        EXPECT_EQ(o.kind, Kind::failed);
        EXPECT_EQ(o.status, Status::fetch_failed);
        EXPECT_NE(o.why.find("expected bytes 40-99/100"), std::string::npos) << o.why;
    }
}

TEST_F(AttemptTest, OpenFailuresAreTransientOrPermanent) {
    source_.set_open_error({Status::timeout, "slow"});
    AttemptOutcome o = attempt_.open("https://x/fw", 0);
    EXPECT_EQ(o.kind, Kind::transient);
    EXPECT_EQ(o.status, Status::fetch_failed);
    source_.set_open_error({Status::invalid_argument, "bad url"});
    o = attempt_.open("https://x/fw", 0);
    EXPECT_EQ(o.kind, Kind::failed);
    EXPECT_EQ(o.why.rfind("download failed: could not start the download: ", 0), 0U);
}

TEST_F(AttemptTest, AStalledTransferIsTransient) {
    policy_.stall_floor_bytes_per_s = 100;
    policy_.stall_window = 1s;
    ScriptedResponse r;
    r.body = body(1000);
    r.stall_after = 10;
    source_.set_response(r);
    ASSERT_EQ(attempt_.open("https://x/fw", 0).kind, Kind::nothing);
    EXPECT_EQ(read(1000).kind, Kind::data);
    clock_.advance(600ms);
    EXPECT_EQ(read(1000).kind, Kind::nothing);
    clock_.advance(600ms);
    const AttemptOutcome o = read(1000);
    EXPECT_EQ(o.kind, Kind::stall);
    EXPECT_EQ(o.status, Status::timeout);
    EXPECT_EQ(o.why, "stalled: fewer than 100 bytes/s over 1000 ms");
}

TEST_F(AttemptTest, TheEndOfTheBodyIsAwaitedUntilTheDeadline) {
    ScriptedResponse r;
    r.body = body(10);
    r.never_end = true;
    source_.set_response(r);
    ASSERT_EQ(attempt_.open("https://x/fw", 0).kind, Kind::nothing);
    ASSERT_EQ(read(10).kind, Kind::data);
    attempt_.expect_end(100ms);
    EXPECT_TRUE(attempt_.awaiting_end());
    EXPECT_EQ(attempt_.read_end(buf_.data(), buf_.size(), 10).kind, Kind::nothing);
    clock_.advance(100ms);
    const AttemptOutcome o = attempt_.read_end(buf_.data(), buf_.size(), 10);
    EXPECT_EQ(o.kind, Kind::failed);
    EXPECT_EQ(o.status, Status::timeout);
    EXPECT_EQ(o.why,
              "download failed: the body did not end within 100 ms after the announced 10 bytes");

    r.never_end = false;
    r.extra_bytes = 1;
    r.max_chunk = 10;
    source_.set_response(r);
    ASSERT_EQ(attempt_.open("https://x/fw", 0).kind, Kind::nothing);
    ASSERT_EQ(read(10).kind, Kind::data);
    attempt_.expect_end(100ms);
    EXPECT_EQ(attempt_.read_end(buf_.data(), buf_.size(), 10).status, Status::size_mismatch);

    r.extra_bytes = 0;
    source_.set_response(r);
    ASSERT_EQ(attempt_.open("https://x/fw", 0).kind, Kind::nothing);
    ASSERT_EQ(read(10).kind, Kind::data);
    attempt_.expect_end(100ms);
    const AttemptOutcome end = attempt_.read_end(buf_.data(), buf_.size(), 10);
    EXPECT_EQ(end.kind, Kind::data);
    EXPECT_TRUE(end.end_of_body);
    attempt_.close();
    EXPECT_FALSE(attempt_.awaiting_end());
    EXPECT_FALSE(source_.is_open());
}

}  // namespace
