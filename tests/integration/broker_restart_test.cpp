// Broker restart mid-download: ota_mqtt downloads an image from a private lab's rate-limited
// /slow/ location while mosquitto is stopped and started again. The download must go on without
// the broker, and the final "100" must reach the cloud after the broker is back.
//
// The device reaches the broker through a FaultProxy. The proxy passes MQTT over TLS untouched;
// it only holds the device off after the restart until the cloud-side watcher has subscribed, so
// that the device's reports cannot race ahead of the only subscriber (the restarted broker keeps
// no sessions).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "fault_proxy.hpp"
#include "lab.hpp"

namespace ota::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class BrokerRestart : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(priv.ok());
        dev = make_device("restart", priv.lab());
    }

    std::vector<std::string> device_cmd(std::uint16_t mqtt_port) const {
        Lab via = priv.lab();
        via.mqtt_tls_port = mqtt_port;
        return ota_mqtt_cmd(via, dev, out(), {"--wait", "60"});
    }

    std::vector<std::string> cloud_cmd(const std::string& name,
                                       std::vector<std::string> extra) const {
        const Lab& lab = priv.lab();
        return cloud_push_cmd(lab, dev, lab.www_dir / name, lab.https_url("slow/" + name),
                              std::move(extra));
    }

    std::filesystem::path out() const { return tmp.path() / "ota.bin"; }

    /// Runs the scenario: the broker stops at `stop_at` percent and starts again once the device
    /// printed `restart_at` percent (100: the whole rest of the download happens without it).
    void run_scenario(std::size_t image_size, int stop_at, int restart_at, std::uint32_t seed) {
        const Lab& lab = priv.lab();
        const auto image = random_bytes(image_size, seed);
        const std::string name = "restart-" + std::to_string(seed) + ".bin";
        lab.put_file(name, image);

        FaultProxy gate(lab.mqtt_tls_port);
        BackgroundProcess device(device_cmd(gate.port()), tmp.path() / "device.log");
        ASSERT_TRUE(device.wait_for_output("waiting for an upgrade job", 20)) << device.output();
        {
            BackgroundProcess pusher(cloud_cmd(name, {"--timeout", "60"}),
                                     tmp.path() / "pusher.log");
            ASSERT_TRUE(wait_for_progress(device, stop_at, 30s))
                << device.output() << "\n--- cloud:\n"
                << pusher.output();
            ASSERT_TRUE(pusher.wait_for_output("step 0", 5)) << pusher.output();
            // The broker goes away; the device is kept away until the watcher below listens.
            gate.set_default(Fault::cut_after(0));
            lab.stop_broker();
            pusher.kill();
        }
        const int progress_at_stop = max_progress(device.output());
        const auto stopped_at = Clock::now();
        ASSERT_TRUE(wait_for_progress(device, restart_at, 30s)) << device.output();
        EXPECT_GT(max_progress(device.output()), progress_at_stop)
            << "the download did not go on without the broker\n"
            << device.output();
        if (restart_at < 100) {
            EXPECT_LT(max_progress(device.output()), 100) << "restarted too late to matter";
        }
        std::this_thread::sleep_for(
            std::max(0ms, std::chrono::duration_cast<std::chrono::milliseconds>(
                              2s - (Clock::now() - stopped_at))));
        const int progress_at_restart = max_progress(device.output());
        lab.start_broker();

        BackgroundProcess watcher(cloud_cmd(name, {"--no-push", "--timeout", "45"}),
                                  tmp.path() / "watcher.log");
        ASSERT_TRUE(watcher.wait_for_output("watching device", 20)) << watcher.output();
        const auto reopened_at = Clock::now();
        gate.set_default(Fault::pass());

        EXPECT_EQ(watcher.wait(50), 0) << watcher.output() << "\n--- device:\n" << device.output();
        EXPECT_NE(watcher.output().find("step 100"), std::string::npos) << watcher.output();
        EXPECT_EQ(watcher.output().find("step -"), std::string::npos) << watcher.output();
        EXPECT_EQ(device.wait(30), 0) << device.output();
        EXPECT_TRUE(read_file(out()) == image) << "the stored image differs";
        EXPECT_FALSE(std::filesystem::exists(out().string() + ".part"));
        // The device really came back through the proxy after the restart.
        const auto recs = gate.records();
        std::optional<Clock::time_point> back_at;
        for (const auto& r : recs) {
            if (!back_at && r.accepted_at >= reopened_at && r.fault.kind == Fault::Kind::pass) {
                back_at = r.accepted_at;
            }
        }
        EXPECT_TRUE(back_at.has_value()) << recs.size() << " connections through the proxy";
        std::printf(
            "broker down at %d%%, back at %d%%; %zu device connections; the device was "
            "back %lld ms after the gate opened\n",
            progress_at_stop, progress_at_restart, recs.size(),
            static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       back_at.value_or(reopened_at) - reopened_at)
                                       .count()));
    }

    PrivateLab priv{"restart"};
    TempDir tmp;
    Device dev;
};

// The broker is away for the end of the download: the 100 can only be sent after it is back.
TEST_F(BrokerRestart, DownloadFinishesWhileTheBrokerIsDownAndTheFinal100FollowsTheReconnect) {
    run_scenario(16 * 1024 * 1024, 10, 100, 401);
}

// The broker stops and comes back while the download is still running.
TEST_F(BrokerRestart, BrokerStopsAndReturnsMidDownload) {
    run_scenario(16 * 1024 * 1024, 10, 40, 402);
}

}  // namespace
}  // namespace ota::test
