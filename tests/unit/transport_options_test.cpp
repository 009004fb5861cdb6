// MqttOptions::validate() and HttpOptions::validate(): every range is checked at both bounds, and
// the message names the field (and never echoes the password).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "ota/options.hpp"

namespace {

using namespace std::chrono_literals;
using ota::BufferProfile;
using ota::Error;
using ota::HttpOptions;
using ota::MqttOptions;
using ota::Status;

MqttOptions good_mqtt() {
    MqttOptions o;
    o.host = "iot.example.com";
    o.port = 8883;
    o.client_id = "pk.dev|securemode=2|";
    o.username = "dev&pk";
    o.password = "s3cr3t-password";
    return o;
}

void expect_rejected(const Error& e, const std::string& field) {
    EXPECT_EQ(e.status, Status::invalid_argument) << field;
    EXPECT_NE(e.detail.find(field), std::string::npos) << e.detail;
    EXPECT_EQ(e.detail.find("s3cr3t"), std::string::npos) << e.detail;
}

TEST(MqttOptionsValidate, DefaultsWithAnIdentityAreValid) {
    EXPECT_TRUE(good_mqtt().validate().ok()) << good_mqtt().validate().message();
}

TEST(MqttOptionsValidate, EachFieldAtAndBeyondItsBounds) {
    MqttOptions o = good_mqtt();
    o.keepalive = MqttOptions::kMinKeepalive;
    EXPECT_TRUE(o.validate().ok());
    o.keepalive = MqttOptions::kMaxKeepalive;
    EXPECT_TRUE(o.validate().ok());
    o.keepalive = MqttOptions::kMinKeepalive - 1s;
    expect_rejected(o.validate(), "MqttOptions::keepalive must be 10..1200 s, got 9 s");
    o.keepalive = MqttOptions::kMaxKeepalive + 1s;
    expect_rejected(o.validate(), "keepalive");

    o = good_mqtt();
    o.connect_timeout = MqttOptions::kMinConnectTimeout;
    EXPECT_TRUE(o.validate().ok());
    o.connect_timeout = MqttOptions::kMaxConnectTimeout;
    EXPECT_TRUE(o.validate().ok());
    o.connect_timeout = 99ms;
    expect_rejected(o.validate(), "MqttOptions::connect_timeout must be 100 ms..120 s, got 99 ms");
    o.connect_timeout = MqttOptions::kMaxConnectTimeout + 1ms;
    expect_rejected(o.validate(), "connect_timeout");

    o = good_mqtt();
    o.reconnect_min = MqttOptions::kMinReconnect;
    o.reconnect_max = MqttOptions::kMinReconnect;
    EXPECT_TRUE(o.validate().ok());
    o.reconnect_min = 99ms;
    expect_rejected(o.validate(), "MqttOptions::reconnect_min must be at least 100 ms, got 99 ms");
    o.reconnect_min = 2s;
    o.reconnect_max = 1999ms;
    expect_rejected(o.validate(), "reconnect_max");

    o = good_mqtt();
    o.max_queued_messages = 1;
    EXPECT_TRUE(o.validate().ok());
    o.max_queued_messages = MqttOptions::kMaxQueuedMessagesLimit;
    EXPECT_TRUE(o.validate().ok());
    o.max_queued_messages = 0;
    expect_rejected(o.validate(), "MqttOptions::max_queued_messages must be 1..65536, got 0");
    o.max_queued_messages = MqttOptions::kMaxQueuedMessagesLimit + 1;
    expect_rejected(o.validate(), "max_queued_messages");
}

TEST(MqttOptionsValidate, IdentityAndAddress) {
    MqttOptions o = good_mqtt();
    o.host.clear();
    expect_rejected(o.validate(), "MqttOptions::host is empty");
    for (const char* bad : {"a b", "a/b", "a\tb", "a\x7f"}) {
        o.host = bad;
        expect_rejected(o.validate(), "is not a host name or address");
    }
    o.host = std::string(MqttOptions::kMaxHostLength, 'h');
    EXPECT_TRUE(o.validate().ok());
    o.host += 'h';
    expect_rejected(o.validate(), "host");
    o = good_mqtt();
    o.port = 0;
    expect_rejected(o.validate(), "MqttOptions::port is 0");
    o = good_mqtt();
    o.client_id.clear();
    expect_rejected(o.validate(), "MqttOptions::client_id is empty");
    o.client_id = std::string(MqttOptions::kMaxStringLength + 1, 'c');
    expect_rejected(o.validate(), "client_id is too long");
    o = good_mqtt();
    o.password = "s3cr3t" + std::string(MqttOptions::kMaxStringLength, 'p');
    expect_rejected(o.validate(), "password is too long");
    o = good_mqtt();
    o.username = std::string(MqttOptions::kMaxStringLength + 1, 'u');
    expect_rejected(o.validate(), "username is too long");
}

TEST(MqttOptionsValidate, DoesNotTouchTheCaFile) {
    // Pure: a missing CA file is PahoChannel::connect()'s to report, not validate()'s.
    MqttOptions o = good_mqtt();
    o.ca_file = "/nonexistent/ca.pem";
    EXPECT_TRUE(o.validate().ok());
}

TEST(HttpOptionsValidate, DefaultsAreValidAndEachRangeIsCheckedAtBothBounds) {
    EXPECT_TRUE(HttpOptions{}.validate().ok());
    HttpOptions o;
    o.connect_timeout = HttpOptions::kMinConnectTimeout;
    o.low_speed_window = HttpOptions::kMinLowSpeedWindow;
    o.max_redirects = 0;
    o.buffer_size = HttpOptions::kMinBufferSize;
    EXPECT_TRUE(o.validate().ok());
    o.connect_timeout = HttpOptions::kMaxConnectTimeout;
    o.low_speed_window = HttpOptions::kMaxLowSpeedWindow;
    o.max_redirects = HttpOptions::kMaxRedirectsLimit;
    o.buffer_size = HttpOptions::kMaxBufferSize;
    EXPECT_TRUE(o.validate().ok());

    o = HttpOptions{};
    o.connect_timeout = 99ms;
    expect_rejected(o.validate(), "HttpOptions::connect_timeout must be 100 ms..120 s, got 99 ms");
    o.connect_timeout = HttpOptions::kMaxConnectTimeout + 1ms;
    expect_rejected(o.validate(), "connect_timeout");
    o = HttpOptions{};
    o.low_speed_window = 0s;
    expect_rejected(o.validate(), "HttpOptions::low_speed_window must be 1..3600 s, got 0 s");
    o.low_speed_window = HttpOptions::kMaxLowSpeedWindow + 1s;
    expect_rejected(o.validate(), "low_speed_window");
    o = HttpOptions{};
    o.max_redirects = -1;
    expect_rejected(o.validate(), "HttpOptions::max_redirects must be 0..20, got -1");
    o.max_redirects = 21;
    expect_rejected(o.validate(), "max_redirects");
    o = HttpOptions{};
    o.buffer_size = 1;
    expect_rejected(o.validate(), "HttpOptions::buffer_size must be 16384..67108864 bytes, got 1");
    o.buffer_size = HttpOptions::kMaxBufferSize + 1;
    expect_rejected(o.validate(), "buffer_size");
}

TEST(HttpOptionsValidate, ReceiveBufferSizeIsCheckedAtBothBounds) {
    HttpOptions o;
    o.receive_buffer_size = HttpOptions::kMinReceiveBufferSize;
    EXPECT_TRUE(o.validate().ok());
    o.receive_buffer_size = HttpOptions::kMaxReceiveBufferSize;
    EXPECT_TRUE(o.validate().ok());
    o.receive_buffer_size = HttpOptions::kMinReceiveBufferSize - 1;
    expect_rejected(o.validate(),
                    "HttpOptions::receive_buffer_size must be 1024..524288 bytes, got 1023");
    o.receive_buffer_size = HttpOptions::kMaxReceiveBufferSize + 1;
    expect_rejected(o.validate(), "receive_buffer_size");
}

TEST(BufferProfile, DefaultsComeFromTheStandardProfileAndBothProfilesAreValid) {
    constexpr BufferProfile standard = BufferProfile::standard();
    constexpr BufferProfile low = BufferProfile::low_memory();
    EXPECT_EQ(HttpOptions{}.buffer_size, standard.download_ring);
    EXPECT_EQ(HttpOptions{}.receive_buffer_size, standard.receive_buffer);
    // The low-memory profile is smaller in every buffer, and each size is one HttpOptions takes.
    EXPECT_LT(low.fetch_buffer, standard.fetch_buffer);
    EXPECT_LT(low.download_ring, standard.download_ring);
    EXPECT_LT(low.receive_buffer, standard.receive_buffer);
    for (const BufferProfile& p : {standard, low}) {
        EXPECT_TRUE(HttpOptions{}.with_buffers(p).validate().ok());
        EXPECT_GT(p.fetch_buffer, 0u);
    }
}

TEST(BufferProfile, WithBuffersSetsOnlyTheBufferSizes) {
    HttpOptions o;
    o.ca_file = "/etc/ca.pem";
    o.allow_http = true;
    o.max_redirects = 2;
    const HttpOptions low = o.with_buffers(BufferProfile::low_memory());
    EXPECT_EQ(low.buffer_size, BufferProfile::low_memory().download_ring);
    EXPECT_EQ(low.receive_buffer_size, BufferProfile::low_memory().receive_buffer);
    EXPECT_EQ(low.ca_file, "/etc/ca.pem");
    EXPECT_TRUE(low.allow_http);
    EXPECT_EQ(low.max_redirects, 2);
    // The original is left as it was.
    EXPECT_EQ(o.buffer_size, HttpOptions{}.buffer_size);
}

}  // namespace
