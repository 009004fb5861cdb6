// FleetCloud against the lab's broker, with devices played by bare PahoChannels: the push each
// device receives is a valid job (decoded by the library's own decoder), and the cloud's records
// follow what the devices report (update, failure, silence).
#include "fleet_cloud.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "lab.hpp"
#include "ota/auth.hpp"
#include "ota/channel.hpp"
#include "ota/paho/paho_channel.hpp"
#include "ota/protocol.hpp"

namespace {

using namespace std::chrono_literals;
using ota::test::Lab;

// A device that only connects, reports and remembers the first push it gets.
class BareDevice final : public ota::ChannelListener {
  public:
    BareDevice(const Lab& lab, const ota::test::Device& d) : topics_(ota::make_topics(d.pk, d.dn)) {
        ota::ConnectOptions co;
        co.custom_host = "127.0.0.1";
        co.port = lab.mqtt_tls_port;
        co.secure_mode = ota::SecureMode::tls;
        ota::ConnectionInfo info;
        EXPECT_TRUE(ota::make_connection_info({d.pk, d.dn, d.ds}, co, info).ok());
        ota::MqttOptions o = ota::MqttOptions::from(info);
        o.ca_file = lab.ca_file;
        o.clean_session = true;
        o.connect_timeout = 10s;
        channel_ = std::make_unique<ota::PahoChannel>(o);
        channel_->add_listener(*this);
    }

    void on_message(std::string_view topic, std::string_view payload) override {
        if (topic == topics_.upgrade && !push_) push_ = std::string(payload);
    }

    bool connect_and_report(const std::string& version) {
        if (!channel_->connect().ok()) return false;
        if (channel_->subscribe(topics_.upgrade, 1) != ota::Status::ok) return false;
        return inform(version);
    }
    bool inform(const std::string& version) {
        return channel_->publish(topics_.inform, ota::encode_inform(++id_, version), 1) ==
               ota::Status::ok;
    }
    bool progress(int step, const std::string& desc = {}) {
        return channel_->publish(topics_.progress, ota::encode_progress(++id_, step, desc), 1) ==
               ota::Status::ok;
    }
    // Yields until a push arrived or `timeout` passed.
    std::optional<std::string> wait_push(std::chrono::milliseconds timeout) {
        const auto end = std::chrono::steady_clock::now() + timeout;
        while (!push_ && std::chrono::steady_clock::now() < end) (void)channel_->yield(20ms);
        return push_;
    }

  private:
    ota::Topics topics_;
    std::unique_ptr<ota::PahoChannel> channel_;
    std::optional<std::string> push_;
    std::uint64_t id_ = 0;
};

// Polls `done` for up to `timeout`.
template <typename F>
bool eventually(F done, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() > end) return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

ota::fleet::FleetCloudOptions cloud_options(const Lab& lab, const std::string& url,
                                            const std::string& file) {
    ota::fleet::FleetCloudOptions o;
    o.mqtt = lab.cloud_mqtt("");
    o.mqtt.connect_timeout = 10s;
    o.push_url = url;
    o.push_file = file;
    o.push_version = "2.0.0";
    return o;
}

TEST(FleetCloud, PushesOnFirstReportAndRecordsEachDevicesOutcome) {
    const Lab& lab = Lab::get();
    const auto image = ota::test::random_bytes(4096, 13);
    const std::string url = lab.put_file("fleet-cloud.bin", image);
    const auto ok_dev = ota::test::make_device("fc-ok", lab);
    const auto bad_dev = ota::test::make_device("fc-bad", lab);
    const auto silent = ota::test::make_device("fc-silent", lab);

    ota::fleet::FleetCloud cloud(
        cloud_options(lab, url, (lab.www_dir / "fleet-cloud.bin").string()),
        {{ok_dev.pk, ok_dev.dn}, {bad_dev.pk, bad_dev.dn}, {silent.pk, silent.dn}});
    ASSERT_TRUE(cloud.start().ok());

    BareDevice a(lab, ok_dev);
    BareDevice b(lab, bad_dev);
    ASSERT_TRUE(a.connect_and_report("1.0.0"));
    ASSERT_TRUE(b.connect_and_report("1.0.0"));
    const auto push = a.wait_push(10s);
    ASSERT_TRUE(push.has_value());
    ASSERT_TRUE(b.wait_push(10s).has_value());

    // The push is a job the library accepts, for this image.
    const ota::DecodeResult job = ota::decode_upgrade_push(*push);
    ASSERT_TRUE(job.job.has_value());
    EXPECT_EQ(job.job->version, "2.0.0");
    EXPECT_EQ(job.job->url, url);
    EXPECT_EQ(job.job->size, image.size());
    EXPECT_EQ(job.job->digest.algorithm, ota::DigestAlgorithm::sha256);
    ota::Hasher h;
    std::string hex;
    ASSERT_EQ(h.start(ota::DigestAlgorithm::sha256), ota::Status::ok);
    ASSERT_EQ(h.update(image.data(), image.size()), ota::Status::ok);
    ASSERT_EQ(h.finish_hex(hex), ota::Status::ok);
    EXPECT_TRUE(ota::hex_equal(job.job->digest.hex, hex));

    ASSERT_TRUE(a.progress(0));
    ASSERT_TRUE(a.progress(100));
    ASSERT_TRUE(a.inform("2.0.0"));
    ASSERT_TRUE(b.progress(0));
    ASSERT_TRUE(b.progress(-3, "digest mismatch"));
    ASSERT_TRUE(eventually(
        [&] {
            const auto c = cloud.counts();
            return c.updated == 1 && c.failed == 1;
        },
        10s));
    cloud.stop();

    const auto c = cloud.counts();
    EXPECT_EQ(c.informed, 2U);
    EXPECT_EQ(c.pushed, 2U);
    const auto r = cloud.records();
    ASSERT_EQ(r.size(), 3U);
    EXPECT_EQ(r[0].first_version, "1.0.0");
    EXPECT_EQ(r[0].last_version, "2.0.0");
    EXPECT_TRUE(r[0].reached_100);
    ASSERT_TRUE(r[0].push_at && r[0].first_progress_at && r[0].reached_100_at);
    EXPECT_LE(*r[0].push_at, *r[0].first_progress_at);
    EXPECT_FALSE(r[0].failure_step.has_value());
    ASSERT_TRUE(r[1].failure_step.has_value());
    EXPECT_EQ(*r[1].failure_step, ota::kStepCheckFailed);
    EXPECT_EQ(r[1].failure_desc, "digest mismatch");
    EXPECT_FALSE(r[1].reached_100);
    EXPECT_FALSE(r[2].first_inform_at.has_value());
    EXPECT_FALSE(r[2].push_at.has_value());
    EXPECT_EQ(ota::fleet::cloud_outcome(r[0], "2.0.0"), ota::fleet::Outcome::updated);
    EXPECT_EQ(ota::fleet::cloud_outcome(r[1], "2.0.0"), ota::fleet::Outcome::digest_mismatch);
    EXPECT_EQ(ota::fleet::cloud_outcome(r[2], "2.0.0"), ota::fleet::Outcome::connect_failed);
}

TEST(FleetCloud, OutcomeFromRecord) {
    using ota::fleet::cloud_outcome;
    using ota::fleet::CloudRecord;
    using ota::fleet::Outcome;
    const auto t0 = CloudRecord::Clock::now();
    CloudRecord r;
    EXPECT_EQ(cloud_outcome(r, "2"), Outcome::connect_failed);
    r.first_inform_at = t0;
    r.first_version = "1";
    EXPECT_EQ(cloud_outcome(r, "2"), Outcome::no_job);
    r.push_at = t0 + 1ms;
    EXPECT_EQ(cloud_outcome(r, "2"), Outcome::stopped);
    r.last_step = 40;
    EXPECT_EQ(cloud_outcome(r, "2"), Outcome::stopped);
    for (const auto& [step, outcome] :
         std::vector<std::pair<int, Outcome>>{{-1, Outcome::download_failed},
                                              {-2, Outcome::download_failed},
                                              {-3, Outcome::digest_mismatch},
                                              {-4, Outcome::storage_failed}}) {
        r.last_step = step;
        EXPECT_EQ(cloud_outcome(r, "2"), outcome) << step;
    }
    r.last_step = 100;
    r.reached_100 = true;
    r.reached_100_at = t0 + 2ms;
    EXPECT_EQ(cloud_outcome(r, "2"), Outcome::never_returned);
    r.last_inform_at = t0 + 3ms;
    r.last_version = "1";
    EXPECT_EQ(cloud_outcome(r, "2"), Outcome::rolled_back);
    r.last_version = "2";
    EXPECT_EQ(cloud_outcome(r, "2"), Outcome::updated);
    // A report of the old version before step 100 (a reconnect mid-download) is no rollback.
    r.last_version = "1";
    r.last_inform_at = t0 + 1ms;
    EXPECT_EQ(cloud_outcome(r, "2"), Outcome::never_returned);
}

TEST(FleetCloud, RefusesBadOptionsNamingThem) {
    const Lab& lab = Lab::get();
    auto o = cloud_options(lab, "https://127.0.0.1/x.bin", "/nonexistent/image.bin");
    {
        ota::fleet::FleetCloud cloud(o, {{"pk", "dn"}});
        const ota::Error e = cloud.start();
        EXPECT_EQ(e.status, ota::Status::storage_failed);
        EXPECT_NE(e.detail.find("--push-file"), std::string::npos) << e.detail;
    }
    o.push_version = std::string(65, 'v');
    {
        ota::fleet::FleetCloud cloud(o, {{"pk", "dn"}});
        const ota::Error e = cloud.start();
        EXPECT_EQ(e.status, ota::Status::invalid_argument);
        EXPECT_NE(e.detail.find("--push-version"), std::string::npos) << e.detail;
    }
    o.push_version = "2.0.0";
    o.push_rate = -1;
    {
        ota::fleet::FleetCloud cloud(o, {{"pk", "dn"}});
        EXPECT_EQ(cloud.start().status, ota::Status::invalid_argument);
    }
}

}  // namespace
