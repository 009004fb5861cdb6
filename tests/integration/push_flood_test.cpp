// Bursts and misleading reports against the lab's real mosquitto and nginx (issue 10):
//  - 10,000 malformed pushes, published as fast as mosquitto_pub can (a separate process, so its
//    memory is not the device's), then a valid one: the valid job is downloaded and verified, the
//    device's RSS grows by less than 4 MiB, and the cloud receives at most one -1 per second.
//    Once with a device that keeps polling during the flood, once with one that is busy
//    elsewhere (its inbox overflows after paho acknowledged the messages).
//  - A push for the version the device runs is not downloaded: the device reports its version
//    again, and nginx never sees a request for the image.
// The figures (publish duration, RSS, -1 reports) are printed on stdout; the README names the
// command that shows them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "lab.hpp"
#include "ota/auth.hpp"
#include "ota/channel.hpp"
#include "ota/client.hpp"
#include "ota/curl/curl_byte_source.hpp"
#include "ota/digest.hpp"
#include "ota/log.hpp"
#include "ota/paho/paho_channel.hpp"
#include "support/memory_sink.hpp"

namespace ota {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;
using test::Lab;

constexpr int kMalformed = 10000;
constexpr std::size_t kImageSize = 64 * 1024;
constexpr const char* kSecret = "flood-device-secret";

// ---- memory -----------------------------------------------------------------------------------

// A "VmRSS:"/"VmHWM:" line of /proc/self/status, in KiB (0 when missing).
std::uint64_t proc_status_kib(const std::string& field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(field, 0) == 0) return std::stoull(line.substr(field.size()));
    }
    return 0;
}

// Resets the peak RSS (VmHWM) to the current RSS, so that the peak of what follows is measured.
bool reset_peak_rss() {
    std::ofstream out("/proc/self/clear_refs");
    out << "5";
    out.flush();
    return static_cast<bool>(out);
}

// ---- the cloud's view -------------------------------------------------------------------------

// Records the device's inform and progress messages with the time they reached the cloud.
class CloudView : public ChannelListener {
  public:
    struct Report {
        SteadyClock::duration at;
        std::string topic;
        json payload;
    };
    void on_message(std::string_view topic, std::string_view payload) override {
        json j = json::parse(payload, nullptr, false);
        reports.push_back({SteadyClock::now() - start, std::string(topic), std::move(j)});
    }
    std::vector<SteadyClock::duration> steps_at(const std::string& step) const {
        std::vector<SteadyClock::duration> out;
        for (const Report& r : reports) {
            if (r.topic.find("/progress/") == std::string::npos) continue;
            const json* s = r.payload.is_object() ? &r.payload["params"]["step"] : nullptr;
            if (s != nullptr && s->is_string() && *s == step) out.push_back(r.at);
        }
        return out;
    }
    std::vector<std::string> informed_versions() const {
        std::vector<std::string> out;
        for (const Report& r : reports) {
            if (r.topic.find("/inform/") == std::string::npos || !r.payload.is_object()) continue;
            out.push_back(r.payload["params"]["version"].get<std::string>());
        }
        return out;
    }
    std::size_t progress_count() const {
        std::size_t n = 0;
        for (const Report& r : reports) n += r.topic.find("/progress/") != std::string::npos;
        return n;
    }
    SteadyClock::time_point start = SteadyClock::now();
    std::vector<Report> reports;
};

// ---- the rig ----------------------------------------------------------------------------------

struct Rig {
    const Lab& lab = Lab::get();
    std::string pk;
    std::string dn;
    std::unique_ptr<PahoChannel> device_ch;
    std::unique_ptr<PahoChannel> cloud_ch;
    std::unique_ptr<CurlByteSource> source;
    std::unique_ptr<OtaClient> client;
    test::MemorySink sink{kImageSize};
    CloudView cloud;
    std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(16 * 1024);

    std::string topic(const char* kind) const {
        return std::string("/ota/device/") + kind + "/" + pk + "/" + dn;
    }

    explicit Rig(const std::string& tag) {
        std::random_device rd;
        pk = "fl" + std::to_string(getpid() % 100000) + "x" + std::to_string(rd() % 100000);
        dn = tag + std::to_string(rd() % 100000);
        lab.add_device(pk, dn, kSecret);

        ConnectOptions co;
        co.custom_host = "127.0.0.1";
        co.port = lab.mqtt_tls_port;
        ConnectionInfo info;
        const Error e = make_connection_info({pk, dn, kSecret}, co, info);
        EXPECT_TRUE(e.ok()) << e.message();
        MqttOptions mo = MqttOptions::from(info);
        mo.ca_file = lab.ca_file;
        mo.connect_timeout = 5s;
        device_ch = std::make_unique<PahoChannel>(mo);

        MqttOptions co2;
        co2.host = "127.0.0.1";
        co2.port = lab.mqtt_tls_port;
        co2.client_id = "cloud-" + pk;
        co2.username = lab.cloud_user;
        co2.password = lab.cloud_password;
        co2.ca_file = lab.ca_file;
        co2.connect_timeout = 5s;
        cloud_ch = std::make_unique<PahoChannel>(co2);
        cloud_ch->add_listener(cloud);

        HttpOptions ho;
        ho.ca_file = lab.ca_file;
        source = std::make_unique<CurlByteSource>(ho);
        ClientOptions o;
        o.product_key = pk;
        o.device_name = dn;
        client = std::make_unique<OtaClient>(*device_ch, *source, o);
    }
    ~Rig() { cloud_ch->remove_listener(cloud); }

    // Connects both sides (retrying briefly while mosquitto reloads its password file), inits
    // the client and reports `version`; true once the cloud has seen that report.
    bool start(const std::string& version) {
        for (PahoChannel* ch : {device_ch.get(), cloud_ch.get()}) {
            const auto deadline = SteadyClock::now() + 5s;
            Error e;
            while (!(e = ch->connect()).ok() && SteadyClock::now() < deadline) {
                std::this_thread::sleep_for(100ms);
            }
            if (!e.ok()) {
                ADD_FAILURE() << e.message();
                return false;
            }
        }
        EXPECT_EQ(cloud_ch->subscribe(topic("inform"), 1), Status::ok);
        EXPECT_EQ(cloud_ch->subscribe(topic("progress"), 1), Status::ok);
        EXPECT_TRUE(client->init().ok());
        EXPECT_TRUE(client->set_sink(&sink).ok());
        const Error reported = client->report_version(version);
        EXPECT_TRUE(reported.ok()) << reported.message();
        if (!serve_until([&] { return !cloud.informed_versions().empty(); }, 10s)) return false;
        // The first connected event may make the client report once more (issue 10, item 7):
        // let that happen before anything is counted.
        const auto settle = SteadyClock::now() + 500ms;
        while (SteadyClock::now() < settle) device_step();
        return true;
    }

    // One round of the device's loop: poll, or fetch while a job runs; verify a fetched image
    // and report its version. Then the cloud's side.
    void device_step() {
        const OtaState s = client->state();
        if (s == OtaState::pushed || s == OtaState::fetching) {
            (void)client->fetch_yield(buf.data(), buf.size(), 20ms);
        } else if (s == OtaState::fetched) {
            bool valid = false;
            EXPECT_TRUE(client->check_firmware(valid).ok());
            EXPECT_TRUE(valid);
            const std::string v(client->version());
            client->reset();
            EXPECT_TRUE(client->report_version(v).ok());
        } else {
            (void)client->poll(10ms);
        }
        (void)cloud_ch->yield(0ms);
    }

    template <class Done>
    bool serve_until(Done done, std::chrono::milliseconds limit) {
        const auto deadline = SteadyClock::now() + limit;
        while (!done()) {
            if (SteadyClock::now() >= deadline) return false;
            device_step();
        }
        return true;
    }

    std::string push_json(const std::string& version, const std::string& url,
                          const std::vector<std::uint8_t>& image) const {
        std::string md5;
        EXPECT_TRUE(digest_hex(DigestAlgorithm::md5, image.data(), image.size(), md5).ok());
        return json{
            {"code", "1000"},
            {"data", {{"size", image.size()}, {"version", version}, {"url", url}, {"md5", md5}}},
            {"id", 1},
            {"message", "success"}}
            .dump();
    }
};

std::string version_job_done(const Rig& rig, const std::string& version) {
    const auto v = rig.cloud.informed_versions();
    return std::find(v.begin(), v.end(), version) != v.end() ? version : std::string();
}

// ---- the flood --------------------------------------------------------------------------------

struct FloodFigures {
    double publish_s = 0;
    std::uint64_t baseline_kib = 0;
    std::uint64_t peak_kib = 0;
    std::size_t minus_ones = 0;
    double min_gap_s = 0;  // between two -1 reports the cloud received (0: fewer than two)
};

FloodFigures run_flood(bool poll_during_flood) {
    FloodFigures f;
    Rig rig(poll_during_flood ? "poll" : "busy");
    if (!rig.start("1.0.0")) return f;
    // A first job, so that the baseline includes what any download sets up once (libcurl,
    // OpenSSL's CA store, the sink's buffer): the flood's share is what is measured.
    const auto warm = test::random_bytes(kImageSize, 11);
    const std::string warm_url = rig.lab.put_file("flood-warm-" + rig.dn + ".bin", warm);
    EXPECT_EQ(
        rig.cloud_ch->publish(rig.topic("upgrade"), rig.push_json("1.1.0", warm_url, warm), 1),
        Status::ok);
    EXPECT_TRUE(rig.serve_until([&] { return !version_job_done(rig, "1.1.0").empty(); }, 20s))
        << to_string(rig.client->state()) << " " << rig.client->last_error().message();

    const auto image = test::random_bytes(kImageSize, 12);
    const std::string url = rig.lab.put_file("flood-" + rig.dn + ".bin", image);
    test::TempDir tmp;
    const auto lines = tmp.path() / "pushes.txt";
    {
        std::ofstream out(lines);
        for (int i = 0; i < kMalformed; ++i) {
            // Well-formed JSON with a size that is not a number: the decoder refuses it.
            out << R"({"code":"1000","id":)" << i
                << R"(,"message":"success","data":{"size":"big","version":"9.9.)" << i
                << R"(","url":"https://127.0.0.1/x","md5":"00"}})" << '\n';
        }
        out << rig.push_json("1.2.0", url, image) << '\n';
    }
    rig.cloud.reports.clear();
    rig.cloud.start = SteadyClock::now();
    EXPECT_TRUE(reset_peak_rss());
    f.baseline_kib = proc_status_kib("VmRSS:");

    const auto t0 = SteadyClock::now();
    test::BackgroundProcess pub(
        {"/bin/sh", "-c",
         "exec mosquitto_pub -h 127.0.0.1 -p " + std::to_string(rig.lab.mqtt_tcp_port) +
             " -u \"$OTA_FLOOD_USER\" -P \"$OTA_FLOOD_PASSWORD\" -q 1 -t '" + rig.topic("upgrade") +
             "' -l < '" + lines.string() + "'"},
        tmp.path() / "pub.log");
    int rc = -1;
    if (poll_during_flood) {
        const auto deadline = SteadyClock::now() + 30s;
        while ((rc = pub.wait(0)) == -1 && SteadyClock::now() < deadline) rig.device_step();
    } else {
        rc = pub.wait(30);  // the device is busy elsewhere: nothing is handed over meanwhile
    }
    f.publish_s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
    EXPECT_EQ(rc, 0) << pub.output();
    if (!poll_during_flood) std::this_thread::sleep_for(500ms);  // the broker's last deliveries

    EXPECT_TRUE(rig.serve_until([&] { return !version_job_done(rig, "1.2.0").empty(); }, 20s))
        << "the valid push sent after the flood was not done";
    EXPECT_EQ(rig.sink.data(), image);
    // Some more time for any report still on its way.
    const auto settle = SteadyClock::now() + 1500ms;
    while (SteadyClock::now() < settle) rig.device_step();
    f.peak_kib = proc_status_kib("VmHWM:");

    const auto at = rig.cloud.steps_at("-1");
    f.minus_ones = at.size();
    for (std::size_t i = 1; i < at.size(); ++i) {
        const double gap = std::chrono::duration<double>(at[i] - at[i - 1]).count();
        f.min_gap_s = i == 1 ? gap : std::min(f.min_gap_s, gap);
    }
    return f;
}

void check_and_print(const char* name, const FloodFigures& f) {
    const double growth_mib =
        (static_cast<double>(f.peak_kib) - static_cast<double>(f.baseline_kib)) / 1024.0;
    std::printf(
        "[flood figures] %s: %d malformed pushes + 1 valid published in %.2f s; device RSS "
        "baseline %llu KiB, peak %llu KiB, growth %.2f MiB; -1 reports received by the cloud: "
        "%zu, shortest gap between two %.2f s\n",
        name, kMalformed, f.publish_s, static_cast<unsigned long long>(f.baseline_kib),
        static_cast<unsigned long long>(f.peak_kib), growth_mib, f.minus_ones, f.min_gap_s);
    std::fflush(stdout);
    EXPECT_GT(f.baseline_kib, 0U);
#if !defined(OTA_SANITIZER_BUILD)
    EXPECT_LT(growth_mib, 4.0);  // the issue's bound (plain and coverage builds)
#endif
    EXPECT_GE(f.minus_ones, 1U);  // the cloud does learn that pushes are refused
    // At most one per second (measured where the cloud receives them: allow delivery jitter).
    if (f.minus_ones > 1) {
        EXPECT_GE(f.min_gap_s, 0.9);
    }
    EXPECT_LE(static_cast<double>(f.minus_ones), 1.0 + f.publish_s + 2.0);
}

class PushFlood : public ::testing::Test {
  protected:
    void SetUp() override {
        const Lab& lab = Lab::get();
        setenv("OTA_FLOOD_USER", lab.cloud_user.c_str(), 1);
        setenv("OTA_FLOOD_PASSWORD", lab.cloud_password.c_str(), 1);
    }
};

TEST_F(PushFlood, ValidPushAfterTenThousandMalformedOnesIsDoneWhilePolling) {
    check_and_print("polling device", run_flood(true));
}

TEST_F(PushFlood, ValidPushAfterTenThousandMalformedOnesSurvivesABusyDevice) {
    check_and_print("busy device", run_flood(false));
}

// ---- the running version ----------------------------------------------------------------------

TEST(RunningVersion, PushForTheRunningVersionIsAnsweredWithTheVersionNotDownloaded) {
    Rig rig("same");
    ASSERT_TRUE(rig.start("1.0.0"));
    const auto image = test::random_bytes(4096, 13);
    const std::string path = "same-" + rig.dn + ".bin";
    const std::string url = rig.lab.put_file(path, image);
    ASSERT_EQ(rig.cloud_ch->publish(rig.topic("upgrade"), rig.push_json("1.0.0", url, image), 1),
              Status::ok);
    const std::size_t informs = rig.cloud.informed_versions().size();
    EXPECT_TRUE(
        rig.serve_until([&] { return rig.cloud.informed_versions().size() == informs + 1; }, 10s));
    for (const std::string& v : rig.cloud.informed_versions()) EXPECT_EQ(v, "1.0.0");
    EXPECT_EQ(rig.client->state(), OtaState::inited);
    EXPECT_EQ(rig.cloud.progress_count(), 0U);  // no -1, no progress: the task is just closed
    EXPECT_TRUE(test::access_lines("/" + path).empty()) << "the image was requested";

    // A newer version is downloaded as usual.
    ASSERT_EQ(rig.cloud_ch->publish(rig.topic("upgrade"), rig.push_json("1.0.1", url, image), 1),
              Status::ok);
    EXPECT_TRUE(rig.serve_until([&] { return !version_job_done(rig, "1.0.1").empty(); }, 20s));
    EXPECT_EQ(rig.sink.data(), image);
    EXPECT_FALSE(test::access_lines("/" + path).empty());
}

}  // namespace
}  // namespace ota
