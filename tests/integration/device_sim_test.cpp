// End to end with A/B slots: the device_sim example (SlotSink on a file-backed simulated NOR
// flash) as the device, ota_cloud as the cloud, and an in-test MQTT subscriber standing in for the
// cloud's job bookkeeping: it watches the inform topic for the version report that closes a job.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "lab.hpp"
#include "ota/paho/paho_channel.hpp"
#include "ota/protocol.hpp"

namespace ota::test {
namespace {

// Subscribes to a device's inform and progress topics with the cloud's credentials and records
// what the device reports, in order.
class CloudWatcher final : public ChannelListener {
  public:
    CloudWatcher(const Lab& lab, const Device& d) : topics_(make_topics(d.pk, d.dn)) {
        channel_ = std::make_unique<PahoChannel>(lab.cloud_mqtt("it-watcher-" + d.dn));
        const Error e = channel_->connect();
        EXPECT_TRUE(e.ok()) << e.message();
        channel_->add_listener(*this);
        EXPECT_EQ(channel_->subscribe(topics_.inform, 1), Status::ok);
        EXPECT_EQ(channel_->subscribe(topics_.progress, 1), Status::ok);
    }
    ~CloudWatcher() override { channel_->remove_listener(*this); }

    void on_message(std::string_view topic, std::string_view payload) override {
        const auto j = nlohmann::json::parse(payload, nullptr, false);
        if (!j.is_object() || !j.contains("params")) return;
        const auto& p = j["params"];
        if (topic == topics_.inform) {
            events.push_back("version " + p.value("version", std::string()));
        } else if (topic == topics_.progress) {
            events.push_back("step " + p.value("step", std::string()));
        }
    }

    // Delivers messages until `event` has been seen `count` times or `timeout_s` passes.
    bool wait_for(const std::string& event, std::size_t count, double timeout_s) {
        const auto deadline = std::chrono::steady_clock::now() +
                              std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>(timeout_s));
        for (;;) {
            if (seen(event) >= count) return true;
            if (std::chrono::steady_clock::now() >= deadline) return false;
            (void)channel_->yield(std::chrono::milliseconds(100));
        }
    }

    [[nodiscard]] std::size_t seen(const std::string& event) const {
        std::size_t n = 0;
        for (const auto& e : events) n += e == event ? 1 : 0;
        return n;
    }

    [[nodiscard]] std::string all() const {
        std::string out;
        for (const auto& e : events) out += e + "; ";
        return out;
    }

    std::vector<std::string> events;

  private:
    Topics topics_;
    std::unique_ptr<PahoChannel> channel_;
};

class DeviceSimTest : public ::testing::Test {
  protected:
    const Lab& lab = Lab::get();
    TempDir tmp;

    std::filesystem::path flash() const { return tmp.path() / "flash.bin"; }

    std::vector<std::string> device_cmd(const Device& d, std::vector<std::string> extra) const {
        // 2 record sectors + two 512 KiB slots.
        std::vector<std::string> argv{Lab::bin("device_sim"),
                                      "--product-key",
                                      d.pk,
                                      "--device-name",
                                      d.dn,
                                      "--device-secret",
                                      d.ds,
                                      "--flash",
                                      flash().string(),
                                      "--flash-size",
                                      std::to_string((2 + 2 * 128) * 4096),
                                      "--factory-version",
                                      "1.0.0",
                                      "--host",
                                      "127.0.0.1",
                                      "--port",
                                      std::to_string(lab.mqtt_tls_port),
                                      "--ca-file",
                                      lab.ca_file,
                                      "--http-ca-file",
                                      lab.ca_file};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return argv;
    }

    ProcessResult push(const Device& d, const std::string& version,
                       const std::vector<std::uint8_t>& image, const std::string& settle) const {
        const std::string name = "sim-" + d.dn + "-" + version + ".bin";
        const std::string url = lab.put_file(name, image);
        return run_process(
            cloud_push_cmd(lab, d, lab.www_dir / name, url,
                           {"--sign-method", "sha256", "--settle", settle, "--timeout", "60"},
                           version),
            90);
    }

    static bool contains(const std::string& text, const std::string& what) {
        return text.find(what) != std::string::npos;
    }
};

TEST_F(DeviceSimTest, UpdateIsBootedOnTrialReportedAndConfirmed) {
    const Device d = make_device("ab");
    CloudWatcher cloud(lab, d);
    BackgroundProcess device(device_cmd(d, {"--wait", "60"}), tmp.path() / "device.log");
    ASSERT_TRUE(device.wait_for_output("waiting for an upgrade job", 30)) << device.output();
    EXPECT_TRUE(contains(device.output(), "provisioned factory image 1.0.0")) << device.output();
    ASSERT_TRUE(cloud.wait_for("version 1.0.0", 1, 10)) << cloud.all();

    const ProcessResult push_result = push(d, "2.0.0", random_bytes(300 * 1024 + 3, 21), "1");
    EXPECT_EQ(push_result.exit_code, 0) << push_result.output;
    EXPECT_TRUE(contains(push_result.output, "step 100")) << push_result.output;

    // The version report of the new image is what closes the job in the cloud.
    EXPECT_TRUE(cloud.wait_for("version 2.0.0", 1, 60)) << cloud.all();
    EXPECT_EQ(device.wait(60), 0) << device.output();
    const std::string out = device.output();
    EXPECT_TRUE(contains(out, "image 2.0.0 written to slot 1, verified and marked pending")) << out;
    EXPECT_TRUE(contains(out, "booted slot 1: version 2.0.0 (trial)")) << out;
    EXPECT_TRUE(contains(out, "self-test of 2.0.0 passed")) << out;
    EXPECT_TRUE(contains(out, "reported version 2.0.0")) << out;
    EXPECT_TRUE(contains(out, "confirmed version 2.0.0 in slot 1")) << out;
    // Reported before confirming: an image that cannot reach the cloud is never confirmed.
    EXPECT_LT(out.find("reported version 2.0.0"), out.find("confirmed version 2.0.0")) << out;
    EXPECT_EQ(cloud.seen("step -1"), 0U) << cloud.all();

    // The next power-on runs 2.0.0, confirmed, from the same flash file.
    const ProcessResult again = run_process(device_cmd(d, {"--wait", "1"}), 60);
    EXPECT_EQ(again.exit_code, 6) << again.output;
    EXPECT_TRUE(contains(again.output, "booted slot 1: version 2.0.0 (confirmed)")) << again.output;
    EXPECT_FALSE(contains(again.output, "provisioned")) << again.output;
    EXPECT_TRUE(cloud.wait_for("version 2.0.0", 2, 10)) << cloud.all();
}

TEST_F(DeviceSimTest, FailedSelfTestRollsBackAndTheOldVersionIsReported) {
    const Device d = make_device("rb");
    CloudWatcher cloud(lab, d);
    BackgroundProcess device(device_cmd(d, {"--wait", "60", "--fail-self-test"}),
                             tmp.path() / "device.log");
    ASSERT_TRUE(device.wait_for_output("waiting for an upgrade job", 30)) << device.output();

    // A long settle: ota_cloud returns as soon as the device's failure step arrives.
    const ProcessResult push_result = push(d, "3.0.0", random_bytes(100 * 1024, 22), "60");
    EXPECT_EQ(push_result.exit_code, 3) << push_result.output;
    EXPECT_TRUE(contains(push_result.output, "step 100")) << push_result.output;
    EXPECT_TRUE(contains(push_result.output, "step -1 update not confirmed, rolled back"))
        << push_result.output;

    EXPECT_EQ(device.wait(60), 7) << device.output();
    const std::string out = device.output();
    EXPECT_TRUE(contains(out, "booted slot 1: version 3.0.0 (trial)")) << out;
    EXPECT_TRUE(contains(out, "self-test of 3.0.0 failed")) << out;
    EXPECT_TRUE(contains(out, "booted slot 0: version 1.0.0 (confirmed), rolled back")) << out;
    EXPECT_TRUE(contains(out, "rolled back to version 1.0.0 in slot 0")) << out;
    ASSERT_TRUE(cloud.wait_for("version 1.0.0", 2, 10)) << cloud.all();
    EXPECT_EQ(cloud.seen("version 3.0.0"), 0U) << cloud.all();

    // The next power-on still runs 1.0.0: the rejected image is not tried again.
    const ProcessResult again = run_process(device_cmd(d, {"--wait", "1"}), 60);
    EXPECT_EQ(again.exit_code, 6) << again.output;
    EXPECT_TRUE(contains(again.output, "booted slot 0: version 1.0.0 (confirmed)")) << again.output;
    EXPECT_FALSE(contains(again.output, "trial")) << again.output;
}

}  // namespace
}  // namespace ota::test
