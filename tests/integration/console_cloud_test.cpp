// `ota_cloud console` against a real ota_console (the lab's broker, the console's HTTPS with the
// lab's CA-signed certificate): registration, listing, upload, a rollout that two simulated
// devices finish (their reports published as the cloud user with `ota_cloud raw`), status --wait
// exit codes, pause/resume/cancel, verify, and the errors (unknown id, wrong token, untrusted
// certificate) as `code: message` with exit 1.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "lab.hpp"

namespace ota::test {
namespace {

using nlohmann::json;
using nlohmann::literals::operator""_json_pointer;

class ConsoleCloud : public ::testing::Test {
  protected:
    const Lab& lab = Lab::get();
    TempDir tmp;
    std::unique_ptr<BackgroundProcess> console;
    std::string url;
    std::string token_file;
    const std::string pk = "a1CloudCli" + std::to_string(::getpid());

    void SetUp() override {
        ASSERT_NE(lab.mqtt_tls_port, 0);
        ::setenv("OTA_CONSOLE_BROKER_PASSWORD", lab.cloud_password.c_str(), 1);
        const auto ready = tmp.path() / "ready.json";
        console = std::make_unique<BackgroundProcess>(
            std::vector<std::string>{
                Lab::bin("ota_console"), "--data", (tmp.path() / "data").string(), "--broker-host",
                "127.0.0.1", "--broker-port", std::to_string(lab.mqtt_tls_port), "--broker-ca",
                lab.ca_file, "--broker-user", lab.cloud_user, "--http-port", "0", "--tls-cert",
                (lab.dir / "pki" / "server.pem").string(), "--tls-key",
                (lab.dir / "pki" / "server.key").string(), "--ready-file", ready.string(),
                // Consoles of tests running in parallel on the one lab broker must not share
                // the device messages.
                "--share-group", "cli" + std::to_string(::getpid())},
            tmp.path() / "console.log");
        for (int i = 0; i < 300 && !std::filesystem::exists(ready); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        ASSERT_TRUE(std::filesystem::exists(ready)) << console->output();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // written whole
        std::ifstream in(ready);
        const json r = json::parse(in, nullptr, false);
        ASSERT_TRUE(r.is_object()) << "ready file";
        url = r.value("url", "");
        token_file = r.value("token_file", "");
        ASSERT_FALSE(url.empty());
    }

    void TearDown() override {
        if (console) {
            console->kill(15);
            EXPECT_EQ(console->wait(10), 0) << console->output();
        }
    }

    ProcessResult cli(std::vector<std::string> args, const std::string& ca = "",
                      const std::string& token = "") const {
        std::vector<std::string> argv{Lab::bin("ota_cloud"), "console"};
        argv.insert(argv.end(), args.begin(), args.end());
        for (const std::string& s :
             {std::string("--url"), url, std::string("--ca-file"), ca.empty() ? lab.ca_file : ca,
              std::string("--token-file"), token.empty() ? token_file : token}) {
            argv.push_back(s);
        }
        return run_process(argv, 60);
    }

    // The tool's JSON answer (an empty object when it printed something else).
    static json parsed(const ProcessResult& r) {
        json j = json::parse(r.output, nullptr, false);
        return j.is_discarded() ? json::object() : j;
    }

    // A device's report, published as the cloud user (it may publish on every topic).
    void report(const std::string& dn, const std::string& kind, const std::string& payload) const {
        std::vector<std::string> raw{
            Lab::bin("ota_cloud"), "raw",  "--topic", "/ota/device/" + kind + "/" + pk + "/" + dn,
            "--payload",           payload};
        const auto b = cloud_broker_args(lab);
        raw.insert(raw.end(), b.begin(), b.end());
        const ProcessResult r = run_process(raw, 30);
        ASSERT_EQ(r.exit_code, 0) << r.output;
    }

    // GET /rollouts/{id} through the tool until `pred` holds (bounded: 20 s).
    template <typename Pred>
    json wait_view(std::int64_t id, Pred pred) const {
        json v;
        for (int i = 0; i < 100; ++i) {
            const ProcessResult r = cli({"status", "--rollout", std::to_string(id)});
            v = parsed(r);
            if (r.exit_code == 0 && pred(v)) return v;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        ADD_FAILURE() << "rollout " << id << " never reached the expected state: " << v.dump();
        return v;
    }
};

TEST_F(ConsoleCloud, DrivesARolloutToSuccessAndControlsAnother) {
    ProcessResult r = cli({"devices", "register", "--product-key", pk, "--names", "d1,d2,d3"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(parsed(r).value("created", -1), 3) << r.output;
    r = cli({"devices", "list", "--product-key", pk});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(parsed(r)["items"].size(), 3U) << r.output;
    for (const char* dn : {"d1", "d2", "d3"}) {
        report(dn, "inform", R"({"id":"1","params":{"version":"1.0.0"}})");
    }

    const auto image = tmp.path() / "fw.bin";
    const auto bytes = random_bytes(5000, 7);
    std::ofstream(image, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    r = cli({"upload", "--file", image.string(), "--product-key", pk, "--version", "2.0.0"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const json fw = parsed(r);
    EXPECT_EQ(fw.value("size", 0), 5000) << r.output;
    const std::string fw_id = std::to_string(fw.value("id", 0));

    // Unverified firmware: a normal rollout without --force is refused.
    r = cli({"rollout", "--firmware-id", fw_id, "--devices", "d1,d2"});
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("failed_precondition: "), std::string::npos) << r.output;

    r = cli({"rollout", "--firmware-id", fw_id, "--devices", "d1,d2", "--force", "--timeout", "60",
             "--name", "cli"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto id = parsed(r).value("id", std::int64_t{0});
    ASSERT_GT(id, 0) << r.output;
    wait_view(id, [](const json& v) {
        return v.value("/counts/by_state/notified"_json_pointer, 0) == 2;
    });
    // Still running: --wait gives up with 6.
    r = cli({"status", "--rollout", std::to_string(id), "--wait", "1"});
    EXPECT_EQ(r.exit_code, 6) << r.output;
    for (const char* dn : {"d1", "d2"}) {
        report(dn, "progress", R"({"id":"2","params":{"step":"100","desc":""}})");
        report(dn, "inform", R"({"id":"3","params":{"version":"2.0.0"}})");
    }
    r = cli({"status", "--rollout", std::to_string(id), "--wait", "30"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(parsed(r)["rollout"].value("state", ""), "completed") << r.output;

    // A second rollout (d3), paused, resumed, canceled: --wait ends with 3.
    r = cli({"rollout", "--firmware-id", fw_id, "--devices", "d3", "--force", "--timeout", "2"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const std::string id2 = std::to_string(parsed(r).value("id", 0));
    // Only a running rollout can be paused (it starts at the scheduler's next tick).
    wait_view(std::stoll(id2), [](const json& v) {
        return v.value("/rollout/state"_json_pointer, "") == "running";
    });
    for (const char* action : {"pause", "resume", "cancel"}) {
        r = cli({action, "--rollout", id2});
        EXPECT_EQ(r.exit_code, 0) << action << ": " << r.output;
        EXPECT_TRUE(parsed(r).contains("state")) << r.output;
    }
    r = cli({"status", "--rollout", id2, "--wait", "30"});
    EXPECT_EQ(r.exit_code, 3) << r.output;
    EXPECT_EQ(parsed(r)["rollout"].value("state", ""), "canceled") << r.output;

    r = cli({"verify", "--firmware-id", fw_id, "--devices", "d1"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(parsed(r).value("kind", ""), "verify") << r.output;
}

TEST_F(ConsoleCloud, ErrorsAreCodeAndMessage) {
    ProcessResult r = cli({"status", "--rollout", "987654"});
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(r.output.rfind("not_found: ", 0), 0U) << r.output;

    const auto wrong = tmp.path() / "wrong-token";
    std::ofstream(wrong) << "not-the-token\n";
    r = cli({"devices", "list"}, "", wrong.string());
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(r.output.rfind("unauthenticated: ", 0), 0U) << r.output;
    EXPECT_EQ(r.output.find("not-the-token"), std::string::npos) << "the token is never printed";

    // The console's certificate does not chain to an unrelated CA: TLS is verified.
    r = cli({"devices", "list"}, lab.other_ca_file);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(r.output.rfind("cannot reach the console: ", 0), 0U) << r.output;

    r = cli({"rollout", "--firmware-id", "1", "--percent", "0"});
    EXPECT_EQ(r.exit_code, 2) << r.output;
}

}  // namespace
}  // namespace ota::test
