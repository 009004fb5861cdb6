// ota_console serving an MQTT download end to end on the lab (PROTOCOL.md 5b): a verify rollout
// whose policy is download_protocol "mqtt" on one real `ota_mqtt --serve` device. The push carries
// no url, so the device can only get the image from the console's block replies on
// thing/file/download_reply; the task succeeds once the device reports the new version.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "console_process.hpp"
#include "lab.hpp"

namespace console::test {
namespace {

using nlohmann::json;
using ota::test::BackgroundProcess;
using ota::test::Device;
using ota::test::Lab;
using ota::test::TempDir;
using std::chrono::seconds;

TEST(ConsoleMqtt, AVerifyRolloutOverMqttDownloadSucceeds) {
    const Lab& lab = Lab::get();
    TempDir tmp;
    ConsoleProcess console(lab, tmp.path() / "data", "c1");
    ASSERT_TRUE(console.ok());
    const std::vector<Device> devs = make_product_devices("cv-mqttdl", 1, lab);
    const Device& d = devs[0];
    register_devices(console, devs);
    BackgroundProcess dev(ota::test::ota_mqtt_cmd(lab, d, tmp.path() / "d.bin", {"--serve"}),
                          tmp.path() / "d.log");
    ASSERT_TRUE(wait_until([&] { return reported_version(console, d) == "1.0.0"; }, seconds(20)))
        << dev.output();

    // 300 KiB: several blocks, the last one short.
    const std::vector<std::uint8_t> image = ota::test::random_bytes(300 * 1024 + 17, 21);
    const json fw = upload_firmware(console, d.pk, "2.0.0", image);
    ASSERT_TRUE(fw.contains("id")) << fw.dump();
    const ApiReply created =
        console.post("/firmware/" + std::to_string(fw["id"].get<int>()) + "/verify",
                     json{{"device_names", {d.dn}}, {"policy", {{"download_protocol", "mqtt"}}}});
    ASSERT_EQ(created.status, 201) << created.body;
    EXPECT_EQ(created.json["policy"].value("download_protocol", ""), "mqtt");
    const std::int64_t id = created.json["id"].get<std::int64_t>();

    json view;
    ASSERT_TRUE(wait_until(
        [&] {
            view = rollout_view(console, id);
            return view.is_object() && view["rollout"].value("state", "") == "completed";
        },
        seconds(60)))
        << view.dump(1) << dev.output() << console.output();
    EXPECT_EQ(count_in(view, "succeeded"), 1) << view.dump(1);
    EXPECT_TRUE(dev.wait_for_output("running version 2.0.0", 10)) << dev.output();
    EXPECT_EQ(reported_version(console, d), "2.0.0");
    // The push had no url: the bytes came as block replies (at least three of at most 128 KiB,
    // after the push), and the device stored exactly the image.
    EXPECT_GE(console.metric("ota_console_mqtt_published"), 4.0);
    EXPECT_TRUE(ota::test::read_file(tmp.path() / "d.bin") == image) << "the stored image differs";
}

}  // namespace
}  // namespace console::test
