// End to end: the ota_mqtt example and the ported C example as devices, the ota_cloud tool as the
// cloud, against the lab's real mosquitto (TLS, passwords, ACL) and nginx (HTTPS).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "lab.hpp"

namespace ota::test {
namespace {

class OtaEndToEnd : public ::testing::Test {
  protected:
    const Lab& lab = Lab::get();
    TempDir tmp;

    std::filesystem::path out() const { return tmp.path() / "ota.bin"; }

    std::vector<std::string> device_cmd(const Device& d,
                                        std::vector<std::string> extra = {}) const {
        return ota_mqtt_cmd(lab, d, out(), std::move(extra));
    }

    std::vector<std::string> broker_args() const { return cloud_broker_args(lab); }

    std::vector<std::string> push_cmd(const Device& d, const std::filesystem::path& file,
                                      const std::string& url,
                                      std::vector<std::string> extra = {}) const {
        return cloud_push_cmd(lab, d, file, url, std::move(extra));
    }

    // Publishes a job for `image` served as www/<name> and returns the cloud's result.
    ProcessResult push(const Device& d, const std::string& name,
                       const std::vector<std::uint8_t>& image,
                       std::vector<std::string> extra = {}) const {
        const std::string url = lab.put_file(name, image);
        return run_process(push_cmd(d, lab.www_dir / name, url, std::move(extra)), 90);
    }

    static void expect_waiting(BackgroundProcess& device) {
        ASSERT_TRUE(device.wait_for_output("waiting for an upgrade job", 20)) << device.output();
    }
};

TEST_F(OtaEndToEnd, Md5JobStoresTheVerifiedImage) {
    const Device d = make_device("md5");
    const auto image = random_bytes(3 * 1024 * 1024 + 17, 1);
    BackgroundProcess device(device_cmd(d, {"--wait", "60"}), tmp.path() / "device.log");
    expect_waiting(device);

    const ProcessResult cloud = push(d, "md5-" + d.dn + ".bin", image);
    EXPECT_EQ(cloud.exit_code, 0) << cloud.output;
    EXPECT_NE(cloud.output.find("step 0"), std::string::npos) << cloud.output;
    EXPECT_NE(cloud.output.find("step 100"), std::string::npos) << cloud.output;
    EXPECT_EQ(device.wait(60), 0) << device.output();
    EXPECT_EQ(read_file(out()), image);
    EXPECT_FALSE(std::filesystem::exists(out().string() + ".part"));
}

TEST_F(OtaEndToEnd, Sha256JobStoresTheVerifiedImage) {
    const Device d = make_device("sha");
    const auto image = random_bytes(1024 * 1024, 2);
    BackgroundProcess device(device_cmd(d, {"--wait", "60"}), tmp.path() / "device.log");
    expect_waiting(device);

    const ProcessResult cloud = push(d, "sha-" + d.dn + ".bin", image, {"--sign-method", "sha256"});
    EXPECT_EQ(cloud.exit_code, 0) << cloud.output;
    EXPECT_NE(cloud.output.find("sha256"), std::string::npos) << cloud.output;
    EXPECT_EQ(device.wait(60), 0) << device.output();
    EXPECT_EQ(read_file(out()), image);
}

TEST_F(OtaEndToEnd, DigestMismatchIsReportedAndNothingIsStored) {
    const Device d = make_device("bad");
    auto served = random_bytes(512 * 1024, 3);
    auto announced = served;
    announced[1000] ^= 0x55;  // same size, different digest
    const std::string url = lab.put_file("mismatch-" + d.dn + ".bin", served);
    const auto announced_path = tmp.path() / "announced.bin";
    write_file(announced_path, announced);
    BackgroundProcess device(device_cmd(d, {"--wait", "60"}), tmp.path() / "device.log");
    expect_waiting(device);

    const ProcessResult cloud = run_process(push_cmd(d, announced_path, url), 90);
    EXPECT_EQ(cloud.exit_code, 3) << cloud.output;
    EXPECT_NE(cloud.output.find("step -3"), std::string::npos) << cloud.output;
    EXPECT_EQ(device.wait(60), 3) << device.output();
    EXPECT_FALSE(std::filesystem::exists(out()));
    EXPECT_FALSE(std::filesystem::exists(out().string() + ".part"));
}

void expect_http_error(const OtaEndToEnd& t, const Device& d, BackgroundProcess& device,
                       const std::string& path, const std::filesystem::path& out,
                       const ProcessResult& cloud) {
    (void)t;
    EXPECT_EQ(cloud.exit_code, 3) << cloud.output;
    EXPECT_NE(cloud.output.find("step -2"), std::string::npos) << cloud.output;
    EXPECT_EQ(device.wait(60), 4) << device.output();
    EXPECT_FALSE(std::filesystem::exists(out)) << path << " " << d.dn;
    EXPECT_FALSE(std::filesystem::exists(out.string() + ".part"));
}

TEST_F(OtaEndToEnd, Http404FailsTheDownload) {
    const Device d = make_device("404");
    const auto image = random_bytes(4096, 4);
    const auto file = tmp.path() / "img.bin";
    write_file(file, image);
    BackgroundProcess device(device_cmd(d, {"--wait", "60"}), tmp.path() / "device.log");
    expect_waiting(device);
    const ProcessResult cloud = run_process(push_cmd(d, file, lab.https_url("status/404")), 90);
    expect_http_error(*this, d, device, "404", out(), cloud);
    EXPECT_NE(device.output().find("404"), std::string::npos) << device.output();
}

TEST_F(OtaEndToEnd, Http500FailsTheDownload) {
    const Device d = make_device("500");
    const auto image = random_bytes(4096, 5);
    const auto file = tmp.path() / "img.bin";
    write_file(file, image);
    // 5xx is transient: with a single attempt allowed it fails at once.
    BackgroundProcess device(device_cmd(d, {"--wait", "60", "--max-attempts", "1"}),
                             tmp.path() / "device.log");
    expect_waiting(device);
    const ProcessResult cloud = run_process(push_cmd(d, file, lab.https_url("status/500")), 90);
    expect_http_error(*this, d, device, "500", out(), cloud);
    EXPECT_NE(device.output().find("500"), std::string::npos) << device.output();
}

TEST_F(OtaEndToEnd, WrongBrokerPasswordIsAClearConfigurationError) {
    Device d = make_device("pw");
    const std::string wrong_secret = "definitely-not-the-secret";
    d.ds = wrong_secret;
    const ProcessResult r = run_process(device_cmd(d, {"--wait", "5"}), 60);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("not authorized"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find(wrong_secret), std::string::npos) << "the secret leaked: " << r.output;
}

TEST_F(OtaEndToEnd, ModuleJobIsTakenByTheMatchingModule) {
    const Device d = make_device("mod");
    const auto image = random_bytes(200 * 1024, 6);
    BackgroundProcess device(device_cmd(d, {"--module", "mcu", "--wait", "60"}),
                             tmp.path() / "device.log");
    expect_waiting(device);
    const ProcessResult cloud = push(d, "mod-" + d.dn + ".bin", image, {"--module", "mcu"});
    EXPECT_EQ(cloud.exit_code, 0) << cloud.output;
    EXPECT_EQ(device.wait(60), 0) << device.output();
    EXPECT_EQ(read_file(out()), image);
}

TEST_F(OtaEndToEnd, JobForAnotherModuleIsIgnored) {
    const Device d = make_device("othermod");
    const auto image = random_bytes(4096, 7);
    BackgroundProcess device(device_cmd(d, {"--module", "mcu", "--wait", "6"}),
                             tmp.path() / "device.log");
    expect_waiting(device);
    const ProcessResult cloud =
        push(d, "othermod-" + d.dn + ".bin", image, {"--module", "wifi", "--timeout", "3"});
    EXPECT_EQ(cloud.exit_code, 6) << cloud.output;  // no progress at all from the device
    EXPECT_EQ(cloud.output.find("step"), std::string::npos) << cloud.output;
    EXPECT_EQ(device.wait(30), 6) << device.output();  // no job within --wait
    EXPECT_FALSE(std::filesystem::exists(out()));
}

TEST_F(OtaEndToEnd, FirmwareGetReturnsThePendingJob) {
    const Device d = make_device("get");
    const auto image = random_bytes(300 * 1024, 8);
    const std::string name = "get-" + d.dn + ".bin";
    const std::string url = lab.put_file(name, image);
    BackgroundProcess cloud(
        push_cmd(d, lab.www_dir / name, url, {"--serve-get", "--no-push", "--timeout", "60"}),
        tmp.path() / "cloud.log");
    ASSERT_TRUE(cloud.wait_for_output("watching device", 20)) << cloud.output();
    BackgroundProcess device(device_cmd(d, {"--request", "--wait", "60"}),
                             tmp.path() / "device.log");
    EXPECT_EQ(device.wait(60), 0) << device.output();
    EXPECT_EQ(cloud.wait(30), 0) << cloud.output();
    EXPECT_NE(cloud.output().find("firmware/get"), std::string::npos) << cloud.output();
    EXPECT_EQ(read_file(out()), image);
}

TEST_F(OtaEndToEnd, MalformedPushIsReportedAndTheDeviceKeepsWaiting) {
    const Device d = make_device("malformed");
    const auto image = random_bytes(100 * 1024, 9);
    const std::string name = "malformed-" + d.dn + ".bin";
    const std::string url = lab.put_file(name, image);
    BackgroundProcess device(device_cmd(d, {"--wait", "60"}), tmp.path() / "device.log");
    expect_waiting(device);
    // A watcher that publishes nothing and stops at the first failure step.
    BackgroundProcess watcher(
        push_cmd(d, lab.www_dir / name, url, {"--no-push", "--timeout", "30"}),
        tmp.path() / "watch.log");
    ASSERT_TRUE(watcher.wait_for_output("watching device", 20)) << watcher.output();

    std::vector<std::string> raw{
        Lab::bin("ota_cloud"),
        "raw",
        "--topic",
        "/ota/device/upgrade/" + d.pk + "/" + d.dn,
        "--payload",
        R"({"code":"1000","data":{"version":"2.0","size":10,"md5":"00"}})"};
    const auto b = broker_args();
    raw.insert(raw.end(), b.begin(), b.end());
    const ProcessResult pub = run_process(raw, 30);
    ASSERT_EQ(pub.exit_code, 0) << pub.output;
    EXPECT_EQ(watcher.wait(30), 3) << watcher.output();
    EXPECT_NE(watcher.output().find("step -1"), std::string::npos) << watcher.output();
    EXPECT_NE(watcher.output().find("data.url"), std::string::npos) << watcher.output();

    // Still waiting: a valid job afterwards completes.
    const ProcessResult cloud = run_process(push_cmd(d, lab.www_dir / name, url), 90);
    EXPECT_EQ(cloud.exit_code, 0) << cloud.output;
    EXPECT_EQ(device.wait(60), 0) << device.output();
    EXPECT_EQ(read_file(out()), image);
}

TEST_F(OtaEndToEnd, PlainHttpUrlIsRefusedUnlessAllowed) {
    const Device d = make_device("http");
    const auto image = random_bytes(64 * 1024, 10);
    const std::string name = "http-" + d.dn + ".bin";
    lab.put_file(name, image);
    {
        BackgroundProcess device(device_cmd(d, {"--wait", "5"}), tmp.path() / "device.log");
        expect_waiting(device);
        const ProcessResult cloud = run_process(
            push_cmd(d, lab.www_dir / name, lab.http_url(name), {"--timeout", "20"}), 60);
        EXPECT_EQ(cloud.exit_code, 3) << cloud.output;
        EXPECT_NE(cloud.output.find("step -1"), std::string::npos) << cloud.output;
        EXPECT_EQ(device.wait(30), 6) << device.output();  // refused, kept waiting, no job
        EXPECT_FALSE(std::filesystem::exists(out()));
    }
    BackgroundProcess device(device_cmd(d, {"--allow-http", "--wait", "60"}),
                             tmp.path() / "device2.log");
    expect_waiting(device);
    const ProcessResult cloud =
        run_process(push_cmd(d, lab.www_dir / name, lab.http_url(name)), 90);
    EXPECT_EQ(cloud.exit_code, 0) << cloud.output;
    EXPECT_EQ(device.wait(60), 0) << device.output();
    EXPECT_EQ(read_file(out()), image);
}

TEST_F(OtaEndToEnd, PlainTcpBrokerWhenExplicitlyChosen) {
    const Device d = make_device("tcp");
    const auto image = random_bytes(64 * 1024, 11);
    const auto argv = ota_mqtt_cmd(lab, d, out(), {"--wait", "60"}, Transport::tcp);
    BackgroundProcess device(argv, tmp.path() / "device.log");
    expect_waiting(device);
    EXPECT_NE(device.output().find("plain TCP"), std::string::npos) << device.output();
    const ProcessResult cloud = push(d, "tcp-" + d.dn + ".bin", image);
    EXPECT_EQ(cloud.exit_code, 0) << cloud.output;
    EXPECT_EQ(device.wait(60), 0) << device.output();
    EXPECT_EQ(read_file(out()), image);
}

TEST_F(OtaEndToEnd, UsageErrorsExitWithTwo) {
    EXPECT_EQ(run_process({Lab::bin("ota_mqtt")}, 10).exit_code, 2);
    EXPECT_EQ(run_process({Lab::bin("ota_mqtt"), "--bogus"}, 10).exit_code, 2);
    const Device d{"pk", "dn", "ds"};
    EXPECT_EQ(run_process(device_cmd(d, {"--no-tls"}), 10).exit_code, 2);  // with --ca-file
    EXPECT_EQ(run_process(device_cmd(d, {"--port", "0"}), 10).exit_code, 2);
}

// The seed's basic example, ported (compiled as C): the same loop against the real broker.
class SeedCExample : public OtaEndToEnd {
  protected:
    std::vector<std::string> c_cmd(const Device& d) const {
        return {Lab::bin("ota_example_c"),
                d.pk,
                d.dn,
                d.ds,
                "1.0.0",
                "127.0.0.1",
                std::to_string(lab.mqtt_tls_port),
                lab.ca_file,
                lab.ca_file,
                out().string()};
    }
};

TEST_F(SeedCExample, RunsTheBasicFlowToAValidImage) {
    const Device d = make_device("cex");
    // The seed's loop yields 100 ms per 5000-byte chunk, so keep the image small.
    const auto image = random_bytes(300 * 1024 + 3, 12);
    BackgroundProcess device(c_cmd(d), tmp.path() / "device.log");
    ASSERT_TRUE(device.wait_for_output("wait ota upgrade command", 20)) << device.output();
    const ProcessResult cloud = push(d, "cex-" + d.dn + ".bin", image);
    EXPECT_EQ(cloud.exit_code, 0) << cloud.output;
    EXPECT_EQ(device.wait(60), 0) << device.output();
    EXPECT_NE(device.output().find("The firmware is valid"), std::string::npos) << device.output();
    EXPECT_EQ(read_file(out()), image);
}

TEST_F(SeedCExample, ReportsAnInvalidFirmware) {
    const Device d = make_device("cexbad");
    auto served = random_bytes(100 * 1024, 13);
    auto announced = served;
    announced.back() ^= 1;
    const std::string url = lab.put_file("cexbad-" + d.dn + ".bin", served);
    const auto announced_path = tmp.path() / "announced.bin";
    write_file(announced_path, announced);
    BackgroundProcess device(c_cmd(d), tmp.path() / "device.log");
    ASSERT_TRUE(device.wait_for_output("wait ota upgrade command", 20)) << device.output();
    const ProcessResult cloud = run_process(push_cmd(d, announced_path, url), 90);
    EXPECT_EQ(cloud.exit_code, 3) << cloud.output;
    EXPECT_NE(cloud.output.find("step -3"), std::string::npos) << cloud.output;
    EXPECT_EQ(device.wait(60), 1) << device.output();
    EXPECT_NE(device.output().find("The firmware is invalid"), std::string::npos)
        << device.output();
    EXPECT_FALSE(std::filesystem::exists(out()));
}

// The seed's advanced (linkkit) example, ported (compiled as C): FOTA callback + persistence HAL.
class LinkkitExample : public OtaEndToEnd {
  protected:
    std::vector<std::string> linkkit_cmd(const Device& d, const std::string& module = {},
                                         const std::string& fail_write_after = {}) const {
        std::vector<std::string> argv{Lab::bin("linkkit_fota"),
                                      d.pk,
                                      d.dn,
                                      d.ds,
                                      "1.0.0",
                                      "127.0.0.1",
                                      std::to_string(lab.mqtt_tls_port),
                                      lab.ca_file,
                                      lab.ca_file,
                                      out().string()};
        if (!module.empty() || !fail_write_after.empty()) argv.push_back(module);
        if (!fail_write_after.empty()) argv.push_back(fail_write_after);
        return argv;
    }
};

TEST_F(LinkkitExample, CallbackDownloadsThroughThePersistenceHooks) {
    const Device d = make_device("lk");
    const auto image = random_bytes(1024 * 1024 + 5, 14);
    BackgroundProcess device(linkkit_cmd(d), tmp.path() / "device.log");
    ASSERT_TRUE(device.wait_for_output("waiting for FOTA", 20)) << device.output();
    const ProcessResult cloud = push(d, "lk-" + d.dn + ".bin", image);
    EXPECT_EQ(cloud.exit_code, 0) << cloud.output;
    EXPECT_EQ(device.wait(60), 0) << device.output();
    const std::string log = device.output();
    EXPECT_NE(log.find("New Firmware Version: 1.1.0"), std::string::npos) << log;
    EXPECT_NE(log.find("persistence start"), std::string::npos) << log;
    EXPECT_NE(log.find("persistence stop: succeeded"), std::string::npos) << log;
    EXPECT_EQ(read_file(out()), image);
}

TEST_F(LinkkitExample, ModuleCallbackIsToldTheModule) {
    const Device d = make_device("lkmod");
    const auto image = random_bytes(64 * 1024, 15);
    BackgroundProcess device(linkkit_cmd(d, "mcu"), tmp.path() / "device.log");
    ASSERT_TRUE(device.wait_for_output("waiting for FOTA", 20)) << device.output();
    const ProcessResult cloud = push(d, "lkmod-" + d.dn + ".bin", image, {"--module", "mcu"});
    EXPECT_EQ(cloud.exit_code, 0) << cloud.output;
    EXPECT_EQ(device.wait(60), 0) << device.output();
    EXPECT_NE(device.output().find("New Firmware Version: 1.1.0, module: mcu"), std::string::npos)
        << device.output();
    EXPECT_EQ(read_file(out()), image);
}

TEST_F(LinkkitExample, FailedWriteReportsMinus4AndStopIsToldTheFailure) {
    const Device d = make_device("lkw");
    const auto image = random_bytes(512 * 1024, 16);
    BackgroundProcess device(linkkit_cmd(d, "", "100000"), tmp.path() / "device.log");
    ASSERT_TRUE(device.wait_for_output("waiting for FOTA", 20)) << device.output();
    const ProcessResult cloud = push(d, "lkw-" + d.dn + ".bin", image);
    EXPECT_EQ(cloud.exit_code, 3) << cloud.output;
    EXPECT_NE(cloud.output.find("step -4"), std::string::npos) << cloud.output;
    EXPECT_EQ(device.wait(60), 1) << device.output();
    EXPECT_NE(device.output().find("persistence stop: failed"), std::string::npos)
        << device.output();
    EXPECT_FALSE(std::filesystem::exists(out()));
}

TEST_F(LinkkitExample, DigestMismatchStopsWithFailure) {
    const Device d = make_device("lkbad");
    auto served = random_bytes(128 * 1024, 17);
    auto announced = served;
    announced[7] ^= 0x80;
    const std::string url = lab.put_file("lkbad-" + d.dn + ".bin", served);
    const auto announced_path = tmp.path() / "announced.bin";
    write_file(announced_path, announced);
    BackgroundProcess device(linkkit_cmd(d), tmp.path() / "device.log");
    ASSERT_TRUE(device.wait_for_output("waiting for FOTA", 20)) << device.output();
    const ProcessResult cloud = run_process(push_cmd(d, announced_path, url), 90);
    EXPECT_EQ(cloud.exit_code, 3) << cloud.output;
    EXPECT_NE(cloud.output.find("step -3"), std::string::npos) << cloud.output;
    EXPECT_EQ(device.wait(60), 1) << device.output();
    EXPECT_NE(device.output().find("persistence stop: failed"), std::string::npos)
        << device.output();
    EXPECT_FALSE(std::filesystem::exists(out()));
}

}  // namespace
}  // namespace ota::test
