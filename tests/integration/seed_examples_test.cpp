// The seed's two examples (tests/compat/, C99, not a line changed) run as real processes against
// the lab's mosquitto and nginx, with ota_cloud as the cloud and a second subscriber that counts
// every progress report the device sends: a success, a connection cut that the library resumes
// (the cloud sees no -2), an HTTP 404 (the loop ends without a crash, one failure report) and a
// wrong digest (CHECK_FIRMWARE says invalid, one failure report); the linkkit example through the
// same four (it runs until stopped: the tests check it is still alive, then end it).
//
// The examples carry their device triple as #defines, so every test here uses the same device:
// ctest runs them one at a time (RESOURCE_LOCK in CMakeLists.txt). They reach the lab through
// the environment that tests/compat/lab_env.c, part of their HAL port, hands to IOT_Ioctl.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fault_proxy.hpp"
#include "lab.hpp"
#include "ota/paho/paho_channel.hpp"
#include "ota/protocol.hpp"

namespace ota::test {
namespace {

// The triple in tests/compat/ota_example_mqtt.c and linkkit_example_solo.c.
const Device kSeedDevice{"a1ExampleKey", "example1", "ExampleDeviceSecretExampleSecret"};

/// Collects every progress step the device publishes (ota_cloud stops at the first failure; this
/// one keeps listening, to count them).
class ProgressLog final : public ChannelListener {
  public:
    explicit ProgressLog(const Lab& lab) {
        channel_ = std::make_unique<PahoChannel>(lab.cloud_mqtt("seed-progress-log"));
        const Error e = channel_->connect();
        EXPECT_TRUE(e.ok()) << e.message();
        channel_->add_listener(*this);
        const Topics t = make_topics(kSeedDevice.pk, kSeedDevice.dn);
        EXPECT_EQ(channel_->subscribe(t.progress, 1), Status::ok);
    }
    ~ProgressLog() override { channel_->remove_listener(*this); }
    ProgressLog(const ProgressLog&) = delete;
    ProgressLog& operator=(const ProgressLog&) = delete;

    void on_message(std::string_view, std::string_view payload) override {
        const auto j = nlohmann::json::parse(payload, nullptr, false);
        if (j.is_discarded()) return;
        steps_.push_back(j.value("params", nlohmann::json::object()).value("step", "?"));
    }

    /// Serves the channel for `d`, then returns every step received so far.
    std::vector<std::string> steps_after(std::chrono::milliseconds d) {
        const auto end = std::chrono::steady_clock::now() + d;
        while (std::chrono::steady_clock::now() < end) {
            (void)channel_->yield(std::chrono::milliseconds(100));
        }
        return steps_;
    }

  private:
    std::unique_ptr<PahoChannel> channel_;
    std::vector<std::string> steps_;
};

std::size_t failures_in(const std::vector<std::string>& steps) {
    std::size_t n = 0;
    for (const auto& s : steps) n += (!s.empty() && s[0] == '-') ? 1 : 0;
    return n;
}

std::string joined(const std::vector<std::string>& steps) {
    std::string out;
    for (const auto& s : steps) out += s + " ";
    return out;
}

class SeedExamples : public ::testing::Test {
  protected:
    void SetUp() override {
        static const bool added = [this] {
            lab.add_device(kSeedDevice.pk, kSeedDevice.dn, kSeedDevice.ds);
            return true;
        }();
        (void)added;
    }

    /// The seed example `name` run in the temporary directory (it writes ota.bin there), pointed
    /// at the lab through the environment its HAL port reads.
    std::vector<std::string> seed_cmd(const std::string& name,
                                      std::vector<std::string> args = {}) const {
        std::vector<std::string> argv{"/usr/bin/env",
                                      "-C",
                                      tmp.path().string(),
                                      "OTA_SEED_MQTT_HOST=127.0.0.1",
                                      "OTA_SEED_MQTT_PORT=" + std::to_string(lab.mqtt_tls_port),
                                      "OTA_SEED_CA_FILE=" + lab.ca_file,
                                      "OTA_SEED_HTTP_CA_FILE=" + lab.ca_file,
                                      Lab::bin(name)};
        argv.insert(argv.end(), args.begin(), args.end());
        return argv;
    }

    std::filesystem::path out() const { return tmp.path() / "ota.bin"; }

    ProcessResult push(const std::filesystem::path& announced, const std::string& url) const {
        return run_process(cloud_push_cmd(lab, kSeedDevice, announced, url, {"--timeout", "60"}),
                           90);
    }

    const Lab& lab = Lab::get();
    TempDir tmp;
};

class SeedBasicExample : public SeedExamples {
  protected:
    /// Starts the seed's basic example and waits for its loop.
    std::unique_ptr<BackgroundProcess> start_device() {
        auto device = std::make_unique<BackgroundProcess>(seed_cmd("seed_ota_example_mqtt"),
                                                          tmp.path() / "device.log");
        EXPECT_TRUE(device->wait_for_output("wait ota upgrade command", 20)) << device->output();
        return device;
    }
};

TEST_F(SeedBasicExample, DownloadsAValidImage) {
    ProgressLog log(lab);
    // The seed yields 100 ms per 5000-byte chunk: keep the image small.
    const auto image = random_bytes(150 * 1024 + 7, 31);
    const std::string url = lab.put_file("seed-ok.bin", image);
    auto device = start_device();
    const ProcessResult cloud = push(lab.www_dir / "seed-ok.bin", url);
    EXPECT_EQ(cloud.exit_code, 0) << cloud.output;
    EXPECT_EQ(device->wait(60), 0) << device->output();
    EXPECT_NE(device->output().find("The firmware is valid"), std::string::npos)
        << device->output();
    EXPECT_EQ(read_file(out()), image);
    const auto steps = log.steps_after(std::chrono::milliseconds(1000));
    ASSERT_FALSE(steps.empty());
    EXPECT_EQ(steps.front(), "0") << "the library reports the start: " << joined(steps);
    EXPECT_EQ(steps.back(), "100") << joined(steps);
    EXPECT_EQ(failures_in(steps), 0U) << joined(steps);
}

TEST_F(SeedBasicExample, ConnectionCutIsResumedAndNeverReportedAsAFailure) {
    ProgressLog log(lab);
    const auto image = random_bytes(200 * 1024 + 3, 32);
    lab.put_file("seed-cut.bin", image);
    FaultProxy proxy(lab.https_port);
    proxy.push(Fault::cut_after(80 * 1024));  // the first connection breaks mid-body
    auto device = start_device();
    const ProcessResult cloud = push(lab.www_dir / "seed-cut.bin", proxy.https_url("seed-cut.bin"));
    EXPECT_EQ(cloud.exit_code, 0) << cloud.output;
    EXPECT_EQ(device->wait(90), 0) << device->output();
    EXPECT_NE(device->output().find("The firmware is valid"), std::string::npos)
        << device->output();
    EXPECT_EQ(device->output().find("ota fetch fail"), std::string::npos)
        << "FetchYield returned <= 0 to the seed's loop: " << device->output();
    EXPECT_EQ(read_file(out()), image);
    EXPECT_GE(proxy.connections(), 2U) << "the download resumed on a new connection";
    const auto records = proxy.records();
    ASSERT_FALSE(records.empty());
    EXPECT_TRUE(records[0].fault_fired);
    const auto steps = log.steps_after(std::chrono::milliseconds(1000));
    EXPECT_EQ(failures_in(steps), 0U) << "the cloud saw a failure: " << joined(steps);
    ASSERT_FALSE(steps.empty());
    EXPECT_EQ(steps.back(), "100") << joined(steps);
}

TEST_F(SeedBasicExample, Http404EndsTheLoopWithOneFailureReport) {
    ProgressLog log(lab);
    const auto image = random_bytes(4096, 33);
    const auto announced = tmp.path() / "announced.bin";
    write_file(announced, image);
    auto device = start_device();
    const ProcessResult cloud = push(announced, lab.https_url("status/404"));
    EXPECT_EQ(cloud.exit_code, 3) << cloud.output;
    EXPECT_NE(cloud.output.find("step -2"), std::string::npos) << cloud.output;
    // The seed divides by FILE_SIZE after the failure: with the job's size kept it cannot crash.
    EXPECT_EQ(device->wait(60), 0) << device->output();
    EXPECT_NE(device->output().find("The firmware is invalid"), std::string::npos)
        << device->output();
    const auto steps = log.steps_after(std::chrono::milliseconds(1500));
    EXPECT_EQ(failures_in(steps), 1U)
        << "the seed's own -2 must not be sent again: " << joined(steps);
}

TEST_F(SeedBasicExample, WrongDigestIsInvalidWithOneFailureReport) {
    ProgressLog log(lab);
    const auto served = random_bytes(60 * 1024, 34);
    auto announced = served;
    announced[100] ^= 0x20;
    const std::string url = lab.put_file("seed-bad.bin", served);
    const auto announced_path = tmp.path() / "announced.bin";
    write_file(announced_path, announced);
    auto device = start_device();
    const ProcessResult cloud = push(announced_path, url);
    EXPECT_EQ(cloud.exit_code, 3) << cloud.output;
    EXPECT_NE(cloud.output.find("step -3"), std::string::npos) << cloud.output;
    EXPECT_EQ(device->wait(60), 0) << device->output();
    EXPECT_NE(device->output().find("The firmware is invalid"), std::string::npos)
        << device->output();
    const auto steps = log.steps_after(std::chrono::milliseconds(1500));
    EXPECT_EQ(failures_in(steps), 1U) << joined(steps);
    EXPECT_EQ(steps.back(), "-3") << joined(steps);
}

// ---- the linkkit example: FOTA callback, IOT_Linkkit_Query, the persistence HAL -------------

class SeedLinkkitExample : public SeedExamples {
  protected:
    /// Starts the seed's linkkit example (it runs until killed) and waits for its connection.
    std::unique_ptr<BackgroundProcess> start_device() {
        auto device = std::make_unique<BackgroundProcess>(seed_cmd("seed_linkkit_example_solo"),
                                                          tmp.path() / "device.log");
        EXPECT_TRUE(device->wait_for_output("Cloud Connected", 20)) << device->output();
        return device;
    }

    /// The device is still running (no crash), then stopped.
    static void expect_alive_then_stop(BackgroundProcess& device) {
        EXPECT_EQ(device.wait(1.0), -1) << "the example exited: " << device.output();
        device.kill(15);
        (void)device.wait(10);
    }
};

TEST_F(SeedLinkkitExample, DownloadsThroughThePersistenceHal) {
    ProgressLog log(lab);
    const auto image = random_bytes(300 * 1024 + 1, 41);
    const std::string url = lab.put_file("seed-lk-ok.bin", image);
    auto device = start_device();
    const ProcessResult cloud = push(lab.www_dir / "seed-lk-ok.bin", url);
    EXPECT_EQ(cloud.exit_code, 0) << cloud.output;
    EXPECT_TRUE(device->wait_for_output("New Firmware Version: 1.1.0", 10)) << device->output();
    const auto steps = log.steps_after(std::chrono::milliseconds(1000));
    expect_alive_then_stop(*device);
    EXPECT_EQ(read_file(out()), image);
    ASSERT_FALSE(steps.empty());
    EXPECT_EQ(steps.front(), "0") << joined(steps);
    EXPECT_EQ(steps.back(), "100") << joined(steps);
    EXPECT_EQ(failures_in(steps), 0U) << joined(steps);
}

TEST_F(SeedLinkkitExample, ConnectionCutIsResumedWithoutAFailureReport) {
    ProgressLog log(lab);
    const auto image = random_bytes(400 * 1024, 42);
    lab.put_file("seed-lk-cut.bin", image);
    FaultProxy proxy(lab.https_port);
    proxy.push(Fault::cut_after(100 * 1024));
    auto device = start_device();
    const ProcessResult cloud =
        push(lab.www_dir / "seed-lk-cut.bin", proxy.https_url("seed-lk-cut.bin"));
    EXPECT_EQ(cloud.exit_code, 0) << cloud.output;
    const auto steps = log.steps_after(std::chrono::milliseconds(1000));
    expect_alive_then_stop(*device);
    EXPECT_EQ(read_file(out()), image);
    EXPECT_GE(proxy.connections(), 2U);
    EXPECT_EQ(failures_in(steps), 0U) << joined(steps);
}

TEST_F(SeedLinkkitExample, Http404IsReportedOnceAndTheDeviceKeepsRunning) {
    ProgressLog log(lab);
    const auto announced = tmp.path() / "announced.bin";
    write_file(announced, random_bytes(4096, 43));
    auto device = start_device();
    const ProcessResult cloud = push(announced, lab.https_url("status/404"));
    EXPECT_EQ(cloud.exit_code, 3) << cloud.output;
    EXPECT_NE(cloud.output.find("step -2"), std::string::npos) << cloud.output;
    const auto steps = log.steps_after(std::chrono::milliseconds(1500));
    expect_alive_then_stop(*device);
    EXPECT_EQ(failures_in(steps), 1U) << joined(steps);
}

TEST_F(SeedLinkkitExample, WrongDigestIsReportedOnce) {
    ProgressLog log(lab);
    const auto served = random_bytes(64 * 1024, 44);
    auto announced = served;
    announced[5] ^= 0x01;
    const std::string url = lab.put_file("seed-lk-bad.bin", served);
    const auto announced_path = tmp.path() / "announced.bin";
    write_file(announced_path, announced);
    auto device = start_device();
    const ProcessResult cloud = push(announced_path, url);
    EXPECT_EQ(cloud.exit_code, 3) << cloud.output;
    EXPECT_NE(cloud.output.find("step -3"), std::string::npos) << cloud.output;
    const auto steps = log.steps_after(std::chrono::milliseconds(1500));
    expect_alive_then_stop(*device);
    EXPECT_EQ(failures_in(steps), 1U) << joined(steps);
}

}  // namespace
}  // namespace ota::test
