// `ota_fleet run` stopped by SIGINT/SIGTERM in the middle of its downloads: the stop is clean (exit
// 0, within a few seconds), the summary is still written, and every device whose job was running
// ends as `stopped` in both views, with part of its image received.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/outcome.hpp"
#include "core/stats.hpp"
#include "fleet_lab.hpp"
#include "lab.hpp"
#include "ota/channel.hpp"
#include "ota/paho/paho_channel.hpp"

namespace {

using ota::fleet::FleetSummary;
using ota::fleet::Outcome;
using ota::test::Lab;

// The devices of one product key that reported download progress (step 0 comes when a download
// starts), heard on the broker as the cloud user: the test signals once every device is in its
// download instead of after a fixed sleep (CI machines are slow, sanitizer builds slower).
class ProgressWatch final : public ota::ChannelListener {
  public:
    void on_message(std::string_view topic, std::string_view /*payload*/) override {
        const std::size_t slash = topic.rfind('/');
        std::lock_guard<std::mutex> lock(mutex_);
        names_.insert(std::string(topic.substr(slash + 1)));
    }
    std::size_t devices() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return names_.size();
    }

  private:
    mutable std::mutex mutex_;
    std::set<std::string> names_;
};

class FleetStop : public ::testing::TestWithParam<int> {};

TEST_P(FleetStop, ASignalMidDownloadEndsTheRunCleanlyWithTheSummary) {
    const int sig = GetParam();
    const Lab& lab = Lab::get();
    ota::test::TempDir tmp;
    constexpr int kDevices = 20;
    const ota::test::FleetUsers f = ota::test::register_fleet(lab, tmp, "fs", kDevices);
    ASSERT_FALSE(::testing::Test::HasFailure());  // users written and loaded into the broker
    // 1 MiB at 32 KiB/s: 32 s per device, so the signal finds every download running.
    constexpr std::uint64_t kImage = 1024 * 1024;
    lab.put_file("fleet-stop.bin", ota::test::random_bytes(kImage, 77));
    const auto json = tmp.path() / "stop.json";

    ota::MqttOptions wo;
    wo.host = "127.0.0.1";
    wo.port = lab.mqtt_tls_port;
    wo.use_tls = true;
    wo.ca_file = lab.ca_file;
    wo.username = lab.cloud_user;
    wo.password = lab.cloud_password;
    wo.client_id = "fleet-stop-watch-" + f.pk;
    wo.clean_session = true;
    ota::PahoChannel watch_channel(wo);
    ProgressWatch watch;
    watch_channel.add_listener(watch);
    ASSERT_TRUE(watch_channel.connect().ok());
    ASSERT_EQ(watch_channel.subscribe("/ota/device/progress/" + f.pk + "/+", 0), ota::Status::ok);
    ota::test::BackgroundProcess run(
        ota::test::fleet_cmd(
            lab, f, {Lab::bin("ota_fleet"), "run"},
            {"--count", std::to_string(kDevices), "--link", "100%:32k", "--duration", "90",
             "--push-url", lab.https_url("fleet-stop.bin"), "--push-file",
             (lab.www_dir / "fleet-stop.bin").string(), "--push-version", "2.0.0", "--cloud-user",
             lab.cloud_user, "--cloud-password-file", f.cloud_pw.string(), "--json", json.string(),
             "--quiet"}),
        tmp.path() / "run.log");
    // Every device in its download (1 MiB at 32 KiB/s: 32 s each, so none is done yet).
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(25);
    while (watch.devices() < static_cast<std::size_t>(kDevices) &&
           std::chrono::steady_clock::now() < give_up) {
        (void)watch_channel.yield(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(watch.devices(), static_cast<std::size_t>(kDevices)) << run.output();
    // Step 0 comes as the download starts: give the bytes a moment to flow.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const auto stop_at = std::chrono::steady_clock::now();
    run.kill(sig);
    const int code = run.wait(20);
    const double took =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - stop_at).count();
    ASSERT_EQ(code, 0) << run.output();
    EXPECT_LT(took, 5.0) << "the stop took " << took << " s";
    EXPECT_NE(run.output().find("run ended: signal"), std::string::npos) << run.output();

    std::string text;
    ASSERT_TRUE(ota::fleet::read_text_file(json.string(), text).ok()) << json;
    FleetSummary s;
    ASSERT_TRUE(FleetSummary::from_json(text, s).ok());
    ASSERT_EQ(s.devices.size(), static_cast<std::size_t>(kDevices));
    for (const auto& d : s.devices) {
        EXPECT_EQ(d.outcome, Outcome::stopped) << d.device_name << ": " << d.detail;
        EXPECT_EQ(d.cloud_outcome, Outcome::stopped) << d.device_name;
        EXPECT_GT(d.download_bytes, 0U) << d.device_name;
        EXPECT_LT(d.download_bytes, kImage) << d.device_name;
    }
}

INSTANTIATE_TEST_SUITE_P(Signals, FleetStop, ::testing::Values(SIGINT, SIGTERM),
                         [](const ::testing::TestParamInfo<int>& p) {
                             return p.param == SIGINT ? std::string("SIGINT")
                                                      : std::string("SIGTERM");
                         });

}  // namespace
