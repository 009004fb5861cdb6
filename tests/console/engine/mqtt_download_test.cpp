// Engine tests of MQTT downloads (PROTOCOL.md 5b): a rollout whose policy is download_protocol
// "mqtt" pushes (and answers firmware/get with) `dProtocol:"mqtt"`, streamId = the firmware id and
// streamFileId 1 instead of a url, which the library's own decoder accepts as an MQTT job; and
// stream_firmware() authorizes block requests only for a device with a pushed task of such a
// rollout of that firmware.
#include <nlohmann/json.hpp>

#include "engine_fixture.hpp"
#include "ota/protocol.hpp"

namespace console::test {
namespace {

using nlohmann::json;

class MqttDownloadTest : public EngineTest {
  protected:
    /// A started rollout of 2.0 over `n` devices at 1.0 with the given download protocol.
    Rollout start(int n, const std::string& protocol) {
        fw = add_firmware("2.0");
        add_devices(0, n, "1.0");
        Rollout s = spec(fw);
        s.policy.download_protocol = protocol;
        const Rollout r = engine->create_rollout(s);
        engine->tick();
        return r;
    }
    Firmware fw;
};

TEST_P(MqttDownloadTest, PushOfAnMqttRolloutCarriesTheStream) {
    start(1, "mqtt");
    ASSERT_EQ(publisher.sent.size(), 1u);
    const json d = json::parse(publisher.sent[0].payload).at("data");
    EXPECT_EQ(d.at("dProtocol"), "mqtt");
    EXPECT_EQ(d.at("streamId"), fw.id);
    EXPECT_EQ(d.at("streamFileId"), 1);
    EXPECT_FALSE(d.contains("url"));
    EXPECT_EQ(d.at("size"), 1234);
    EXPECT_EQ(d.at("version"), "2.0");
    EXPECT_EQ(d.at("sign"), fw.sha256);
    EXPECT_EQ(d.at("signMethod"), "SHA256");
    const ota::DecodeResult job = ota::decode_upgrade_push(publisher.sent[0].payload);
    ASSERT_TRUE(job.job.has_value()) << (job.error ? job.error->message : "");
    EXPECT_EQ(job.job->protocol, ota::DownloadProtocol::mqtt);
    EXPECT_EQ(job.job->stream_id, static_cast<std::uint64_t>(fw.id));
    EXPECT_EQ(job.job->stream_file_id, 1u);
    EXPECT_TRUE(job.job->url.empty());
}

TEST_P(MqttDownloadTest, GetReplyOfAnMqttRolloutCarriesTheStream) {
    start(1, "mqtt");
    const std::string reply = engine->on_firmware_get({kPk, dn(0)}, kDefaultModule, "5");
    const ota::DecodeResult job = ota::decode_get_reply(reply);
    ASSERT_TRUE(job.job.has_value()) << (job.error ? job.error->message : "");
    EXPECT_EQ(job.job->protocol, ota::DownloadProtocol::mqtt);
    EXPECT_EQ(job.job->stream_id, static_cast<std::uint64_t>(fw.id));
}

TEST_P(MqttDownloadTest, HttpsRolloutsKeepTheUrl) {
    start(1, "https");
    ASSERT_EQ(publisher.sent.size(), 1u);
    const json d = json::parse(publisher.sent[0].payload).at("data");
    EXPECT_EQ(d.at("url"), "https://files/" + fw.sha256);
    EXPECT_FALSE(d.contains("dProtocol"));
    EXPECT_FALSE(d.contains("streamId"));
    EXPECT_FALSE(engine->stream_firmware({kPk, dn(0)}, static_cast<std::uint64_t>(fw.id)));
}

TEST_P(MqttDownloadTest, StreamsAreServedOnlyForAPushedMqttTask) {
    const Rollout r = start(1, "mqtt");
    const auto id = static_cast<std::uint64_t>(fw.id);
    const auto f = engine->stream_firmware({kPk, dn(0)}, id);
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->sha256, fw.sha256);
    EXPECT_FALSE(engine->stream_firmware({kPk, dn(0)}, id + 1));  // another stream
    EXPECT_FALSE(engine->stream_firmware({kPk, dn(0)}, 0));
    EXPECT_FALSE(engine->stream_firmware({kPk, "nobody"}, id));  // unregistered
    EXPECT_TRUE(progress(dn(0), 10));                            // in progress: still served
    EXPECT_TRUE(engine->stream_firmware({kPk, dn(0)}, id).has_value());
    EXPECT_TRUE(progress(dn(0), 100));
    EXPECT_TRUE(inform(dn(0), "2.0"));  // succeeded: nothing more to download
    EXPECT_EQ(task(dn(0)).state, TaskState::succeeded);
    EXPECT_FALSE(engine->stream_firmware({kPk, dn(0)}, id));
    (void)r;
}

TEST_P(MqttDownloadTest, AQueuedTaskIsNotServed) {
    fw = add_firmware("2.0");
    add_devices(0, 2, "1.0");
    Rollout s = spec(fw);
    s.policy.download_protocol = "mqtt";
    s.policy.push_rate_per_minute = 1;
    engine->create_rollout(s);
    engine->tick();  // pushes dn(0) only
    EXPECT_TRUE(engine->stream_firmware({kPk, dn(0)}, static_cast<std::uint64_t>(fw.id)));
    EXPECT_EQ(task(dn(1)).state, TaskState::queued);
    EXPECT_FALSE(engine->stream_firmware({kPk, dn(1)}, static_cast<std::uint64_t>(fw.id)));
}

TEST_P(MqttDownloadTest, TheProtocolSurvivesTheStore) {
    const Rollout r = start(1, "mqtt");
    EXPECT_EQ(rollout(r.id).policy.download_protocol, "mqtt");
}

INSTANTIATE_TEST_SUITE_P(Stores, MqttDownloadTest, ::testing::ValuesIn(store_factories()),
                         factory_name);

}  // namespace
}  // namespace console::test
