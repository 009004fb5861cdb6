// MQTT downloads (issue 11) against the lab's mosquitto with ota_cloud as the cloud: ota_cloud
// answering block requests (framing, CRC, refusals, injected faults), and ota_mqtt downloading
// MQTT jobs: a plain 4 MiB MD5 job, one with dropped and corrupted blocks, one across a broker
// restart.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <regex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "lab.hpp"
#include "ota/channel.hpp"
#include "ota/file_download.hpp"
#include "ota/paho/paho_channel.hpp"

namespace ota::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kStreamId = 4242;

// A device stand-in: publishes block requests and collects the replies.
class Requester final : public ChannelListener {
  public:
    Requester(const Lab& lab, const Device& d)
        : topics_(make_file_download_topics(d.pk, d.dn)),
          channel_(lab.cloud_mqtt("requester-" + d.dn)) {}

    bool start() {
        if (!channel_.connect().ok()) return false;
        channel_.add_listener(*this);
        return channel_.subscribe(topics_.reply, 0) == Status::ok;
    }

    ~Requester() override { channel_.remove_listener(*this); }
    Requester(const Requester&) = delete;
    Requester& operator=(const Requester&) = delete;

    void on_message(std::string_view topic, std::string_view payload) override {
        if (topic == topics_.reply) replies_.emplace_back(payload);
    }

    // Sends a request and waits up to `timeout` for one reply; empty when none came.
    std::string ask(std::uint64_t stream, std::uint64_t offset, std::uint64_t size,
                    std::chrono::milliseconds timeout = 3s) {
        BlockRequest r;
        r.id = std::to_string(++next_id_);
        r.file_token = "tok";
        r.stream_id = stream;
        r.file_id = 1;
        r.offset = offset;
        r.size = size;
        replies_.clear();
        if (channel_.publish(topics_.request, encode_block_request(r), 0) != Status::ok) return {};
        const auto deadline = Clock::now() + timeout;
        while (replies_.empty() && Clock::now() < deadline) (void)channel_.yield(50ms);
        return replies_.empty() ? std::string() : replies_.front();
    }

  private:
    FileDownloadTopics topics_;
    PahoChannel channel_;
    std::deque<std::string> replies_;
    int next_id_ = 0;
};

std::vector<std::string> mqtt_push_cmd(const Lab& lab, const Device& d,
                                       const std::filesystem::path& file,
                                       std::vector<std::string> extra) {
    auto argv = cloud_push_cmd(lab, d, file, "", {"--mqtt-stream"});
    // cloud_push_cmd puts "--url" "" in: an MQTT job has no URL.
    for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
        if (argv[i] == "--url") {
            argv.erase(argv.begin() + static_cast<std::ptrdiff_t>(i),
                       argv.begin() + static_cast<std::ptrdiff_t>(i) + 2);
            break;
        }
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}

std::string bytes_of(const std::vector<std::uint8_t>& v, std::size_t at, std::size_t n) {
    return {reinterpret_cast<const char*>(v.data()) + at, n};
}

TEST(MqttDownloadCloud, AnswersBlocksFromTheFileAndRefusesBadRequests) {
    const Lab& lab = Lab::get();
    const Device d = make_device("mqcloud");
    TempDir tmp;
    const auto image = random_bytes(100 * 1000 + 7, 1101);
    write_file(tmp.path() / "image.bin", image);
    BackgroundProcess cloud(mqtt_push_cmd(lab, d, tmp.path() / "image.bin",
                                          {"--stream-id", std::to_string(kStreamId), "--max-block",
                                           "65536", "--timeout", "30"}),
                            tmp.path() / "cloud.log");
    ASSERT_TRUE(cloud.wait_for_output("serving stream 4242 file 1: 100007 bytes", 20))
        << cloud.output();
    Requester dev(lab, d);
    ASSERT_TRUE(dev.start());

    // A middle block: framing, offset, length and CRC as the device checks them.
    // BlockReply::block points into the payload: keep it.
    const std::string first_payload = dev.ask(kStreamId, 32768, 32768);
    const BlockReply first = decode_block_reply(first_payload);
    ASSERT_EQ(first.errc, BlockReplyErrc::ok) << first.why << "\n" << cloud.output();
    EXPECT_EQ(first.header->offset, 32768U);
    EXPECT_EQ(first.header->file_length, image.size());
    EXPECT_EQ(first.header->file_token, "tok");
    EXPECT_TRUE(first.block == bytes_of(image, 32768, 32768)) << "block 1 differs";
    // The last block is as long as what is left.
    const std::string last_payload = dev.ask(kStreamId, 98304, 32768);
    const BlockReply last = decode_block_reply(last_payload);
    ASSERT_EQ(last.errc, BlockReplyErrc::ok) << last.why;
    EXPECT_TRUE(last.block == bytes_of(image, 98304, image.size() - 98304))
        << "last block differs: " << last.block.size() << " bytes";

    // Another stream, an offset past the end, a zero and an oversized block: code other than 200.
    for (const auto& [stream, offset, size] :
         {std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>{kStreamId + 1, 0, 1024},
          {kStreamId, image.size(), 1024},
          {kStreamId, 0, 0},
          {kStreamId, 0, 65537}}) {
        const std::string payload = dev.ask(stream, offset, size);
        const BlockReply r = decode_block_reply(payload);
        EXPECT_EQ(r.errc, BlockReplyErrc::not_ok)
            << "stream " << stream << " offset " << offset << " size " << size << ": " << r.why;
        if (r.header) {
            EXPECT_NE(r.header->code, 200);
        }
    }
    cloud.kill();
}

TEST(MqttDownloadCloud, InjectedFaultsBreakTheCrcOrLeaveRequestsUnanswered) {
    const Lab& lab = Lab::get();
    const Device d = make_device("mqfault");
    TempDir tmp;
    const auto image = random_bytes(64 * 1024, 1102);
    write_file(tmp.path() / "image.bin", image);
    {
        BackgroundProcess cloud(mqtt_push_cmd(lab, d, tmp.path() / "image.bin",
                                              {"--stream-id", std::to_string(kStreamId),
                                               "--corrupt-share", "100%", "--timeout", "30"}),
                                tmp.path() / "corrupt.log");
        ASSERT_TRUE(cloud.wait_for_output("serving stream", 20)) << cloud.output();
        Requester dev(lab, d);
        ASSERT_TRUE(dev.start());
        for (std::uint64_t off = 0; off < image.size(); off += 8192) {
            const std::string payload = dev.ask(kStreamId, off, 8192);
            const BlockReply r = decode_block_reply(payload);
            EXPECT_EQ(r.errc, BlockReplyErrc::bad_crc) << "offset " << off << ": " << r.why;
        }
        cloud.kill();
    }
    {
        BackgroundProcess cloud(mqtt_push_cmd(lab, d, tmp.path() / "image.bin",
                                              {"--stream-id", std::to_string(kStreamId),
                                               "--drop-share", "1", "--timeout", "30"}),
                                tmp.path() / "drop.log");
        ASSERT_TRUE(cloud.wait_for_output("serving stream", 20)) << cloud.output();
        Requester dev(lab, d);
        ASSERT_TRUE(dev.start());
        EXPECT_EQ(dev.ask(kStreamId, 0, 8192, 1500ms), "");
        cloud.kill();
    }
    {
        // Delayed answers come, late.
        BackgroundProcess cloud(
            mqtt_push_cmd(lab, d, tmp.path() / "image.bin",
                          {"--stream-id", std::to_string(kStreamId), "--delay-share", "1",
                           "--delay-ms", "700", "--timeout", "30"}),
            tmp.path() / "delay.log");
        ASSERT_TRUE(cloud.wait_for_output("serving stream", 20)) << cloud.output();
        Requester dev(lab, d);
        ASSERT_TRUE(dev.start());
        const auto asked = Clock::now();
        const std::string payload = dev.ask(kStreamId, 0, 8192, 5s);
        const BlockReply r = decode_block_reply(payload);
        EXPECT_EQ(r.errc, BlockReplyErrc::ok) << r.why;
        EXPECT_GE(Clock::now() - asked, 650ms);
        cloud.kill();
    }
}

// The counters of ota_cloud's "blocks:" summary line, by name ("served", "dropped", ...).
std::map<std::string, std::uint64_t> block_counts(const std::string& cloud_output) {
    std::map<std::string, std::uint64_t> counts;
    const auto at = cloud_output.find("blocks: ");
    if (at == std::string::npos) return counts;
    const std::string line = cloud_output.substr(at, cloud_output.find('\n', at) - at);
    static const std::regex re(R"((\d+) (requests|served|dropped|corrupted|delayed|refused))");
    for (auto it = std::sregex_iterator(line.begin(), line.end(), re); it != std::sregex_iterator();
         ++it) {
        counts[(*it)[2].str()] = std::stoull((*it)[1].str());
    }
    return counts;
}

class MqttDownload : public ::testing::Test {
  protected:
    // Runs ota_mqtt (version 1.0.0) and `ota_cloud push --mqtt-stream` for `image` with `extra`
    // cloud options, and checks what every MQTT job must end with: the cloud saw 100 and no
    // failure, the device stored exactly the image. Returns the cloud's output.
    std::string run_job(const Lab& lab, const Device& d, const std::vector<std::uint8_t>& image,
                        std::vector<std::string> extra) {
        write_file(tmp.path() / "image.bin", image);
        BackgroundProcess device(ota_mqtt_cmd(lab, d, out(), {"--wait", "60"}),
                                 tmp.path() / "device.log");
        EXPECT_TRUE(device.wait_for_output("waiting for an upgrade job", 20)) << device.output();
        extra.insert(extra.end(), {"--timeout", "60"});
        const ProcessResult cloud =
            run_process(mqtt_push_cmd(lab, d, tmp.path() / "image.bin", extra), 90);
        EXPECT_EQ(cloud.exit_code, 0) << cloud.output << "\n--- device:\n" << device.output();
        EXPECT_NE(cloud.output.find("step 100"), std::string::npos) << cloud.output;
        EXPECT_EQ(cloud.output.find("step -"), std::string::npos) << cloud.output;
        EXPECT_EQ(device.wait(30), 0) << device.output();
        EXPECT_TRUE(read_file(out()) == image) << "the stored image differs";
        EXPECT_FALSE(std::filesystem::exists(out().string() + ".part"));
        const auto at = cloud.output.find("blocks:");
        if (at != std::string::npos) {
            std::printf("ota_cloud %s\n",
                        cloud.output.substr(at, cloud.output.find('\n', at) - at).c_str());
        }
        return cloud.output;
    }

    std::filesystem::path out() const { return tmp.path() / "ota.bin"; }

    TempDir tmp;
};

TEST_F(MqttDownload, Md5JobOf4MiBStoresTheImage) {
    const Lab& lab = Lab::get();
    const Device d = make_device("mq4m");
    const auto image = random_bytes(4 * 1024 * 1024 + 5, 1103);
    const std::string cloud = run_job(lab, d, image, {});
    EXPECT_NE(cloud.find("pushed version 1.1.0: 4194309 bytes, md5 "), std::string::npos) << cloud;
    const auto counts = block_counts(cloud);
    // 32 KiB blocks by default: at least 129 requests, every one answered.
    EXPECT_GE(counts.count("served") ? counts.at("served") : 0, 129U) << cloud;
    EXPECT_EQ(counts.count("refused") ? counts.at("refused") : 1, 0U) << cloud;
}

TEST_F(MqttDownload, DroppedAndCorruptedBlocksAreAskedForAgain) {
    const Lab& lab = Lab::get();
    const Device d = make_device("mqlossy");
    const auto image = random_bytes(4 * 1024 * 1024, 1104);
    const std::string cloud =
        run_job(lab, d, image, {"--drop-share", "10%", "--corrupt-share", "5%", "--seed", "11"});
    const auto counts = block_counts(cloud);
    // The faults really happened (the seed makes the counts reproducible for one request order).
    EXPECT_GE(counts.count("dropped") ? counts.at("dropped") : 0, 3U) << cloud;
    EXPECT_GE(counts.count("corrupted") ? counts.at("corrupted") : 0, 1U) << cloud;
}

// mosquitto stops and starts again in the middle of the download (a private lab, so that other
// tests keep their broker). Every answer is delayed by 100 ms so that the 3 MiB take about 2.5 s.
TEST_F(MqttDownload, BrokerRestartMidDownloadStillCompletes) {
    PrivateLab priv("mqrestart");
    ASSERT_TRUE(priv.ok());
    const Lab& lab = priv.lab();
    const Device d = make_device("mqrestart", lab);
    const auto image = random_bytes(3 * 1024 * 1024, 1105);
    write_file(tmp.path() / "image.bin", image);
    BackgroundProcess device(ota_mqtt_cmd(lab, d, out(), {"--wait", "60"}),
                             tmp.path() / "device.log");
    ASSERT_TRUE(device.wait_for_output("waiting for an upgrade job", 20)) << device.output();
    BackgroundProcess cloud(
        mqtt_push_cmd(lab, d, tmp.path() / "image.bin",
                      {"--delay-share", "1", "--delay-ms", "100", "--timeout", "60"}),
        tmp.path() / "cloud.log");
    ASSERT_TRUE(wait_for_progress(device, 10, 20s)) << device.output() << "\n--- cloud:\n"
                                                    << cloud.output();
    priv.stop_broker();
    const int progress_at_stop = max_progress(device.output());
    std::this_thread::sleep_for(500ms);
    priv.start_broker();
    EXPECT_LT(progress_at_stop, 100) << "the broker stopped after the download";

    EXPECT_EQ(cloud.wait(50), 0) << cloud.output() << "\n--- device:\n" << device.output();
    EXPECT_NE(cloud.output().find("step 100"), std::string::npos) << cloud.output();
    EXPECT_EQ(cloud.output().find("step -"), std::string::npos) << cloud.output();
    EXPECT_EQ(device.wait(30), 0) << device.output();
    EXPECT_TRUE(read_file(out()) == image) << "the stored image differs";
    const auto counts = block_counts(cloud.output());
    std::printf(
        "broker stopped at %d%%; ota_cloud answered %llu of %llu requests\n", progress_at_stop,
        static_cast<unsigned long long>(counts.count("delayed") ? counts.at("delayed") : 0),
        static_cast<unsigned long long>(counts.count("requests") ? counts.at("requests") : 0));
}

}  // namespace
}  // namespace ota::test
