// PahoChannel against the lab's real mosquitto (TLS + password file + ACL): connecting, the
// clear errors of a failed connect, delivery on the caller's thread, ACLs, QoS 0/1, the inbox
// bound, and reconnecting by itself after the broker went away (on a private broker).
#include "ota/paho/paho_channel.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <new>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "lab.hpp"
#include "ota/auth.hpp"
#include "ota/channel.hpp"
#include "ota/log.hpp"
#include "ota/options.hpp"
#include "ota/status.hpp"

// Counts heap allocations per thread, to check that yield() on an empty inbox allocates nothing.
namespace {
thread_local std::size_t t_allocations = 0;

void* counted_alloc(std::size_t size) {
    ++t_allocations;
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void counted_free(void* p) noexcept {
    std::free(p);
}
}  // namespace

void* operator new(std::size_t size) {
    return counted_alloc(size);
}
void* operator new[](std::size_t size) {
    return counted_alloc(size);
}
void operator delete(void* p) noexcept {
    counted_free(p);
}
void operator delete[](void* p) noexcept {
    counted_free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    counted_free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    counted_free(p);
}

namespace ota {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::Lab;
using test::PrivateLab;

// ---- helpers ------------------------------------------------------------------------------------

// A product key / device name pair no other test (or earlier run) uses.
struct Ids {
    std::string pk;
    std::string dn;
    std::string upgrade_topic() const { return "/ota/device/upgrade/" + pk + "/" + dn; }
    std::string inform_topic() const { return "/ota/device/inform/" + pk + "/" + dn; }
    std::string progress_topic() const { return "/ota/device/progress/" + pk + "/" + dn; }
};

Ids unique_ids() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    const std::string tag = std::to_string(getpid() % 100000) + "x" + std::to_string(rd() % 10000) +
                            "x" + std::to_string(counter++);
    return {"pc" + tag, "dev" + tag};
}

const char* kSecret = "s3cret-device-secret";

// MqttOptions of a device registered with the lab whose env file is `lab`.
MqttOptions device_options(const Lab& lab, const Ids& ids, bool tls = true) {
    ConnectOptions co;
    co.custom_host = "127.0.0.1";
    co.port = tls ? lab.mqtt_tls_port : lab.mqtt_tcp_port;
    co.secure_mode = tls ? SecureMode::tls : SecureMode::tcp;
    ConnectionInfo info;
    const Error e = make_connection_info({ids.pk, ids.dn, kSecret}, co, info);
    EXPECT_TRUE(e.ok()) << e.message();
    MqttOptions o = MqttOptions::from(info);
    o.use_tls = tls;
    o.ca_file = tls ? lab.ca_file : std::string();
    o.connect_timeout = 5s;
    o.reconnect_min = 200ms;
    o.reconnect_max = 1s;
    return o;
}

MqttOptions cloud_options(const Lab& lab) {
    MqttOptions o;
    o.host = "127.0.0.1";
    o.port = lab.mqtt_tls_port;
    o.client_id = "cloud-" + unique_ids().pk;
    o.username = lab.cloud_user;
    o.password = lab.cloud_password;
    o.ca_file = lab.ca_file;
    o.connect_timeout = 5s;
    o.reconnect_min = 200ms;
    o.reconnect_max = 1s;
    return o;
}

// Records everything a channel delivers, with the delivering thread.
class Recorder : public ChannelListener {
  public:
    struct Message {
        std::string topic;
        std::string payload;
    };
    void on_message(std::string_view topic, std::string_view payload) override {
        messages.push_back({std::string(topic), std::string(payload)});
        threads.push_back(std::this_thread::get_id());
        if (on_message_hook) on_message_hook(topic, payload);
    }
    void on_connected() override {
        ++connected;
        threads.push_back(std::this_thread::get_id());
    }
    void on_connection_lost() override {
        ++lost;
        threads.push_back(std::this_thread::get_id());
    }
    std::size_t count_on(const std::string& topic) const {
        std::size_t n = 0;
        for (const auto& m : messages) n += m.topic == topic ? 1 : 0;
        return n;
    }

    std::vector<Message> messages;
    std::vector<std::thread::id> threads;
    int connected = 0;
    int lost = 0;
    std::function<void(std::string_view, std::string_view)> on_message_hook;
};

// Calls yield() until `done` holds or `limit` passes; returns whether it held.
bool yield_until(MqttChannel& ch, const std::function<bool()>& done,
                 std::chrono::milliseconds limit = 10s) {
    const auto deadline = Clock::now() + limit;
    while (!done()) {
        if (Clock::now() >= deadline) return false;
        EXPECT_EQ(ch.yield(50ms), Status::ok);
    }
    return true;
}

// connect() for a device registered a moment ago: lab.sh reloads mosquitto's password file with
// SIGHUP, which a loaded machine may take longer than the script's pause to apply.
Error connect_registered(PahoChannel& ch) {
    const auto deadline = Clock::now() + 3s;
    for (;;) {
        Error e = ch.connect();
        if (e.ok() || e.detail.find("not authorized") == std::string::npos ||
            Clock::now() >= deadline) {
            return e;
        }
        std::this_thread::sleep_for(100ms);
    }
}

#define ASSERT_CONNECTED(channel)                                   \
    do {                                                            \
        const Error connect_error = connect_registered(channel);    \
        ASSERT_TRUE(connect_error.ok()) << connect_error.message(); \
    } while (0)

// A device registered with the lab, its channel (not yet connected) and a recorder.
struct Device {
    Ids ids = unique_ids();
    Recorder rec;
    std::unique_ptr<PahoChannel> ch;

    explicit Device(const Lab& lab, bool tls = true) {
        lab.add_device(ids.pk, ids.dn, kSecret);
        ch = std::make_unique<PahoChannel>(device_options(lab, ids, tls));
        ch->add_listener(rec);
    }
    ~Device() { ch->remove_listener(rec); }
};

// A free TCP port on 127.0.0.1 that nothing listens on (bound, read, closed).
std::uint16_t closed_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

// Captures log records for the lifetime of the object.
class LogCapture {
  public:
    LogCapture() {
        previous_level_ = log_level();
        set_log_level(LogLevel::debug);
        set_log_sink([this](LogLevel, std::string_view m) {
            const auto ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_);
            std::lock_guard<std::mutex> lock(mutex_);
            lines_.push_back("[+" + std::to_string(ms.count()) + " ms] " + std::string(m));
        });
    }
    ~LogCapture() {
        set_log_sink({});
        set_log_level(previous_level_);
    }
    bool contains(std::string_view needle) const {
        std::lock_guard<std::mutex> lock(mutex_);
        for (const auto& l : lines_) {
            if (l.find(needle) != std::string::npos) return true;
        }
        return false;
    }
    std::string all() const {
        std::lock_guard<std::mutex> lock(mutex_);
        std::string s;
        for (const auto& l : lines_) s += l + "\n";
        return s;
    }

  private:
    const Clock::time_point start_ = Clock::now();
    mutable std::mutex mutex_;
    std::vector<std::string> lines_;
    LogLevel previous_level_ = LogLevel::warning;
};

// ---- connecting ---------------------------------------------------------------------------------

TEST(PahoChannel, TlsRoundTripIsDeliveredOnTheCallersThread) {
    const Lab& lab = Lab::get();
    Device dev(lab);
    ASSERT_FALSE(dev.ch->is_connected());
    const Error e = connect_registered(*dev.ch);
    ASSERT_TRUE(e.ok()) << e.message();
    EXPECT_TRUE(dev.ch->is_connected());
    ASSERT_EQ(dev.ch->subscribe(dev.ids.upgrade_topic(), 1), Status::ok);

    PahoChannel cloud(cloud_options(lab));
    ASSERT_CONNECTED(cloud);
    ASSERT_EQ(cloud.publish(dev.ids.upgrade_topic(), R"({"code":"1000"})", 1), Status::ok);

    ASSERT_TRUE(yield_until(*dev.ch, [&] { return !dev.rec.messages.empty(); }));
    ASSERT_EQ(dev.rec.messages.size(), 1u);
    EXPECT_EQ(dev.rec.messages[0].topic, dev.ids.upgrade_topic());
    EXPECT_EQ(dev.rec.messages[0].payload, R"({"code":"1000"})");
    EXPECT_EQ(dev.rec.connected, 1);  // the first connect is announced too
    ASSERT_FALSE(dev.rec.threads.empty());
    for (const auto& id : dev.rec.threads) EXPECT_EQ(id, std::this_thread::get_id());
}

TEST(PahoChannel, WrongPasswordIsRefusedClearlyWithoutEchoingIt) {
    const Lab& lab = Lab::get();
    const Ids ids = unique_ids();
    lab.add_device(ids.pk, ids.dn, kSecret);
    MqttOptions o = device_options(lab, ids);
    o.password = "Wr0ngPassw0rdThatMustNotLeak";
    LogCapture logs;
    PahoChannel ch(o);
    const Error e = ch.connect();
    EXPECT_EQ(e.status, Status::invalid_argument) << e.message();
    EXPECT_NE(e.detail.find("broker refused the connection"), std::string::npos) << e.detail;
    EXPECT_NE(e.detail.find("device secret"), std::string::npos) << e.detail;
    EXPECT_EQ(e.message().find(o.password), std::string::npos);
    EXPECT_FALSE(logs.contains(o.password));
    EXPECT_FALSE(ch.is_connected());
    EXPECT_EQ(ch.publish(ids.inform_topic(), "{}", 1), Status::not_connected);
}

TEST(PahoChannel, UnrelatedCaFailsCertificateVerification) {
    const Lab& lab = Lab::get();
    const Ids ids = unique_ids();
    lab.add_device(ids.pk, ids.dn, kSecret);
    MqttOptions o = device_options(lab, ids);
    o.ca_file = lab.other_ca_file;
    PahoChannel ch(o);
    const Error e = ch.connect();
    EXPECT_EQ(e.status, Status::not_connected) << e.message();
    EXPECT_NE(e.detail.find("certificate verification against the CA file"), std::string::npos)
        << e.detail;
    EXPECT_NE(e.detail.find("other-ca.pem"), std::string::npos) << e.detail;
    EXPECT_FALSE(ch.is_connected());
}

TEST(PahoChannel, EmptyCaFileUsesTheSystemStoreWhichDoesNotTrustTheLab) {
    const Lab& lab = Lab::get();
    const Ids ids = unique_ids();
    lab.add_device(ids.pk, ids.dn, kSecret);
    MqttOptions o = device_options(lab, ids);
    o.ca_file.clear();
    PahoChannel ch(o);
    const Error e = ch.connect();
    EXPECT_EQ(e.status, Status::not_connected) << e.message();
    EXPECT_NE(e.detail.find("system CA store"), std::string::npos) << e.detail;
}

TEST(PahoChannel, InsecureSkipVerifyConnectsAndWarns) {
    const Lab& lab = Lab::get();
    const Ids ids = unique_ids();
    lab.add_device(ids.pk, ids.dn, kSecret);
    MqttOptions o = device_options(lab, ids);
    o.ca_file = lab.other_ca_file;
    o.insecure_skip_verify = true;
    LogCapture logs;
    PahoChannel ch(o);
    const Error e = connect_registered(ch);
    ASSERT_TRUE(e.ok()) << e.message();
    EXPECT_TRUE(logs.contains("verification is OFF")) << logs.all();
}

TEST(PahoChannel, PlainTcpWorks) {
    const Lab& lab = Lab::get();
    Device dev(lab, /*tls=*/false);
    const Error e = connect_registered(*dev.ch);
    ASSERT_TRUE(e.ok()) << e.message();
    ASSERT_EQ(dev.ch->subscribe(dev.ids.upgrade_topic(), 1), Status::ok);
    PahoChannel cloud(cloud_options(lab));
    ASSERT_CONNECTED(cloud);
    ASSERT_EQ(cloud.publish(dev.ids.upgrade_topic(), "over tcp", 1), Status::ok);
    ASSERT_TRUE(yield_until(*dev.ch, [&] { return !dev.rec.messages.empty(); }));
    EXPECT_EQ(dev.rec.messages[0].payload, "over tcp");
}

TEST(PahoChannel, UnreachableBrokerIsReportedWithItsAddress) {
    MqttOptions o;
    o.host = "127.0.0.1";
    o.port = closed_port();
    o.client_id = "nobody";
    o.connect_timeout = 3s;
    for (const bool tls : {true, false}) {
        o.use_tls = tls;
        PahoChannel ch(o);
        const auto start = Clock::now();
        const Error e = ch.connect();
        EXPECT_LT(Clock::now() - start, 5s);
        EXPECT_EQ(e.status, Status::not_connected) << e.message();
        EXPECT_NE(e.detail.find("cannot reach 127.0.0.1:" + std::to_string(o.port)),
                  std::string::npos)
            << e.detail;
    }
}

TEST(PahoChannel, TlsAndPlainPortsMixedUpAreExplained) {
    const Lab& lab = Lab::get();
    const Ids ids = unique_ids();
    lab.add_device(ids.pk, ids.dn, kSecret);
    MqttOptions o = device_options(lab, ids);
    o.port = lab.mqtt_tcp_port;  // TLS spoken to the plain listener
    {
        PahoChannel ch(o);
        const Error e = ch.connect();
        EXPECT_EQ(e.status, Status::not_connected) << e.message();
        EXPECT_NE(e.detail.find("TLS"), std::string::npos) << e.detail;
    }
    o.port = lab.mqtt_tls_port;  // plain MQTT spoken to the TLS listener
    o.use_tls = false;
    {
        PahoChannel ch(o);
        const Error e = ch.connect();
        EXPECT_NE(e.status, Status::ok);
        EXPECT_NE(e.detail.find("127.0.0.1:" + std::to_string(lab.mqtt_tls_port)),
                  std::string::npos)
            << e.detail;
        EXPECT_EQ(e.detail.find("cannot reach"), std::string::npos) << e.detail;
    }
}

TEST(PahoChannel, BadOptionsAreRejectedBeforeAnyNetworkTraffic) {
    const auto rejected = [](MqttOptions o, const char* expect) {
        PahoChannel ch(std::move(o));
        const Error e = ch.connect();
        EXPECT_EQ(e.status, Status::invalid_argument) << expect;
        EXPECT_NE(e.detail.find(expect), std::string::npos) << e.detail;
    };
    MqttOptions good;
    good.host = "127.0.0.1";
    good.port = 1;
    good.client_id = "c";
    good.password = "p4ssw0rd";

    MqttOptions o = good;
    o.host.clear();
    rejected(o, "host");
    o = good;
    o.host = "bad host";
    rejected(o, "host");
    o = good;
    o.port = 0;
    rejected(o, "port");
    o = good;
    o.client_id.clear();
    rejected(o, "client_id");
    o = good;
    o.keepalive = 5s;
    rejected(o, "keepalive");
    o = good;
    o.connect_timeout = 10ms;
    rejected(o, "connect_timeout");
    o = good;
    o.reconnect_min = 50ms;
    rejected(o, "reconnect_min");
    o = good;
    o.reconnect_max = 500ms;
    rejected(o, "reconnect_max");
    o = good;
    o.max_queued_messages = 0;
    rejected(o, "max_queued_messages");
    o = good;
    o.ca_file = "/nonexistent/ca.pem";
    rejected(o, "cannot read MqttOptions::ca_file '/nonexistent/ca.pem'");
    o = good;
    o.ca_file = "/etc/hostname";  // readable, but no certificate in it
    rejected(o, "no PEM certificate");
}

TEST(PahoChannel, ConnectTwiceIsInvalidStateAndDisconnectAllowsAgain) {
    const Lab& lab = Lab::get();
    Device dev(lab);
    ASSERT_CONNECTED(*dev.ch);
    EXPECT_EQ(dev.ch->connect().status, Status::invalid_state);
    dev.ch->disconnect();
    EXPECT_FALSE(dev.ch->is_connected());
    EXPECT_EQ(dev.ch->publish(dev.ids.inform_topic(), "{}", 0), Status::not_connected);
    dev.ch->disconnect();  // idempotent
    const Error again = connect_registered(*dev.ch);
    ASSERT_TRUE(again.ok()) << again.message();
    EXPECT_TRUE(dev.ch->is_connected());
}

// ---- subscriptions and publishing ---------------------------------------------------------------

TEST(PahoChannel, SubscriptionsMadeWhileDisconnectedAreSentOnConnect) {
    const Lab& lab = Lab::get();
    Device dev(lab);
    EXPECT_EQ(dev.ch->subscribe(dev.ids.upgrade_topic(), 1), Status::not_connected);
    ASSERT_CONNECTED(*dev.ch);
    // on_connected is queued only once the broker acknowledged the remembered subscription.
    ASSERT_TRUE(yield_until(*dev.ch, [&] { return dev.rec.connected == 1; }));
    PahoChannel cloud(cloud_options(lab));
    ASSERT_CONNECTED(cloud);
    ASSERT_EQ(cloud.publish(dev.ids.upgrade_topic(), "pushed", 1), Status::ok);
    ASSERT_TRUE(yield_until(*dev.ch, [&] { return !dev.rec.messages.empty(); }));
    EXPECT_EQ(dev.rec.messages[0].payload, "pushed");
}

TEST(PahoChannel, AnotherDevicesTopicIsRefusedOrNeverDelivered) {
    const Lab& lab = Lab::get();
    Device dev(lab);
    const Ids other = unique_ids();
    lab.add_device(other.pk, other.dn, kSecret);
    ASSERT_CONNECTED(*dev.ch);
    ASSERT_EQ(dev.ch->subscribe(dev.ids.upgrade_topic(), 1), Status::ok);
    // mosquitto 2.0 grants the SUBSCRIBE and filters at delivery; a broker answering 0x80 makes
    // subscribe() fail. Either way nothing from the other device's topic may arrive.
    const Status s = dev.ch->subscribe(other.upgrade_topic(), 1);
    EXPECT_TRUE(s == Status::ok || s == Status::invalid_argument) << to_string(s);

    PahoChannel cloud(cloud_options(lab));
    ASSERT_CONNECTED(cloud);
    ASSERT_EQ(cloud.publish(other.upgrade_topic(), "not for you", 1), Status::ok);
    ASSERT_EQ(cloud.publish(dev.ids.upgrade_topic(), "marker", 1), Status::ok);
    ASSERT_TRUE(
        yield_until(*dev.ch, [&] { return dev.rec.count_on(dev.ids.upgrade_topic()) > 0; }));
    EXPECT_EQ(dev.rec.count_on(other.upgrade_topic()), 0u);
    ASSERT_EQ(dev.rec.messages.size(), 1u);
}

TEST(PahoChannel, PublishesQos0AndQos1AndListenersMayPublishFromCallbacks) {
    const Lab& lab = Lab::get();
    Device dev(lab);
    ASSERT_CONNECTED(*dev.ch);
    ASSERT_EQ(dev.ch->subscribe(dev.ids.upgrade_topic(), 1), Status::ok);

    PahoChannel cloud(cloud_options(lab));
    Recorder cloud_rec;
    cloud.add_listener(cloud_rec);
    ASSERT_CONNECTED(cloud);
    ASSERT_EQ(cloud.subscribe(dev.ids.inform_topic(), 1), Status::ok);
    ASSERT_EQ(cloud.subscribe(dev.ids.progress_topic(), 1), Status::ok);

    EXPECT_EQ(dev.ch->publish(dev.ids.inform_topic(), R"({"id":"1"})", 1), Status::ok);
    EXPECT_EQ(dev.ch->publish(dev.ids.progress_topic(), R"({"id":"2"})", 0), Status::ok);
    // A listener answering from inside yield(): publish while being called back.
    Status from_callback = Status::internal;
    dev.rec.on_message_hook = [&](std::string_view, std::string_view payload) {
        from_callback = dev.ch->publish(dev.ids.inform_topic(), std::string(payload) + "-ack", 1);
    };
    ASSERT_EQ(cloud.publish(dev.ids.upgrade_topic(), "job", 1), Status::ok);
    ASSERT_TRUE(yield_until(*dev.ch, [&] { return !dev.rec.messages.empty(); }));
    EXPECT_EQ(from_callback, Status::ok);

    ASSERT_TRUE(yield_until(cloud, [&] { return cloud_rec.messages.size() >= 3; }));
    EXPECT_EQ(cloud_rec.count_on(dev.ids.inform_topic()), 2u);
    EXPECT_EQ(cloud_rec.count_on(dev.ids.progress_topic()), 1u);
    bool saw_ack = false;
    for (const auto& m : cloud_rec.messages) saw_ack = saw_ack || m.payload == "job-ack";
    EXPECT_TRUE(saw_ack);
    cloud.remove_listener(cloud_rec);
}

TEST(PahoChannel, BadTopicsAndQosAreInvalidArguments) {
    const Lab& lab = Lab::get();
    Device dev(lab);
    ASSERT_CONNECTED(*dev.ch);
    EXPECT_EQ(dev.ch->publish("", "x", 0), Status::invalid_argument);
    EXPECT_EQ(dev.ch->publish("/a/+/b", "x", 0), Status::invalid_argument);
    EXPECT_EQ(dev.ch->publish("/a/#", "x", 0), Status::invalid_argument);
    EXPECT_EQ(dev.ch->publish(dev.ids.inform_topic(), "x", 2), Status::invalid_argument);
    EXPECT_EQ(dev.ch->publish(dev.ids.inform_topic(), "x", -1), Status::invalid_argument);
    EXPECT_EQ(dev.ch->subscribe("", 0), Status::invalid_argument);
    EXPECT_EQ(dev.ch->subscribe("/a/#/b", 0), Status::invalid_argument);
    EXPECT_EQ(dev.ch->subscribe("/a/b+", 0), Status::invalid_argument);
    EXPECT_EQ(dev.ch->subscribe(dev.ids.upgrade_topic(), 2), Status::invalid_argument);
    // Well-formed wildcards are fine (the ACL decides what is delivered).
    EXPECT_EQ(dev.ch->subscribe("/ota/device/upgrade/+/#", 0), Status::ok);
    EXPECT_TRUE(dev.ch->is_connected());
}

// ---- inbox --------------------------------------------------------------------------------------

TEST(PahoChannel, EmptyYieldWaitsAboutTheTimeoutWithoutAllocating) {
    const Lab& lab = Lab::get();
    Device dev(lab);
    ASSERT_CONNECTED(*dev.ch);
    ASSERT_TRUE(yield_until(*dev.ch, [&] { return dev.rec.connected == 1; }));

    const std::size_t before = t_allocations;
    const auto start = Clock::now();
    const Status s = dev.ch->yield(300ms);
    const auto elapsed = Clock::now() - start;
    const std::size_t allocated = t_allocations - before;
    EXPECT_EQ(s, Status::ok);
    EXPECT_EQ(allocated, 0u);
    EXPECT_GE(elapsed, 290ms);
    EXPECT_LT(elapsed, 1500ms);

    const auto zero_start = Clock::now();
    EXPECT_EQ(dev.ch->yield(0ms), Status::ok);
    EXPECT_LT(Clock::now() - zero_start, 100ms);
}

// Issue 10: paho has acknowledged every message by the time it is queued, so a full inbox makes
// room by dropping the oldest message a newer one on its topic supersedes: the newest message of
// every topic survives (here the last push of a burst, and the only message of another topic).
TEST(PahoChannel, FullInboxKeepsTheNewestMessageOfEveryTopic) {
    const Lab& lab = Lab::get();
    const Ids ids = unique_ids();
    lab.add_device(ids.pk, ids.dn, kSecret);
    MqttOptions o = device_options(lab, ids);
    o.max_queued_messages = 3;
    PahoChannel ch(o);
    Recorder rec;
    ch.add_listener(rec);
    ASSERT_CONNECTED(ch);
    ASSERT_EQ(ch.subscribe(ids.upgrade_topic(), 1), Status::ok);
    const std::string reply_topic =
        "/sys/" + ids.pk + "/" + ids.dn + "/thing/ota/firmware/get_reply";
    ASSERT_EQ(ch.subscribe(reply_topic, 1), Status::ok);
    ASSERT_TRUE(yield_until(ch, [&] { return rec.connected == 1; }));

    LogCapture logs;
    PahoChannel cloud(cloud_options(lab));
    ASSERT_CONNECTED(cloud);
    ASSERT_EQ(cloud.publish(reply_topic, "reply", 1), Status::ok);
    for (int i = 0; i < 8; ++i) {
        ASSERT_EQ(cloud.publish(ids.upgrade_topic(), "m" + std::to_string(i), 1), Status::ok);
    }
    // Wait (without yielding) until the channel reports the overflow, then let the rest arrive.
    const auto deadline = Clock::now() + 5s;
    while (!logs.contains("inbox full") && Clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(logs.contains("inbox full")) << logs.all();
    std::this_thread::sleep_for(300ms);

    EXPECT_EQ(ch.yield(0ms), Status::ok);
    ASSERT_EQ(rec.messages.size(), 3u);
    EXPECT_EQ(rec.messages[0].payload, "reply");
    EXPECT_EQ(rec.messages[1].payload, "m6");
    EXPECT_EQ(rec.messages[2].payload, "m7");  // the last one of the burst
    EXPECT_TRUE(logs.contains("6 incoming message(s) replaced by newer ones")) << logs.all();

    ASSERT_EQ(cloud.publish(ids.upgrade_topic(), "after", 1), Status::ok);
    ASSERT_TRUE(yield_until(ch, [&] { return rec.messages.size() == 4; }));
    EXPECT_EQ(rec.messages[3].payload, "after");
    ch.remove_listener(rec);
}

TEST(PahoChannel, ListenersRemovedDuringDeliveryAreNotCalledAgain) {
    const Lab& lab = Lab::get();
    Device dev(lab);
    Recorder second;
    dev.ch->add_listener(second);
    dev.ch->add_listener(second);  // no effect
    dev.rec.on_message_hook = [&](std::string_view, std::string_view) {
        dev.ch->remove_listener(second);
    };
    ASSERT_CONNECTED(*dev.ch);
    ASSERT_EQ(dev.ch->subscribe(dev.ids.upgrade_topic(), 1), Status::ok);
    PahoChannel cloud(cloud_options(lab));
    ASSERT_CONNECTED(cloud);
    ASSERT_EQ(cloud.publish(dev.ids.upgrade_topic(), "one", 1), Status::ok);
    ASSERT_EQ(cloud.publish(dev.ids.upgrade_topic(), "two", 1), Status::ok);
    ASSERT_TRUE(yield_until(*dev.ch, [&] { return dev.rec.messages.size() == 2; }));
    EXPECT_EQ(second.messages.size(), 0u);
    EXPECT_EQ(second.connected, 1);   // it was there for on_connected
    dev.ch->remove_listener(second);  // already gone: harmless
}

// ---- reconnecting (private broker: stopping the shared one would disturb other tests) ---------

TEST(PahoChannelRestart, ReconnectsByItselfAndRestoresSubscriptionsAfterALongOutage) {
    PrivateLab priv("channel");
    ASSERT_TRUE(priv.ok());
    const Lab& lab = priv.lab();
    LogCapture logs;
    Device dev(lab);
    ASSERT_CONNECTED(*dev.ch);
    ASSERT_EQ(dev.ch->subscribe(dev.ids.upgrade_topic(), 1), Status::ok);
    ASSERT_TRUE(yield_until(*dev.ch, [&] { return dev.rec.connected == 1; }));

    priv.stop_broker();
    ASSERT_TRUE(yield_until(*dev.ch, [&] { return dev.rec.lost == 1; }));
    EXPECT_FALSE(dev.ch->is_connected());
    EXPECT_EQ(dev.ch->publish(dev.ids.inform_topic(), "{}", 1), Status::not_connected);
    // paho retries on its own coarse schedule (about every 3 s with 1 s settings); stay away long
    // enough for at least one attempt to fail.
    const auto outage_end = Clock::now() + 5s;
    while (Clock::now() < outage_end) ASSERT_EQ(dev.ch->yield(100ms), Status::ok);
    EXPECT_EQ(dev.rec.connected, 1);
    EXPECT_EQ(dev.rec.lost, 1);
    EXPECT_TRUE(logs.contains("MQTT reconnecting to 127.0.0.1:")) << logs.all();

    priv.start_broker();
    ASSERT_TRUE(yield_until(
        *dev.ch, [&] { return dev.rec.connected == 2; }, 15s))
        << logs.all();
    EXPECT_TRUE(dev.ch->is_connected());
    EXPECT_TRUE(logs.contains("reconnected to")) << logs.all();
    EXPECT_TRUE(logs.contains("failed (attempt 1)")) << logs.all();

    // The restarted broker has no memory of the subscription (persistence is off): a message
    // arriving proves that the channel restored it before announcing on_connected.
    PahoChannel cloud(cloud_options(lab));
    ASSERT_CONNECTED(cloud);
    ASSERT_EQ(cloud.publish(dev.ids.upgrade_topic(), "after restart", 1), Status::ok);
    ASSERT_TRUE(yield_until(*dev.ch, [&] { return !dev.rec.messages.empty(); }));
    EXPECT_EQ(dev.rec.messages[0].payload, "after restart");
    EXPECT_EQ(dev.ch->publish(dev.ids.inform_topic(), "{}", 1), Status::ok);
    for (const auto& id : dev.rec.threads) EXPECT_EQ(id, std::this_thread::get_id());

    // Tearing down while paho is retrying returns promptly and stops the retries.
    priv.stop_broker();
    ASSERT_TRUE(yield_until(*dev.ch, [&] { return dev.rec.lost == 2; }));
    const auto start = Clock::now();
    dev.ch->disconnect();
    EXPECT_LT(Clock::now() - start, 5s);
    EXPECT_FALSE(dev.ch->is_connected());
}

}  // namespace
}  // namespace ota
