// FotaAgent (the linkkit-style flow) driven through FakeBroker, ScriptedSource and MemorySink.
#include "ota/fota_agent.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ota/digest.hpp"
#include "ota/log.hpp"
#include "ota/protocol.hpp"
#include "support/client_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using ota::Status;
using namespace ota::test::client_fixture;

constexpr const char* kPk = "a1FotaProd";
constexpr const char* kDn = "fota-dev";

std::vector<std::uint8_t> image(std::size_t n) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>((i * 7 + 3) & 0xFF);
    return v;
}

class FotaAgentTest : public ::testing::Test {
  protected:
    FakeBroker broker;
    FakeChannel channel{broker};
    ScriptedSource source;
    ManualClock clock;
    ota::Topics topics = ota::make_topics(kPk, kDn);

    ota::ClientOptions options(const std::string& module = {}) {
        ota::ClientOptions o;
        o.product_key = kPk;
        o.device_name = kDn;
        o.module = module;
        o.auto_progress = false;  // the agent must turn it on
        return o;
    }

    // Pushes a job for `body` (digest computed, or `digest_override`) and scripts the source.
    void push(const std::vector<std::uint8_t>& body, const std::string& version,
              const std::string& module = {}, const std::string& digest_override = {}) {
        ota::UpgradeJob job;
        job.version = version;
        job.size = body.size();
        job.url = "https://fw.example.com/image.bin?Signature=SECRET";
        job.module = module;
        job.digest.algorithm = ota::DigestAlgorithm::md5;
        ASSERT_TRUE(
            ota::digest_hex(job.digest.algorithm, body.data(), body.size(), job.digest.hex).ok());
        if (!digest_override.empty()) job.digest.hex = digest_override;
        ScriptedResponse r;
        r.body = body;
        r.content_length = body.size();
        r.max_chunk = 1000;
        source.set_response(r);
        broker.publish(topics.upgrade, ota::encode_upgrade_push(job, 42));
    }

    std::vector<std::string> steps() const {
        std::vector<std::string> out;
        for (const auto& m : broker.published_on(topics.progress)) {
            const auto pos = m.payload.find("\"step\":\"");
            if (pos != std::string::npos) {
                out.push_back(m.payload.substr(pos + 8, m.payload.find('"', pos + 8) - pos - 8));
            }
        }
        return out;
    }
};

TEST_F(FotaAgentTest, StartReportsTheRunningVersion) {
    ota::FotaAgent agent(channel, source, options(), clock);
    ASSERT_TRUE(agent.start("1.0.0").ok());
    const auto informs = broker.published_on(topics.inform);
    ASSERT_EQ(informs.size(), 1U);
    EXPECT_NE(informs[0].payload.find("\"version\":\"1.0.0\""), std::string::npos);
}

TEST_F(FotaAgentTest, CallbackAnnouncesTheJobAndDownloadStoresIt) {
    ota::FotaAgent agent(channel, source, options(), clock);
    ASSERT_TRUE(agent.start("1.0.0").ok());
    std::vector<ota::FotaEvent> events;
    agent.on_new_firmware([&](const ota::FotaEvent& ev) { events.push_back(ev); });
    const auto body = image(10'000);
    push(body, "1.1.0");
    EXPECT_TRUE(events.empty()) << "callbacks run only inside poll()";
    ASSERT_TRUE(agent.poll(0ms).ok());
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(events[0].type, 0);
    EXPECT_EQ(events[0].version, "1.1.0");
    EXPECT_EQ(events[0].size, body.size());

    MemorySink sink;
    std::uint64_t last_progress = 0;
    const ota::Error e = agent.download(sink, [&](std::uint64_t done, std::uint64_t total) {
        EXPECT_EQ(total, body.size());
        EXPECT_GE(done, last_progress);
        last_progress = done;
    });
    ASSERT_TRUE(e.ok()) << e.message();
    EXPECT_EQ(sink.phase(), MemorySink::Phase::committed);
    EXPECT_EQ(sink.data(), body);
    EXPECT_EQ(last_progress, body.size());
    const auto s = steps();
    ASSERT_FALSE(s.empty());
    EXPECT_EQ(s.front(), "0");
    EXPECT_EQ(s.back(), "100") << "the agent reports progress itself";
}

TEST_F(FotaAgentTest, CallbackMayDownloadRightAway) {
    ota::FotaAgent agent(channel, source, options(), clock);
    ASSERT_TRUE(agent.start("1.0.0").ok());
    MemorySink sink;
    ota::Error result{Status::internal, "callback not run"};
    agent.on_new_firmware([&](const ota::FotaEvent&) { result = agent.download(sink); });
    const auto body = image(5'000);
    push(body, "2.0.0");
    ASSERT_TRUE(agent.poll(0ms).ok());
    EXPECT_TRUE(result.ok()) << result.message();
    EXPECT_EQ(sink.data(), body);
}

// issue 10: stopping the agent during a download is not a failure. download() returns
// "stopped", nothing is reported, the sink is suspended with a resume record, and the next
// start resumes the same job with a Range request.
TEST_F(FotaAgentTest, StopDuringADownloadKeepsTheImageResumableAndReportsNothing) {
    const auto body = image(10'000);
    MemorySink sink;
    {
        ota::FotaAgent agent(channel, source, options(), clock);
        ASSERT_TRUE(agent.start("1.0.0").ok());
        push(body, "1.1.0");
        ASSERT_TRUE(agent.poll(0ms).ok());
        const ota::Error e = agent.download(sink, [&](std::uint64_t done, std::uint64_t) {
            if (done >= 4000) agent.stop();  // as another thread or a signal handler would
        });
        EXPECT_EQ(e.status, Status::invalid_state) << e.message();
        EXPECT_EQ(e.detail, "stopped");
        EXPECT_TRUE(agent.stopped());
        EXPECT_EQ(agent.client().state(), ota::OtaState::uninited);
        EXPECT_EQ(agent.poll(0ms).status, Status::invalid_state) << "stopped until start()";
    }
    EXPECT_EQ(sink.aborts, 0U);
    EXPECT_EQ(sink.suspends, 1U);
    EXPECT_EQ(sink.flushed(), 4000U);
    const std::string record(sink.record().begin(), sink.record().end());
    EXPECT_NE(record.find("bytes:4000\n"), std::string::npos) << record;
    for (const std::string& step : steps()) EXPECT_NE(step.front(), '-') << "reported " << step;

    ota::FotaAgent again(channel, source, options(), clock);
    ASSERT_TRUE(again.start("1.0.0").ok());
    push(body, "1.1.0");
    ScriptedResponse ranged;
    ranged.body = body;
    ranged.max_chunk = 1000;
    ranged.range_from_offset = true;
    source.set_response(ranged);
    ASSERT_TRUE(again.poll(0ms).ok());
    const ota::Error e = again.download(sink);
    ASSERT_TRUE(e.ok()) << e.message();
    ASSERT_FALSE(source.opens().empty());
    EXPECT_EQ(source.opens().back().offset, 4000U) << "resumed with Range";
    EXPECT_EQ(sink.data(), body);
    EXPECT_EQ(sink.phase(), MemorySink::Phase::committed);
}

TEST_F(FotaAgentTest, DigestMismatchFailsAndAbortsTheSink) {
    ota::FotaAgent agent(channel, source, options(), clock);
    ASSERT_TRUE(agent.start("1.0.0").ok());
    push(image(3'000), "1.1.0", {}, std::string(32, '0'));
    ASSERT_TRUE(agent.poll(0ms).ok());
    MemorySink sink;
    const ota::Error e = agent.download(sink);
    EXPECT_EQ(e.status, Status::digest_mismatch) << e.message();
    EXPECT_EQ(sink.phase(), MemorySink::Phase::aborted);
    const auto s = steps();
    ASSERT_FALSE(s.empty());
    EXPECT_EQ(s.back(), "-3");
}

TEST_F(FotaAgentTest, StorageFailureReportsMinus4) {
    ota::FotaAgent agent(channel, source, options(), clock);
    ASSERT_TRUE(agent.start("1.0.0").ok());
    push(image(8'000), "1.1.0");
    ASSERT_TRUE(agent.poll(0ms).ok());
    MemorySink sink;
    sink.fail_write_at = 2;
    sink.write_status = Status::storage_failed;
    const ota::Error e = agent.download(sink);
    EXPECT_EQ(e.status, Status::storage_failed) << e.message();
    const auto s = steps();
    ASSERT_FALSE(s.empty());
    EXPECT_EQ(s.back(), "-4");
    EXPECT_NE(sink.phase(), MemorySink::Phase::committed);
}

TEST_F(FotaAgentTest, DownloadWithoutAJobIsAnInvalidState) {
    ota::FotaAgent agent(channel, source, options(), clock);
    ASSERT_TRUE(agent.start("1.0.0").ok());
    MemorySink sink;
    EXPECT_EQ(agent.download(sink).status, Status::invalid_state);
    EXPECT_EQ(sink.phase(), MemorySink::Phase::idle);
}

TEST_F(FotaAgentTest, ModuleAgentsOnOneChannelTakeOnlyTheirJobs) {
    ota::FotaAgent mcu(channel, source, options("mcu"), clock);
    ScriptedSource wifi_source;
    ota::FotaAgent wifi(channel, wifi_source, options("wifi"), clock);
    ASSERT_TRUE(mcu.start("1.0").ok());
    ASSERT_TRUE(wifi.start("7.0").ok());
    const auto informs = broker.published_on(topics.inform);
    ASSERT_EQ(informs.size(), 2U);
    EXPECT_NE(informs[0].payload.find("\"module\":\"mcu\""), std::string::npos);
    EXPECT_NE(informs[1].payload.find("\"module\":\"wifi\""), std::string::npos);

    std::vector<std::string> mcu_events, wifi_events;
    mcu.on_new_firmware([&](const ota::FotaEvent& ev) { mcu_events.push_back(ev.module); });
    wifi.on_new_firmware([&](const ota::FotaEvent& ev) { wifi_events.push_back(ev.module); });
    push(image(100), "1.1", "mcu");
    ASSERT_TRUE(mcu.poll(0ms).ok());   // delivers to both listeners of the channel
    ASSERT_TRUE(wifi.poll(0ms).ok());  // runs wifi's pending callbacks, if any
    EXPECT_EQ(mcu_events, std::vector<std::string>{"mcu"});
    EXPECT_TRUE(wifi_events.empty());
    EXPECT_TRUE(mcu.client().is_fetching());
    EXPECT_FALSE(wifi.client().is_fetching());
}

TEST_F(FotaAgentTest, RequestImagePublishesFirmwareGet) {
    ota::FotaAgent agent(channel, source, options("mcu"), clock);
    ASSERT_TRUE(agent.start("1.0").ok());
    ASSERT_TRUE(agent.request_image().ok());
    const auto gets = broker.published_on(topics.firmware_get);
    ASSERT_EQ(gets.size(), 1U);
    EXPECT_NE(gets[0].payload.find("\"module\":\"mcu\""), std::string::npos);
}

TEST_F(FotaAgentTest, StartRefusesInvalidOptionsAndASecondStart) {
    ota::ClientOptions bad = options();
    bad.product_key.clear();
    ota::FotaAgent refused(channel, source, bad, clock);
    EXPECT_EQ(refused.start("1.0.0").status, Status::invalid_argument);
    EXPECT_TRUE(broker.published_on(topics.inform).empty()) << "nothing reported";

    ota::FotaAgent agent(channel, source, options(), clock);
    ASSERT_TRUE(agent.start("1.0.0").ok());
    EXPECT_EQ(agent.start("1.0.0").status, Status::invalid_state);
    EXPECT_EQ(broker.published_on(topics.inform).size(), 1U) << "the version was reported once";
}

TEST_F(FotaAgentTest, ReportVersionPublishesTheNewVersion) {
    ota::FotaAgent agent(channel, source, options(), clock);
    ASSERT_TRUE(agent.start("1.0.0").ok());
    ASSERT_TRUE(agent.report_version("1.1.0").ok());
    const auto informs = broker.published_on(topics.inform);
    ASSERT_EQ(informs.size(), 2U);
    EXPECT_NE(informs[1].payload.find("\"version\":\"1.1.0\""), std::string::npos);
}

// A callback that throws must not take the agent down: the exception is logged and the job
// stays downloadable.
class ThrowingCallbackTest : public FotaAgentTest {
  protected:
    void SetUp() override {
        ota::set_log_sink([this](ota::LogLevel level, std::string_view message) {
            if (level == ota::LogLevel::error) errors_.emplace_back(message);
        });
    }
    void TearDown() override { ota::set_log_sink({}); }

    void expect_logged_and_still_downloadable(ota::FotaAgent& agent, const std::string& logged) {
        const auto body = image(2'000);
        push(body, "1.2.0");
        ASSERT_TRUE(agent.poll(0ms).ok());
        ASSERT_EQ(errors_.size(), 1U);
        EXPECT_EQ(errors_[0], logged);
        MemorySink sink;
        const ota::Error e = agent.download(sink);
        ASSERT_TRUE(e.ok()) << e.message();
        EXPECT_EQ(sink.data(), body);
    }

    std::vector<std::string> errors_;
};

TEST_F(ThrowingCallbackTest, StandardExceptionIsLoggedWithItsText) {
    ota::FotaAgent agent(channel, source, options(), clock);
    ASSERT_TRUE(agent.start("1.0.0").ok());
    agent.on_new_firmware([](const ota::FotaEvent&) { throw std::runtime_error("boom"); });
    expect_logged_and_still_downloadable(agent, "FOTA callback threw: boom");
}

TEST_F(ThrowingCallbackTest, OtherExceptionIsLoggedAsUnknown) {
    ota::FotaAgent agent(channel, source, options(), clock);
    ASSERT_TRUE(agent.start("1.0.0").ok());
    agent.on_new_firmware([](const ota::FotaEvent&) { throw 42; });
    expect_logged_and_still_downloadable(agent, "FOTA callback threw an unknown exception");
}

}  // namespace
