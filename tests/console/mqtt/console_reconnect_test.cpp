// ota_console and a broker that is not there at start, then restarts: on a private lab (stopping
// the shared lab's broker would disturb other tests). The console keeps trying to connect (not
// ready until it can), reconnects after a restart with back-off, subscribes again (mosquitto
// runs without persistence, so the restarted broker knows no subscriptions), and a rollout then
// still reaches the device and completes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "console_process.hpp"
#include "lab.hpp"

namespace console::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ota::test::BackgroundProcess;
using ota::test::Device;
using ota::test::Lab;
using ota::test::PrivateLab;
using ota::test::TempDir;
using std::chrono::seconds;

TEST(ConsoleMqttReconnect, WaitsForTheBrokerAndResubscribesAfterARestart) {
    PrivateLab priv("console-rc");
    ASSERT_TRUE(priv.ok());
    const Lab& lab = priv.lab();
    TempDir tmp;
    priv.stop_broker();
    ConsoleProcess console(lab, tmp.path() / "data", "c1", {}, /*wait=*/false);
    EXPECT_FALSE(console.wait_ready(std::chrono::seconds(3))) << "ready without a broker";
    priv.start_broker();
    ASSERT_TRUE(console.wait_ready(std::chrono::seconds(60))) << console.output();

    const std::vector<Device> devs = make_product_devices("rc", 1, lab);
    register_devices(console, devs);
    BackgroundProcess device(
        ota::test::ota_mqtt_cmd(lab, devs[0], tmp.path() / "d.bin", {"--serve"}),
        tmp.path() / "d.log");
    ASSERT_TRUE(
        wait_until([&] { return reported_version(console, devs[0]) == "1.0.0"; }, seconds(20)));

    priv.stop_broker();
    EXPECT_TRUE(
        wait_until([&] { return console.metric("ota_console_mqtt_connected") == 0; }, seconds(20)));
    const auto restarted_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
    priv.start_broker();
    EXPECT_TRUE(
        wait_until([&] { return console.metric("ota_console_mqtt_connected") == 1; }, seconds(60)))
        << console.output();

    // Subscriptions are back: the version the device reports again after its own reconnect
    // arrives (a push sent before the device is back would be lost, as on the platform).
    EXPECT_TRUE(wait_until(
        [&] {
            const ApiReply r = console.get("/devices/" + devs[0].pk + "/" + devs[0].dn);
            const json seen =
                r.json.is_object() ? r.json["device"].value("last_seen_at", json()) : json();
            return seen.is_number() && seen.get<std::int64_t>() >= restarted_ms;
        },
        seconds(90)))
        << device.output();
    // ... and a rollout completes.
    const json fw =
        upload_firmware(console, devs[0].pk, "2.0.0", ota::test::random_bytes(50 * 1024, 77));
    const ApiReply created =
        console.post("/firmware/" + std::to_string(fw["id"].get<int>()) + "/verify",
                     json{{"device_names", {devs[0].dn}}});
    ASSERT_EQ(created.status, 201) << created.body;
    json view;
    EXPECT_TRUE(wait_until(
        [&] {
            view = rollout_view(console, created.json["id"].get<std::int64_t>());
            return count_in(view, "succeeded") == 1;
        },
        seconds(60)))
        << view.dump(1) << console.output() << device.output();
    EXPECT_EQ(reported_version(console, devs[0]), "2.0.0");
}

}  // namespace
}  // namespace console::test
