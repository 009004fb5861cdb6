// ota_mqtt run as a service (issue 10): a stop by SIGTERM is not a failure and the next start
// resumes with Range; --output is checked at start; a final report that cannot be delivered
// within --final-wait gives its own exit status.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "lab.hpp"
#include "ota/channel.hpp"
#include "ota/paho/paho_channel.hpp"
#include "ota/protocol.hpp"

namespace ota::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kExitUsage = 2;
constexpr int kExitStopped = 7;
constexpr int kExitReportNotDelivered = 8;

// 16 MiB from /slow/ (2 MiB/s): about 8 s, long enough to stop it in the middle.
constexpr std::size_t kImageSize = 16 * 1024 * 1024;

TEST(OtaMqttService, SigtermMidDownloadIsAStopAndTheNextStartResumesWithRange) {
    const Lab& lab = Lab::get();
    const Device d = make_device("sigterm");
    const auto image = random_bytes(kImageSize, 1001);
    const std::string name = "sigterm/" + d.dn + ".bin";
    lab.put_file(name, image);
    const std::string url = lab.https_url("slow/" + name);
    TempDir tmp;
    const auto out = tmp.path() / "ota.bin";

    {
        BackgroundProcess device(ota_mqtt_cmd(lab, d, out, {"--wait", "60"}),
                                 tmp.path() / "device-1.log");
        ASSERT_TRUE(device.wait_for_output("waiting for an upgrade job", 20)) << device.output();
        BackgroundProcess cloud(
            cloud_push_cmd(lab, d, lab.www_dir / name, url, {"--timeout", "60"}),
            tmp.path() / "cloud-1.log");
        ASSERT_TRUE(wait_for_progress(device, 40, 30s)) << device.output() << "\n--- cloud:\n"
                                                        << cloud.output();
        const auto signalled = Clock::now();
        device.kill(SIGTERM);
        const int code = device.wait(10);
        const auto took =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - signalled);
        EXPECT_EQ(code, kExitStopped) << device.output();
        EXPECT_LT(took, 1000ms) << "the stop took " << took.count() << " ms";
        std::printf("SIGTERM to exit: %lld ms\n", static_cast<long long>(took.count()));
        EXPECT_NE(device.output().find("stopped by a signal"), std::string::npos)
            << device.output();
        // The cloud side saw no failure: give a report that might be in flight time to arrive.
        std::this_thread::sleep_for(1s);
        EXPECT_EQ(cloud.output().find("step -"), std::string::npos) << cloud.output();
        cloud.kill();
    }
    ASSERT_TRUE(std::filesystem::exists(std::filesystem::path(out).concat(".part")));
    ASSERT_TRUE(std::filesystem::exists(std::filesystem::path(out).concat(".resume")));
    const auto kept = std::filesystem::file_size(std::filesystem::path(out).concat(".part"));
    EXPECT_GT(kept, kImageSize / 4);

    BackgroundProcess device(ota_mqtt_cmd(lab, d, out, {"--wait", "60"}),
                             tmp.path() / "device-2.log");
    ASSERT_TRUE(device.wait_for_output("waiting for an upgrade job", 20)) << device.output();
    const ProcessResult cloud =
        run_process(cloud_push_cmd(lab, d, lab.www_dir / name, url, {"--timeout", "60"}), 90);
    EXPECT_EQ(cloud.exit_code, 0) << cloud.output << "\n--- device:\n" << device.output();
    EXPECT_NE(cloud.output.find("step 100"), std::string::npos) << cloud.output;
    EXPECT_EQ(cloud.output.find("step -"), std::string::npos) << cloud.output;
    EXPECT_EQ(device.wait(60), 0) << device.output();
    EXPECT_TRUE(read_file(out) == image) << "the stored image differs";

    std::vector<AccessLine> lines;
    for (int i = 0; i < 50; ++i) {
        lines = access_lines("/slow/" + name);
        if (lines.size() >= 2) break;
        std::this_thread::sleep_for(100ms);
    }
    std::uint64_t served = 0;
    std::string listing;
    for (const auto& l : lines) {
        served += l.bytes;
        listing += std::to_string(l.status) + " " + std::to_string(l.bytes) + " range=\"" +
                   l.range + "\"\n";
    }
    ASSERT_EQ(lines.size(), 2U) << listing;
    EXPECT_EQ(lines[1].status, 206) << listing;
    EXPECT_EQ(lines[1].range, "bytes=" + std::to_string(kept) + "-") << listing;
    EXPECT_LT(static_cast<double>(served), 1.05 * kImageSize) << listing;
    RecordProperty("bytes_served", std::to_string(served));
    std::printf("served %llu bytes for a %zu-byte image (%.4fx); kept at the stop: %llu\n%s",
                static_cast<unsigned long long>(served), kImageSize,
                static_cast<double>(served) / kImageSize, static_cast<unsigned long long>(kept),
                listing.c_str());
}

TEST(OtaMqttService, UnusableOutputIsRefusedAtStartWithTheReason) {
    const Lab& lab = Lab::get();
    const Device d = make_device("output");
    TempDir tmp;
    struct Case {
        std::filesystem::path output;
        std::string reason;
    };
    const std::vector<Case> cases = {
        {tmp.path() / "missing" / "ota.bin", "does not exist"},
        {tmp.path(), "is a directory"},
        {"/sys/ota.bin", "Permission denied"},  // not writable, even for root
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.output.string());
        const ProcessResult r = run_process(ota_mqtt_cmd(lab, d, c.output, {"--wait", "5"}), 20);
        EXPECT_EQ(r.exit_code, kExitUsage) << r.output;
        EXPECT_NE(r.output.find(c.reason), std::string::npos) << r.output;
        EXPECT_EQ(r.output.find("connecting to"), std::string::npos)
            << "checked before connecting\n"
            << r.output;
    }
}

// issue 14: --low-memory (and single buffer sizes) still store a byte-exact, verified image.
TEST(OtaMqttService, LowMemoryProfileAndSingleBufferSizesCompleteAJob) {
    const Lab& lab = Lab::get();
    const std::vector<std::vector<std::string>> variants = {
        {"--low-memory"},
        // The smallest sizes allowed, odd fetch buffer, set before and after the profile.
        {"--fetch-buffer", "1000", "--low-memory", "--download-buffer", "16384", "--receive-buffer",
         "1024"},
    };
    int n = 0;
    for (const auto& flags : variants) {
        SCOPED_TRACE(flags.front());
        const Device d = make_device("lowmem" + std::to_string(n++));
        const auto image = random_bytes(3 * 1024 * 1024 + 11, 1400 + n);
        const std::string name = "lowmem/" + d.dn + ".bin";
        lab.put_file(name, image);
        TempDir tmp;
        const auto out = tmp.path() / "ota.bin";
        std::vector<std::string> extra = {"--wait", "60"};
        extra.insert(extra.end(), flags.begin(), flags.end());
        BackgroundProcess device(ota_mqtt_cmd(lab, d, out, extra), tmp.path() / "device.log");
        ASSERT_TRUE(device.wait_for_output("waiting for an upgrade job", 20)) << device.output();
        const ProcessResult cloud = run_process(
            cloud_push_cmd(lab, d, lab.www_dir / name, lab.https_url(name), {"--timeout", "60"}),
            90);
        EXPECT_EQ(cloud.exit_code, 0) << cloud.output << "\n--- device:\n" << device.output();
        EXPECT_EQ(device.wait(30), 0) << device.output();
        EXPECT_TRUE(read_file(out) == image);
    }
}

TEST(OtaMqttService, BufferSizesOutsideTheLibraryRangesAreAUsageError) {
    const Lab& lab = Lab::get();
    const Device d = make_device("badbuf");
    TempDir tmp;
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--download-buffer", "1000"}, "HttpOptions::buffer_size must be"},
        {{"--receive-buffer", "600000"}, "HttpOptions::receive_buffer_size must be"},
        {{"--fetch-buffer", "0"}, "--fetch-buffer needs a whole number of bytes"},
        {{"--fetch-buffer", "1.5"}, "--fetch-buffer needs a whole number of bytes"},
    };
    for (const auto& [flags, reason] : cases) {
        SCOPED_TRACE(flags.front() + " " + flags.back());
        std::vector<std::string> extra = {"--wait", "5"};
        extra.insert(extra.end(), flags.begin(), flags.end());
        const ProcessResult r =
            run_process(ota_mqtt_cmd(lab, d, tmp.path() / "ota.bin", extra), 20);
        EXPECT_EQ(r.exit_code, kExitUsage) << r.output;
        EXPECT_NE(r.output.find(reason), std::string::npos) << r.output;
        EXPECT_EQ(r.output.find("connecting to"), std::string::npos) << r.output;
    }
}

// The console's scripts start devices with --device-secret-file, so that no secret is on a
// command line (readable by every local user): the file's secret logs the device in, a wrong one
// does not, and bad files or both options are usage errors found before connecting.
std::vector<std::string> with_secret_file(std::vector<std::string> argv, const std::string& file) {
    const auto it = std::find(argv.begin(), argv.end(), "--device-secret");
    if (it != argv.end()) {
        const auto at = argv.erase(it, it + 2);
        argv.insert(at, {"--device-secret-file", file});
    }
    return argv;
}

void write_text(const std::filesystem::path& path, const std::string& text) {
    write_file(path, std::vector<std::uint8_t>(text.begin(), text.end()));
}

TEST(OtaMqttService, DeviceSecretFromAFile) {
    const Lab& lab = Lab::get();
    const Device d = make_device("secretfile");
    TempDir tmp;
    const auto out = tmp.path() / "ota.bin";
    const auto good = tmp.path() / "good.secret";
    write_text(good, d.ds + "\n");  // as `echo` writes it
    const ProcessResult ok =
        run_process(with_secret_file(ota_mqtt_cmd(lab, d, out, {"--wait", "1"}), good), 30);
    EXPECT_EQ(ok.exit_code, 6) << ok.output;  // logged in, no job within --wait
    EXPECT_NE(ok.output.find("waiting for an upgrade job"), std::string::npos) << ok.output;

    const auto wrong = tmp.path() / "wrong.secret";
    const std::string wrong_secret = "not-" + d.ds;
    write_text(wrong, wrong_secret);
    const ProcessResult refused =
        run_process(with_secret_file(ota_mqtt_cmd(lab, d, out, {"--wait", "1"}), wrong), 60);
    EXPECT_NE(refused.exit_code, 6) << refused.output;
    EXPECT_NE(refused.exit_code, 0) << refused.output;
    EXPECT_EQ(refused.output.find("waiting for an upgrade job"), std::string::npos)
        << refused.output;
    EXPECT_EQ(refused.output.find(wrong_secret), std::string::npos) << refused.output;

    const auto empty = tmp.path() / "empty.secret";
    write_text(empty, "\n");
    const auto two_lines = tmp.path() / "two.secret";
    write_text(two_lines, d.ds + "\n" + d.ds + "\n");
    struct Case {
        std::vector<std::string> argv;
        std::string reason;
    };
    const auto base = ota_mqtt_cmd(lab, d, out, {"--wait", "1"});
    std::vector<Case> cases = {
        {with_secret_file(base, (tmp.path() / "missing").string()), "No such file"},
        {with_secret_file(base, tmp.path().string()), "is a directory"},
        {with_secret_file(base, empty.string()), "is empty"},
        {with_secret_file(base, two_lines.string()), "more than one line"},
    };
    auto both = base;
    both.insert(both.end(), {"--device-secret-file", good.string()});
    cases.push_back({both, "--device-secret and --device-secret-file exclude each other"});
    auto none = with_secret_file(base, "x");
    none.erase(std::find(none.begin(), none.end(), "--device-secret-file"),
               std::find(none.begin(), none.end(), "x") + 1);
    cases.push_back({none, "--device-secret (or --device-secret-file)"});
    for (const Case& c : cases) {
        SCOPED_TRACE(c.reason);
        const ProcessResult r = run_process(c.argv, 20);
        EXPECT_EQ(r.exit_code, kExitUsage) << r.output;
        EXPECT_NE(r.output.find(c.reason), std::string::npos) << r.output;
        EXPECT_EQ(r.output.find("connecting to"), std::string::npos) << r.output;
        EXPECT_EQ(r.output.find(d.ds), std::string::npos) << "secret in the output\n" << r.output;
    }
}

TEST(OtaMqttService, FinalReportNotDeliveredWithinFinalWaitHasItsOwnExitStatus) {
    PrivateLab priv("finalwait");
    ASSERT_TRUE(priv.ok());
    const Lab& lab = priv.lab();
    const Device d = make_device("finalwait", lab);
    const auto image = random_bytes(8 * 1024 * 1024, 1002);
    const std::string name = "finalwait.bin";
    lab.put_file(name, image);
    TempDir tmp;
    const auto out = tmp.path() / "ota.bin";

    BackgroundProcess device(ota_mqtt_cmd(lab, d, out, {"--wait", "60", "--final-wait", "1"}),
                             tmp.path() / "device.log");
    ASSERT_TRUE(device.wait_for_output("waiting for an upgrade job", 20)) << device.output();
    {
        BackgroundProcess cloud(cloud_push_cmd(lab, d, lab.www_dir / name,
                                               lab.https_url("slow/" + name), {"--timeout", "60"}),
                                tmp.path() / "cloud.log");
        ASSERT_TRUE(wait_for_progress(device, 20, 30s)) << device.output();
        priv.stop_broker();  // the download goes on without it; the final 100 cannot go out
        cloud.kill();
    }
    EXPECT_EQ(device.wait(30), kExitReportNotDelivered) << device.output();
    EXPECT_NE(device.output().find("--final-wait"), std::string::npos) << device.output();
    EXPECT_TRUE(read_file(out) == image) << "the image itself is stored";
}

// issue 10: a failed download ends with one clear line (it used to read "download failed:
// download failed: download failed: HTTP 404 ...").
TEST(OtaMqttService, FailedDownloadEndsWithOneClearErrorLine) {
    const Lab& lab = Lab::get();
    const Device d = make_device("404");
    const auto image = random_bytes(4096, 1003);
    const std::string name = "gone/" + d.dn + ".bin";
    lab.put_file(name, image);
    TempDir tmp;
    BackgroundProcess device(ota_mqtt_cmd(lab, d, tmp.path() / "ota.bin", {"--wait", "30"}),
                             tmp.path() / "device.log");
    ASSERT_TRUE(device.wait_for_output("waiting for an upgrade job", 20)) << device.output();
    const ProcessResult cloud =
        run_process(cloud_push_cmd(lab, d, lab.www_dir / name, lab.https_url("missing/" + name),
                                   {"--timeout", "30"}),
                    60);
    EXPECT_EQ(device.wait(30), 4) << device.output();
    const std::string o = device.output();
    std::string last;  // the process's own final line, "ota_mqtt: ..."
    for (std::size_t at = o.find("ota_mqtt: "); at != std::string::npos;
         at = o.find("ota_mqtt: ", at + 1)) {
        last = o.substr(at, o.find('\n', at) - at);
    }
    ASSERT_FALSE(last.empty()) << o;
    EXPECT_EQ(last.find("download failed"), last.rfind("download failed")) << last;
    EXPECT_NE(last.find("404"), std::string::npos) << last;
    EXPECT_NE(cloud.output.find("step -2"), std::string::npos) << cloud.output;
}

// Counts the version reports a device publishes, as the cloud would see them.
class InformCounter final : public ChannelListener {
  public:
    InformCounter(const Lab& lab, const Device& d) : topic_(make_topics(d.pk, d.dn).inform) {
        channel_ = std::make_unique<PahoChannel>(lab.cloud_mqtt("it-informs-" + d.dn));
        const Error e = channel_->connect();
        EXPECT_TRUE(e.ok()) << e.message();
        channel_->add_listener(*this);
        EXPECT_EQ(channel_->subscribe(topic_, 1), Status::ok);
    }
    ~InformCounter() override { channel_->remove_listener(*this); }
    void on_message(std::string_view topic, std::string_view) override {
        if (topic == topic_) ++count;
    }
    void serve_for(std::chrono::milliseconds d) {
        const auto until = Clock::now() + d;
        while (Clock::now() < until) (void)channel_->yield(100ms);
    }
    int count = 0;

  private:
    std::string topic_;
    std::unique_ptr<PahoChannel> channel_;
};

// issue 10: the version goes out once at startup (paho's first connected event used to make the
// client report it a second time).
TEST(OtaMqttService, VersionIsReportedOnceAtStartup) {
    const Lab& lab = Lab::get();
    const Device d = make_device("informs");
    InformCounter informs(lab, d);
    TempDir tmp;
    const ProcessResult r =
        run_process(ota_mqtt_cmd(lab, d, tmp.path() / "ota.bin", {"--wait", "3"}), 20);
    EXPECT_EQ(r.exit_code, 6) << r.output;  // no job within --wait
    informs.serve_for(1500ms);
    EXPECT_EQ(informs.count, 1) << r.output;
}

}  // namespace
}  // namespace ota::test
