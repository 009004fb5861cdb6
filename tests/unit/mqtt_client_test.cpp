// OtaClient with MQTT jobs (`dProtocol: "mqtt"`): the client downloads them with its own
// MqttByteSource on its channel (never the HTTPS source), verifies and reports them like HTTPS
// jobs, retries within RetryPolicy, reports a failure once, and resumes after a crash or a stop.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "support/client_fixture.hpp"
#include "support/fake_file_cloud.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ota::BlockRequest;
using ota::ClientOptions;
using ota::FetchResult;
using ota::OtaClient;
using ota::OtaState;
using ota::Status;
using ota::test::CloudAnswer;
using ota::test::CloudServedChannel;
using ota::test::FakeFileCloud;
using namespace ota::test::client_fixture;

const std::vector<std::uint8_t> kBody = pattern(10000, 31, 7);

std::string as_string(const std::vector<std::uint8_t>& v) {
    return std::string(v.begin(), v.end());
}

/// The captured push of the issue, with this test's size, digest and stream.
std::string mqtt_push(std::uint64_t stream_id = 25914,
                      const std::vector<std::uint8_t>& body = kBody,
                      const std::string& version = "2.0.0") {
    const std::string md5 = md5_of(body);
    return json{{"code", "1000"},
                {"data",
                 {{"size", body.size()},
                  {"streamId", stream_id},
                  {"sign", md5},
                  {"dProtocol", "mqtt"},
                  {"version", version},
                  {"signMethod", "Md5"},
                  {"streamFileId", 1},
                  {"md5", md5}}},
                {"id", 1757232295633},
                {"message", "success"}}
        .dump();
}

ClientOptions mqtt_options() {
    ClientOptions o = device_options();
    o.retry.jitter = 0.0;
    o.retry.jitter_seed = 1;
    o.mqtt_download.block_size = 1024;
    return o;
}

class MqttClientTest : public ClientHarness {
  protected:
    // The client uses `served`, which goes before the harness's members do.
    void TearDown() override { client.reset(); }

    void make_client(ClientOptions o = mqtt_options(), ota::FirmwareSink* with_sink = nullptr) {
        client = std::make_unique<OtaClient>(served, source, std::move(o), clock);
        ASSERT_TRUE(client->init().ok());
        ASSERT_TRUE(client->set_sink(with_sink != nullptr ? with_sink : &sink).ok());
    }

    void push(std::uint64_t stream_id = 25914) {
        broker.publish(kUpgradeTopic, mqtt_push(stream_id));
        ASSERT_TRUE(client->poll(0ms).ok());
        ASSERT_EQ(client->state(), OtaState::pushed) << client->last_error().message();
    }

    /// fetch_yield until the download leaves PUSHED/FETCHING; the clock moves `step` per call.
    FetchResult fetch_all(std::chrono::milliseconds step = 10ms) {
        FetchResult last;
        std::vector<std::uint8_t> buf(1000);
        for (int i = 0; i < 100000 && client->is_fetching(); ++i) {
            last = client->fetch_yield(buf.data(), buf.size(), 50ms);
            if (last.status != Status::ok) break;
            clock.advance(step);
        }
        return last;
    }

    bool verify() {
        bool valid = false;
        const ota::Error e = client->check_firmware(valid);
        EXPECT_TRUE(e.ok()) << e.message();
        return valid;
    }

    /// The fileTokens of the requests, in order of first use (one per source open()).
    std::vector<std::string> tokens() const {
        std::vector<std::string> out;
        for (const BlockRequest& r : cloud.requests()) {
            if (out.empty() || out.back() != r.file_token) out.push_back(r.file_token);
        }
        return out;
    }

    /// The offset of the first request of each open().
    std::vector<std::uint64_t> open_offsets() const {
        std::vector<std::uint64_t> out;
        std::string token;
        for (const BlockRequest& r : cloud.requests()) {
            if (r.file_token != token) out.push_back(r.offset);
            token = r.file_token;
        }
        return out;
    }

    FakeFileCloud cloud{broker, kPk, kDn, as_string(kBody)};
    CloudServedChannel served{channel, cloud};
};

TEST_F(MqttClientTest, DownloadsAWholeJobOverMqtt) {
    make_client();
    push();
    ASSERT_EQ(fetch_all().status, Status::ok) << client->last_error().message();
    EXPECT_TRUE(verify());
    EXPECT_EQ(sink.data(), kBody);
    EXPECT_TRUE(source.opens().empty()) << "the HTTPS source is not used for MQTT jobs";
    ASSERT_EQ(cloud.requests().size(), 10U);
    EXPECT_EQ(cloud.requests()[0].stream_id, 25914U);
    EXPECT_EQ(cloud.requests()[0].file_id, 1U);
    const std::vector<int> s = steps();
    ASSERT_FALSE(s.empty());
    EXPECT_EQ(s.front(), 0);
    EXPECT_EQ(s.back(), 100);
    EXPECT_TRUE(failure_descs().empty());
}

TEST_F(MqttClientTest, TheWindowAndBlockSizeOptionsAreHonoured) {
    ClientOptions o = mqtt_options();
    o.mqtt_download.window = 2;
    o.mqtt_download.block_size = 2048;
    make_client(o);
    cloud.hold = true;
    push();
    std::vector<std::uint8_t> buf(4096);
    ASSERT_EQ(client->fetch_yield(buf.data(), buf.size(), 0ms).bytes, 0U);
    cloud.serve();
    ASSERT_EQ(cloud.held().size(), 2U);
    for (const BlockRequest& r : cloud.held()) EXPECT_EQ(r.size, 2048U);
    // Each block handed out makes room for exactly one more request.
    for (int i = 0; i < 3; ++i) {
        cloud.answer(0);
        ASSERT_EQ(client->fetch_yield(buf.data(), buf.size(), 0ms).bytes, 2048U);
        cloud.serve();
        EXPECT_EQ(cloud.held().size(), 2U);
    }
    EXPECT_EQ(cloud.requests().size(), 5U);
}

TEST_F(MqttClientTest, BadBlocksAreAskedForAgainAndTheImageIsIntact) {
    make_client();
    cloud.misbehave = [](const BlockRequest&, std::size_t i, CloudAnswer& a) {
        a.bad_crc = i == 1;
        a.copies = i == 2 ? 2 : 1;
        a.short_payload = i == 3;
        a.offset_shift = i == 4 ? 100 : 0;
        a.code = i == 5 ? 400 : 200;
        a.drop = i == 6;
    };
    push();
    ASSERT_EQ(fetch_all().status, Status::ok) << client->last_error().message();
    EXPECT_TRUE(verify());
    EXPECT_EQ(sink.data(), kBody);
    EXPECT_EQ(tokens().size(), 1U) << "one attempt was enough";
    EXPECT_TRUE(failure_descs().empty());
}

TEST_F(MqttClientTest, AnotherFileLengthFailsTheSizeCheckOnce) {
    make_client();
    cloud.file_length = 12000;
    push();
    EXPECT_EQ(fetch_all().status, Status::size_mismatch);
    EXPECT_EQ(sink.commits, 0U);
    ASSERT_EQ(failure_descs().size(), 1U);
    EXPECT_EQ(failure_descs()[0],
              "-2 download failed: Content-Length 12000 does not match the announced size of "
              "10000 bytes");
}

TEST_F(MqttClientTest, ABlockWithoutAnswerEndsTheAttemptAndTheNextOneContinues) {
    ClientOptions o = mqtt_options();
    o.mqtt_download.max_requests_per_block = 2;
    make_client(o);
    // The block at 3072 gets no answer to its first two requests: the attempt ends, the
    // next one asks from the bytes already stored.
    int dropped = 0;
    cloud.misbehave = [&](const BlockRequest& r, std::size_t, CloudAnswer& a) {
        if (r.offset == 3072 && dropped < 2) {
            a.drop = true;
            ++dropped;
        }
    };
    push();
    ASSERT_EQ(fetch_all(100ms).status, Status::ok) << client->last_error().message();
    EXPECT_TRUE(verify());
    EXPECT_EQ(open_offsets(), (std::vector<std::uint64_t>{0, 3072}));
    EXPECT_TRUE(failure_descs().empty());
}

TEST_F(MqttClientTest, ExhaustedRetriesReportOneFailure) {
    ClientOptions o = mqtt_options();
    o.mqtt_download.max_requests_per_block = 2;
    o.retry.max_attempts = 3;
    make_client(o);
    cloud.misbehave = [](const BlockRequest& r, std::size_t, CloudAnswer& a) {
        a.bad_crc = r.offset >= 2048;
    };
    push();
    EXPECT_EQ(fetch_all(100ms).status, Status::timeout);
    EXPECT_EQ(tokens().size(), 3U) << "three attempts, each with its own fileToken";
    EXPECT_EQ(open_offsets(), (std::vector<std::uint64_t>{0, 2048, 2048}));
    ASSERT_EQ(failure_descs().size(), 1U);
    EXPECT_EQ(failure_descs()[0].rfind("-2 ", 0), 0U) << failure_descs()[0];
    EXPECT_NE(failure_descs()[0].find("no valid answer for the block at offset 2048 of MQTT "
                                      "stream 25914/1 after 2 requests (last: bad CRC)"),
              std::string::npos)
        << failure_descs()[0];
    EXPECT_TRUE(sink.record().empty());
}

/// Runs the MQTT job until `bytes` were fetched, then returns what a power cut leaves.
ota::test::MemorySink crashed_after(std::size_t bytes) {
    ota::test::FakeBroker broker;
    ota::test::FakeChannel channel(broker, "dev");
    FakeFileCloud cloud(broker, kPk, kDn, as_string(kBody));
    CloudServedChannel served(channel, cloud);
    ota::test::ScriptedSource unused;
    ota::test::ManualClock clock;
    ota::test::MemorySink sink(1U << 16);
    ClientOptions o = mqtt_options();
    o.resume.record_every_bytes = 2000;
    o.resume.record_min_interval = 0ms;
    OtaClient client(served, unused, o, clock);
    EXPECT_TRUE(client.init().ok());
    EXPECT_TRUE(client.set_sink(&sink).ok());
    broker.publish(kUpgradeTopic, mqtt_push());
    EXPECT_TRUE(client.poll(0ms).ok());
    std::vector<std::uint8_t> buf(1000);
    while (client.fetched_size() < bytes) {
        EXPECT_EQ(client.fetch_yield(buf.data(), buf.size(), 10ms).status, Status::ok);
        clock.advance(100ms);
    }
    ota::test::MemorySink survivor = sink;
    survivor.power_cycle();
    return survivor;
}

TEST_F(MqttClientTest, ResumesAfterACrashEvenWithANewStreamId) {
    ota::test::MemorySink survivor = crashed_after(5000);
    const std::string record(survivor.record().begin(), survivor.record().end());
    EXPECT_NE(record.find("bytes:4000\n"), std::string::npos) << record;
    EXPECT_NE(record.find("url:4:mqtt\n"), std::string::npos) << record;
    ClientOptions o = mqtt_options();
    o.resume.record_every_bytes = 2000;
    o.resume.record_min_interval = 0ms;
    make_client(o, &survivor);
    push(777);  // pushed again: the cloud may give the job a new stream
    ASSERT_EQ(fetch_all().status, Status::ok) << client->last_error().message();
    EXPECT_EQ(open_offsets(), (std::vector<std::uint64_t>{4000}));
    EXPECT_EQ(cloud.requests()[0].stream_id, 777U);
    EXPECT_EQ(survivor.resumes, 1U);
    EXPECT_TRUE(verify());
    EXPECT_EQ(survivor.data(), kBody);
}

TEST_F(MqttClientTest, AStopMidDownloadIsNoFailureAndTheNextRunResumes) {
    ClientOptions rare = mqtt_options();
    rare.resume.record_every_bytes = 1U << 20;
    make_client(rare);
    push();
    std::vector<std::uint8_t> buf(1000);
    while (client->fetched_size() < 3000) {
        ASSERT_EQ(client->fetch_yield(buf.data(), buf.size(), 10ms).status, Status::ok);
        clock.advance(100ms);
    }
    const std::size_t published_before = broker.published_on(kProgressTopic).size();
    client->deinit();
    EXPECT_EQ(broker.published_on(kProgressTopic).size(), published_before);
    EXPECT_EQ(channel.listener_count(), 0U) << "the MQTT source stopped listening";
    EXPECT_EQ(sink.aborts, 0U);
    EXPECT_EQ(sink.suspends, 1U);
    client.reset();
    cloud.serve();  // the stopped run's last requests: their replies carry a stale token
    cloud.clear_requests();

    make_client(rare);
    push();
    ASSERT_EQ(fetch_all().status, Status::ok) << client->last_error().message();
    EXPECT_EQ(open_offsets(), (std::vector<std::uint64_t>{3000}));
    EXPECT_EQ(sink.resumes, 1U);
    EXPECT_TRUE(verify());
    EXPECT_EQ(sink.data(), kBody);
    EXPECT_TRUE(failure_descs().empty());
}

TEST_F(MqttClientTest, AnHttpsJobAfterAnMqttJobUsesTheHttpsSourceAgain) {
    make_client();
    push();
    ASSERT_EQ(fetch_all().status, Status::ok);
    ASSERT_TRUE(verify());
    client->reset();
    ota::test::ScriptedResponse r;
    r.body = kBody;
    r.max_chunk = 1000;
    r.range_from_offset = true;
    source.set_response(r);
    const std::size_t requests_before = cloud.requests().size();
    broker.publish(
        kUpgradeTopic,
        json{
            {"code", "1000"},
            {"data",
             {{"size", kBody.size()}, {"version", "3.0.0"}, {"url", kUrl}, {"md5", md5_of(kBody)}}},
            {"id", 2},
            {"message", "success"}}
            .dump());
    ASSERT_TRUE(client->poll(0ms).ok());
    ASSERT_EQ(client->state(), OtaState::pushed);
    ASSERT_EQ(fetch_all().status, Status::ok) << client->last_error().message();
    EXPECT_TRUE(verify());
    EXPECT_EQ(source.opens().size(), 1U);
    EXPECT_EQ(cloud.requests().size(), requests_before);
}

}  // namespace
