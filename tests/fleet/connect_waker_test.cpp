// ConnectWaker (tools/fleet/sim/connect_waker.hpp) against the lab's broker: while connects are
// outstanding it keeps paho's receive thread out of its 1 s poll (paho issue 1430); here only
// that it works (pings while connects are outstanding, quiet after) and that `ota_fleet run`
// uses it for every device connect unless --no-connect-waker. The speed-up itself is measured by
// bench/paho_connect_bench.sh --waker.
#include "connect_waker.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fleet_lab.hpp"
#include "lab.hpp"
#include "ota/paho/paho_channel.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using ota::test::Lab;

ota::MqttOptions cloud_options(const Lab& lab, const std::string& client_id) {
    ota::MqttOptions o;
    o.host = "127.0.0.1";
    o.port = lab.mqtt_tls_port;
    o.use_tls = true;
    o.ca_file = lab.ca_file;
    o.username = lab.cloud_user;
    o.password = lab.cloud_password;
    o.client_id = client_id;
    o.clean_session = true;
    o.connect_timeout = std::chrono::seconds(10);
    return o;
}

std::string unique(const std::string& what) {
    static std::atomic<int> counter{0};
    return "waker-it-" + std::to_string(::getpid()) + "-" + what + "-" + std::to_string(counter++);
}

// start_connect() of a fresh channel (the waker's begin()/end() around it when `waker` is set);
// returns how long the outcome took in ms, or -1 when it failed.
double timed_connect(const Lab& lab, ota::fleet::ConnectWaker* waker) {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    ota::PahoChannel ch(cloud_options(lab, unique("ch")));
    ch.set_event_callback([&] {
        std::lock_guard<std::mutex> lock(m);
        done = true;
        cv.notify_all();
    });
    const auto t0 = Clock::now();
    if (waker) waker->begin();
    if (!ch.start_connect().ok()) return -1;
    {
        std::unique_lock<std::mutex> lock(m);
        cv.wait_for(lock, std::chrono::seconds(15), [&] { return done; });
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (waker) waker->end();
    const auto outcome = ch.connect_outcome();
    const bool ok = outcome && outcome->ok();
    ch.disconnect();
    return ok ? ms : -1;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Functional only: connects with the waker's begin()/end() around them succeed, the waker pinged
// while they were outstanding and goes quiet after. How much faster they are (paho's 1 s receive
// poll) is a performance figure, measured by bench/paho_connect_bench.sh --waker, not asserted
// here (CI runs this on a loaded machine, also under sanitizers).
TEST(ConnectWaker, ConnectsWithTheWakerSucceedAndItGoesQuietAfter) {
    const Lab& lab = Lab::get();
    ota::fleet::ConnectWakerOptions wo;
    wo.mqtt = cloud_options(lab, unique("waker"));
    wo.topic = "fleet-it/waker/" + std::to_string(::getpid());
    ota::fleet::ConnectWaker waker(wo);
    ASSERT_TRUE(waker.start().ok());
    ASSERT_TRUE(waker.wait_connected(std::chrono::seconds(10))) << waker.stats().last_error;

    std::vector<double> with;
    for (int i = 0; i < 3; ++i) with.push_back(timed_connect(lab, &waker));
    for (std::size_t i = 0; i < with.size(); ++i) {
        ASSERT_GE(with[i], 0) << "connect " << i << " with the waker failed";
    }
    std::printf("connect with the waker: median %.0f ms (informational)\n", median(with));

    const auto s = waker.stats();
    EXPECT_GT(s.pings, 0u);
    EXPECT_EQ(s.failed_pings, 0u) << s.last_error;
    EXPECT_EQ(s.begins, 3u);
    EXPECT_EQ(s.outstanding, 0u);
    // Nothing outstanding: the waker stays quiet (a SUBACK in flight may still arrive first).
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const auto before = waker.stats().pings;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(waker.stats().pings, before);
    waker.stop();
    waker.end();  // harmless after stop() and unmatched
}

// The waker's load on the broker is bounded: at most one SUBSCRIBE per interval while connects
// are outstanding, none while nothing is (its thread then sleeps until begin() or stop()).
TEST(ConnectWaker, SubscribesAtMostOncePerIntervalAndNoneWhileIdle) {
    const Lab& lab = Lab::get();
    ota::fleet::ConnectWakerOptions wo;
    wo.mqtt = cloud_options(lab, unique("waker-rate"));
    wo.topic = "fleet-it/waker-rate/" + std::to_string(::getpid());
    wo.interval = std::chrono::milliseconds(20);
    ota::fleet::ConnectWaker waker(wo);
    ASSERT_TRUE(waker.start().ok());
    ASSERT_TRUE(waker.wait_connected(std::chrono::seconds(10))) << waker.stats().last_error;
    EXPECT_EQ(waker.stats().subscribes(), 0u);
    const auto t0 = Clock::now();
    waker.begin();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    waker.end();
    const double held_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // one may still be in flight
    const auto s = waker.stats();
    EXPECT_GT(s.pings, 0u) << s.last_error;
    EXPECT_EQ(s.failed_pings, 0u) << s.last_error;
    EXPECT_EQ(s.subscribes(), s.pings + s.failed_pings);
    // Start to start at least 20 ms apart: at most held / 20 + 1 (+1 for the one at end()).
    EXPECT_LE(static_cast<double>(s.subscribes()), held_ms / 20.0 + 2.0) << held_ms << " ms";
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(waker.stats().subscribes(), s.subscribes());
    // stop() wakes the idle thread at once (no periodic wake-up to wait for).
    const auto t1 = Clock::now();
    waker.stop();
    EXPECT_LT(Clock::now() - t1, std::chrono::seconds(2));
}

// Registers `count` devices of a fresh product key with the lab's broker (ota_fleet users +
// lab.sh add-devices) and returns the arguments of an idle `ota_fleet run` of them.
std::vector<std::string> idle_run(const Lab& lab, const ota::test::TempDir& tmp, int count) {
    const ota::test::FleetUsers f = ota::test::register_fleet(lab, tmp, "fw", count);
    return ota::test::fleet_cmd(
        lab, f, {Lab::bin("ota_fleet"), "run"},
        {"--count", std::to_string(count), "--connect-rate", "50", "--duration", "3", "--quiet"});
}

TEST(ConnectWaker, FleetRunWakesForEveryDeviceConnectUnlessTurnedOff) {
    const Lab& lab = Lab::get();
    ota::test::TempDir tmp;
    std::vector<std::string> argv = idle_run(lab, tmp, 20);
    const auto on = ota::test::run_process(argv, 60);
    ASSERT_EQ(on.exit_code, 0) << on.output;
    EXPECT_NE(on.output.find("connected 20"), std::string::npos) << on.output;
    // One begin() per device connect; SUBACKs while they were outstanding (the devices connect
    // one by one at 50/s, each while others are idle), none failed.
    EXPECT_NE(on.output.find("connect waker: 20 begins, "), std::string::npos) << on.output;
    EXPECT_EQ(on.output.find("connect waker: 20 begins, 0 SUBACKs"), std::string::npos)
        << on.output;
    EXPECT_NE(on.output.find(" SUBACKs, 0 failed"), std::string::npos) << on.output;

    argv.emplace_back("--no-connect-waker");
    const auto off = ota::test::run_process(argv, 60);
    ASSERT_EQ(off.exit_code, 0) << off.output;
    EXPECT_NE(off.output.find("connected 20"), std::string::npos) << off.output;
    EXPECT_EQ(off.output.find("connect waker:"), std::string::npos) << off.output;
}

}  // namespace
