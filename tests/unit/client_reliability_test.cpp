// OtaClient reliability: resume within a run, retries with backoff, stalls, broker outages,
// crash resume through the sink's resume record, and the refusal of images that cannot fit.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/backoff.hpp"
#include "core/resume_record.hpp"
#include "ota/client.hpp"
#include "ota/digest.hpp"
#include "ota/log.hpp"
#include "support/client_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ota::ClientOptions;
using ota::Error;
using ota::FetchResult;
using ota::OtaClient;
using ota::OtaState;
using ota::RetryPolicy;
using ota::Status;
using namespace ota::test::client_fixture;

// The same object signed again later: a re-pushed job carries a different query string.
const std::string kResignedUrl =
    "https://ota.example.com/fw/image.bin?Expires=1582999999&OSSAccessKeyId=KEYID&Signature="
    "OTHERSIGNATURE";

const std::vector<std::uint8_t> kBody = pattern(10000, 31, 7);
const std::vector<std::uint8_t> kOtherBody = pattern(8000, 13, 1);

struct Push {
    std::string version = "2.0.0";
    std::string url = kUrl;
    const std::vector<std::uint8_t>* body = &kBody;
};

std::string to_json(const Push& p) {
    return json{{"code", "1000"},
                {"data",
                 {{"size", p.body->size()},
                  {"version", p.version},
                  {"url", p.url},
                  {"md5", md5_of(*p.body)}}},
                {"id", 1},
                {"message", "success"}}
        .dump();
}

/// A full 200 response that honours Range (206 from the requested offset).
ScriptedResponse ranged(const std::vector<std::uint8_t>& body = kBody, std::size_t chunk = 1000) {
    ScriptedResponse r;
    r.body = body;
    r.max_chunk = chunk;
    r.range_from_offset = true;
    return r;
}

/// A full 200 response that ignores Range.
ScriptedResponse full_200(const std::vector<std::uint8_t>& body = kBody, std::size_t chunk = 1000) {
    ScriptedResponse r;
    r.status = 200;
    r.body = body;
    r.content_length = body.size();
    r.max_chunk = chunk;
    return r;
}

/// A ranged response whose transfer fails after the absolute position `at`.
ScriptedResponse cut_at(std::size_t at, Status how = Status::fetch_failed) {
    ScriptedResponse r = ranged();
    r.fail_after = at;
    r.fail_status = how;
    return r;
}

ScriptedResponse status_only(int status, std::optional<std::chrono::seconds> retry_after = {}) {
    ScriptedResponse r;
    r.status = status;
    r.retry_after = retry_after;
    return r;
}

ClientOptions options() {
    ClientOptions o = device_options();
    o.retry.jitter = 0.0;  // exact delays unless a test asks for jitter
    o.retry.jitter_seed = 1;
    return o;
}

class ReliabilityTest : public ClientHarness {
  protected:
    void SetUp() override { source.set_clock(&clock); }

    void make_client(ClientOptions o = options(), ota::FirmwareSink* with_sink = nullptr) {
        create_client(std::move(o));
        ASSERT_TRUE(client->set_sink(with_sink != nullptr ? with_sink : &sink).ok());
    }

    void push(const Push& p = Push{}) {
        broker.publish(kUpgradeTopic, to_json(p));
        ASSERT_TRUE(client->poll(0ms).ok());
        ASSERT_EQ(client->state(), OtaState::pushed);
    }

    /// fetch_yield until the download leaves PUSHED/FETCHING (bounded); the clock moves `step`
    /// per call. Returns the last result.
    FetchResult fetch_all(std::chrono::milliseconds step = 100ms, std::size_t buf_len = 1000) {
        FetchResult last;
        std::vector<std::uint8_t> buf(buf_len);
        for (int i = 0; i < 200000 && client->is_fetching(); ++i) {
            last = client->fetch_yield(buf.data(), buf.size(), 50ms);
            if (last.status != Status::ok) break;
            returned += last.bytes;
            clock.advance(step);
        }
        return last;
    }

    bool verify() {
        bool valid = false;
        const Error e = client->check_firmware(valid);
        EXPECT_TRUE(e.ok()) << e.message();
        return valid;
    }

    std::vector<std::uint64_t> open_offsets() const {
        std::vector<std::uint64_t> out;
        for (const auto& o : source.opens()) out.push_back(o.offset);
        return out;
    }

    /// Milliseconds between consecutive open() calls.
    std::vector<long long> open_gaps() const {
        std::vector<long long> out;
        const auto& o = source.opens();
        for (std::size_t i = 1; i < o.size(); ++i) {
            out.push_back(
                std::chrono::duration_cast<std::chrono::milliseconds>(o[i].at - o[i - 1].at)
                    .count());
        }
        return out;
    }

    std::uint64_t returned = 0;
};

// ---- resume within one run ------------------------------------------------------------------

TEST_F(ReliabilityTest, ResumesAfterACutWithTheSameDigest) {
    make_client();
    source.set_script({cut_at(3000), ranged()});
    push();
    const FetchResult last = fetch_all();
    ASSERT_EQ(last.status, Status::ok) << client->last_error().message();
    ASSERT_EQ(client->state(), OtaState::fetched);
    EXPECT_EQ(open_offsets(), (std::vector<std::uint64_t>{0, 3000}));
    EXPECT_EQ(source.opens()[1].url, kUrl);
    EXPECT_EQ(returned, kBody.size());  // every byte handed out exactly once
    EXPECT_EQ(sink.begins, 1U);         // the partial image was kept, not begun again
    EXPECT_EQ(sink.out_of_order_writes, 0U);
    EXPECT_TRUE(verify());  // the digest ran on across the two attempts
    EXPECT_EQ(sink.data(), kBody);
    EXPECT_TRUE(failure_descs().empty());
    EXPECT_EQ(steps().back(), 100);
}

TEST_F(ReliabilityTest, OkToARangeRequestRestartsFromZero) {
    make_client();
    source.set_script({cut_at(4000), full_200()});
    push();
    ASSERT_EQ(fetch_all().status, Status::ok) << client->last_error().message();
    EXPECT_EQ(open_offsets(), (std::vector<std::uint64_t>{0, 4000}));
    EXPECT_EQ(sink.begins, 2U);  // the sink was begun again: nothing appended to the old bytes
    EXPECT_EQ(client->fetched_size(), kBody.size());
    EXPECT_EQ(returned, 4000U + kBody.size());
    EXPECT_TRUE(verify());  // a fresh digest over the second body only
    EXPECT_EQ(sink.data(), kBody);
}

// issue 10: after a server ignored Range and the body started again at byte 0, the progress the
// cloud sees does not go backwards.
TEST_F(ReliabilityTest, ProgressNeverGoesBackwardsWhenTheServerIgnoresRange) {
    ClientOptions o = options();
    o.auto_progress = true;
    o.progress.min_points = 1;
    o.progress.min_interval = 0ms;
    make_client(o);
    source.set_script({cut_at(6000), full_200()});
    push();
    ASSERT_EQ(fetch_all().status, Status::ok) << client->last_error().message();
    EXPECT_EQ(open_offsets(), (std::vector<std::uint64_t>{0, 6000}));
    const std::vector<int> s = steps();
    ASSERT_FALSE(s.empty());
    EXPECT_EQ(s.back(), 100);
    EXPECT_TRUE(std::is_sorted(s.begin(), s.end())) << ::testing::PrintToString(s);
    EXPECT_TRUE(verify());
}

TEST_F(ReliabilityTest, OkToARangeRequestWithoutASinkSkipsWhatTheApplicationHas) {
    // The application stores what fetch_yield returns (the C API's way): a restart would make it
    // append the first 4000 bytes twice, so they are dropped from the new body instead.
    client = std::make_unique<OtaClient>(channel, source, options(), clock);
    ASSERT_TRUE(client->init().ok());
    source.set_script({cut_at(4000), full_200(kBody, 1500)});
    push();
    std::vector<std::uint8_t> stored;
    std::vector<std::uint8_t> buf(1000);
    for (int i = 0; i < 1000 && client->is_fetching(); ++i) {
        const FetchResult r = client->fetch_yield(buf.data(), buf.size(), 10ms);
        ASSERT_EQ(r.status, Status::ok) << client->last_error().message();
        stored.insert(stored.end(), buf.begin(),
                      buf.begin() + static_cast<std::ptrdiff_t>(r.bytes));
        clock.advance(100ms);
    }
    EXPECT_EQ(open_offsets(), (std::vector<std::uint64_t>{0, 4000}));
    EXPECT_EQ(stored, kBody);  // nothing handed out twice, nothing missing
    EXPECT_TRUE(verify());     // the running digest went on across both bodies
}

TEST_F(ReliabilityTest, WrongContentRangeIsAHardFailure) {
    for (const char* range : {"bytes 2000-9999/10000", "bytes 3000-9999/20000", "bytes 3000-9999/*",
                              "bytes 3000-8999/10000"}) {
        SCOPED_TRACE(range);
        broker.clear_published();
        source = ScriptedSource();
        source.set_clock(&clock);
        sink = MemorySink(1U << 16);
        make_client();
        ScriptedResponse bad = full_200();
        bad.status = 206;
        bad.content_range = range;
        bad.content_length.reset();
        source.set_script({cut_at(3000), bad, ranged()});
        push();
        const FetchResult last = fetch_all();
        EXPECT_EQ(last.status, Status::fetch_failed);
        EXPECT_EQ(client->state(), OtaState::fetched);  // a failure ends in FETCHED
        EXPECT_EQ(source.opens().size(), 2U);           // not retried
        const auto f = failure_descs();
        ASSERT_EQ(f.size(), 1U);
        EXPECT_EQ(f[0].rfind("-2 ", 0), 0U) << f[0];
        EXPECT_NE(f[0].find("Content-Range"), std::string::npos);
        EXPECT_EQ(sink.phase(), MemorySink::Phase::aborted);
        client.reset();
    }
}

TEST_F(ReliabilityTest, Http416IsAHardFailure) {
    make_client();
    source.set_script({cut_at(3000), status_only(416), ranged()});
    push();
    EXPECT_EQ(fetch_all().status, Status::fetch_failed);
    EXPECT_EQ(source.opens().size(), 2U);
    const auto f = failure_descs();
    ASSERT_EQ(f.size(), 1U);
    EXPECT_NE(f[0].find("-2 "), std::string::npos);
    EXPECT_NE(f[0].find("416"), std::string::npos);
}

TEST_F(ReliabilityTest, ContentLengthDisagreeingWithTheRestIsAHardFailure) {
    make_client();
    ScriptedResponse r = ranged();
    r.range_from_offset = false;
    r.status = 206;
    r.honor_offset = true;
    r.content_range = "bytes 3000-9999/10000";
    r.content_length = 9000;  // should be 7000
    source.set_script({cut_at(3000), r});
    push();
    EXPECT_EQ(fetch_all().status, Status::size_mismatch);
    EXPECT_EQ(source.opens().size(), 2U);
    ASSERT_EQ(failure_descs().size(), 1U);
}

TEST_F(ReliabilityTest, ShortBodyIsResumed) {
    make_client();
    ScriptedResponse short_body = ranged();
    short_body.end_after = 6000;
    short_body.content_length.reset();
    source.set_script({short_body, ranged()});
    push();
    ASSERT_EQ(fetch_all().status, Status::ok) << client->last_error().message();
    EXPECT_EQ(open_offsets(), (std::vector<std::uint64_t>{0, 6000}));
    EXPECT_TRUE(verify());
}

TEST_F(ReliabilityTest, LongerBodyIsNotRetried) {
    make_client();
    ScriptedResponse r = full_200();
    r.content_length.reset();
    r.extra_bytes = 10;
    source.set_response(r);
    push();
    EXPECT_EQ(fetch_all().status, Status::size_mismatch);
    EXPECT_EQ(source.opens().size(), 1U);
    EXPECT_EQ(failure_descs().size(), 1U);
}

// ---- retries and backoff --------------------------------------------------------------------

TEST_F(ReliabilityTest, ServerErrorsThenSuccess) {
    make_client();
    source.set_script({status_only(503), status_only(500), status_only(408), ranged()});
    push();
    ASSERT_EQ(fetch_all().status, Status::ok) << client->last_error().message();
    EXPECT_EQ(open_offsets(), (std::vector<std::uint64_t>{0, 0, 0, 0}));
    EXPECT_EQ(open_gaps(), (std::vector<long long>{1000, 2000, 4000}));
    EXPECT_TRUE(verify());
    EXPECT_TRUE(failure_descs().empty());
    EXPECT_EQ(sink.writes * 1000U, kBody.size());  // no error page was ever stored
}

TEST_F(ReliabilityTest, RetryAfterIsHonoured) {
    make_client();
    source.set_script({status_only(429, 5s), ranged()});
    push();
    std::vector<std::uint8_t> buf(1000);
    ASSERT_EQ(client->fetch_yield(buf.data(), buf.size(), 10ms).status, Status::ok);
    ASSERT_EQ(source.opens().size(), 1U);
    for (int i = 0; i < 49; ++i) {  // 4.9 s: still waiting
        clock.advance(100ms);
        ASSERT_EQ(client->fetch_yield(buf.data(), buf.size(), 10ms).status, Status::ok);
    }
    EXPECT_EQ(source.opens().size(), 1U) << "reopened before Retry-After";
    clock.advance(100ms);
    ASSERT_EQ(client->fetch_yield(buf.data(), buf.size(), 10ms).status, Status::ok);
    EXPECT_EQ(source.opens().size(), 2U);
    ASSERT_EQ(fetch_all().status, Status::ok);
    EXPECT_TRUE(verify());
}

TEST_F(ReliabilityTest, RetryAfterIsCappedAtMaxBackoff) {
    ClientOptions o = options();
    o.retry.max_backoff = 10s;
    make_client(o);
    source.set_script({status_only(503, std::chrono::seconds(3600)), ranged()});
    push();
    ASSERT_EQ(fetch_all(100ms).status, Status::ok);
    ASSERT_EQ(open_gaps().size(), 1U);
    EXPECT_GE(open_gaps()[0], 10000);
    EXPECT_LE(open_gaps()[0], 10100);
}

TEST_F(ReliabilityTest, ForbiddenFailsAtOnceWithOneReport) {
    make_client();
    source.set_response(status_only(403));
    push();
    const FetchResult last = fetch_all();
    EXPECT_EQ(last.status, Status::fetch_failed);
    EXPECT_EQ(source.opens().size(), 1U);  // no retry storm
    const auto f = failure_descs();
    ASSERT_EQ(f.size(), 1U);
    EXPECT_NE(f[0].find("-2 "), std::string::npos);
    EXPECT_NE(f[0].find("HTTP 403"), std::string::npos);
    EXPECT_EQ(client->state(), OtaState::fetched);  // a failure ends in FETCHED
    EXPECT_EQ(sink.phase(), MemorySink::Phase::aborted);
}

// A source's fetch_refused (a certificate that cannot verify, a refused redirect, an oversized
// header) ends the download where it happens, even after bytes came: no backoff, no new attempt.
TEST_F(ReliabilityTest, RefusedTransferFailsAtOnceWithTheReason) {
    make_client();
    source.set_script({cut_at(3000, Status::fetch_refused), ranged()});
    push();
    const FetchResult last = fetch_all();
    EXPECT_EQ(last.status, Status::fetch_refused);
    EXPECT_EQ(client->last_error().status, Status::fetch_refused);
    EXPECT_EQ(open_offsets(), (std::vector<std::uint64_t>{0}));
    const auto f = failure_descs();
    ASSERT_EQ(f.size(), 1U);
    EXPECT_NE(f[0].find("-2 "), std::string::npos) << f[0];
    EXPECT_NE(f[0].find("scripted transfer failure: download refused"), std::string::npos) << f[0];
    EXPECT_EQ(client->state(), OtaState::fetched);  // a failure ends in FETCHED
    EXPECT_EQ(sink.phase(), MemorySink::Phase::aborted);
    clock.advance(10min);  // far past any backoff: still no second attempt
    std::vector<std::uint8_t> buf(100);
    (void)client->fetch_yield(buf.data(), buf.size(), 0ms);
    EXPECT_EQ(source.opens().size(), 1U);
}

TEST_F(ReliabilityTest, OpenRefusingTheUrlFailsAtOnce) {
    make_client();
    ScriptedResponse r = ranged();
    r.open_error = Error{Status::invalid_argument, "unsupported URL"};
    source.set_response(r);
    push();
    EXPECT_EQ(fetch_all().status, Status::fetch_failed);
    EXPECT_EQ(source.opens().size(), 1U);
}

TEST_F(ReliabilityTest, TransientOpenFailureIsRetried) {
    make_client();
    ScriptedResponse refused = ranged();
    refused.open_error = Error{Status::fetch_failed, "connection refused"};
    source.set_script({refused, ranged()});
    push();
    ASSERT_EQ(fetch_all().status, Status::ok) << client->last_error().message();
    EXPECT_EQ(source.opens().size(), 2U);
    EXPECT_TRUE(verify());
}

TEST_F(ReliabilityTest, TimeoutsAndStallsAreRetried) {
    make_client();
    ScriptedResponse stalls = ranged();
    stalls.stall_after = 6000;
    ScriptedResponse silent = ranged();
    silent.idle_reads = 1000000;  // headers never come
    source.set_script({cut_at(2000, Status::timeout), stalls, silent, ranged()});
    push();
    ASSERT_EQ(fetch_all(1s).status, Status::ok) << client->last_error().message();
    EXPECT_EQ(open_offsets(), (std::vector<std::uint64_t>{0, 2000, 6000, 6000}));
    EXPECT_TRUE(verify());
    EXPECT_TRUE(failure_descs().empty());
}

TEST_F(ReliabilityTest, StallFloorAndWindowAreConfigurable) {
    ClientOptions o = options();
    o.retry.stall_floor_bytes_per_s = 200;  // 2000 bytes per window
    o.retry.stall_window = 10s;
    make_client(o);
    ScriptedResponse slow = ranged();
    slow.stall_after = 1000;
    source.set_script({slow, ranged()});
    push();
    std::vector<std::uint8_t> buf(1000);
    ASSERT_EQ(client->fetch_yield(buf.data(), buf.size(), 10ms).bytes, 1000U);
    for (int i = 0; i < 9; ++i) {  // 1 s per call: 9 s with nothing new
        clock.advance(1s);
        ASSERT_EQ(client->fetch_yield(buf.data(), buf.size(), 10ms).status, Status::ok);
    }
    EXPECT_EQ(source.opens().size(), 1U);
    clock.advance(1s);  // 10 s with 1000 bytes: a stall
    ASSERT_EQ(client->fetch_yield(buf.data(), buf.size(), 10ms).status, Status::ok);
    clock.advance(1s);  // the backoff
    ASSERT_EQ(client->fetch_yield(buf.data(), buf.size(), 10ms).bytes, 1000U);
    ASSERT_EQ(source.opens().size(), 2U);
    EXPECT_EQ(source.opens()[1].offset, 1000U);
}

TEST_F(ReliabilityTest, TimeAwayFromFetchYieldIsNotAStall) {
    make_client();
    source.set_response(ranged());
    push();
    std::vector<std::uint8_t> buf(1000);
    ASSERT_EQ(client->fetch_yield(buf.data(), buf.size(), 10ms).bytes, 1000U);
    clock.advance(5min);  // the application was busy elsewhere
    ASSERT_EQ(client->fetch_yield(buf.data(), buf.size(), 10ms).bytes, 1000U);
    EXPECT_EQ(source.opens().size(), 1U);
}

TEST_F(ReliabilityTest, AttemptCapEndsWithMinus2) {
    ClientOptions o = options();
    o.retry.max_attempts = 3;
    make_client(o);
    source.set_response(status_only(503));
    push();
    const FetchResult last = fetch_all();
    EXPECT_EQ(last.status, Status::fetch_failed);
    EXPECT_EQ(source.opens().size(), 3U);
    const auto f = failure_descs();
    ASSERT_EQ(f.size(), 1U);
    EXPECT_NE(f[0].find("-2 "), std::string::npos);
    EXPECT_NE(f[0].find("HTTP 503"), std::string::npos);
    EXPECT_NE(client->last_error().detail.find("gave up after 3 attempts"), std::string::npos);
    EXPECT_EQ(client->state(), OtaState::fetched);  // a failure ends in FETCHED
}

TEST_F(ReliabilityTest, ProgressResetsTheAttemptCount) {
    ClientOptions o = options();
    o.retry.max_attempts = 2;
    make_client(o);
    // Four cuts, each after new bytes: more failures than max_attempts, yet never two in a row
    // without progress.
    source.set_script({cut_at(2000), cut_at(4000), cut_at(6000), cut_at(8000), ranged()});
    push();
    ASSERT_EQ(fetch_all().status, Status::ok) << client->last_error().message();
    EXPECT_EQ(open_offsets(), (std::vector<std::uint64_t>{0, 2000, 4000, 6000, 8000}));
    // Each attempt reads 2000 bytes in two calls (100 ms apart) and fails on the third.
    EXPECT_EQ(open_gaps(), (std::vector<long long>{1200, 1200, 1200, 1200}))
        << "progress resets the backoff to initial_backoff";
    EXPECT_TRUE(verify());
}

TEST_F(ReliabilityTest, TotalDeadlineEndsWithMinus2) {
    ClientOptions o = options();
    o.retry.max_attempts = 100;
    o.retry.total_deadline = 10s;
    make_client(o);
    source.set_response(status_only(502));
    push();
    EXPECT_EQ(fetch_all(100ms).status, Status::fetch_failed);
    // Attempts at 0, 1, 3 and 7 s; the next would start at 15 s, past the deadline.
    EXPECT_EQ(open_gaps(), (std::vector<long long>{1000, 2000, 4000}));
    ASSERT_EQ(failure_descs().size(), 1U);
    EXPECT_NE(client->last_error().detail.find("total deadline"), std::string::npos);
}

TEST_F(ReliabilityTest, BackoffGrowsAndIsCapped) {
    ClientOptions o = options();
    o.retry.max_attempts = 9;
    o.retry.max_backoff = 20s;
    make_client(o);
    source.set_response(status_only(500));
    push();
    EXPECT_EQ(fetch_all(100ms).status, Status::fetch_failed);
    EXPECT_EQ(open_gaps(),
              (std::vector<long long>{1000, 2000, 4000, 8000, 16000, 20000, 20000, 20000}));
}

TEST_F(ReliabilityTest, JitterShortensDelaysWithinItsFraction) {
    ClientOptions o = options();
    o.retry.max_attempts = 9;
    o.retry.max_backoff = 20s;
    o.retry.jitter = 0.2;
    o.retry.jitter_seed = 12345;
    make_client(o);
    source.set_response(status_only(500));
    push();
    EXPECT_EQ(fetch_all(10ms).status, Status::fetch_failed);
    const std::vector<long long> base{1000, 2000, 4000, 8000, 16000, 20000, 20000, 20000};
    const auto gaps = open_gaps();
    ASSERT_EQ(gaps.size(), base.size());
    bool any_shortened = false;
    for (std::size_t i = 0; i < gaps.size(); ++i) {
        // [0.8 * base, base], measured in 10 ms steps.
        EXPECT_GE(gaps[i], base[i] * 8 / 10) << i;
        EXPECT_LE(gaps[i], base[i] + 10) << i;
        if (gaps[i] < base[i] - 20) any_shortened = true;
    }
    EXPECT_TRUE(any_shortened);
}

TEST(Backoff, DelayArithmetic) {
    RetryPolicy p;
    p.initial_backoff = 1000ms;
    p.max_backoff = 60s;
    p.multiplier = 2.0;
    p.jitter = 0.2;
    using ota::detail::backoff_delay;
    EXPECT_EQ(backoff_delay(p, 1, 0.0, std::nullopt), 1000ms);
    EXPECT_EQ(backoff_delay(p, 2, 0.0, std::nullopt), 2000ms);
    EXPECT_EQ(backoff_delay(p, 6, 0.0, std::nullopt), 32000ms);
    EXPECT_EQ(backoff_delay(p, 7, 0.0, std::nullopt), 60000ms);
    EXPECT_EQ(backoff_delay(p, 1000000, 0.0, std::nullopt), 60000ms);  // no overflow
    EXPECT_EQ(backoff_delay(p, 1, 0.5, std::nullopt), 900ms);
    EXPECT_EQ(backoff_delay(p, 7, 0.999999, std::nullopt), 48000ms);
    EXPECT_EQ(backoff_delay(p, 1, 0.0, std::chrono::seconds(5)), 5000ms);
    EXPECT_EQ(backoff_delay(p, 7, 0.0, std::chrono::seconds(1)), 60000ms);  // never shortened
    EXPECT_EQ(backoff_delay(p, 1, 0.0, std::chrono::seconds(1LL << 50)), 60000ms);
    p.multiplier = 1.0;
    EXPECT_EQ(backoff_delay(p, 50, 0.0, std::nullopt), 1000ms);
}

TEST(Backoff, JitterRandomIsDeterministicPerSeedAndInRange) {
    ota::detail::JitterRandom a(7);
    ota::detail::JitterRandom b(7);
    ota::detail::JitterRandom c(8);
    bool differs = false;
    for (int i = 0; i < 1000; ++i) {
        const double x = a.next_unit();
        EXPECT_EQ(x, b.next_unit());
        EXPECT_GE(x, 0.0);
        EXPECT_LT(x, 1.0);
        if (x != c.next_unit()) differs = true;
    }
    EXPECT_TRUE(differs);
}

TEST_F(ReliabilityTest, FetchYieldNeverBlocksLongerThanItsTimeoutWhileBackingOff) {
    ClientOptions o = options();
    o.retry.initial_backoff = 60s;
    make_client(o);
    source.set_response(status_only(503));
    push();
    std::vector<std::uint8_t> buf(1000);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) {
        const FetchResult r = client->fetch_yield(buf.data(), buf.size(), 20ms);
        EXPECT_EQ(r.status, Status::ok);
        EXPECT_EQ(r.bytes, 0U);
        clock.advance(20ms);
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_LT(elapsed, 2s);
    EXPECT_LE(channel.max_yield_timeout(), 20ms);  // the wait went to the channel, capped
    EXPECT_GT(channel.max_yield_timeout(), 0ms);
    EXPECT_EQ(source.opens().size(), 1U);
    EXPECT_EQ(client->state(), OtaState::fetching);
}

TEST_F(ReliabilityTest, InvalidRetryAndResumeOptionsAreRejected) {
    struct Case {
        const char* what;
        void (*edit)(ClientOptions&);
    };
    const Case cases[] = {
        {"max_attempts 0", [](ClientOptions& o) { o.retry.max_attempts = 0; }},
        {"max_attempts huge", [](ClientOptions& o) { o.retry.max_attempts = 10001; }},
        {"deadline 0", [](ClientOptions& o) { o.retry.total_deadline = 0ms; }},
        {"initial > max", [](ClientOptions& o) { o.retry.initial_backoff = 61s; }},
        {"max backoff 2 h", [](ClientOptions& o) { o.retry.max_backoff = std::chrono::hours(2); }},
        {"multiplier 0.5", [](ClientOptions& o) { o.retry.multiplier = 0.5; }},
        {"jitter 1", [](ClientOptions& o) { o.retry.jitter = 1.0; }},
        {"jitter negative", [](ClientOptions& o) { o.retry.jitter = -0.1; }},
        {"stall window 0", [](ClientOptions& o) { o.retry.stall_window = 0ms; }},
        {"record bytes 0", [](ClientOptions& o) { o.resume.record_every_bytes = 0; }},
        {"record interval", [](ClientOptions& o) { o.resume.record_min_interval = -1ms; }},
    };
    for (const Case& c : cases) {
        ClientOptions o = options();
        c.edit(o);
        OtaClient bad(channel, source, o, clock);
        EXPECT_EQ(bad.init().status, Status::invalid_argument) << c.what;
    }
}

// ---- broker outages -------------------------------------------------------------------------

TEST_F(ReliabilityTest, BrokerLossDoesNotStopTheDownloadAndTheFinal100ComesOnce) {
    make_client();
    ASSERT_TRUE(client->report_version("1.0.0").ok());
    source.set_response(ranged());
    push();
    std::vector<std::uint8_t> buf(1000);
    ASSERT_EQ(client->fetch_yield(buf.data(), buf.size(), 10ms).bytes, 1000U);
    const auto before = steps();
    channel.disconnect();
    clock.advance(1s);
    ASSERT_EQ(fetch_all(1s).status, Status::ok);
    EXPECT_EQ(client->state(), OtaState::fetched);  // completed while the broker was away
    EXPECT_EQ(steps(), before) << "nothing can be published while disconnected";
    EXPECT_TRUE(verify());
    EXPECT_EQ(client->queued_reports(), 1U);

    channel.reconnect();
    ASSERT_TRUE(client->poll(0ms).ok());
    EXPECT_EQ(client->queued_reports(), 0U);
    auto after = steps();
    ASSERT_EQ(after.size(), before.size() + 1);
    EXPECT_EQ(after.back(), 100);
    ASSERT_TRUE(client->poll(0ms).ok());
    std::vector<std::uint8_t> more(10);
    (void)client->fetch_yield(more.data(), more.size(), 0ms);
    EXPECT_EQ(steps().size(), after.size()) << "sent exactly once";
}

TEST_F(ReliabilityTest, FailureDuringBrokerLossIsReportedOnceAfterReconnect) {
    make_client();
    source.set_response(status_only(403));
    push();
    channel.disconnect();
    EXPECT_EQ(fetch_all().status, Status::fetch_failed);
    EXPECT_TRUE(failure_descs().empty());
    // The seed's loop reports -2 itself after a failed fetch: still one -2 in the end.
    EXPECT_TRUE(client->report_progress(-2, "app").ok());
    channel.reconnect();
    ASSERT_TRUE(client->poll(0ms).ok());
    ASSERT_TRUE(client->poll(0ms).ok());
    const auto f = failure_descs();
    ASSERT_EQ(f.size(), 1U);
    EXPECT_NE(f[0].find("HTTP 403"), std::string::npos);
}

TEST_F(ReliabilityTest, QueuedReportsGoOutOnTheNextFetchYieldWhenConnected) {
    make_client();
    source.set_response(ranged());
    push();
    channel.disconnect();
    ASSERT_EQ(fetch_all().status, Status::ok);
    ASSERT_EQ(client->state(), OtaState::fetched);
    // Reconnected, but the on_connected event has not been delivered yet: the next call that
    // finds the channel connected publishes anyway.
    channel.reconnect();
    ASSERT_TRUE(client->poll(0ms).ok());
    const auto sent = steps();
    EXPECT_EQ(sent.back(), 100);
    EXPECT_EQ(std::count(sent.begin(), sent.end(), 100), 1);
}

TEST_F(ReliabilityTest, ProgressPublishFailuresNeverFailTheDownload) {
    make_client();
    source.set_response(ranged());
    push();
    channel.set_publish_failure(Status::internal);
    ASSERT_EQ(fetch_all().status, Status::ok);
    EXPECT_EQ(client->state(), OtaState::fetched);
    EXPECT_TRUE(verify());
}

TEST_F(ReliabilityTest, BrokerLossDuringBackoffStillRetries) {
    make_client();
    source.set_script({cut_at(5000), ranged()});
    push();
    std::vector<std::uint8_t> buf(1000);
    for (int i = 0; i < 6; ++i) (void)client->fetch_yield(buf.data(), buf.size(), 10ms);
    channel.disconnect();
    ASSERT_EQ(fetch_all().status, Status::ok);
    EXPECT_EQ(open_offsets(), (std::vector<std::uint64_t>{0, 5000}));
    channel.reconnect();
    ASSERT_TRUE(client->poll(0ms).ok());
    EXPECT_EQ(steps().back(), 100);
}

// ---- crash resume ---------------------------------------------------------------------------

ClientOptions frequent_records() {
    ClientOptions o = options();
    o.resume.record_every_bytes = 2000;
    o.resume.record_min_interval = 0ms;
    return o;
}

/// Runs job `p` until `bytes` were fetched, then returns what a power cut leaves of the sink.
MemorySink crashed_after(std::size_t bytes, const Push& p = Push{},
                         ClientOptions o = frequent_records()) {
    FakeBroker broker;
    FakeChannel channel(broker, "dev");
    ScriptedSource source(ranged(*p.body));
    ManualClock clock;
    MemorySink sink(1U << 16);
    OtaClient client(channel, source, std::move(o), clock);
    EXPECT_TRUE(client.init().ok());
    EXPECT_TRUE(client.set_sink(&sink).ok());
    broker.publish(kUpgradeTopic, to_json(p));
    EXPECT_TRUE(client.poll(0ms).ok());
    std::vector<std::uint8_t> buf(1000);
    while (client.fetched_size() < bytes) {
        EXPECT_EQ(client.fetch_yield(buf.data(), buf.size(), 10ms).status, Status::ok);
        clock.advance(100ms);
    }
    MemorySink survivor = sink;  // the client's destructor cleans up `sink`, not this copy
    survivor.power_cycle();
    return survivor;
}

TEST_F(ReliabilityTest, SameJobResumesFromTheRecordedOffsetAfterACrash) {
    MemorySink survivor = crashed_after(5000);
    // Records at 2000 and 4000 bytes (each after a flush); bytes 4000..4999 were not durable.
    const std::string record(survivor.record().begin(), survivor.record().end());
    EXPECT_NE(record.find("bytes:4000\n"), std::string::npos) << record;
    const std::size_t reads_before = survivor.reads;
    make_client(frequent_records(), &survivor);
    source.set_response(ranged());
    Push again;
    again.url = kResignedUrl;  // re-signed: only the query string differs
    push(again);
    ASSERT_EQ(fetch_all().status, Status::ok) << client->last_error().message();
    EXPECT_EQ(open_offsets(), (std::vector<std::uint64_t>{4000}));
    EXPECT_EQ(survivor.resumes, 1U);
    EXPECT_EQ(survivor.begins, 1U);                // only the first run's begin()
    EXPECT_EQ(survivor.reads - reads_before, 4U);  // 4000 bytes re-hashed in 1000-byte pieces
    EXPECT_EQ(returned, 6000U);
    EXPECT_TRUE(verify());
    EXPECT_EQ(survivor.data(), kBody);
    EXPECT_EQ(survivor.phase(), MemorySink::Phase::committed);
    EXPECT_TRUE(survivor.record().empty());  // removed after the commit
}

// issue 10: destroying the client mid-download is a stop. The sink is suspended (not aborted)
// after a record for every byte written so far (not only the last periodic one), nothing is
// published, and the next client resumes the same job there with a Range request.
TEST_F(ReliabilityTest, DestroyingTheClientMidDownloadIsAStopAndTheNextRunResumes) {
    ClientOptions rare = options();
    rare.resume.record_every_bytes = 1U << 20;  // no periodic record within this image
    make_client(rare);
    source.set_response(ranged());
    push();
    std::vector<std::uint8_t> buf(1000);
    while (client->fetched_size() < 3000) {
        ASSERT_EQ(client->fetch_yield(buf.data(), buf.size(), 10ms).status, Status::ok);
        clock.advance(100ms);
    }
    EXPECT_TRUE(sink.record().empty()) << "precondition: no periodic record yet";
    const std::size_t published_before = broker.published().size();
    client.reset();
    EXPECT_EQ(broker.published().size(), published_before) << "a stop reports nothing";
    EXPECT_EQ(sink.aborts, 0U);
    EXPECT_EQ(sink.suspends, 1U);
    const std::string record(sink.record().begin(), sink.record().end());
    EXPECT_NE(record.find("bytes:3000\n"), std::string::npos) << record;
    EXPECT_EQ(sink.flushed(), 3000U);

    make_client(rare);
    push();
    ASSERT_EQ(fetch_all().status, Status::ok) << client->last_error().message();
    EXPECT_EQ(open_offsets(), (std::vector<std::uint64_t>{0, 3000}));
    EXPECT_EQ(sink.resumes, 1U);
    EXPECT_TRUE(verify());
    EXPECT_EQ(sink.data(), kBody);
    EXPECT_TRUE(failure_descs().empty());
}

// A definitive failure still aborts the sink and removes the record (only a stop keeps them).
TEST_F(ReliabilityTest, DefinitiveFailureStillAbortsTheSink) {
    make_client(frequent_records());
    source.set_script({cut_at(5000), status_only(403)});
    push();
    ASSERT_NE(fetch_all().status, Status::ok);
    EXPECT_EQ(sink.suspends, 0U);
    EXPECT_GE(sink.aborts, 1U);
    EXPECT_TRUE(sink.record().empty());
    EXPECT_EQ(failure_descs().size(), 1U);
}

TEST_F(ReliabilityTest, DifferentJobDiscardsThePartialImage) {
    MemorySink survivor = crashed_after(5000);
    make_client(frequent_records(), &survivor);
    source.set_response(ranged(kOtherBody));
    Push other;
    other.version = "3.0.0";
    other.body = &kOtherBody;
    push(other);
    ASSERT_EQ(fetch_all().status, Status::ok) << client->last_error().message();
    EXPECT_EQ(open_offsets(), (std::vector<std::uint64_t>{0}));
    EXPECT_EQ(survivor.resumes, 0U);
    EXPECT_EQ(survivor.begins, 2U);
    EXPECT_TRUE(verify());
    EXPECT_EQ(survivor.data(), kOtherBody);
}

TEST_F(ReliabilityTest, DamagedRecordsAreDiscarded) {
    const MemorySink original = crashed_after(5000);
    std::vector<std::vector<std::uint8_t>> damaged;
    damaged.push_back({'g', 'a', 'r', 'b', 'a', 'g', 'e'});
    auto flipped = original.record();
    flipped[flipped.size() / 2] ^= 0x01;  // the check line no longer matches
    damaged.push_back(flipped);
    auto torn = original.record();
    torn.resize(torn.size() - 5);
    damaged.push_back(torn);
    for (const auto& record : damaged) {
        SCOPED_TRACE(std::string(record.begin(), record.end()));
        MemorySink survivor = original;
        survivor.set_record(record);
        source = ScriptedSource(ranged());
        make_client(frequent_records(), &survivor);
        push();
        ASSERT_EQ(fetch_all().status, Status::ok);
        EXPECT_EQ(open_offsets(), (std::vector<std::uint64_t>{0}));
        EXPECT_EQ(survivor.resumes, 0U);
        EXPECT_TRUE(verify());
        client.reset();
    }
}

TEST_F(ReliabilityTest, RecordClaimingMoreThanThePartialHoldsIsDiscarded) {
    MemorySink survivor = crashed_after(5000);
    ota::UpgradeJob job;
    job.version = "2.0.0";
    job.size = kBody.size();
    job.url = kUrl;
    job.digest = {ota::DigestAlgorithm::md5, md5_of(kBody)};
    std::string record = ota::detail::resume_identity(job);
    const std::size_t identity_len = record.size();
    ota::detail::finish_resume_record(record, identity_len, 9000);  // only 5000 are stored
    survivor.set_record(std::vector<std::uint8_t>(record.begin(), record.end()));
    make_client(frequent_records(), &survivor);
    source.set_response(ranged());
    push();
    ASSERT_EQ(fetch_all().status, Status::ok);
    EXPECT_EQ(open_offsets(), (std::vector<std::uint64_t>{0}));
    EXPECT_EQ(survivor.resumes, 1U);  // tried, found short, dropped
    EXPECT_TRUE(verify());
    EXPECT_EQ(survivor.data(), kBody);
}

TEST_F(ReliabilityTest, UnreadablePartialImageRestartsFromZero) {
    MemorySink survivor = crashed_after(5000);
    survivor.read_status = Status::storage_failed;
    make_client(frequent_records(), &survivor);
    source.set_response(ranged());
    push();
    ASSERT_EQ(fetch_all().status, Status::ok);
    EXPECT_EQ(open_offsets(), (std::vector<std::uint64_t>{0}));
    EXPECT_TRUE(verify());
}

TEST_F(ReliabilityTest, CorruptedResumedBytesAreCaughtByTheFinalDigest) {
    MemorySink damaged = crashed_after(5000);
    // Damage inside the recorded (supposedly durable) part: the resume cannot notice, the final
    // digest check does, and nothing is committed.
    std::vector<std::uint8_t> one(1);
    std::uint64_t have = 0;
    ASSERT_EQ(damaged.resume(kBody.size(), have), Status::ok);
    one[0] = static_cast<std::uint8_t>(kBody[100] ^ 0xFF);
    ASSERT_EQ(damaged.write(100, one.data(), 1), Status::ok);
    damaged.power_cycle();
    make_client(frequent_records(), &damaged);
    source.set_response(ranged());
    push();
    ASSERT_EQ(fetch_all().status, Status::ok);
    bool valid = true;
    ASSERT_TRUE(client->check_firmware(valid).ok());
    EXPECT_FALSE(valid);
    EXPECT_NE(damaged.phase(), MemorySink::Phase::committed);
    EXPECT_TRUE(damaged.record().empty());
    ASSERT_EQ(failure_descs().size(), 1U);
    EXPECT_EQ(failure_descs()[0].rfind("-3 ", 0), 0U);
}

TEST_F(ReliabilityTest, RehashIsSpreadOverCallsWithinTheTimeout) {
    /// A clock that moves 1 ms every time it is read.
    class TickingClock final : public ota::Clock {
      public:
        time_point now() const noexcept override {
            now_ += 1ms;
            return now_;
        }

      private:
        mutable time_point now_{time_point{} + std::chrono::hours(1)};
    };
    TickingClock ticking;
    MemorySink survivor = crashed_after(9000);
    ASSERT_NE(std::string(survivor.record().begin(), survivor.record().end()).find("bytes:8000\n"),
              std::string::npos);
    OtaClient c(channel, source, frequent_records(), ticking);
    ASSERT_TRUE(c.init().ok());
    ASSERT_TRUE(c.set_sink(&survivor).ok());
    source.set_response(ranged());
    broker.publish(kUpgradeTopic, to_json(Push{}));
    ASSERT_TRUE(c.poll(0ms).ok());
    std::vector<std::uint8_t> buf(1000);
    int calls_without_open = 0;
    while (source.opens().empty() && calls_without_open < 100) {
        const FetchResult r = c.fetch_yield(buf.data(), buf.size(), 3ms);
        ASSERT_EQ(r.status, Status::ok);
        EXPECT_EQ(r.bytes, 0U);
        EXPECT_EQ(c.fetched_size(), 8000U);  // the stored bytes count as fetched meanwhile
        ++calls_without_open;
    }
    EXPECT_GT(calls_without_open, 2);  // 8 pieces at ~2 per call
    ASSERT_EQ(source.opens().size(), 1U);
    EXPECT_EQ(source.opens()[0].offset, 8000U);
}

TEST_F(ReliabilityTest, RecordsAreRateLimitedAndFollowAFlush) {
    ClientOptions o = options();
    o.resume.record_every_bytes = 3000;
    o.resume.record_min_interval = 1s;
    make_client(o);
    source.set_response(ranged());
    push();
    std::vector<std::uint8_t> buf(1000);
    std::size_t saves_seen = 0;
    std::uint64_t last_saved_at_bytes = 0;
    while (client->is_fetching()) {
        ASSERT_EQ(client->fetch_yield(buf.data(), buf.size(), 10ms).status, Status::ok);
        if (sink.record_saves != saves_seen) {
            saves_seen = sink.record_saves;
            // Saved right now: every byte it claims was flushed first.
            EXPECT_EQ(sink.flushed(), client->fetched_size());
            EXPECT_GE(client->fetched_size() - last_saved_at_bytes, 3000U);
            last_saved_at_bytes = client->fetched_size();
        }
        clock.advance(400ms);  // 1000 bytes per 400 ms: the time limit is the later one
    }
    // Saves at 4000 bytes (1.2 s) and 7000 (2.4 s); 3000 (0.8 s) was too early, and the last
    // chunk completes the image instead.
    EXPECT_EQ(sink.record_saves, 2U);
    EXPECT_TRUE(verify());
    EXPECT_TRUE(sink.record().empty());
}

TEST_F(ReliabilityTest, RecordIsSavedWhenATransientFailureInterruptsTheDownload) {
    make_client();  // default interval: 1 MiB / 2 s, never reached by a 10000-byte image
    source.set_script({cut_at(3000), ranged()});
    push();
    std::vector<std::uint8_t> buf(1000);
    for (int i = 0; i < 4; ++i) (void)client->fetch_yield(buf.data(), buf.size(), 10ms);
    EXPECT_EQ(sink.record_saves, 1U);
    EXPECT_EQ(sink.flushed(), 3000U);
    const std::string record(sink.record().begin(), sink.record().end());
    EXPECT_NE(record.find("bytes:3000\n"), std::string::npos) << record;
    EXPECT_EQ(record.find("SECRETSIGNATURE"), std::string::npos) << record;
    EXPECT_EQ(record.find("Expires"), std::string::npos) << record;
}

TEST_F(ReliabilityTest, RecordSaveFailureDoesNotFailTheDownloadButFlushFailureDoes) {
    {
        sink.save_status = Status::storage_failed;
        make_client(frequent_records());
        source.set_response(ranged());
        push();
        ASSERT_EQ(fetch_all().status, Status::ok);
        EXPECT_EQ(sink.record_saves, 1U);  // tried once, then off for this job
        EXPECT_TRUE(verify());
    }
    sink = MemorySink(1U << 16);
    sink.flush_status = Status::storage_failed;
    make_client(frequent_records());
    push();
    EXPECT_EQ(fetch_all().status, Status::storage_failed);
    const auto f = failure_descs();
    ASSERT_EQ(f.size(), 1U);
    EXPECT_EQ(f[0].rfind("-4 ", 0), 0U);
}

TEST_F(ReliabilityTest, RecordRemovedAfterAbortAndNotKeptWhenDisabled) {
    make_client(frequent_records());
    source.set_response(ranged());
    push();
    std::vector<std::uint8_t> buf(1000);
    for (int i = 0; i < 5; ++i) (void)client->fetch_yield(buf.data(), buf.size(), 10ms);
    EXPECT_FALSE(sink.record().empty());
    client->reset();
    EXPECT_TRUE(sink.record().empty());

    ClientOptions off = frequent_records();
    off.resume.enabled = false;
    sink = MemorySink(1U << 16);
    make_client(off);
    push();
    ASSERT_EQ(fetch_all().status, Status::ok);
    EXPECT_EQ(sink.record_saves, 0U);
    EXPECT_EQ(sink.record_loads, 0U);
}

TEST_F(ReliabilityTest, SinkWithoutResumeSupportStartsOver) {
    sink.resume_supported = false;
    make_client(frequent_records());
    source.set_script({cut_at(3000), ranged()});
    push();
    ASSERT_EQ(fetch_all().status, Status::ok);
    EXPECT_EQ(open_offsets(), (std::vector<std::uint64_t>{0, 3000}));  // in-run resume still works
    EXPECT_EQ(sink.record_saves, 0U);
    EXPECT_EQ(sink.resumes, 0U);
    EXPECT_TRUE(verify());
}

TEST(ResumeRecord, FormatRoundTripsAndRejectsOtherJobs) {
    ota::UpgradeJob job;
    job.version = "2.0.0\nbytes:1";  // a hostile version cannot forge a line
    job.size = 10000;
    job.url = "https://user:pw@ota.example.com/a/b.bin?Signature=S#frag";
    job.digest = {ota::DigestAlgorithm::sha256, std::string(64, 'A')};
    job.module = "mcu";
    std::string record = ota::detail::resume_identity(job);
    const std::string identity = record;
    EXPECT_EQ(record.find("Signature"), std::string::npos);
    EXPECT_EQ(record.find("pw"), std::string::npos);
    EXPECT_NE(record.find("https://ota.example.com/a/b.bin\n"), std::string::npos);
    EXPECT_NE(record.find(std::string(64, 'a')), std::string::npos);  // hex normalised
    record.reserve(record.size() + ota::detail::kResumeRecordTailMax);
    const auto cap = record.capacity();
    ota::detail::finish_resume_record(record, identity.size(), 1234567);
    EXPECT_EQ(record.capacity(), cap);
    EXPECT_EQ(ota::detail::parse_resume_record(record, identity), 1234567U);
    ota::detail::finish_resume_record(record, identity.size(), 42);
    EXPECT_EQ(ota::detail::parse_resume_record(record, identity), 42U);

    ota::UpgradeJob other = job;
    other.size = 10001;
    EXPECT_FALSE(ota::detail::parse_resume_record(record, ota::detail::resume_identity(other)));
    other = job;
    other.url = "https://ota.example.com/a/b.bin?Signature=NEW";
    EXPECT_TRUE(ota::detail::parse_resume_record(record, ota::detail::resume_identity(other)));
    EXPECT_FALSE(ota::detail::parse_resume_record("", identity));
    EXPECT_FALSE(ota::detail::parse_resume_record(identity, identity));
    EXPECT_FALSE(ota::detail::parse_resume_record(record + "x", identity));
}

// ---- refusals before downloading ------------------------------------------------------------

TEST_F(ReliabilityTest, ImageLargerThanTheSinkIsRefusedBeforeDownloading) {
    MemorySink small(1U << 16, 5000);
    make_client(options(), &small);
    source.set_response(ranged());
    push();
    std::vector<std::uint8_t> buf(1000);
    const FetchResult r = client->fetch_yield(buf.data(), buf.size(), 10ms);
    EXPECT_EQ(r.status, Status::storage_full);
    EXPECT_TRUE(source.opens().empty());
    EXPECT_EQ(small.begins, 0U);
    const auto f = failure_descs();
    ASSERT_EQ(f.size(), 1U);
    EXPECT_EQ(f[0].rfind("-4 ", 0), 0U);
    EXPECT_NE(f[0].find("does not fit"), std::string::npos);
}

TEST_F(ReliabilityTest, RetriesAndResumeNeverLogTheSignedQuery) {
    std::vector<std::string> logs;
    ota::set_log_level(ota::LogLevel::debug);
    ota::set_log_sink([&](ota::LogLevel, std::string_view m) { logs.emplace_back(m); });
    make_client(frequent_records());
    source.set_script({cut_at(3000), status_only(503), full_200()});
    push();
    const FetchResult last = fetch_all();
    ota::set_log_sink({});
    ota::set_log_level(ota::LogLevel::warning);
    ASSERT_EQ(last.status, Status::ok);
    bool saw_retry = false;
    for (const auto& l : logs) {
        EXPECT_EQ(l.find("SECRETSIGNATURE"), std::string::npos) << l;
        EXPECT_EQ(l.find("Expires"), std::string::npos) << l;
        if (l.find("retrying in") != std::string::npos) saw_retry = true;
    }
    EXPECT_TRUE(saw_retry);
}

}  // namespace
