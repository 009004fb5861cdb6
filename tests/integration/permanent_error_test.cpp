// Permanent download errors as an operator of ota_mqtt sees them (issue 10): a certificate that
// cannot verify and an oversized response header end the download on the first attempt, the
// cloud receives one -2 that names the reason, and ota_mqtt exits with 4 (download failed).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "fault_proxy.hpp"
#include "lab.hpp"
#include "scripted_http_server.hpp"

namespace ota::test {
namespace {

using Clock = std::chrono::steady_clock;

class PermanentError : public ::testing::Test {
  protected:
    const Lab& lab = Lab::get();
    TempDir tmp;

    std::filesystem::path out() const { return tmp.path() / "ota.bin"; }

    static long long ms_since(Clock::time_point t0) {
        return static_cast<long long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
    }
};

TEST_F(PermanentError, UnknownCaFailsOnTheFirstAttemptAndExitsWithFour) {
    const Device d = make_device("tlsca");
    const auto image = random_bytes(64 * 1024, 31);
    const std::string name = "tlsca-" + d.dn + ".bin";
    lab.put_file(name, image);
    FaultProxy proxy(lab.https_port);  // counts the download's connections
    // The firmware server is trusted through an unrelated CA; the default retry policy applies.
    BackgroundProcess device(
        ota_mqtt_cmd(lab, d, out(), {"--http-ca-file", lab.other_ca_file, "--wait", "60"}),
        tmp.path() / "device.log");
    ASSERT_TRUE(device.wait_for_output("waiting for an upgrade job", 20)) << device.output();

    const auto t0 = Clock::now();
    const ProcessResult cloud =
        run_process(cloud_push_cmd(lab, d, lab.www_dir / name, proxy.https_url(name)), 90);
    const int code = device.wait(60);
    const long long took = ms_since(t0);
    EXPECT_EQ(code, 4) << device.output();
    EXPECT_EQ(cloud.exit_code, 3) << cloud.output;
    EXPECT_NE(cloud.output.find("step -2"), std::string::npos) << cloud.output;
    EXPECT_NE(cloud.output.find("TLS verification failed"), std::string::npos) << cloud.output;
    EXPECT_NE(device.output().find("TLS verification failed"), std::string::npos)
        << device.output();
    EXPECT_EQ(proxy.connections(), 1u) << device.output();
    // Push, download attempt, report and exit: seconds, not the minutes of ten attempts.
    EXPECT_LT(took, 10000) << device.output();
    EXPECT_FALSE(std::filesystem::exists(out()));
    std::printf("[ figure ] ota_mqtt, unknown CA: push to exit %lld ms, %zu connection(s)\n", took,
                proxy.connections());
}

TEST_F(PermanentError, OversizedResponseHeaderIsNamedAndExitsWithFour) {
    const Device d = make_device("bighdr");
    const auto image = random_bytes(64 * 1024, 32);
    const auto file = tmp.path() / "img.bin";
    write_file(file, image);
    ScriptedHttpServer server([&](const HttpRequest& req, std::size_t) {
        HttpResponse r = serve_file(image, req);
        r.headers.emplace_back("X-Padding", std::string(300 * 1024, 'p'));
        return r;
    });
    BackgroundProcess device(ota_mqtt_cmd(lab, d, out(), {"--allow-http", "--wait", "60"}),
                             tmp.path() / "device.log");
    ASSERT_TRUE(device.wait_for_output("waiting for an upgrade job", 20)) << device.output();

    const ProcessResult cloud = run_process(cloud_push_cmd(lab, d, file, server.url("fw.bin")), 90);
    EXPECT_EQ(device.wait(60), 4) << device.output();
    EXPECT_EQ(cloud.exit_code, 3) << cloud.output;
    EXPECT_NE(cloud.output.find("step -2"), std::string::npos) << cloud.output;
    EXPECT_NE(cloud.output.find("response header too large"), std::string::npos) << cloud.output;
    EXPECT_NE(device.output().find("response header too large"), std::string::npos)
        << device.output();
    EXPECT_EQ(device.output().find("Out of memory"), std::string::npos) << device.output();
    EXPECT_EQ(server.request_count(), 1u) << device.output();
    EXPECT_FALSE(std::filesystem::exists(out()));
}

}  // namespace
}  // namespace ota::test
