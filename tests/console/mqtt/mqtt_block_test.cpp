// MQTT downloads served by the console's bridge (PROTOCOL.md 5b) with fakes: the library's
// FakeBroker/FakeChannel for the broker, a target that authorizes one device for one stream, a
// real file on disk. What is checked: a block is served only to a device with an mqtt task for the
// stream (else a non-200 reply, or nothing for an unregistered device), bad offsets and sizes are
// refused, a good block carries the file's bytes and a correct CRC, and the last block is short.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "mqtt/mqtt_bridge.hpp"
#include "ota/file_download.hpp"
#include "support/fake_broker.hpp"

namespace console {
namespace {

using ota::test::FakeBroker;
using ota::test::FakeChannel;
using std::chrono::milliseconds;

// "dev1" and "dev2" are registered; only dev1 may download stream 7 (firmware 7).
class StreamTarget final : public DeviceMessageTarget {
  public:
    void batch(const std::function<void()>& fn) override {
        ++batches;
        fn();
    }
    bool is_registered(const DeviceKey& device) override {
        return device.device_name == "dev1" || device.device_name == "dev2";
    }
    bool on_inform(const DeviceKey&, const std::string&, const std::string&) override {
        return true;
    }
    bool on_progress(const DeviceKey&, const std::string&, int, const std::string&) override {
        return true;
    }
    std::string on_firmware_get(const DeviceKey&, const std::string&, const std::string&) override {
        return {};
    }
    std::optional<Firmware> stream_firmware(const DeviceKey& device,
                                            std::uint64_t stream_id) override {
        ++lookups;
        if (device.device_name != "dev1" || stream_id != 7) return std::nullopt;
        Firmware f;
        f.id = 7;
        f.sha256 = "abc";
        return f;
    }
    int batches = 0;
    int lookups = 0;
};

class BlockRig : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("console_block_test_" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
        for (int i = 0; i < 3000; ++i) content_ += static_cast<char>((i * 31 + 7) % 256);
        std::ofstream(dir_ / "abc", std::ios::binary) << content_;
        MqttBridgeOptions o;
        o.share_group = "";
        o.max_block = 1024;
        o.file_path = [this](const Firmware& f) { return (dir_ / f.sha256).string(); };
        bridge_ = std::make_unique<MqttBridge>(console_channel_, metrics_, o);
        bridge_->attach(target_);
        ASSERT_EQ(device_.subscribe("/sys/pk/+/thing/file/download_reply", 1), ota::Status::ok);
    }
    void TearDown() override {
        bridge_.reset();
        std::filesystem::remove_all(dir_);
    }

    // Sends a block request of `dn` and returns the replies published for it.
    std::vector<std::string> ask(const std::string& dn, std::uint64_t stream, std::uint64_t file,
                                 std::uint64_t offset, std::uint64_t size) {
        ota::BlockRequest r;
        r.id = "9";
        r.file_token = "tok";
        r.stream_id = stream;
        r.file_id = file;
        r.offset = offset;
        r.size = size;
        EXPECT_EQ(device_.publish("/sys/pk/" + dn + "/thing/file/download",
                                  ota::encode_block_request(r), 1),
                  ota::Status::ok);
        bridge_->pump(milliseconds(0));
        while (bridge_->apply_pending() > 0) {
        }
        std::vector<std::string> out;
        for (const auto& m : broker_.published_on("/sys/pk/" + dn + "/thing/file/download_reply")) {
            out.push_back(m.payload);
        }
        return out;
    }

    std::filesystem::path dir_;
    std::string content_;
    FakeBroker broker_;
    FakeChannel console_channel_{broker_, "console"};
    FakeChannel device_{broker_, "device"};
    Metrics metrics_;
    StreamTarget target_;
    std::unique_ptr<MqttBridge> bridge_;
};

int code_of(const std::string& payload) {
    const ota::BlockReply r = ota::decode_block_reply(payload);
    return r.header ? r.header->code : -1;
}

TEST_F(BlockRig, AGoodBlockCarriesTheFileBytesAndTheirCrc) {
    const auto replies = ask("dev1", 7, 1, 1000, 1024);
    ASSERT_EQ(replies.size(), 1U);
    const ota::BlockReply r = ota::decode_block_reply(replies[0]);
    ASSERT_EQ(r.errc, ota::BlockReplyErrc::ok) << r.why;
    EXPECT_EQ(std::string(r.block), content_.substr(1000, 1024));
    EXPECT_EQ(r.header->id, "9");
    EXPECT_EQ(r.header->file_token, "tok");
    EXPECT_EQ(r.header->file_length, 3000U);
    EXPECT_EQ(r.header->offset, 1000U);
    EXPECT_EQ(target_.batches, 0);  // served outside Engine::batch
}

TEST_F(BlockRig, TheLastBlockIsShort) {
    const auto replies = ask("dev1", 7, 1, 2500, 1024);
    ASSERT_EQ(replies.size(), 1U);
    const ota::BlockReply r = ota::decode_block_reply(replies[0]);
    ASSERT_EQ(r.errc, ota::BlockReplyErrc::ok) << r.why;
    EXPECT_EQ(std::string(r.block), content_.substr(2500));
}

TEST_F(BlockRig, ADeviceWithoutATaskIsRefused) {
    const auto replies = ask("dev2", 7, 1, 0, 512);
    ASSERT_EQ(replies.size(), 1U);
    EXPECT_EQ(code_of(replies[0]), kBlockForbidden);
    EXPECT_EQ(ota::decode_block_reply(replies[0]).errc, ota::BlockReplyErrc::not_ok);
}

TEST_F(BlockRig, AnotherStreamIsRefused) {
    const auto replies = ask("dev1", 8, 1, 0, 512);
    ASSERT_EQ(replies.size(), 1U);
    EXPECT_EQ(code_of(replies[0]), kBlockForbidden);
}

TEST_F(BlockRig, AnotherFileOfTheStreamIsRefused) {
    const auto replies = ask("dev1", 7, 2, 0, 512);
    ASSERT_EQ(replies.size(), 1U);
    EXPECT_EQ(code_of(replies[0]), kBlockNotFound);
}

TEST_F(BlockRig, AnOffsetBeyondTheFileIsRefused) {
    const auto replies = ask("dev1", 7, 1, 3000, 512);
    ASSERT_EQ(replies.size(), 1U);
    EXPECT_EQ(code_of(replies[0]), kBlockBadRequest);
}

TEST_F(BlockRig, AnOversizeOrEmptyBlockIsRefused) {
    auto replies = ask("dev1", 7, 1, 0, 1025);
    ASSERT_EQ(replies.size(), 1U);
    EXPECT_EQ(code_of(replies[0]), kBlockBadRequest);
    replies = ask("dev1", 7, 1, 0, 0);
    ASSERT_EQ(replies.size(), 2U);
    EXPECT_EQ(code_of(replies[1]), kBlockBadRequest);
}

TEST_F(BlockRig, AnUnregisteredDeviceGetsNoReply) {
    EXPECT_TRUE(ask("stranger", 7, 1, 0, 512).empty());
    EXPECT_EQ(target_.lookups, 0);
    EXPECT_EQ(metrics_.mqtt_unknown_device.load(), 1);
}

TEST_F(BlockRig, AMissingFileIsAServerError) {
    std::filesystem::remove(dir_ / "abc");
    const auto replies = ask("dev1", 7, 1, 0, 512);
    ASSERT_EQ(replies.size(), 1U);
    EXPECT_EQ(code_of(replies[0]), kBlockReadFailed);
}

TEST(MqttBridgeBlocks, TheDefaultMaxBlockIs128KiB) {
    EXPECT_EQ(MqttBridgeOptions().max_block, 128U * 1024U);
}

}  // namespace
}  // namespace console
