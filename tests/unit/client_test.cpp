// OtaClient driven end to end through FakeBroker, ScriptedSource, MemorySink and ManualClock.
#include "ota/client.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

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
using ota::Status;
using ota::UpgradeJob;
using namespace ota::test::client_fixture;

// Digests of the pattern bodies, computed independently (Python hashlib).
constexpr const char* kMd5A = "7aa168c7ccb71034c84662c1f56456e1";  // pattern(10000, 31, 7)
constexpr const char* kSha256A = "470b2cd71bff57ce8be0be3fc23df273052c4bb10a1235fddb8f158d6f928546";
constexpr const char* kMd5B = "2819f531ec50dcc709a326cef042678f";  // pattern(3000, 13, 1)

const std::vector<std::uint8_t> kBodyA = pattern(10000, 31, 7);
const std::vector<std::uint8_t> kBodyB = pattern(3000, 13, 1);

/// The fields of an upgrade push; turned into the platform's JSON by to_json().
struct Push {
    std::string version = "2.0.0";
    std::uint64_t size = 10000;
    std::string url = kUrl;
    std::optional<std::string> md5 = std::string(kMd5A);
    std::optional<std::string> sign;
    std::optional<std::string> sign_method;
    std::optional<std::string> module;
};

json push_data(const Push& p) {
    json data = {{"size", p.size}, {"version", p.version}, {"url", p.url}};
    if (p.md5) data["md5"] = *p.md5;
    if (p.sign) data["sign"] = *p.sign;
    if (p.sign_method) data["signMethod"] = *p.sign_method;
    if (p.module) data["module"] = *p.module;
    return data;
}

std::string to_json(const Push& p) {
    return json{
        {"code", "1000"}, {"data", push_data(p)}, {"id", 1582865357795ULL}, {"message", "success"}}
        .dump();
}

ScriptedResponse ok_response(const std::vector<std::uint8_t>& body, std::size_t chunk = 4096) {
    ScriptedResponse r;
    r.status = 200;
    r.content_length = body.size();
    r.body = body;
    r.max_chunk = chunk;
    return r;
}

ClientOptions default_options(std::string dn = kDn) {
    ClientOptions o = device_options();
    o.device_name = std::move(dn);
    return o;
}

/// Options under which the first transient failure ends the job (retries are covered by
/// client_reliability_test.cpp).
ClientOptions no_retry_options() {
    ClientOptions o = default_options();
    o.retry.max_attempts = 1;
    return o;
}

struct FetchOutcome {
    std::vector<std::uint8_t> bytes;
    FetchResult last;
    int calls = 0;
};

class ClientTest : public ClientHarness {
  protected:
    void SetUp() override { source.set_response(ok_response(kBodyA)); }

    void make_client(ClientOptions o = default_options()) { create_client(std::move(o)); }

    void deliver_push(const std::string& payload, const std::string& topic = kUpgradeTopic) {
        broker.publish(topic, payload);
        ASSERT_TRUE(client->poll(0ms).ok());
    }

    void push(const Push& p = Push{}) { deliver_push(to_json(p)); }

    /// Calls fetch_yield until the download leaves PUSHED/FETCHING or fails (bounded).
    FetchOutcome fetch_all(std::size_t buf_len = 1000, std::chrono::milliseconds advance = 50ms) {
        FetchOutcome out;
        std::vector<std::uint8_t> buf(buf_len);
        for (int i = 0; i < 100000 && client->is_fetching(); ++i) {
            const FetchResult r = client->fetch_yield(buf.data(), buf.size(), 100ms);
            ++out.calls;
            out.last = r;
            if (r.status != Status::ok) break;
            out.bytes.insert(out.bytes.end(), buf.begin(),
                             buf.begin() + static_cast<std::ptrdiff_t>(r.bytes));
            clock.advance(advance);
        }
        return out;
    }
};

// ---- the basic flow -------------------------------------------------------------------------

TEST_F(ClientTest, CompleteMd5JobEndToEnd) {
    make_client();
    ASSERT_EQ(client->set_sink(&sink).status, Status::ok);
    EXPECT_TRUE(channel.is_subscribed(kUpgradeTopic));
    EXPECT_TRUE(channel.is_subscribed(kGetReplyTopic));
    for (const auto& s : channel.subscriptions()) EXPECT_EQ(s.qos, 1) << s.filter;

    ASSERT_TRUE(client->report_version("1.0.0").ok());
    int handler_calls = 0;
    std::string handler_version;
    client->set_job_handler([&](const UpgradeJob& job) {
        ++handler_calls;
        handler_version = job.version;
    });
    EXPECT_FALSE(client->is_fetching());

    push();
    EXPECT_EQ(handler_calls, 1);
    EXPECT_EQ(handler_version, "2.0.0");
    EXPECT_EQ(client->state(), OtaState::pushed);
    EXPECT_TRUE(client->is_fetching());
    EXPECT_EQ(client->file_size(), 10000U);
    EXPECT_EQ(client->version(), "2.0.0");
    EXPECT_EQ(client->expected_digest(), kMd5A);
    ASSERT_NE(client->job(), nullptr);
    EXPECT_EQ(client->job()->url, kUrl);

    const FetchOutcome out = fetch_all();
    EXPECT_EQ(out.last.status, Status::ok);
    EXPECT_EQ(out.bytes, kBodyA);
    EXPECT_EQ(client->state(), OtaState::fetched);
    EXPECT_TRUE(client->is_fetch_finished());
    EXPECT_FALSE(client->is_fetching());
    EXPECT_EQ(client->fetched_size(), 10000U);
    ASSERT_EQ(source.opens().size(), 1U);
    EXPECT_EQ(source.opens()[0].url, kUrl);
    EXPECT_EQ(source.opens()[0].offset, 0U);
    EXPECT_FALSE(source.is_open());

    bool valid = false;
    ASSERT_TRUE(client->check_firmware(valid).ok());
    EXPECT_TRUE(valid);
    EXPECT_EQ(sink.phase(), MemorySink::Phase::committed);
    EXPECT_EQ(sink.data(), kBodyA);
    EXPECT_EQ(sink.out_of_order_writes, 0U);

    // The inform message.
    const auto informs = broker.published_on(kInformTopic);
    ASSERT_EQ(informs.size(), 1U);
    EXPECT_EQ(informs[0].qos, 1);
    EXPECT_EQ(informs[0].sender, "dev");
    const json inform = json::parse(informs[0].payload);
    EXPECT_EQ(inform.at("id"), "1");
    EXPECT_EQ(inform.at("params").at("version"), "1.0.0");
    EXPECT_FALSE(inform.at("params").contains("module"));

    // Progress: 0 first, 100 last, increasing, at least 5 points apart, step as a string.
    const auto msgs = progress_messages();
    const auto s = steps();
    ASSERT_GE(s.size(), 3U);
    EXPECT_EQ(s.front(), 0);
    EXPECT_EQ(s.back(), 100);
    for (std::size_t i = 1; i < s.size(); ++i) {
        EXPECT_GE(s[i] - s[i - 1], 5) << "between reports " << i - 1 << " and " << i;
    }
    std::uint64_t last_id = 1;
    for (const auto& m : msgs) {
        ASSERT_TRUE(m.at("id").is_string());
        const std::uint64_t id = std::stoull(m.at("id").get<std::string>());
        EXPECT_GT(id, last_id);
        last_id = id;
        EXPECT_TRUE(m.at("params").at("step").is_string());
        EXPECT_EQ(m.at("params").at("desc"), "");
        EXPECT_FALSE(m.at("params").contains("module"));
    }
    for (const auto& m : broker.published_on(kProgressTopic)) EXPECT_EQ(m.qos, 0);
    EXPECT_TRUE(failures().empty());
    EXPECT_TRUE(client->last_error().ok());
}

TEST_F(ClientTest, Sha256JobWithSignAndSignMethod) {
    make_client();
    ASSERT_TRUE(client->set_sink(&sink).ok());
    Push p;
    p.md5.reset();
    p.sign = kSha256A;
    p.sign_method = "SHA256";
    push(p);
    ASSERT_EQ(client->state(), OtaState::pushed);
    ASSERT_NE(client->job(), nullptr);
    EXPECT_EQ(client->job()->digest.algorithm, ota::DigestAlgorithm::sha256);
    EXPECT_EQ(fetch_all().bytes, kBodyA);
    bool valid = false;
    ASSERT_TRUE(client->check_firmware(valid).ok());
    EXPECT_TRUE(valid);
    EXPECT_EQ(sink.phase(), MemorySink::Phase::committed);
}

TEST_F(ClientTest, UppercaseDigestMatches) {
    make_client();
    Push p;
    std::string upper = kMd5A;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    p.md5 = upper;
    push(p);
    (void)fetch_all();
    bool valid = false;
    ASSERT_TRUE(client->check_firmware(valid).ok());
    EXPECT_TRUE(valid);
}

TEST_F(ClientTest, ApplicationStoresBytesWithoutSink) {
    make_client();
    push();
    const FetchOutcome out = fetch_all(777);  // odd buffer size: chunks do not align
    EXPECT_EQ(out.bytes, kBodyA);
    bool valid = false;
    ASSERT_TRUE(client->check_firmware(valid).ok());
    EXPECT_TRUE(valid);
}

TEST_F(ClientTest, DigestMismatchReportedOnceAndSinkAborted) {
    make_client();
    ASSERT_TRUE(client->set_sink(&sink).ok());
    Push p;
    p.md5 = std::string(kMd5B);  // the digest of another image
    push(p);
    (void)fetch_all();
    ASSERT_EQ(client->state(), OtaState::fetched);

    bool valid = true;
    ASSERT_TRUE(client->check_firmware(valid).ok());
    EXPECT_FALSE(valid);
    EXPECT_EQ(sink.phase(), MemorySink::Phase::aborted);
    EXPECT_EQ(sink.commits, 0U);
    EXPECT_EQ(client->last_error().status, Status::digest_mismatch);

    auto f = failures();
    ASSERT_EQ(f.size(), 1U);
    EXPECT_EQ(f[0].at("params").at("step"), "-3");
    EXPECT_EQ(f[0].at("params").at("desc"),
              std::string("digest mismatch: expected md5 ") + kMd5B + ", got " + kMd5A);

    // Cached: the same answer, no second report.
    valid = true;
    ASSERT_TRUE(client->check_firmware(valid).ok());
    EXPECT_FALSE(valid);
    EXPECT_EQ(failures().size(), 1U);
    EXPECT_EQ(client->state(), OtaState::fetched);
    // The application's own failure report for the same job is suppressed as well.
    ASSERT_TRUE(client->report_progress(-3, "again").ok());
    EXPECT_EQ(failures().size(), 1U);
}

// ---- download failures ----------------------------------------------------------------------

TEST_F(ClientTest, ShortBodyFailsWithSizeMismatch) {
    make_client(no_retry_options());
    ASSERT_TRUE(client->set_sink(&sink).ok());
    auto r = ok_response(kBodyA);
    r.end_after = 6000;
    r.content_length.reset();
    source.set_response(r);
    push();
    const FetchOutcome out = fetch_all();
    EXPECT_EQ(out.last.status, Status::size_mismatch);
    EXPECT_EQ(out.last.bytes, 0U);
    EXPECT_EQ(client->state(), OtaState::fetched);  // a failure ends in FETCHED
    ASSERT_NE(client->job(), nullptr) << "the failed job stays readable";
    EXPECT_EQ(client->file_size(), kBodyA.size());
    EXPECT_EQ(client->fetched_size(), 6000U) << "how far it got";
    EXPECT_EQ(client->last_error().status, Status::size_mismatch);
    EXPECT_NE(client->last_error().detail.find("got 6000 of 10000"), std::string::npos);
    EXPECT_EQ(sink.phase(), MemorySink::Phase::aborted);
    EXPECT_FALSE(source.is_open());
    const auto f = failures();
    ASSERT_EQ(f.size(), 1U);
    EXPECT_EQ(f[0].at("params").at("step"), "-2");
    EXPECT_NE(f[0].at("params").at("desc").get<std::string>().find("shorter"), std::string::npos);
}

TEST_F(ClientTest, ShortBodyEndingWithTheLastChunk) {
    make_client(no_retry_options());
    auto r = ok_response(kBodyA);
    r.end_after = 2500;
    r.content_length.reset();
    r.end_with_last_chunk = true;
    source.set_response(r);
    push();
    const FetchOutcome out = fetch_all();
    EXPECT_EQ(out.last.status, Status::size_mismatch);
    EXPECT_EQ(client->state(), OtaState::fetched);  // a failure ends in FETCHED
    EXPECT_EQ(failures().size(), 1U);
}

TEST_F(ClientTest, LongBodyWithinTheLastChunkFails) {
    make_client();
    ASSERT_TRUE(client->set_sink(&sink).ok());
    auto r = ok_response(kBodyA);
    r.extra_bytes = 100;
    r.content_length.reset();
    source.set_response(r);
    push();
    const FetchOutcome out = fetch_all(4096);  // 4096 + 4096 + 1908 (> 1808 left)
    EXPECT_EQ(out.last.status, Status::size_mismatch);
    EXPECT_EQ(client->state(), OtaState::fetched);  // a failure ends in FETCHED
    EXPECT_EQ(sink.phase(), MemorySink::Phase::aborted);
    EXPECT_EQ(sink.written(), 8192U);  // the overlong chunk never reached the sink
    const auto f = failures();
    ASSERT_EQ(f.size(), 1U);
    EXPECT_EQ(f[0].at("params").at("step"), "-2");
    EXPECT_NE(f[0].at("params").at("desc").get<std::string>().find("longer"), std::string::npos);
}

TEST_F(ClientTest, LongBodyAfterTheExactSizeFails) {
    make_client();
    auto body = pattern(8192, 31, 7);
    auto r = ok_response(body);
    r.extra_bytes = 1;
    r.content_length.reset();
    source.set_response(r);
    Push p;
    p.size = 8192;
    push(p);
    const FetchOutcome out = fetch_all(4096);
    EXPECT_EQ(out.last.status, Status::size_mismatch);
    EXPECT_EQ(client->state(), OtaState::fetched);  // a failure ends in FETCHED
    ASSERT_EQ(failures().size(), 1U);
    EXPECT_NE(failures()[0].at("params").at("desc").get<std::string>().find("longer"),
              std::string::npos);
}

TEST_F(ClientTest, Http404IsNeverStored) {
    make_client();
    ASSERT_TRUE(client->set_sink(&sink).ok());
    ScriptedResponse r;
    r.status = 404;
    const std::string page = "<html>404 Not Found</html>";
    r.body.assign(page.begin(), page.end());
    r.content_length = page.size();
    source.set_response(r);
    push();
    const FetchOutcome out = fetch_all();
    EXPECT_EQ(out.last.status, Status::fetch_failed);
    EXPECT_TRUE(out.bytes.empty());
    EXPECT_EQ(sink.writes, 0U);
    EXPECT_EQ(sink.phase(), MemorySink::Phase::aborted);
    EXPECT_EQ(client->state(), OtaState::fetched);  // a failure ends in FETCHED
    const auto f = failures();
    ASSERT_EQ(f.size(), 1U);
    EXPECT_EQ(f[0].at("params").at("step"), "-2");
    EXPECT_NE(f[0].at("params").at("desc").get<std::string>().find("HTTP 404"), std::string::npos);
    EXPECT_NE(client->last_error().detail.find("HTTP 404"), std::string::npos);
}

TEST_F(ClientTest, Http500WithEmptyBodyFails) {
    make_client(no_retry_options());
    ASSERT_TRUE(client->set_sink(&sink).ok());
    ScriptedResponse r;
    r.status = 500;
    source.set_response(r);
    push();
    const FetchOutcome out = fetch_all();
    EXPECT_EQ(out.last.status, Status::fetch_failed);
    EXPECT_EQ(sink.writes, 0U);
    ASSERT_EQ(failures().size(), 1U);
    EXPECT_NE(failures()[0].at("params").at("desc").get<std::string>().find("HTTP 500"),
              std::string::npos);
}

TEST_F(ClientTest, Partial206WithMatchingRangeIsAccepted) {
    make_client();
    auto r = ok_response(kBodyA);
    r.status = 206;
    r.content_range = "bytes 0-9999/10000";
    source.set_response(r);
    push();
    EXPECT_EQ(fetch_all().bytes, kBodyA);
    bool valid = false;
    ASSERT_TRUE(client->check_firmware(valid).ok());
    EXPECT_TRUE(valid);
}

TEST_F(ClientTest, Partial206WithWrongContentRangeFails) {
    for (const char* range : {"bytes 100-9999/10000", "bytes 0-9999/20000", "bytes 0-9999/*",
                              "bytes 0-4999/10000", "", "garbage"}) {
        SCOPED_TRACE(range);
        broker.clear_published();
        sink = MemorySink(1U << 16);
        make_client();
        ASSERT_TRUE(client->set_sink(&sink).ok());
        auto r = ok_response(kBodyA);
        r.status = 206;
        r.content_range = range;
        source.set_response(r);
        push();
        const FetchOutcome out = fetch_all();
        EXPECT_EQ(out.last.status, Status::fetch_failed);
        EXPECT_TRUE(out.bytes.empty());
        EXPECT_EQ(sink.writes, 0U);
        EXPECT_EQ(client->state(), OtaState::fetched);  // a failure ends in FETCHED
        ASSERT_EQ(failures().size(), 1U);
        EXPECT_NE(failures()[0].at("params").at("desc").get<std::string>().find("Content-Range"),
                  std::string::npos);
        client.reset();
    }
}

TEST_F(ClientTest, ContentLengthMustMatchTheAnnouncedSize) {
    make_client();
    auto r = ok_response(kBodyA);
    r.content_length = 9999;
    source.set_response(r);
    push();
    const FetchOutcome out = fetch_all();
    EXPECT_EQ(out.last.status, Status::size_mismatch);
    EXPECT_TRUE(out.bytes.empty());
    ASSERT_EQ(failures().size(), 1U);
    EXPECT_NE(failures()[0].at("params").at("desc").get<std::string>().find("Content-Length"),
              std::string::npos);
}

TEST_F(ClientTest, TransportFailureMidwayReportsTheSourceDetail) {
    make_client(no_retry_options());
    ASSERT_TRUE(client->set_sink(&sink).ok());
    auto r = ok_response(kBodyA);
    r.fail_after = 3000;
    r.fail_status = Status::fetch_failed;
    source.set_response(r);
    push();
    const FetchOutcome out = fetch_all();
    EXPECT_EQ(out.last.status, Status::fetch_failed);
    EXPECT_EQ(out.bytes.size(), 3000U);
    EXPECT_EQ(client->state(), OtaState::fetched);  // a failure ends in FETCHED
    EXPECT_EQ(sink.phase(), MemorySink::Phase::aborted);
    ASSERT_EQ(failures().size(), 1U);
    EXPECT_NE(
        failures()[0].at("params").at("desc").get<std::string>().find("scripted transfer failure"),
        std::string::npos);
}

TEST_F(ClientTest, OpenFailureReportsMinus2) {
    make_client();
    source.set_open_error(Error{Status::invalid_argument, "unsupported URL"});
    push();
    std::uint8_t buf[64];
    const FetchResult r = client->fetch_yield(buf, sizeof buf, 10ms);
    EXPECT_EQ(r.status, Status::fetch_failed);
    EXPECT_EQ(client->state(), OtaState::fetched);  // a failure ends in FETCHED
    ASSERT_EQ(failures().size(), 1U);
    EXPECT_EQ(failures()[0].at("params").at("step"), "-2");
}

TEST_F(ClientTest, NoDataYetReturnsZeroAndHeadersAreCheckedLater) {
    make_client();
    auto r = ok_response(kBodyA);
    r.idle_reads = 3;
    source.set_response(r);
    push();
    std::uint8_t buf[1000];
    for (int i = 0; i < 3; ++i) {
        const FetchResult fr = client->fetch_yield(buf, sizeof buf, 10ms);
        EXPECT_EQ(fr.status, Status::ok);
        EXPECT_EQ(fr.bytes, 0U);
        EXPECT_EQ(client->state(), OtaState::fetching);
    }
    EXPECT_EQ(source.last_timeout(), 10ms);
    const FetchResult fr = client->fetch_yield(buf, sizeof buf, 10ms);
    EXPECT_EQ(fr.bytes, 1000U);
    EXPECT_EQ(fetch_all().bytes.size(), 9000U);
    EXPECT_EQ(client->state(), OtaState::fetched);
}

TEST_F(ClientTest, EndOfBodyTogetherWithTheLastChunk) {
    make_client();
    auto r = ok_response(kBodyA);
    r.end_with_last_chunk = true;
    source.set_response(r);
    push();
    const FetchOutcome out = fetch_all(4096);
    EXPECT_EQ(out.bytes, kBodyA);
    EXPECT_EQ(out.calls, 3);
    EXPECT_EQ(client->state(), OtaState::fetched);
}

TEST_F(ClientTest, EndOfBodyAwaitedInTheCallThatDeliveredTheLastBytes) {
    make_client();
    push();
    std::vector<std::uint8_t> buf(10000);
    const FetchResult r = client->fetch_yield(buf.data(), buf.size(), 10ms);
    // Chunks of 4096: 4096, 4096, then 1808 with the end probed in that same call.
    EXPECT_EQ(r.bytes, 4096U);
    (void)client->fetch_yield(buf.data(), buf.size(), 10ms);
    const FetchResult last = client->fetch_yield(buf.data(), buf.size(), 10ms);
    EXPECT_EQ(last.status, Status::ok);
    EXPECT_EQ(last.bytes, 1808U);
    EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + 1808, kBodyA.begin() + 8192));
    EXPECT_EQ(client->state(), OtaState::fetched);
    EXPECT_EQ(source.last_timeout(), client->options().end_of_body_wait);
}

TEST_F(ClientTest, LateEndOfBodyIsAwaitedOnLaterCalls) {
    make_client();
    auto r = ok_response(kBodyA);
    r.idle_before_end = 1;
    source.set_response(r);
    push();
    std::vector<std::uint8_t> buf(10000);
    for (int i = 0; i < 3; ++i) (void)client->fetch_yield(buf.data(), buf.size(), 10ms);
    EXPECT_EQ(client->state(), OtaState::fetching);  // last bytes in, end not yet confirmed
    EXPECT_EQ(client->fetched_size(), 10000U);
    const FetchResult r1 = client->fetch_yield(buf.data(), buf.size(), 10ms);
    EXPECT_EQ(r1.status, Status::ok);
    EXPECT_EQ(r1.bytes, 0U);
    EXPECT_EQ(client->state(), OtaState::fetched);
}

TEST_F(ClientTest, BodyThatNeverEndsFailsAfterTheWait) {
    ClientOptions o = default_options();
    o.end_of_body_wait = 200ms;
    make_client(o);
    auto r = ok_response(kBodyA);
    r.never_end = true;
    source.set_response(r);
    push();
    std::vector<std::uint8_t> buf(10000);
    for (int i = 0; i < 3; ++i) (void)client->fetch_yield(buf.data(), buf.size(), 10ms);
    EXPECT_EQ(client->state(), OtaState::fetching);
    clock.advance(100ms);
    EXPECT_EQ(client->fetch_yield(buf.data(), buf.size(), 10ms).status, Status::ok);
    EXPECT_EQ(source.last_timeout(), 100ms);  // what is left of the wait
    clock.advance(100ms);
    const FetchResult fr = client->fetch_yield(buf.data(), buf.size(), 10ms);
    EXPECT_EQ(fr.status, Status::timeout);
    EXPECT_EQ(client->state(), OtaState::fetched);  // a failure ends in FETCHED
    ASSERT_EQ(failures().size(), 1U);
    EXPECT_EQ(failures()[0].at("params").at("step"), "-2");
}

TEST_F(ClientTest, SinkBeginFailureReportsMinus4) {
    make_client();
    sink.begin_status = Status::storage_full;
    ASSERT_TRUE(client->set_sink(&sink).ok());
    push();
    std::uint8_t buf[100];
    const FetchResult r = client->fetch_yield(buf, sizeof buf, 10ms);
    EXPECT_EQ(r.status, Status::storage_full);
    EXPECT_EQ(client->state(), OtaState::fetched);  // a failure ends in FETCHED
    EXPECT_TRUE(source.opens().empty());  // nothing downloaded into a sink that cannot hold it
    ASSERT_EQ(failures().size(), 1U);
    EXPECT_EQ(failures()[0].at("params").at("step"), "-4");
    EXPECT_GE(sink.aborts, 1U);
}

TEST_F(ClientTest, SinkWriteFailureReportsMinus4) {
    make_client();
    sink.fail_write_at = 3;
    ASSERT_TRUE(client->set_sink(&sink).ok());
    push();
    const FetchOutcome out = fetch_all();
    EXPECT_EQ(out.last.status, Status::storage_failed);
    EXPECT_EQ(out.bytes.size(), 2000U);
    EXPECT_EQ(client->state(), OtaState::fetched);  // a failure ends in FETCHED
    EXPECT_EQ(sink.phase(), MemorySink::Phase::aborted);
    EXPECT_FALSE(source.is_open());
    const auto f = failures();
    ASSERT_EQ(f.size(), 1U);
    EXPECT_EQ(f[0].at("params").at("step"), "-4");
    EXPECT_NE(f[0].at("params").at("desc").get<std::string>().find("offset 2000"),
              std::string::npos);
}

TEST_F(ClientTest, SinkCommitFailureReportsMinus4) {
    make_client();
    sink.commit_status = Status::storage_failed;
    ASSERT_TRUE(client->set_sink(&sink).ok());
    push();
    (void)fetch_all();
    bool valid = true;
    const Error e = client->check_firmware(valid);
    EXPECT_EQ(e.status, Status::storage_failed);
    EXPECT_FALSE(valid);
    ASSERT_EQ(failures().size(), 1U);
    EXPECT_EQ(failures()[0].at("params").at("step"), "-4");
}

TEST_F(ClientTest, SignedUrlQueryNeverLeaks) {
    std::vector<std::string> logs;
    ota::set_log_level(ota::LogLevel::debug);
    ota::set_log_sink([&](ota::LogLevel, std::string_view m) { logs.emplace_back(m); });
    make_client();
    ScriptedResponse r;
    r.status = 403;
    source.set_response(r);
    push();
    (void)fetch_all();
    ota::set_log_sink({});
    ota::set_log_level(ota::LogLevel::warning);
    ASSERT_FALSE(logs.empty());
    bool saw_host = false;
    for (const auto& l : logs) {
        EXPECT_EQ(l.find("SECRETSIGNATURE"), std::string::npos) << l;
        EXPECT_EQ(l.find("Expires"), std::string::npos) << l;
        if (l.find("ota.example.com") != std::string::npos) saw_host = true;
    }
    EXPECT_TRUE(saw_host);  // the URL is logged, redacted
    for (const auto& m : broker.published()) {
        if (m.sender == "cloud") continue;
        EXPECT_EQ(m.payload.find("SECRETSIGNATURE"), std::string::npos) << m.payload;
    }
    EXPECT_EQ(client->last_error().detail.find("SECRETSIGNATURE"), std::string::npos);
}

// ---- pushes -------------------------------------------------------------------------------

TEST_F(ClientTest, PushWhileFetchingIsIgnored) {
    make_client();
    ASSERT_TRUE(client->set_sink(&sink).ok());
    push();
    std::vector<std::uint8_t> buf(1000);
    std::vector<std::uint8_t> got;
    for (int i = 0; i < 3; ++i) {
        const FetchResult r = client->fetch_yield(buf.data(), buf.size(), 10ms);
        got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r.bytes));
    }
    ASSERT_EQ(client->state(), OtaState::fetching);
    Push other;
    other.version = "3.0.0";
    other.size = 3000;
    other.md5 = kMd5B;
    broker.publish(kUpgradeTopic, to_json(other));  // delivered inside the next fetch_yield
    const FetchOutcome out = fetch_all();
    got.insert(got.end(), out.bytes.begin(), out.bytes.end());
    EXPECT_EQ(got, kBodyA);
    EXPECT_EQ(client->version(), "2.0.0");
    bool valid = false;
    ASSERT_TRUE(client->check_firmware(valid).ok());
    EXPECT_TRUE(valid);
    EXPECT_EQ(source.opens().size(), 1U);
}

TEST_F(ClientTest, SecondJobAfterAFirstUsesAFreshDigest) {
    make_client();
    ASSERT_TRUE(client->set_sink(&sink).ok());
    push();
    (void)fetch_all();
    bool valid = false;
    ASSERT_TRUE(client->check_firmware(valid).ok());
    ASSERT_TRUE(valid);

    // A new push is taken in FETCHED.
    source.set_response(ok_response(kBodyB));
    Push second;
    second.version = "3.0.0";
    second.size = kBodyB.size();
    second.md5 = kMd5B;
    push(second);
    EXPECT_EQ(client->state(), OtaState::pushed);
    EXPECT_EQ(client->version(), "3.0.0");
    EXPECT_EQ(client->fetched_size(), 0U);
    EXPECT_EQ(fetch_all().bytes, kBodyB);
    valid = false;
    ASSERT_TRUE(client->check_firmware(valid).ok());
    EXPECT_TRUE(valid);
    EXPECT_EQ(sink.data(), kBodyB);
    EXPECT_EQ(sink.phase(), MemorySink::Phase::committed);
    EXPECT_TRUE(failures().empty());
    // Both jobs reported 0 and 100.
    int zeros = 0;
    int hundreds = 0;
    for (int s : steps()) {
        zeros += s == 0;
        hundreds += s == 100;
    }
    EXPECT_EQ(zeros, 2);
    EXPECT_EQ(hundreds, 2);
}

TEST_F(ClientTest, PushReplacesAnUnverifiedFetchedJob) {
    make_client();
    ASSERT_TRUE(client->set_sink(&sink).ok());
    push();
    (void)fetch_all();
    ASSERT_EQ(client->state(), OtaState::fetched);
    Push second;
    second.version = "3.0.0";
    push(second);
    EXPECT_EQ(client->state(), OtaState::pushed);
    EXPECT_EQ(client->version(), "3.0.0");
    EXPECT_EQ(sink.phase(), MemorySink::Phase::aborted);
}

TEST_F(ClientTest, PushInPushedReplacesTheJob) {
    make_client();
    push();
    Push second;
    second.version = "2.1.0";
    push(second);
    EXPECT_EQ(client->state(), OtaState::pushed);
    EXPECT_EQ(client->version(), "2.1.0");
}

TEST_F(ClientTest, MalformedPushReportsMinus1AndKeepsTheState) {
    make_client();
    // In INITED.
    json bad = json::parse(to_json(Push{}));
    bad["data"]["size"] = "ten thousand";
    deliver_push(bad.dump());
    EXPECT_EQ(client->state(), OtaState::inited);
    EXPECT_EQ(client->last_error().status, Status::malformed_message);
    auto f = failures();
    ASSERT_EQ(f.size(), 1U);
    EXPECT_EQ(f[0].at("params").at("step"), "-1");
    EXPECT_NE(f[0].at("params").at("desc").get<std::string>().find("data.size"), std::string::npos);

    // Not even JSON: still reported (a second later: at most one such report per second).
    clock.advance(std::chrono::seconds(1));
    deliver_push("{not json");
    EXPECT_EQ(client->state(), OtaState::inited);
    EXPECT_EQ(failures().size(), 2U);
}

// Issue 10: progress messages carry no job id, so a -1 sent while a job runs would fail that job
// in the cloud. A malformed push is then logged (last_error) and not reported; the job goes on.
TEST_F(ClientTest, MalformedPushWhileAJobRunsIsLoggedNotReported) {
    make_client();
    ASSERT_TRUE(client->set_sink(&sink).ok());
    push();
    ASSERT_EQ(client->state(), OtaState::pushed);
    json bad = json::parse(to_json(Push{}));
    bad["data"].erase("version");
    deliver_push(bad.dump());
    EXPECT_EQ(client->state(), OtaState::pushed);
    EXPECT_EQ(client->version(), "2.0.0");
    EXPECT_EQ(client->last_error().status, Status::malformed_message);
    EXPECT_NE(client->last_error().detail.find("data.version"), std::string::npos);
    EXPECT_TRUE(failures().empty());

    // FETCHING: a download in progress, then a push that is not even JSON.
    ScriptedResponse r = ok_response(kBodyA, 1000);
    r.stall_after = 1000;
    source.set_response(r);
    std::vector<std::uint8_t> buf(1000);
    EXPECT_EQ(client->fetch_yield(buf.data(), buf.size(), 0ms).bytes, 1000U);
    ASSERT_EQ(client->state(), OtaState::fetching);
    deliver_push("{not json");
    EXPECT_TRUE(failures().empty());
    EXPECT_EQ(client->state(), OtaState::fetching);

    // FETCHED, image not yet checked: the cloud still waits for this job's outcome.
    source.response().stall_after.reset();
    (void)fetch_all();
    ASSERT_EQ(client->state(), OtaState::fetched);
    deliver_push("[]");
    EXPECT_TRUE(failures().empty());
    EXPECT_EQ(client->state(), OtaState::fetched);
    bool valid = false;
    ASSERT_TRUE(client->check_firmware(valid).ok());
    EXPECT_TRUE(valid);
}

// Issue 10: a refused job (here: too large) while a job runs is logged and not reported either;
// the running job is left alone.
TEST_F(ClientTest, RefusedJobWhileAJobRunsIsLoggedNotReported) {
    ClientOptions o = default_options();
    o.max_image_size = 10000;
    make_client(o);
    push();
    ASSERT_EQ(client->state(), OtaState::pushed);
    Push big;
    big.version = "3.0.0";
    big.size = 20000;
    push(big);
    EXPECT_EQ(client->state(), OtaState::pushed);
    EXPECT_EQ(client->version(), "2.0.0");
    EXPECT_EQ(client->last_error().status, Status::storage_full);
    EXPECT_TRUE(failures().empty());
    // Without a running job the same push is reported.
    client->reset();
    push(big);
    ASSERT_EQ(failures().size(), 1U);
    EXPECT_EQ(failures()[0].at("params").at("step"), "-1");
}

// A job whose failure was reported is over for the cloud, although it stays FETCHED (for the
// seed's loop): a malformed push or a refused job after it is reported again.
TEST_F(ClientTest, RefusalsAreReportedAgainOnceTheJobsFailureWasReported) {
    ClientOptions o = default_options();
    o.max_image_size = 10000;
    make_client(o);
    ASSERT_TRUE(client->set_sink(&sink).ok());
    ScriptedResponse r;
    r.status = 404;
    source.set_response(r);
    push();
    (void)fetch_all();
    ASSERT_EQ(client->state(), OtaState::fetched);
    ASSERT_EQ(failures().size(), 1U);  // the -2 of the 404
    deliver_push("{not json");
    ASSERT_EQ(failures().size(), 2U);
    EXPECT_EQ(failures()[1].at("params").at("step"), "-1");
    clock.advance(1s);  // past the refusal rate limit
    Push big;
    big.version = "3.0.0";
    big.size = 20000;
    push(big);
    ASSERT_EQ(failures().size(), 3U);
    EXPECT_EQ(failures()[2].at("params").at("step"), "-1");
    EXPECT_EQ(client->state(), OtaState::fetched);
}

// Captures log records (at `level` and above) until destroyed, even when an assertion returns.
struct CapturedLogs {
    explicit CapturedLogs(ota::LogLevel level) {
        ota::set_log_level(level);
        ota::set_log_sink([this](ota::LogLevel, std::string_view m) { lines.emplace_back(m); });
    }
    ~CapturedLogs() {
        ota::set_log_sink({});
        ota::set_log_level(ota::LogLevel::warning);
    }
    CapturedLogs(const CapturedLogs&) = delete;
    CapturedLogs& operator=(const CapturedLogs&) = delete;
    std::vector<std::string> lines;
};

// Issue 10: a flood of bad pushes gives the cloud at most one -1 per second; the others are
// logged and counted, and the next report that goes out says how many were left out.
TEST_F(ClientTest, RefusalReportsAreLimitedToOnePerSecond) {
    make_client();
    CapturedLogs captured(ota::LogLevel::debug);
    const std::vector<std::string>& logs = captured.lines;
    for (int i = 0; i < 50; ++i) broker.publish(kUpgradeTopic, "bad " + std::to_string(i));
    ASSERT_TRUE(client->poll(0ms).ok());
    EXPECT_EQ(failures().size(), 1U);
    clock.advance(999ms);
    for (int i = 0; i < 50; ++i) broker.publish(kUpgradeTopic, "bad again");
    ASSERT_TRUE(client->poll(0ms).ok());
    EXPECT_EQ(failures().size(), 1U);
    clock.advance(1ms);
    Push empty;  // refused by admission: counts against the same limit
    empty.size = 0;
    push(empty);
    EXPECT_EQ(client->state(), OtaState::inited);
    ASSERT_EQ(failures().size(), 2U);
    EXPECT_EQ(failures()[1].at("params").at("desc"), "image size is 0");
    std::size_t suppressed = 0;
    bool counted = false;
    for (const std::string& l : logs) {
        suppressed += l.find("(not reported: rate limit)") != std::string::npos ? 1 : 0;
        counted = counted || l.find("99 refused message(s) before it") != std::string::npos;
    }
    EXPECT_EQ(suppressed, 99U);
    EXPECT_TRUE(counted);
    // A valid job still gets through at once.
    push();
    EXPECT_EQ(client->state(), OtaState::pushed);
}

// Issue 10: a push for the version the device runs is not downloaded; the device reports its
// version again (the cloud closes the task on it) and says why in the log.
TEST_F(ClientTest, PushForTheRunningVersionReportsTheVersionAgain) {
    make_client();
    ASSERT_TRUE(client->report_version("2.0.0").ok());
    ASSERT_EQ(broker.published_on(kInformTopic).size(), 1U);
    CapturedLogs captured(ota::LogLevel::info);
    const std::vector<std::string>& logs = captured.lines;
    push();  // version 2.0.0
    EXPECT_EQ(client->state(), OtaState::inited);
    EXPECT_EQ(client->job(), nullptr);
    EXPECT_TRUE(source.opens().empty());
    EXPECT_TRUE(failures().empty());
    const auto informs = broker.published_on(kInformTopic);
    ASSERT_EQ(informs.size(), 2U);
    EXPECT_EQ(json::parse(informs[1].payload).at("params").at("version"), "2.0.0");
    bool explained = false;
    for (const std::string& l : logs) {
        explained = explained ||
                    (l.find("not downloading the job for version 2.0.0") != std::string::npos &&
                     l.find("version running") != std::string::npos);
    }
    EXPECT_TRUE(explained);
    Push next;
    next.version = "2.0.1";
    push(next);
    EXPECT_EQ(client->state(), OtaState::pushed);
}

TEST_F(ClientTest, ModuleFilteringForAModuleClient) {
    ClientOptions o = default_options();
    o.module = "mcu";
    make_client(o);
    Push p;
    p.module = "other";
    push(p);
    EXPECT_EQ(client->state(), OtaState::inited);
    p.module.reset();
    push(p);
    EXPECT_EQ(client->state(), OtaState::inited);
    EXPECT_TRUE(broker.published_on(kProgressTopic).empty());  // ignored silently

    p.module = "mcu";
    push(p);
    EXPECT_EQ(client->state(), OtaState::pushed);
    EXPECT_EQ(client->module(), "mcu");
    (void)fetch_all();
    const auto msgs = progress_messages();
    ASSERT_FALSE(msgs.empty());
    for (const auto& m : msgs) EXPECT_EQ(m.at("params").at("module"), "mcu");

    ASSERT_TRUE(client->report_version("1.2.3").ok());
    const json inform = json::parse(broker.published_on(kInformTopic).at(0).payload);
    EXPECT_EQ(inform.at("params").at("module"), "mcu");
}

TEST_F(ClientTest, ModuleFilteringForTheDefaultModule) {
    make_client();
    Push p;
    p.module = "mcu";
    push(p);
    EXPECT_EQ(client->state(), OtaState::inited);
    p.module = "default";
    push(p);
    EXPECT_EQ(client->state(), OtaState::pushed);
    client->reset();
    p.module.reset();
    push(p);
    EXPECT_EQ(client->state(), OtaState::pushed);
}

TEST_F(ClientTest, PlainHttpRefusedUnlessAllowed) {
    make_client();
    Push p;
    p.url = "http://ota.example.com/fw.bin?Signature=SECRETSIGNATURE";
    push(p);
    EXPECT_EQ(client->state(), OtaState::inited);
    auto f = failures();
    ASSERT_EQ(f.size(), 1U);
    EXPECT_EQ(f[0].at("params").at("step"), "-1");
    const std::string desc = f[0].at("params").at("desc");
    EXPECT_NE(desc.find("http"), std::string::npos);
    EXPECT_NE(desc.find("not allowed"), std::string::npos);
    EXPECT_EQ(desc.find("SECRET"), std::string::npos);

    client.reset();
    ClientOptions o = default_options();
    o.allow_http = true;
    make_client(o);
    push(p);
    EXPECT_EQ(client->state(), OtaState::pushed);
}

TEST_F(ClientTest, OversizedAndEmptyImagesRefused) {
    ClientOptions o = default_options();
    o.max_image_size = 9999;
    make_client(o);
    push();  // 10000 bytes
    EXPECT_EQ(client->state(), OtaState::inited);
    ASSERT_EQ(failures().size(), 1U);
    EXPECT_EQ(failures()[0].at("params").at("step"), "-1");

    clock.advance(std::chrono::seconds(1));  // at most one refusal report per second
    Push empty;
    empty.size = 0;
    push(empty);
    EXPECT_EQ(client->state(), OtaState::inited);
    ASSERT_EQ(failures().size(), 2U);
    EXPECT_EQ(failures()[1].at("params").at("desc"), "image size is 0");

    Push small;
    small.size = 3000;
    small.md5 = kMd5B;
    source.set_response(ok_response(kBodyB));
    push(small);
    EXPECT_EQ(client->state(), OtaState::pushed);
}

TEST_F(ClientTest, MultiFileJobsRefused) {
    make_client();
    json j = json::parse(to_json(Push{}));
    j["data"].erase("url");
    j["data"].erase("md5");
    j["data"].erase("size");
    j["data"]["signMethod"] = "Md5";
    j["data"]["files"] = json::array(
        {{{"fileName", "a.bin"}, {"fileSize", 3000}, {"fileUrl", kUrl}, {"fileSign", kMd5B}}});
    deliver_push(j.dump());
    EXPECT_EQ(client->state(), OtaState::inited);
    ASSERT_EQ(failures().size(), 1U);
    EXPECT_EQ(failures()[0].at("params").at("desc"), "multi-file jobs need the multi-file API");
}

TEST_F(ClientTest, GetReplyWithAJobAndWithout) {
    make_client();
    const json empty = {
        {"code", 200}, {"data", json::object()}, {"id", "7"}, {"message", "success"}};
    deliver_push(empty.dump(), kGetReplyTopic);
    EXPECT_EQ(client->state(), OtaState::inited);
    EXPECT_TRUE(broker.published_on(kProgressTopic).empty());
    EXPECT_TRUE(client->last_error().ok());

    const json with_job = {{"code", 200}, {"data", push_data(Push{})}, {"id", "8"}};
    deliver_push(with_job.dump(), kGetReplyTopic);
    EXPECT_EQ(client->state(), OtaState::pushed);
    EXPECT_EQ(fetch_all().bytes, kBodyA);
}

TEST_F(ClientTest, OtherTopicsAreIgnored) {
    make_client();
    ASSERT_EQ(channel.subscribe("#", 1), Status::ok);  // the channel sees everything
    broker.publish("/ota/device/upgrade/a1X2bEnP82z/other", to_json(Push{}));
    broker.publish("/ota/device/upgrade/a1X2bEnP82z/example1/x", to_json(Push{}));
    ASSERT_TRUE(client->poll(0ms).ok());
    EXPECT_EQ(client->state(), OtaState::inited);
    EXPECT_TRUE(broker.published_on(kProgressTopic).empty());
}

TEST_F(ClientTest, RequestImagePublishesFirmwareGet) {
    make_client();
    ASSERT_TRUE(client->request_image().ok());
    const auto gets = broker.published_on(kGetTopic);
    ASSERT_EQ(gets.size(), 1U);
    EXPECT_EQ(gets[0].qos, 1);
    const json j = json::parse(gets[0].payload);
    EXPECT_EQ(j.at("id"), "1");
    EXPECT_TRUE(j.at("params").is_object());
    EXPECT_TRUE(j.at("params").empty());

    client.reset();
    ClientOptions o = default_options();
    o.module = "mcu";
    make_client(o);
    ASSERT_TRUE(client->request_image().ok());
    const json j2 = json::parse(broker.published_on(kGetTopic).at(1).payload);
    EXPECT_EQ(j2.at("params").at("module"), "mcu");
}

TEST_F(ClientTest, ReconnectReReportsTheVersion) {
    make_client();
    ASSERT_TRUE(client->poll(0ms).ok());
    channel.disconnect();
    ASSERT_TRUE(client->poll(0ms).ok());
    channel.reconnect();
    ASSERT_TRUE(client->poll(0ms).ok());
    EXPECT_TRUE(broker.published_on(kInformTopic).empty());  // nothing reported yet

    ASSERT_TRUE(client->report_version("1.0.0").ok());
    channel.disconnect();
    EXPECT_EQ(client->report_version("1.0.1").status, Status::not_connected);
    channel.reconnect();
    ASSERT_TRUE(client->poll(0ms).ok());
    const auto informs = broker.published_on(kInformTopic);
    ASSERT_EQ(informs.size(), 2U);
    EXPECT_EQ(json::parse(informs[1].payload).at("params").at("version"), "1.0.1");
    // Subscriptions survive (the channel restores them): a push after the reconnect arrives.
    push();
    EXPECT_EQ(client->state(), OtaState::pushed);
}

// issue 10: the channel's connected event for the connection the version was already reported
// on (paho delivers the first connect's event after the application's first report) does not
// report it again; a real reconnect (after a loss) does.
TEST_F(ClientTest, VersionIsReportedOncePerConnection) {
    FakeChannel late(broker, "late", false);
    late.reconnect();  // connected; its event is still queued, as paho's first one may be
    OtaClient c(late, source, default_options(), clock);
    ASSERT_TRUE(c.init().ok());
    ASSERT_TRUE(c.report_version("1.0.0").ok());
    ASSERT_TRUE(c.poll(0ms).ok());
    EXPECT_EQ(broker.published_on(kInformTopic).size(), 1U);
    late.disconnect();
    late.reconnect();
    ASSERT_TRUE(c.poll(0ms).ok());
    EXPECT_EQ(broker.published_on(kInformTopic).size(), 2U);
}

TEST_F(ClientTest, InitOnADisconnectedChannelIsNotAnError) {
    FakeChannel offline(broker, "offline", false);
    OtaClient c(offline, source, default_options(), clock);
    ASSERT_TRUE(c.init().ok());
    EXPECT_EQ(c.state(), OtaState::inited);
    EXPECT_TRUE(offline.is_subscribed(kUpgradeTopic));
    offline.reconnect();
    broker.publish(kUpgradeTopic, to_json(Push{}));
    ASSERT_TRUE(c.poll(0ms).ok());
    EXPECT_EQ(c.state(), OtaState::pushed);
}

// ---- progress -------------------------------------------------------------------------------

TEST_F(ClientTest, ProgressThrottlingAndOneFailurePerJob) {
    ClientOptions o = default_options();
    o.auto_progress = false;
    make_client(o);
    push();
    ASSERT_TRUE(client->report_progress(0).ok());
    clock.advance(100ms);
    ASSERT_TRUE(client->report_progress(4).ok());  // < 5 points: suppressed
    ASSERT_TRUE(client->report_progress(5).ok());  // sent
    clock.advance(49ms);
    ASSERT_TRUE(client->report_progress(20).ok());  // 49 ms: suppressed
    clock.advance(1ms);
    ASSERT_TRUE(client->report_progress(21, "fast").ok());  // sent
    ASSERT_TRUE(client->report_progress(100).ok());         // always
    ASSERT_TRUE(client->report_progress(100).ok());         // always
    EXPECT_EQ(steps(), (std::vector<int>{0, 5, 21, 100, 100}));
    EXPECT_EQ(progress_messages()[2].at("params").at("desc"), "fast");

    ASSERT_TRUE(client->report_progress(-2, "first failure").ok());
    ASSERT_TRUE(client->report_progress(-1, "second failure").ok());
    ASSERT_TRUE(client->report_progress(-4).ok());
    auto f = failures();
    ASSERT_EQ(f.size(), 1U);
    EXPECT_EQ(f[0].at("params").at("desc"), "first failure");

    // A new job gets a fresh budget.
    Push second;
    second.version = "3.0.0";
    push(second);
    ASSERT_TRUE(client->report_progress(-3, "new job failure").ok());
    EXPECT_EQ(failures().size(), 2U);
}

TEST_F(ClientTest, ReportProgressValidatesTheStep) {
    make_client();
    EXPECT_EQ(client->report_progress(101).status, Status::invalid_argument);
    EXPECT_EQ(client->report_progress(-5).status, Status::invalid_argument);
    EXPECT_TRUE(broker.published_on(kProgressTopic).empty());
}

TEST_F(ClientTest, ProgressQosAndPublishFailure) {
    ClientOptions o = default_options();
    o.progress_qos = 1;
    make_client(o);
    ASSERT_TRUE(client->report_progress(50).ok());
    EXPECT_EQ(broker.published_on(kProgressTopic).at(0).qos, 1);
    channel.disconnect();
    EXPECT_EQ(client->report_progress(100).status, Status::not_connected);
    channel.reconnect();
    channel.set_publish_failure(Status::internal);
    EXPECT_EQ(client->report_progress(100).status, Status::internal);
    channel.set_publish_failure(Status::ok);
    // An unpublished failure step does not use up the job's budget.
    channel.disconnect();
    EXPECT_EQ(client->report_progress(-2).status, Status::not_connected);
    channel.reconnect();
    ASSERT_TRUE(client->report_progress(-2).ok());
    EXPECT_EQ(failures().size(), 1U);
}

TEST_F(ClientTest, AutoProgressOffPublishesOnlyTheStartWhileFetching) {
    // Step 0 marks the start of the download whatever auto_progress says (the original library
    // sent it itself); 1..100 are the application's.
    ClientOptions o = default_options();
    o.auto_progress = false;
    make_client(o);
    push();
    EXPECT_EQ(fetch_all().bytes, kBodyA);
    EXPECT_EQ(steps(), (std::vector<int>{0}));
}

TEST_F(ClientTest, FetchFailureAfterApplicationFailureReportIsNotRepeated) {
    // The seed's loop reports -2 itself after a failed FetchYield: only one -2 reaches the cloud.
    make_client();
    ScriptedResponse r;
    r.status = 404;
    source.set_response(r);
    push();
    (void)fetch_all();
    ASSERT_TRUE(client->report_progress(-2).ok());
    EXPECT_EQ(failures().size(), 1U);
}

TEST_F(ClientTest, ApplicationMinus2IsRefusedWhileTheDownloadIsHealthy) {
    // The seed's loop reports -2 whenever FetchYield gives no bytes: only a failure the client
    // saw itself may reach the cloud.
    ClientOptions o = default_options();
    o.auto_progress = false;
    make_client(o);
    auto r = ok_response(kBodyA, 1000);
    r.stall_after = 3000;  // the transfer pauses: FETCHING, nothing failed
    source.set_response(r);
    push();
    std::vector<std::uint8_t> buf(1000);
    ASSERT_EQ(client->fetch_yield(buf.data(), buf.size(), 100ms).bytes, 1000U);
    ASSERT_EQ(client->state(), OtaState::fetching);
    const Error e = client->report_progress(ota::kStepFetchFailed, "ota fetch fail");
    EXPECT_EQ(e.status, Status::invalid_state);
    EXPECT_TRUE(failures().empty());
    EXPECT_TRUE(client->report_progress(ota::kStepCheckFailed, "app's own check").ok())
        << "other failure steps stay the application's";
    EXPECT_EQ(failures().size(), 1U);

    // After a complete download -2 is refused as well.
    make_client(o);
    source.set_response(ok_response(kBodyA));
    push();
    EXPECT_EQ(fetch_all().bytes, kBodyA);
    ASSERT_EQ(client->state(), OtaState::fetched);
    EXPECT_EQ(client->report_progress(ota::kStepFetchFailed).status, Status::invalid_state);
    EXPECT_EQ(failures().size(), 1U) << "only the first client's -3";
}

TEST_F(ClientTest, FailedDownloadEndsInFetchedWithTheJobKept) {
    make_client();
    ASSERT_TRUE(client->set_sink(&sink).ok());
    ScriptedResponse r;
    r.status = 404;
    source.set_response(r);
    push();
    const FetchOutcome out = fetch_all();
    EXPECT_EQ(out.last.status, Status::fetch_failed) << "the call that saw it returns it";
    EXPECT_EQ(client->state(), OtaState::fetched);
    EXPECT_TRUE(client->is_fetch_finished());
    EXPECT_FALSE(client->is_fetching());
    EXPECT_EQ(client->file_size(), 10000U);
    EXPECT_EQ(client->version(), "2.0.0");
    EXPECT_EQ(client->expected_digest(), kMd5A);
    EXPECT_EQ(sink.phase(), MemorySink::Phase::aborted) << "a definitive failure drops the image";
    EXPECT_FALSE(source.is_open());
    std::uint8_t buf[16];
    EXPECT_EQ(client->fetch_yield(buf, sizeof buf, 0ms).status, Status::invalid_state);

    bool valid = true;
    EXPECT_EQ(client->check_firmware(valid).status, Status::fetch_failed);
    EXPECT_FALSE(valid);
    EXPECT_EQ(client->check_firmware(valid).status, Status::fetch_failed) << "cached";
    EXPECT_EQ(sink.commits, 0U);
    ASSERT_TRUE(client->report_progress(ota::kStepFetchFailed).ok());  // the seed's own -2
    EXPECT_EQ(failures().size(), 1U) << "one failure report, the client's";

    // A new push is taken as usual and downloads.
    source.set_response(ok_response(kBodyA));
    Push next;
    next.version = "2.0.1";
    push(next);
    EXPECT_EQ(client->state(), OtaState::pushed);
    EXPECT_EQ(fetch_all().bytes, kBodyA);
    ASSERT_TRUE(client->check_firmware(valid).ok());
    EXPECT_TRUE(valid);
    EXPECT_EQ(sink.commits, 1U);
}

// ---- state machine --------------------------------------------------------------------------

TEST_F(ClientTest, InvalidStateCalls) {
    client = std::make_unique<OtaClient>(channel, source, default_options(), clock);
    std::uint8_t buf[16];
    bool valid = true;
    // UNINITED
    EXPECT_EQ(client->state(), OtaState::uninited);
    EXPECT_EQ(client->fetch_yield(buf, sizeof buf, 0ms).status, Status::invalid_state);
    EXPECT_EQ(client->report_version("1.0").status, Status::invalid_state);
    EXPECT_EQ(client->report_progress(0).status, Status::invalid_state);
    EXPECT_EQ(client->request_image().status, Status::invalid_state);
    EXPECT_EQ(client->check_firmware(valid).status, Status::invalid_state);
    EXPECT_FALSE(valid);
    EXPECT_EQ(client->restart_download().status, Status::invalid_state);
    client->reset();
    EXPECT_EQ(client->state(), OtaState::uninited);

    // INITED
    ASSERT_TRUE(client->init().ok());
    EXPECT_EQ(client->init().status, Status::invalid_state);
    EXPECT_EQ(client->fetch_yield(buf, sizeof buf, 0ms).status, Status::invalid_state);
    EXPECT_EQ(client->last_error().status, Status::invalid_state);
    EXPECT_EQ(client->check_firmware(valid).status, Status::invalid_state);
    EXPECT_EQ(client->restart_download().status, Status::invalid_state);
    EXPECT_TRUE(broker.published_on(kProgressTopic).empty());  // nothing reported
    EXPECT_TRUE(source.opens().empty());

    // PUSHED
    push();
    EXPECT_EQ(client->check_firmware(valid).status, Status::invalid_state);
    EXPECT_EQ(client->fetch_yield(nullptr, 16, 0ms).status, Status::invalid_argument);
    EXPECT_EQ(client->fetch_yield(buf, 0, 0ms).status, Status::invalid_argument);
    EXPECT_EQ(client->state(), OtaState::pushed);

    // FETCHING
    ASSERT_EQ(client->fetch_yield(buf, sizeof buf, 0ms).status, Status::ok);
    EXPECT_EQ(client->state(), OtaState::fetching);
    EXPECT_EQ(client->check_firmware(valid).status, Status::invalid_state);
    EXPECT_EQ(client->set_sink(&sink).status, Status::invalid_state);

    // FETCHED
    (void)fetch_all();
    ASSERT_EQ(client->state(), OtaState::fetched);
    EXPECT_EQ(client->fetch_yield(buf, sizeof buf, 0ms).status, Status::invalid_state);
    EXPECT_EQ(client->state(), OtaState::fetched);
}

TEST_F(ClientTest, InvalidOptionsAreRejected) {
    struct Case {
        const char* name;
        void (*mutate)(ClientOptions&);
        const char* detail;
    };
    const Case cases[] = {
        {"empty pk", [](ClientOptions& o) { o.product_key.clear(); }, "product_key"},
        {"long pk", [](ClientOptions& o) { o.product_key = std::string(21, 'a'); }, "product_key"},
        {"empty dn", [](ClientOptions& o) { o.device_name.clear(); }, "device_name"},
        {"long dn", [](ClientOptions& o) { o.device_name = std::string(33, 'a'); }, "device_name"},
        {"slash", [](ClientOptions& o) { o.device_name = "a/b"; }, "device_name"},
        {"plus", [](ClientOptions& o) { o.product_key = "a+b"; }, "product_key"},
        {"hash", [](ClientOptions& o) { o.device_name = "a#"; }, "device_name"},
        {"module", [](ClientOptions& o) { o.module = std::string(65, 'm'); }, "module"},
        {"qos", [](ClientOptions& o) { o.progress_qos = 2; }, "progress_qos"},
        {"points 0", [](ClientOptions& o) { o.progress.min_points = 0; }, "min_points"},
        {"points 101", [](ClientOptions& o) { o.progress.min_points = 101; }, "min_points"},
        {"max size", [](ClientOptions& o) { o.max_image_size = 0; }, "max_image_size"},
        {"eob wait", [](ClientOptions& o) { o.end_of_body_wait = 0ms; }, "end_of_body_wait"},
    };
    for (const auto& c : cases) {
        ClientOptions o = default_options();
        c.mutate(o);
        OtaClient cl(channel, source, o, clock);
        const Error e = cl.init();
        EXPECT_EQ(e.status, Status::invalid_argument) << c.name;
        EXPECT_NE(e.detail.find(c.detail), std::string::npos) << c.name << ": " << e.detail;
        EXPECT_EQ(cl.state(), OtaState::uninited) << c.name;
    }
    EXPECT_EQ(channel.listener_count(), 0U);
    // The limits themselves are fine.
    ClientOptions o = default_options();
    o.product_key = std::string(20, 'p');
    o.device_name = std::string(32, 'd');
    o.module = std::string(64, 'm');
    o.progress.min_points = 100;
    OtaClient ok_client(channel, source, o, clock);
    EXPECT_TRUE(ok_client.init().ok());
}

TEST_F(ClientTest, ResetFromEveryState) {
    make_client();
    ASSERT_TRUE(client->set_sink(&sink).ok());
    client->reset();  // INITED -> INITED
    EXPECT_EQ(client->state(), OtaState::inited);

    push();  // PUSHED -> INITED
    client->reset();
    EXPECT_EQ(client->state(), OtaState::inited);
    EXPECT_EQ(client->job(), nullptr);
    EXPECT_EQ(client->file_size(), 0U);
    EXPECT_TRUE(client->version().empty());
    EXPECT_TRUE(client->expected_digest().empty());

    push();  // FETCHING -> INITED
    std::uint8_t buf[1000];
    ASSERT_EQ(client->fetch_yield(buf, sizeof buf, 0ms).bytes, 1000U);
    ASSERT_EQ(client->state(), OtaState::fetching);
    client->reset();
    EXPECT_EQ(client->state(), OtaState::inited);
    EXPECT_EQ(client->fetched_size(), 0U);
    EXPECT_EQ(sink.phase(), MemorySink::Phase::aborted);
    EXPECT_FALSE(source.is_open());

    push();  // FETCHED -> INITED
    (void)fetch_all();
    ASSERT_EQ(client->state(), OtaState::fetched);
    client->reset();
    EXPECT_EQ(client->state(), OtaState::inited);
    EXPECT_EQ(sink.phase(), MemorySink::Phase::aborted);
    EXPECT_TRUE(failures().empty());  // a reset is not a failure
}

TEST_F(ClientTest, ResetAfterCommitKeepsTheCommittedImage) {
    make_client();
    ASSERT_TRUE(client->set_sink(&sink).ok());
    push();
    (void)fetch_all();
    bool valid = false;
    ASSERT_TRUE(client->check_firmware(valid).ok());
    ASSERT_TRUE(valid);
    client->reset();
    EXPECT_EQ(sink.phase(), MemorySink::Phase::committed);
}

TEST_F(ClientTest, RestartDownloadStartsOverWithAFreshDigest) {
    make_client();
    ASSERT_TRUE(client->set_sink(&sink).ok());
    push();
    std::uint8_t buf[1000];
    for (int i = 0; i < 4; ++i) ASSERT_EQ(client->fetch_yield(buf, sizeof buf, 0ms).bytes, 1000U);
    ASSERT_EQ(client->fetched_size(), 4000U);

    ASSERT_TRUE(client->restart_download().ok());
    EXPECT_EQ(client->state(), OtaState::pushed);
    EXPECT_EQ(client->fetched_size(), 0U);
    EXPECT_TRUE(client->is_fetching());
    EXPECT_EQ(sink.phase(), MemorySink::Phase::aborted);
    EXPECT_FALSE(source.is_open());

    EXPECT_EQ(fetch_all().bytes, kBodyA);
    ASSERT_EQ(source.opens().size(), 2U);
    EXPECT_EQ(source.opens()[1].offset, 0U);
    EXPECT_EQ(sink.begins, 2U);
    bool valid = false;
    ASSERT_TRUE(client->check_firmware(valid).ok());
    EXPECT_TRUE(valid);  // the first 4000 bytes were not hashed twice
    EXPECT_EQ(sink.data(), kBodyA);

    // From FETCHED as well.
    ASSERT_TRUE(client->restart_download().ok());
    EXPECT_EQ(client->state(), OtaState::pushed);
    EXPECT_EQ(fetch_all().bytes, kBodyA);
    ASSERT_TRUE(client->check_firmware(valid).ok());
    EXPECT_TRUE(valid);
}

TEST_F(ClientTest, DeinitAndInitAgain) {
    make_client();
    ASSERT_TRUE(client->set_sink(&sink).ok());
    push();
    std::uint8_t buf[1000];
    ASSERT_EQ(client->fetch_yield(buf, sizeof buf, 0ms).bytes, 1000U);
    EXPECT_EQ(channel.listener_count(), 1U);
    const std::size_t published_before = broker.published().size();
    client->deinit();
    EXPECT_EQ(client->state(), OtaState::uninited);
    EXPECT_EQ(channel.listener_count(), 0U);
    // issue 10: deinit() is a stop, not a failure: the sink is suspended (partial image and
    // resume record kept), never aborted, and nothing is reported.
    EXPECT_EQ(sink.suspends, 1U);
    EXPECT_EQ(sink.aborts, 0U);
    EXPECT_FALSE(sink.record().empty());
    EXPECT_EQ(broker.published().size(), published_before);
    EXPECT_FALSE(source.is_open());
    broker.publish(kUpgradeTopic, to_json(Push{}));
    ASSERT_TRUE(client->poll(0ms).ok());
    EXPECT_EQ(client->state(), OtaState::uninited);

    ASSERT_TRUE(client->init().ok());
    push();
    EXPECT_EQ(client->state(), OtaState::pushed);
}

TEST_F(ClientTest, DestructorRemovesTheListenerAndSuspendsTheSink) {
    make_client();
    ASSERT_TRUE(client->set_sink(&sink).ok());
    push();
    std::uint8_t buf[1000];
    ASSERT_EQ(client->fetch_yield(buf, sizeof buf, 0ms).bytes, 1000U);
    const std::size_t published_before = broker.published().size();
    client.reset();
    EXPECT_EQ(channel.listener_count(), 0U);
    // issue 10: destruction is a stop (was: the sink aborted): suspended, nothing reported.
    EXPECT_EQ(sink.suspends, 1U);
    EXPECT_EQ(sink.aborts, 0U);
    EXPECT_EQ(sink.phase(), MemorySink::Phase::idle);
    EXPECT_EQ(broker.published().size(), published_before);
    broker.publish(kUpgradeTopic, to_json(Push{}));
    EXPECT_EQ(channel.yield(0ms), Status::ok);  // no dangling listener
}

TEST_F(ClientTest, JobHandlerExceptionDoesNotEscape) {
    make_client();
    client->set_job_handler([](const UpgradeJob&) { throw std::runtime_error("app bug"); });
    push();
    EXPECT_EQ(client->state(), OtaState::pushed);
}

TEST_F(ClientTest, JobHandlerMayResetTheClient) {
    make_client();
    client->set_job_handler([&](const UpgradeJob& job) {
        EXPECT_EQ(job.version, "2.0.0");
        client->reset();
        EXPECT_EQ(job.version, "2.0.0");  // still valid after the reset
    });
    push();
    EXPECT_EQ(client->state(), OtaState::inited);
}

TEST_F(ClientTest, SetSinkRefusedWhileAnUnverifiedImageIsHeld) {
    make_client();
    ASSERT_TRUE(client->set_sink(&sink).ok());
    push();
    (void)fetch_all();
    MemorySink other;
    EXPECT_EQ(client->set_sink(&other).status, Status::invalid_state);
    bool valid = false;
    ASSERT_TRUE(client->check_firmware(valid).ok());
    EXPECT_TRUE(client->set_sink(&other).ok());
    EXPECT_TRUE(client->set_sink(nullptr).ok());
}

// ---- several clients ------------------------------------------------------------------------

TEST_F(ClientTest, TwoDevicesOnOneBrokerDoNotSeeEachOthersJobs) {
    FakeChannel channel_b(broker, "dev-b");
    ScriptedSource source_b(ok_response(kBodyB));
    make_client();
    OtaClient client_b(channel_b, source_b, default_options("device2"), clock);
    ASSERT_TRUE(client_b.init().ok());

    Push for_b;
    for_b.version = "9.9.9";
    for_b.size = kBodyB.size();
    for_b.md5 = kMd5B;
    broker.publish("/ota/device/upgrade/a1X2bEnP82z/device2", to_json(for_b));
    ASSERT_TRUE(client->poll(0ms).ok());
    ASSERT_TRUE(client_b.poll(0ms).ok());
    EXPECT_EQ(client->state(), OtaState::inited);
    EXPECT_EQ(client_b.state(), OtaState::pushed);
    EXPECT_EQ(client_b.version(), "9.9.9");

    push();  // for example1
    ASSERT_TRUE(client_b.poll(0ms).ok());
    EXPECT_EQ(client->state(), OtaState::pushed);
    EXPECT_EQ(client_b.version(), "9.9.9");

    std::vector<std::uint8_t> buf(4096);
    for (int i = 0; i < 100 && client_b.is_fetching(); ++i) {
        ASSERT_EQ(client_b.fetch_yield(buf.data(), buf.size(), 0ms).status, Status::ok);
    }
    bool valid = false;
    ASSERT_TRUE(client_b.check_firmware(valid).ok());
    EXPECT_TRUE(valid);
    EXPECT_FALSE(broker.published_on("/ota/device/progress/a1X2bEnP82z/device2").empty());
    EXPECT_TRUE(broker.published_on(kProgressTopic).empty());
}

TEST_F(ClientTest, TwoClientsShareOneChannel) {
    make_client();
    OtaClient second(channel, source, default_options("device2"), clock);
    ASSERT_TRUE(second.init().ok());
    EXPECT_EQ(channel.listener_count(), 2U);
    broker.publish("/ota/device/upgrade/a1X2bEnP82z/device2", to_json(Push{}));
    // Either client's poll hands the message to both listeners.
    ASSERT_TRUE(client->poll(0ms).ok());
    EXPECT_EQ(second.state(), OtaState::pushed);
    EXPECT_EQ(client->state(), OtaState::inited);
    second.deinit();
    EXPECT_EQ(channel.listener_count(), 1U);
}

TEST_F(ClientTest, TwoModulesOfOneDeviceShareOneChannel) {
    ClientOptions mcu = default_options();
    mcu.module = "mcu";
    make_client(mcu);
    OtaClient app(channel, source, default_options(), clock);
    ASSERT_TRUE(app.init().ok());
    Push p;
    p.module = "mcu";
    push(p);
    EXPECT_EQ(client->state(), OtaState::pushed);
    EXPECT_EQ(app.state(), OtaState::inited);
    Push q;
    push(q);
    EXPECT_EQ(app.state(), OtaState::pushed);
}

}  // namespace
