// ota_console end to end on the lab: real console processes (SQLite), mosquitto with the cloud
// user over TLS, HTTPS with the lab's server certificate, real `ota_mqtt --serve` devices.
//
// What must hold: a task succeeds only once its device reports the new version (a device that
// downloads but never installs does not succeed); a digest failure fails the task with the
// device's reason; a console killed with SIGKILL mid-rollout and started again finishes it;
// messages of unregistered devices and malformed messages change nothing; a second console on
// the same SQLite data directory is refused; usage errors exit 2; SIGTERM exits 0.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "console_process.hpp"
#include "lab.hpp"
#include "ota/paho/paho_channel.hpp"

namespace console::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ota::test::BackgroundProcess;
using ota::test::Device;
using ota::test::Lab;
using ota::test::TempDir;
using std::chrono::seconds;

std::string without_slash(std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

// A device running `ota_mqtt --serve` (version 1.0.0), killed by the destructor.
struct ServingDevice {
    ServingDevice(const Lab& lab, const Device& dev, const fs::path& dir,
                  std::vector<std::string> extra = {"--serve"})
        : d(dev),
          proc(ota::test::ota_mqtt_cmd(lab, dev, dir / (dev.dn + ".bin"), std::move(extra)),
               dir / (dev.dn + ".log")) {}
    Device d;
    BackgroundProcess proc;
};

// Starts the devices after registering them and waits until the console knows their version.
void expect_known(const ConsoleProcess& c, const std::vector<Device>& devices) {
    for (const Device& d : devices) {
        EXPECT_TRUE(wait_until([&] { return reported_version(c, d) == "1.0.0"; }, seconds(20)))
            << d.dn << " never reported 1.0.0 to the console";
    }
}

// Waits until every task of the rollout is final and the rollout itself has moved on from
// running (completed, or paused by its success gate).
json wait_rollout_final(const ConsoleProcess& c, std::int64_t id, std::int64_t tasks,
                        seconds timeout) {
    json view;
    wait_until(
        [&] {
            view = rollout_view(c, id);
            if (!view.is_object() || count_in(view, "queued") < 0) return false;
            const std::int64_t open = count_in(view, "queued") + count_in(view, "notified") +
                                      count_in(view, "in_progress");
            const std::string state = view["rollout"].value("state", "");
            return open == 0 && view["counts"].value("total", std::int64_t{0}) == tasks &&
                   state != "running" && state != "scheduled";
        },
        timeout);
    return view;
}

TEST(ConsoleMqtt, VerifyRolloutOnTwoDevicesSucceedsAfterTheyReportTheNewVersion) {
    const Lab& lab = Lab::get();
    TempDir tmp;
    ConsoleProcess console(lab, tmp.path() / "data", "c1");
    ASSERT_TRUE(console.ok());
    const std::vector<Device> devs = make_product_devices("cv", 2, lab);
    const Device& a = devs[0];
    const Device& b = devs[1];
    register_devices(console, {a, b});
    ServingDevice da(lab, a, tmp.path());
    ServingDevice db(lab, b, tmp.path());
    expect_known(console, {a, b});

    const std::vector<std::uint8_t> image = ota::test::random_bytes(300 * 1024, 12);
    const json fw = upload_firmware(console, a.pk, "2.0.0", image);
    ASSERT_TRUE(fw.contains("id"));
    const ApiReply created =
        console.post("/firmware/" + std::to_string(fw["id"].get<int>()) + "/verify",
                     json{{"device_names", {a.dn, b.dn}}});
    ASSERT_EQ(created.status, 201) << created.body;
    const std::int64_t id = created.json["id"].get<std::int64_t>();

    const json view = wait_rollout_final(console, id, 2, seconds(60));
    EXPECT_EQ(count_in(view, "succeeded"), 2) << view.dump(1);
    EXPECT_EQ(view["rollout"].value("state", ""), "completed") << view.dump(1);
    // The devices installed the image and now run 2.0.0; the console saw them say so.
    EXPECT_TRUE(da.proc.wait_for_output("running version 2.0.0", 10)) << da.proc.output();
    EXPECT_TRUE(db.proc.wait_for_output("running version 2.0.0", 10)) << db.proc.output();
    EXPECT_EQ(reported_version(console, a), "2.0.0");
    EXPECT_EQ(reported_version(console, b), "2.0.0");
    EXPECT_EQ(ota::test::read_file(tmp.path() / (a.dn + ".bin")), image);
    const ApiReply f = console.get("/firmware/" + std::to_string(fw["id"].get<int>()));
    EXPECT_TRUE(f.json.value("verified", false)) << f.body;
    const ApiReply tasks = console.get("/rollouts/" + std::to_string(id) + "/tasks");
    ASSERT_EQ(tasks.status, 200) << tasks.body;
    for (const json& t : tasks.json["items"]) {
        EXPECT_EQ(t.value("state", ""), "succeeded");
        EXPECT_TRUE(t.value("downloaded", false));
        EXPECT_EQ(t.value("from_version", ""), "1.0.0");
    }

    // The serving device takes a next job: a normal rollout of 3.0.0 to one of them.
    const json fw3 = upload_firmware(console, a.pk, "3.0.0", ota::test::random_bytes(1000, 13));
    const ApiReply next = console.post(
        "/rollouts", json{{"firmware_id", fw3["id"]},
                          {"name", "next"},
                          {"force", true},
                          {"selection", {{"product_key", a.pk}, {"device_names", {a.dn}}}},
                          {"phases", json::array({json::object()})}});
    ASSERT_EQ(next.status, 201) << next.body;
    const json view3 =
        wait_rollout_final(console, next.json["id"].get<std::int64_t>(), 1, seconds(60));
    EXPECT_EQ(count_in(view3, "succeeded"), 1) << view3.dump(1);
    EXPECT_TRUE(da.proc.wait_for_output("running version 3.0.0", 10)) << da.proc.output();
    EXPECT_EQ(reported_version(console, b), "2.0.0");

    // SIGTERM: a clean stop with exit status 0, for the device as for the console.
    da.proc.kill(SIGTERM);
    EXPECT_EQ(da.proc.wait(10), 0) << da.proc.output();
    console.process().kill(SIGTERM);
    EXPECT_EQ(console.process().wait(15), 0) << console.output();
}

TEST(ConsoleMqtt, ADeviceThatMissedThePushGetsItsJobThroughFirmwareGet) {
    const Lab& lab = Lab::get();
    TempDir tmp;
    ConsoleProcess console(lab, tmp.path() / "data", "c1");
    ASSERT_TRUE(console.ok());
    const std::vector<Device> devs = make_product_devices("cv-get", 1, lab);
    register_devices(console, devs);
    const json fw =
        upload_firmware(console, devs[0].pk, "2.0.0", ota::test::random_bytes(80 * 1024, 5));
    const ApiReply created =
        console.post("/firmware/" + std::to_string(fw["id"].get<int>()) + "/verify",
                     json{{"device_names", {devs[0].dn}}});
    ASSERT_EQ(created.status, 201) << created.body;
    const std::int64_t id = created.json["id"].get<std::int64_t>();
    // Pushed while the device is off: the push is lost.
    ASSERT_TRUE(wait_until([&] { return count_in(rollout_view(console, id), "notified") == 1; },
                           seconds(20)));
    // The device starts and asks (firmware/get); the get_reply carries the job.
    ServingDevice d(lab, devs[0], tmp.path(), {"--serve", "--request"});
    const json view = wait_rollout_final(console, id, 1, seconds(60));
    EXPECT_EQ(count_in(view, "succeeded"), 1) << view.dump(1) << d.proc.output();
    EXPECT_TRUE(d.proc.wait_for_output("running version 2.0.0", 10)) << d.proc.output();
}

TEST(ConsoleMqtt, ADownloadWithoutTheNewVersionIsNotSuccess) {
    const Lab& lab = Lab::get();
    TempDir tmp;
    ConsoleProcess console(lab, tmp.path() / "data", "c1");
    ASSERT_TRUE(console.ok());
    const Device a = ota::test::make_device("cv-noinst", lab);
    register_devices(console, {a});
    // Without --serve the device stores the image and exits: it never reports 2.0.0.
    ServingDevice da(lab, a, tmp.path(), {"--wait", "60"});
    expect_known(console, {a});
    const json fw = upload_firmware(console, a.pk, "2.0.0", ota::test::random_bytes(64 * 1024, 3));
    const ApiReply created =
        console.post("/firmware/" + std::to_string(fw["id"].get<int>()) + "/verify",
                     json{{"device_names", {a.dn}}, {"policy", {{"task_timeout_s", 5}}}});
    ASSERT_EQ(created.status, 201) << created.body;
    EXPECT_EQ(da.proc.wait(60), 0) << da.proc.output();  // downloaded, verified, stored
    const json view =
        wait_rollout_final(console, created.json["id"].get<std::int64_t>(), 1, seconds(30));
    EXPECT_EQ(count_in(view, "succeeded"), 0) << view.dump(1);
    EXPECT_EQ(count_in(view, "timed_out"), 1) << view.dump(1);
    const ApiReply f = console.get("/firmware/" + std::to_string(fw["id"].get<int>()));
    EXPECT_FALSE(f.json.value("verified", true)) << f.body;
}

TEST(ConsoleMqtt, ADigestMismatchFailsTheTaskWithTheDevicesReason) {
    const Lab& lab = Lab::get();
    TempDir tmp;
    // Files are handed out under the lab's nginx, where the test serves a different file.
    ConsoleProcess console(lab, tmp.path() / "data", "c1",
                           {"--public-base-url", without_slash(lab.https_url(""))});
    ASSERT_TRUE(console.ok());
    const Device a = ota::test::make_device("cv-digest", lab);
    register_devices(console, {a});
    ServingDevice da(lab, a, tmp.path());
    expect_known(console, {a});
    const std::vector<std::uint8_t> image = ota::test::random_bytes(100 * 1024, 21);
    const json fw = upload_firmware(console, a.pk, "2.0.0", image);
    lab.put_file(fw["sha256"].get<std::string>(), ota::test::random_bytes(image.size(), 22));
    const ApiReply created =
        console.post("/firmware/" + std::to_string(fw["id"].get<int>()) + "/verify",
                     json{{"device_names", {a.dn}}});
    ASSERT_EQ(created.status, 201) << created.body;
    const json view =
        wait_rollout_final(console, created.json["id"].get<std::int64_t>(), 1, seconds(60));
    EXPECT_EQ(count_in(view, "failed"), 1) << view.dump(1);
    EXPECT_FALSE(view.value("failure_reasons", json::object()).empty()) << view.dump(1);
    const ApiReply tasks =
        console.get("/rollouts/" + std::to_string(created.json["id"].get<int>()) + "/tasks");
    ASSERT_EQ(tasks.json["items"].size(), 1U) << tasks.body;
    EXPECT_EQ(tasks.json["items"][0].value("state", ""), "failed") << tasks.body;
    // The device's own words (step -3's desc) are the reason.
    EXPECT_NE(tasks.json["items"][0].value("reason", "").find("digest"), std::string::npos)
        << tasks.body;
    EXPECT_EQ(reported_version(console, a), "1.0.0");
    const ApiReply f = console.get("/firmware/" + std::to_string(fw["id"].get<int>()));
    EXPECT_FALSE(f.json.value("verified", true)) << f.body;
}

TEST(ConsoleMqtt, AConsoleKilledMidRolloutFinishesItAfterARestart) {
    const Lab& lab = Lab::get();
    TempDir tmp;
    // nginx's /slow/ (2 MiB/s) serves the image, so the downloads outlive the kill.
    const std::string base = lab.https_url("slow");
    const std::vector<std::string> args = {"--public-base-url", base};
    auto console = std::make_unique<ConsoleProcess>(lab, tmp.path() / "data", "c1", args);
    ASSERT_TRUE(console->ok());
    const std::vector<Device> devs = make_product_devices("cv-kill", 2, lab);
    const Device& a = devs[0];
    const Device& b = devs[1];
    register_devices(*console, {a, b});
    ServingDevice da(lab, a, tmp.path());
    ServingDevice db(lab, b, tmp.path());
    expect_known(*console, {a, b});
    const std::vector<std::uint8_t> image = ota::test::random_bytes(5 * 1024 * 1024, 31);
    const json fw = upload_firmware(*console, a.pk, "2.0.0", image);
    lab.put_file(fw["sha256"].get<std::string>(), image);
    const ApiReply created =
        console->post("/firmware/" + std::to_string(fw["id"].get<int>()) + "/verify",
                      json{{"device_names", {a.dn, b.dn}}});
    ASSERT_EQ(created.status, 201) << created.body;
    const std::int64_t id = created.json["id"].get<std::int64_t>();
    ASSERT_TRUE(wait_until([&] { return count_in(rollout_view(*console, id), "in_progress") >= 1; },
                           seconds(30)))
        << rollout_view(*console, id).dump(1);

    // Mid-rollout: nothing has succeeded yet when the console dies.
    EXPECT_EQ(count_in(rollout_view(*console, id), "succeeded"), 0);
    console->process().kill(SIGKILL);
    EXPECT_EQ(console->process().wait(10), 128 + SIGKILL);
    console.reset();
    ConsoleProcess again(lab, tmp.path() / "data", "c2", args);
    ASSERT_TRUE(again.ok());
    const json view = wait_rollout_final(again, id, 2, seconds(90));
    EXPECT_EQ(count_in(view, "succeeded"), 2) << view.dump(1) << again.output();
    EXPECT_EQ(view["rollout"].value("state", ""), "completed");
    EXPECT_EQ(reported_version(again, a), "2.0.0");
    EXPECT_EQ(reported_version(again, b), "2.0.0");
}

TEST(ConsoleMqtt, UnregisteredDevicesAndMalformedMessagesChangeNothing) {
    const Lab& lab = Lab::get();
    TempDir tmp;
    ConsoleProcess console(lab, tmp.path() / "data", "c1");
    ASSERT_TRUE(console.ok());
    const Device known = ota::test::make_device("cv-known", lab);
    const Device stranger = ota::test::make_device("cv-stranger", lab);
    register_devices(console, {known});
    ServingDevice dk(lab, known, tmp.path());
    expect_known(console, {known});

    // The stranger reports its version and asks for a job: both ignored, no get_reply.
    BackgroundProcess ds(
        ota::test::ota_mqtt_cmd(lab, stranger, tmp.path() / "s.bin", {"--request", "--wait", "3"}),
        tmp.path() / "stranger.log");
    EXPECT_EQ(ds.wait(30), 6) << ds.output();  // no job within --wait
    EXPECT_EQ(console.get("/devices/" + stranger.pk + "/" + stranger.dn).status, 404);
    const ApiReply list = console.get("/devices?product_key=" + stranger.pk);
    for (const json& d : list.json["items"]) EXPECT_NE(d.value("device_name", ""), stranger.dn);

    // Malformed messages on a registered device's topics (sent as the cloud user).
    ota::PahoChannel cloud(lab.cloud_mqtt("cv-bad-" + std::to_string(::getpid())));
    ASSERT_TRUE(cloud.connect().ok());
    const std::string inform = "/ota/device/inform/" + known.pk + "/" + known.dn;
    const std::string progress = "/ota/device/progress/" + known.pk + "/" + known.dn;
    for (const char* bad : {"not json", "[]", R"({"params":{"version":5}})",
                            R"({"params":{"version":""}})", R"({"id":"1"})"}) {
        ASSERT_EQ(cloud.publish(inform, bad, 1), ota::Status::ok);
    }
    for (const char* bad : {R"({"params":{"step":"101"}})", R"({"params":{"step":"-5"}})",
                            R"({"params":{"step":"x"}})"}) {
        ASSERT_EQ(cloud.publish(progress, bad, 1), ota::Status::ok);
    }
    ASSERT_EQ(cloud.publish("/ota/device/inform/" + known.pk + "/" + known.dn + "/extra",
                            R"({"params":{"version":"9"}})", 1),
              ota::Status::ok);
    EXPECT_TRUE(wait_until(
        [&] { return console.metric("ota_console_mqtt_messages_malformed") >= 8; }, seconds(10)))
        << console.get("/metrics").body;
    EXPECT_GE(console.metric("ota_console_mqtt_unknown_device"), 2);
    EXPECT_EQ(reported_version(console, known), "1.0.0");
    const ApiReply rollouts = console.get("/rollouts");
    EXPECT_TRUE(rollouts.json["items"].empty()) << rollouts.body;
}

TEST(ConsoleMqtt, AFloodOfDeviceMessagesIsBoundedAndTheConsoleKeepsUp) {
    const Lab& lab = Lab::get();
    TempDir tmp;
    ConsoleProcess console(lab, tmp.path() / "data", "c1");
    ASSERT_TRUE(console.ok());
    const std::vector<Device> devs = make_product_devices("cv-flood", 1, lab);
    register_devices(console, devs);
    ota::PahoChannel cloud(lab.cloud_mqtt("cv-flood-" + std::to_string(::getpid())));
    ASSERT_TRUE(cloud.connect().ok());
    const std::string progress = "/ota/device/progress/" + devs[0].pk + "/" + devs[0].dn;
    constexpr int kFlood = 30000;
    int sent = 0;
    for (int i = 0; i < kFlood * 2 && sent < kFlood; ++i) {
        // QoS 0 as fast as paho takes them; when its buffer is full, a moment's pause.
        const std::string payload = R"({"params":{"step":")" + std::to_string(i % 100) + "\"}}";
        if (cloud.publish(progress, payload, 0) == ota::Status::ok) {
            ++sent;
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    EXPECT_GT(sent, kFlood / 2);
    ASSERT_EQ(cloud.publish("/ota/device/inform/" + devs[0].pk + "/" + devs[0].dn,
                            R"({"params":{"version":"3.0.0"}})", 1),
              ota::Status::ok);
    // Still answering, and every message taken in is accounted for: applied or dropped.
    EXPECT_EQ(console.get("/health").status, 200);
    EXPECT_TRUE(
        wait_until([&] { return reported_version(console, devs[0]) == "3.0.0"; }, seconds(60)));
    // Other tests' devices on the shared broker arrive here too (as unknown devices).
    double received = 0;
    double accounted = 0;
    EXPECT_TRUE(wait_until(
        [&] {
            received = console.metric("ota_console_mqtt_messages_received");
            accounted = console.metric("ota_console_mqtt_messages_processed") +
                        console.metric("ota_console_mqtt_unknown_device") +
                        console.metric("ota_console_mqtt_messages_malformed") +
                        console.metric("ota_console_mqtt_messages_dropped");
            return received > 0 && accounted >= received;
        },
        seconds(60)))
        << received << " received, " << accounted << " accounted for";
    EXPECT_LE(console.metric("ota_console_mqtt_queue_depth"), 20000);
}

TEST(ConsoleMqtt, ASecondConsoleOnTheSameSqliteDataIsRefused) {
    const Lab& lab = Lab::get();
    TempDir tmp;
    ConsoleProcess console(lab, tmp.path() / "data", "c1");
    ASSERT_TRUE(console.ok());
    const ota::test::ProcessResult second =
        ota::test::run_process(console_cmd(lab, tmp.path() / "data"), 30);
    EXPECT_EQ(second.exit_code, 1) << second.output;
    EXPECT_NE(second.output.find("another ota_console is using this data directory"),
              std::string::npos)
        << second.output;
    EXPECT_EQ(console.get("/rollouts").status, 200);  // the first one is unharmed
}

TEST(ConsoleMqtt, UsageErrorsExitTwo) {
    const Lab& lab = Lab::get();
    TempDir tmp;
    ota::test::ProcessResult r = ota::test::run_process({OTA_BIN_DIR "/ota_console"}, 10);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("--data is required"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("usage: ota_console"), std::string::npos) << r.output;
    std::vector<std::string> cmd = console_cmd(lab, tmp.path() / "data", {"--http-port", "x"});
    r = ota::test::run_process(cmd, 10);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("--http-port needs a whole number"), std::string::npos) << r.output;
    cmd = console_cmd(lab, tmp.path() / "data", {"--broker-no-tls"});
    r = ota::test::run_process(cmd, 10);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    // An unreadable --broker-ca is refused before anything is created (no token printed).
    cmd = console_cmd(lab, tmp.path() / "other", {"--broker-ca", "/nonexistent/ca.pem"});
    r = ota::test::run_process(cmd, 10);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("--broker-ca /nonexistent/ca.pem cannot be read"), std::string::npos)
        << r.output;
    EXPECT_EQ(r.output.find("API token"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace console::test
