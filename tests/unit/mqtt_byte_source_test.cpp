// MqttByteSource against a fake cloud on the fake broker: in-order delivery, the response head,
// the window, re-requests (bad blocks at once, lost ones after the adaptive timeout), the limit
// per block, stale tokens and reconnects.
#include "ota/mqtt_byte_source.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/fake_broker.hpp"
#include "support/fake_file_cloud.hpp"

namespace {

using namespace std::chrono_literals;
using ota::BlockRequest;
using ota::MqttByteSource;
using ota::MqttDownloadOptions;
using ota::ReadResult;
using ota::Status;
using ota::test::CloudAnswer;
using ota::test::CloudServedChannel;
using ota::test::FakeBroker;
using ota::test::FakeChannel;
using ota::test::FakeFileCloud;
using ota::test::ManualClock;

constexpr const char* kPk = "a1X2bEnP82z";
constexpr const char* kDn = "example1";

std::string make_file(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 251) & 0xFF);
    return s;
}

MqttDownloadOptions small_blocks() {
    MqttDownloadOptions o;
    o.block_size = 1024;
    o.window = 4;
    return o;
}

class MqttSourceTest : public ::testing::Test {
  protected:
    void make(MqttDownloadOptions o = small_blocks(), std::size_t size = 10000) {
        file = make_file(size);
        cloud = std::make_unique<FakeFileCloud>(broker, kPk, kDn, file);
        served = std::make_unique<CloudServedChannel>(device, *cloud);
        source = std::make_unique<MqttByteSource>(*served, kPk, kDn, o, clock);
        source->set_stream(25914, 1, file.size());
    }

    /// Reads until end_of_body, an error or `max_calls` reads; the clock moves `step` per call.
    ReadResult read_all(std::chrono::milliseconds step = 0ms, int max_calls = 1000) {
        std::vector<std::uint8_t> buf(700);
        ReadResult last;
        for (int i = 0; i < max_calls; ++i) {
            last = source->read(buf.data(), buf.size(), 100ms);
            if (last.head != nullptr) heads.push_back(*last.head);
            got.append(reinterpret_cast<const char*>(buf.data()), last.bytes);
            if (last.status != Status::ok || last.end_of_body) return last;
            clock.advance(step);
        }
        return last;
    }

    /// The offsets of the requests the cloud received.
    std::vector<std::uint64_t> requested_offsets() const {
        std::vector<std::uint64_t> out;
        for (const BlockRequest& r : cloud->requests()) out.push_back(r.offset);
        return out;
    }

    FakeBroker broker;
    FakeChannel device{broker, "dev"};
    ManualClock clock;
    std::string file;
    std::unique_ptr<FakeFileCloud> cloud;
    std::unique_ptr<CloudServedChannel> served;
    std::unique_ptr<MqttByteSource> source;
    std::string got;
    std::vector<ota::ResponseHead> heads;
};

TEST_F(MqttSourceTest, DeliversTheWholeFileInOrderWithA200Head) {
    make();
    ASSERT_TRUE(source->open("mqtt:stream/25914/file/1", 0).ok());
    const ReadResult last = read_all();
    ASSERT_EQ(last.status, Status::ok) << source->last_error_detail();
    EXPECT_TRUE(last.end_of_body);
    EXPECT_TRUE(got == file);
    ASSERT_EQ(heads.size(), 1U);
    EXPECT_EQ(heads[0].http_status, 200);
    EXPECT_EQ(heads[0].content_length, file.size());
    // One request per block: 10 blocks of 1 KiB, the last one 784 bytes.
    ASSERT_EQ(cloud->requests().size(), 10U);
    EXPECT_EQ(cloud->requests().back().size, 10000U - 9 * 1024);
    EXPECT_EQ(cloud->requests()[0].stream_id, 25914U);
    EXPECT_EQ(cloud->requests()[0].file_id, 1U);
    EXPECT_FALSE(cloud->requests()[0].file_token.empty());
    EXPECT_TRUE(device.is_subscribed(cloud->topics().reply));
    // end_of_body again after the end, without bytes or head (the client's end-of-body probe).
    std::uint8_t b[8];
    const ReadResult again = source->read(b, sizeof b, 0ms);
    EXPECT_TRUE(again.end_of_body);
    EXPECT_EQ(again.bytes, 0U);
    EXPECT_EQ(again.head, nullptr);
}

TEST_F(MqttSourceTest, OpenAtAnOffsetGivesA206HeadWithTheCloudsTotal) {
    make();
    cloud->file_length = 12345;  // another file than the job's: the client's size check fails it
    ASSERT_TRUE(source->open("mqtt:stream/25914/file/1", 3000).ok());
    const ReadResult last = read_all();
    ASSERT_EQ(last.status, Status::ok);
    EXPECT_TRUE(got == file.substr(3000));
    ASSERT_EQ(heads.size(), 1U);
    EXPECT_EQ(heads[0].http_status, 206);
    EXPECT_EQ(heads[0].content_range, "bytes 3000-12344/12345");
    EXPECT_EQ(heads[0].content_length, 12345U - 3000U);
    EXPECT_EQ(requested_offsets().front(), 3000U);
}

TEST_F(MqttSourceTest, RefusesAnythingButAnMqttPseudoUrl) {
    make();
    const auto e = source->open("https://ota.example.com/fw.bin", 0);
    EXPECT_EQ(e.status, Status::invalid_argument);
    EXPECT_TRUE(cloud->requests().empty());
    cloud->serve();
    EXPECT_TRUE(cloud->requests().empty());
}

TEST_F(MqttSourceTest, KeepsTheWindowOfRequestsInFlight) {
    MqttDownloadOptions o = small_blocks();
    o.window = 3;
    o.block_size = 2048;
    make(o);
    cloud->hold = true;
    ASSERT_TRUE(source->open("mqtt:x", 0).ok());
    cloud->serve();
    ASSERT_EQ(cloud->held().size(), 3U);
    for (const auto& r : cloud->held()) EXPECT_EQ(r.size, 2048U);
    EXPECT_EQ(requested_offsets(), (std::vector<std::uint64_t>{0, 2048, 4096}));
    // One block answered and read: exactly one new request keeps three in flight.
    cloud->answer(0);
    std::vector<std::uint8_t> buf(4096);
    const ReadResult r = source->read(buf.data(), buf.size(), 0ms);
    EXPECT_EQ(r.bytes, 2048U);
    cloud->serve();
    EXPECT_EQ(cloud->held().size(), 3U);
    EXPECT_EQ(requested_offsets().back(), 6144U);
}

TEST_F(MqttSourceTest, BlocksAnsweredOutOfOrderAreHandedOutInOrder) {
    make();
    cloud->hold = true;
    ASSERT_TRUE(source->open("mqtt:x", 0).ok());
    cloud->serve();
    ASSERT_EQ(cloud->held().size(), 4U);
    cloud->answer(3);
    cloud->answer(2);
    cloud->answer(1);
    std::vector<std::uint8_t> buf(8192);
    ReadResult r = source->read(buf.data(), buf.size(), 0ms);
    EXPECT_EQ(r.bytes, 0U);  // block 0 is still missing
    cloud->answer(0);
    r = source->read(buf.data(), buf.size(), 0ms);
    ASSERT_EQ(r.bytes, 4096U);
    EXPECT_TRUE(std::string(reinterpret_cast<const char*>(buf.data()), r.bytes) ==
                file.substr(0, 4096));
    cloud->hold = false;
    while (!cloud->held().empty()) cloud->answer(0);
    got.assign(reinterpret_cast<const char*>(buf.data()), r.bytes);
    ASSERT_EQ(read_all().status, Status::ok);
    EXPECT_TRUE(got == file);
}

TEST_F(MqttSourceTest, DuplicatedBlocksAreIgnored) {
    make();
    cloud->misbehave = [](const BlockRequest&, std::size_t, CloudAnswer& a) { a.copies = 3; };
    ASSERT_TRUE(source->open("mqtt:x", 0).ok());
    ASSERT_EQ(read_all().status, Status::ok);
    EXPECT_TRUE(got == file);
    EXPECT_EQ(cloud->requests().size(), 10U);
}

/// A bad reply to the first request of the block at 2048 is asked for again at once (no time
/// passes), and the file still arrives whole.
struct BadReply {
    const char* name;
    void (*spoil)(CloudAnswer&);
};

class MqttSourceBadReplyTest : public MqttSourceTest,
                               public ::testing::WithParamInterface<BadReply> {};

TEST_P(MqttSourceBadReplyTest, IsAskedForAgainAtOnce) {
    make();
    const auto spoil = GetParam().spoil;
    cloud->misbehave = [spoil](const BlockRequest& r, std::size_t i, CloudAnswer& a) {
        if (r.offset == 2048 && i < 4) spoil(a);
    };
    ASSERT_TRUE(source->open("mqtt:x", 0).ok());
    ASSERT_EQ(read_all().status, Status::ok) << source->last_error_detail();
    EXPECT_TRUE(got == file);
    const auto offsets = requested_offsets();
    EXPECT_EQ(std::count(offsets.begin(), offsets.end(), 2048U), 2);
    EXPECT_EQ(cloud->requests().size(), 11U);
}

INSTANTIATE_TEST_SUITE_P(
    Replies, MqttSourceBadReplyTest,
    ::testing::Values(BadReply{"WrongCrc", [](CloudAnswer& a) { a.bad_crc = true; }},
                      BadReply{"ShortPayload", [](CloudAnswer& a) { a.short_payload = true; }},
                      BadReply{"WrongOffset", [](CloudAnswer& a) { a.offset_shift = 512; }},
                      BadReply{"Code500", [](CloudAnswer& a) { a.code = 500; }}),
    [](const ::testing::TestParamInfo<BadReply>& p) { return std::string(p.param.name); });

TEST_F(MqttSourceTest, RepliesWithAnotherTokenAreIgnored) {
    make();
    cloud->misbehave = [](const BlockRequest&, std::size_t i, CloudAnswer& a) {
        if (i == 0) a.token = "someone-else";
    };
    ASSERT_TRUE(source->open("mqtt:x", 0).ok());
    std::vector<std::uint8_t> buf(4096);
    EXPECT_EQ(source->read(buf.data(), buf.size(), 0ms).bytes, 0U);
    // The foreign reply did not fill block 0: it comes after the re-request.
    clock.advance(1s);
    ASSERT_EQ(read_all().status, Status::ok);
    EXPECT_TRUE(got == file);
    EXPECT_EQ(requested_offsets()[4], 0U);
}

TEST_F(MqttSourceTest, ShorterBlocksAreKeptAndTheRestAskedFor) {
    make();
    cloud->misbehave = [](const BlockRequest&, std::size_t, CloudAnswer& a) { a.cap = 300; };
    ASSERT_TRUE(source->open("mqtt:x", 0).ok());
    ASSERT_EQ(read_all().status, Status::ok);
    EXPECT_TRUE(got == file);
    EXPECT_EQ(cloud->requests()[4].offset, 300U);
    EXPECT_EQ(cloud->requests()[4].size, 1024U - 300U);
}

TEST_F(MqttSourceTest, ALostRequestIsSentAgainAfterTheTimeoutOnly) {
    MqttDownloadOptions o = small_blocks();
    o.window = 1;
    make(o);
    cloud->misbehave = [](const BlockRequest&, std::size_t i, CloudAnswer& a) { a.drop = i == 0; };
    ASSERT_TRUE(source->open("mqtt:x", 0).ok());
    std::vector<std::uint8_t> buf(8192);
    EXPECT_EQ(source->read(buf.data(), buf.size(), 5000ms).bytes, 0U);
    // No round trip measured yet: the first timeout is 1 s, and the wait was bounded by it.
    EXPECT_EQ(served->last_timeout, 1000ms);
    clock.advance(999ms);
    EXPECT_EQ(source->read(buf.data(), buf.size(), 0ms).bytes, 0U);
    EXPECT_EQ(cloud->requests().size(), 1U);
    clock.advance(1ms);
    const ReadResult r = source->read(buf.data(), buf.size(), 0ms);
    ASSERT_EQ(cloud->requests().size(), 2U);
    EXPECT_EQ(cloud->requests()[1].offset, 0U);
    EXPECT_EQ(r.bytes, 1024U);
    got.assign(reinterpret_cast<const char*>(buf.data()), r.bytes);
    ASSERT_EQ(read_all().status, Status::ok);
    EXPECT_TRUE(got == file);
}

TEST_F(MqttSourceTest, TheTimeoutAdaptsToAFastLink) {
    make(small_blocks(), 20000);
    cloud->misbehave = [](const BlockRequest&, std::size_t i, CloudAnswer& a) { a.drop = i == 12; };
    ASSERT_TRUE(source->open("mqtt:x", 0).ok());
    std::vector<std::uint8_t> buf(1024);
    // Answers within the same instant: the timeout falls to min_reply_timeout (200 ms).
    for (int i = 0; i < 12; ++i) {
        ASSERT_EQ(source->read(buf.data(), buf.size(), 0ms).bytes, 1024U) << i;
        got.append(reinterpret_cast<const char*>(buf.data()), 1024);
    }
    EXPECT_EQ(source->read(buf.data(), buf.size(), 0ms).bytes, 0U);  // block 12 was lost
    EXPECT_EQ(source->reply_timeout(), 200ms);
    clock.advance(199ms);
    EXPECT_EQ(source->read(buf.data(), buf.size(), 0ms).bytes, 0U);
    clock.advance(1ms);
    ASSERT_EQ(read_all().status, Status::ok);
    EXPECT_TRUE(got == file);
    const auto offsets = requested_offsets();
    EXPECT_EQ(std::count(offsets.begin(), offsets.end(), 12U * 1024U), 2);
}

TEST_F(MqttSourceTest, NoValidAnswerAfterTheLimitFailsTheReadAsATimeout) {
    MqttDownloadOptions o = small_blocks();
    o.max_requests_per_block = 3;
    make(o);
    cloud->misbehave = [](const BlockRequest& r, std::size_t, CloudAnswer& a) {
        a.bad_crc = r.offset == 1024;
    };
    ASSERT_TRUE(source->open("mqtt:x", 0).ok());
    const ReadResult last = read_all();
    EXPECT_EQ(last.status, Status::timeout);
    EXPECT_TRUE(got == file.substr(0, 1024));
    EXPECT_EQ(source->last_error_detail(),
              "no valid answer for the block at offset 1024 of MQTT stream 25914/1 after 3 "
              "requests (last: bad CRC)");
    // A new open starts over with a new token; replies to the old one are ignored.
    const std::string old_token = cloud->requests().back().file_token;
    cloud->misbehave = nullptr;
    ASSERT_TRUE(source->open("mqtt:x", 1024).ok());
    EXPECT_TRUE(source->last_error_detail().empty());
    got = file.substr(0, 1024);
    ASSERT_EQ(read_all().status, Status::ok);
    EXPECT_TRUE(got == file);
    EXPECT_NE(cloud->requests().back().file_token, old_token);
}

TEST_F(MqttSourceTest, UnansweredRequestsFailWithTheWaitInTheDetail) {
    MqttDownloadOptions o = small_blocks();
    o.max_requests_per_block = 2;
    make(o);
    cloud->misbehave = [](const BlockRequest&, std::size_t, CloudAnswer& a) { a.drop = true; };
    ASSERT_TRUE(source->open("mqtt:x", 0).ok());
    const ReadResult last = read_all(500ms);
    EXPECT_EQ(last.status, Status::timeout);
    // 1 s for the first request, 2 s (doubled) for the second.
    EXPECT_EQ(source->last_error_detail(),
              "no valid answer for the block at offset 0 of MQTT stream 25914/1 after 2 requests "
              "(last: no answer within 2000 ms)");
}

TEST_F(MqttSourceTest, RequestsWaitForTheConnectionAndAreSentAgainOnReconnect) {
    make();
    device.disconnect();
    ASSERT_EQ(device.yield(0ms), Status::ok);  // the loss is known before the download starts
    ASSERT_TRUE(source->open("mqtt:x", 0).ok());
    cloud->serve();
    EXPECT_TRUE(cloud->requests().empty());
    device.reconnect();
    ASSERT_EQ(read_all().status, Status::ok);
    EXPECT_TRUE(got == file);
    EXPECT_EQ(requested_offsets().front(), 0U);
    EXPECT_EQ(cloud->requests().size(), 10U) << "each block asked for once";
}

TEST_F(MqttSourceTest, AReconnectSendsTheRequestsInFlightAgain) {
    MqttDownloadOptions o = small_blocks();
    o.max_requests_per_block = 2;
    make(o);
    cloud->hold = true;
    ASSERT_TRUE(source->open("mqtt:x", 0).ok());
    cloud->serve();
    ASSERT_EQ(cloud->held().size(), 4U);
    device.disconnect();
    device.reconnect();
    std::vector<std::uint8_t> buf(100);
    EXPECT_EQ(source->read(buf.data(), buf.size(), 0ms).bytes, 0U);
    cloud->serve();
    EXPECT_EQ(cloud->held().size(), 8U);
    EXPECT_EQ(requested_offsets(),
              (std::vector<std::uint64_t>{0, 1024, 2048, 3072, 0, 1024, 2048, 3072}));
    // Requests lost with a connection do not count against max_requests_per_block.
    for (int i = 0; i < 3; ++i) {
        device.disconnect();
        device.reconnect();
        EXPECT_EQ(source->read(buf.data(), buf.size(), 0ms).status, Status::ok);
    }
    clock.advance(10s);  // every request times out once: the second of two allowed
    EXPECT_EQ(source->read(buf.data(), buf.size(), 0ms).status, Status::ok)
        << source->last_error_detail();
    while (!cloud->held().empty()) cloud->answer(0);
    cloud->hold = false;
    ASSERT_EQ(read_all().status, Status::ok) << source->last_error_detail();
    EXPECT_TRUE(got == file);
}

TEST_F(MqttSourceTest, CloseStopsListening) {
    make();
    ASSERT_TRUE(source->open("mqtt:x", 0).ok());
    EXPECT_EQ(device.listener_count(), 1U);
    source->close();
    EXPECT_EQ(device.listener_count(), 0U);
    source->close();
}

TEST(MqttDownloadOptionsTest, ValidateNamesTheFieldAndItsRange) {
    EXPECT_TRUE(MqttDownloadOptions{}.validate().ok());
    MqttDownloadOptions o;
    o.block_size = MqttDownloadOptions::kMaxBlockSize + 1;
    EXPECT_EQ(o.validate().message(),
              "invalid argument: mqtt_download.block_size must be in 256..131072, got 131073");
    o = {};
    o.block_size = MqttDownloadOptions::kMinBlockSize - 1;
    EXPECT_FALSE(o.validate().ok());
    o = {};
    o.window = 0;
    EXPECT_EQ(o.validate().message(),
              "invalid argument: mqtt_download.window must be in 1..64, got 0");
    o.window = MqttDownloadOptions::kMaxWindow + 1;
    EXPECT_FALSE(o.validate().ok());
    o = {};
    o.reply_timeout = MqttDownloadOptions::kMaxReplyTimeout + 1ms;
    EXPECT_EQ(
        o.validate().message(),
        "invalid argument: mqtt_download.reply_timeout must be in 10 ms .. 120 s, got 120001 ms");
    o = {};
    o.min_reply_timeout = o.reply_timeout + 1ms;
    EXPECT_EQ(o.validate().message(),
              "invalid argument: mqtt_download.min_reply_timeout must be in 10 ms .. "
              "reply_timeout, got 10001 ms");
    o = {};
    o.max_requests_per_block = 0;
    EXPECT_EQ(o.validate().message(),
              "invalid argument: mqtt_download.max_requests_per_block must be in 1..100, got 0");
    // ClientOptions::validate() covers it (init() refuses).
    ota::ClientOptions c;
    c.product_key = kPk;
    c.device_name = kDn;
    EXPECT_TRUE(c.validate().ok());
    c.mqtt_download.window = 0;
    EXPECT_EQ(c.validate().status, Status::invalid_argument);
}

}  // namespace
