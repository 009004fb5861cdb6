// `ota_cloud console`: every subcommand's request (method, path, JSON body) as the console's REST
// API expects it, the usage errors, the token sources and the `status --wait` outcome. No
// network: the requests are built and compared, not sent (the API test over real HTTPS is
// tests/integration/console_cloud_test.cpp).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "console_args.hpp"
#include "console_client.hpp"
#include "console_http.hpp"

namespace {

using nlohmann::json;
using ota_cloud::parse_console_args;

ota_cloud::ConsoleParse parse(const std::vector<std::string>& args, const char* env_url = nullptr) {
    return parse_console_args(args, env_url);
}

// A file in the test's temporary directory holding `text`; removed by the caller's scope.
std::string temp_file(const std::string& name, const std::string& text) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("ota_console_cloud_test_" + std::to_string(::getpid()) + "_" + name);
    std::ofstream(path) << text;
    return path.string();
}

TEST(ConsoleArgs, UploadBuildsAnEncodedQueryAndStreamsTheFile) {
    const std::string image = temp_file("image.bin", "IMAGE");
    const auto p =
        parse({"upload", "--file", image, "--product-key", "a1 PK&x", "--version", "2.0.0",
               "--module", "mcu", "--sign-method", "Md5", "--url", "https://127.0.0.1:9/"});
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_EQ(p.command.base_url, "https://127.0.0.1:9");
    EXPECT_EQ(p.command.request.method, "POST");
    EXPECT_EQ(p.command.request.path,
              "/api/v1/firmware?product_key=a1%20PK%26x&version=2.0.0&module=mcu&sign_method=Md5");
    EXPECT_EQ(p.command.request.body_file, image);
    EXPECT_EQ(p.command.request.content_type, "application/octet-stream");
    std::filesystem::remove(image);
}

TEST(ConsoleArgs, UploadErrorsNameTheOption) {
    const std::string image = temp_file("image2.bin", "IMAGE");
    auto p = parse({"upload", "--file", image, "--product-key", "PK"});
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.error, "--version is required");
    p = parse({"upload", "--file", image, "--product-key", "PK", "--version", "1", "--sign-method",
               "sha1"});
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.error, "--sign-method is SHA256 or Md5");
    p = parse({"upload", "--file", "/nonexistent/image", "--product-key", "PK", "--version", "1"});
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.error, "--file: cannot read /nonexistent/image");
    std::filesystem::remove(image);
}

TEST(ConsoleArgs, VerifyTakesOneToTenDevices) {
    auto p = parse({"verify", "--firmware-id", "7", "--devices", "a, b"});
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_EQ(p.command.request.method, "POST");
    EXPECT_EQ(p.command.request.path, "/api/v1/firmware/7/verify");
    EXPECT_EQ(json::parse(p.command.request.body), (json{{"device_names", {"a", "b"}}}));
    p = parse({"verify", "--firmware-id", "7", "--devices", "1,2,3,4,5,6,7,8,9,10,11"});
    EXPECT_FALSE(p.ok);
    EXPECT_NE(p.error.find("at most 10"), std::string::npos) << p.error;
    p = parse({"verify", "--firmware-id", "0", "--devices", "a"});
    EXPECT_FALSE(p.ok);
    EXPECT_NE(p.error.find("--firmware-id needs a whole number from 1"), std::string::npos);
}

TEST(ConsoleArgs, RolloutWithEveryOption) {
    const auto p = parse({"rollout",
                          "--firmware-id",
                          "3",
                          "--devices",
                          "d1,d2,d3",
                          "--source-version",
                          "1.0.0",
                          "--source-version",
                          "1.1.0",
                          "--tag",
                          "lab",
                          "--percent",
                          "50",
                          "--phase",
                          "2,success=50,max-failures=1",
                          "--phase",
                          "rest,manual",
                          "--rate",
                          "120",
                          "--timeout",
                          "300",
                          "--retries",
                          "2",
                          "--retry-interval",
                          "30",
                          "--dynamic",
                          "--force",
                          "--name",
                          "spring"});
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_EQ(p.command.request.method, "POST");
    EXPECT_EQ(p.command.request.path, "/api/v1/rollouts");
    EXPECT_EQ(p.command.request.content_type, "application/json");
    const json expected = {
        {"firmware_id", 3},
        {"name", "spring"},
        {"dynamic", true},
        {"force", true},
        {"selection",
         {{"device_names", {"d1", "d2", "d3"}},
          {"source_versions", {"1.0.0", "1.1.0"}},
          {"tag", "lab"},
          {"percent", 50}}},
        {"phases",
         {{{"devices", 2}, {"success_percent", 50}, {"max_failures", 1}}, {{"manual", true}}}},
        {"policy",
         {{"push_rate_per_minute", 120},
          {"task_timeout_s", 300},
          {"retry_count", 2},
          {"retry_interval_s", 30}}}};
    EXPECT_EQ(json::parse(p.command.request.body), expected);
}

TEST(ConsoleArgs, RolloutDefaultsToOnePhaseOfEverySelectedDevice) {
    const auto p = parse({"rollout", "--firmware-id", "3"});
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_EQ(json::parse(p.command.request.body),
              (json{{"firmware_id", 3}, {"phases", json::array({json::object()})}}));
}

TEST(ConsoleArgs, RolloutDownloadProtocol) {
    auto p = parse({"rollout", "--firmware-id", "3", "--download", "mqtt"});
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_EQ(json::parse(p.command.request.body)["policy"], (json{{"download_protocol", "mqtt"}}));
    p = parse({"rollout", "--firmware-id", "3", "--download", "ftp"});
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.error, "--download must be https or mqtt");
}

TEST(ConsoleArgs, RolloutReadsTheDevicesFile) {
    const std::string f = temp_file("names.txt", "# fleet\nd1\n\n  d2 \r\nd3\n");
    auto p = parse({"rollout", "--firmware-id", "1", "--devices-file", f});
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_EQ(json::parse(p.command.request.body)["selection"]["device_names"],
              (json{"d1", "d2", "d3"}));
    p = parse({"rollout", "--firmware-id", "1", "--devices-file", f, "--devices", "x"});
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.error, "--devices and --devices-file exclude each other");
    std::filesystem::remove(f);
    p = parse({"rollout", "--firmware-id", "1", "--devices-file", f});
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.error, "--devices-file: cannot read " + f);
}

TEST(ConsoleArgs, RolloutRefusesBadValues) {
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--percent", "0"}, "--percent needs a whole number from 1 to 100 (got \"0\")"},
        {{"--percent", "101"}, "--percent needs a whole number from 1 to 100 (got \"101\")"},
        {{"--rate", "-1"}, "--rate needs a whole number from 0 to 10000000 (got \"-1\")"},
        {{"--timeout", "0"}, "--timeout needs a whole number from 1 to 2592000 (got \"0\")"},
        {{"--retries", "x"}, "--retries needs a whole number from 0 to 100 (got \"x\")"},
        {{"--tag", "a", "--tag", "b"}, "--tag given twice"},
        {{"--colour", "red"}, "unknown option --colour for this command"},
        {{"stray"}, "unexpected argument \"stray\""},
        {{"--name"}, "--name needs a value"},
    };
    for (const auto& [extra, error] : cases) {
        std::vector<std::string> args = {"rollout", "--firmware-id", "1"};
        args.insert(args.end(), extra.begin(), extra.end());
        const auto p = parse(args);
        EXPECT_FALSE(p.ok) << extra[0];
        EXPECT_EQ(p.error, error);
    }
}

TEST(ConsoleArgs, PhaseSpecs) {
    std::string j;
    std::string e;
    ASSERT_TRUE(ota_cloud::phase_json("10", j, e)) << e;
    EXPECT_EQ(json::parse(j), (json{{"devices", 10}}));
    ASSERT_TRUE(ota_cloud::phase_json("25%,success=80", j, e)) << e;
    EXPECT_EQ(json::parse(j), (json{{"percent", 25}, {"success_percent", 80}}));
    ASSERT_TRUE(ota_cloud::phase_json("rest", j, e)) << e;
    EXPECT_EQ(json::parse(j), json::object());
    for (const char* bad : {"", "0", "0%", "101%", "ten", "5,success=101", "5,max-failures=-1",
                            "5,manual=1", "5,fast"}) {
        EXPECT_FALSE(ota_cloud::phase_json(bad, j, e)) << bad;
        EXPECT_FALSE(e.empty());
    }
    const auto p = parse({"rollout", "--firmware-id", "1", "--phase", "5,fast"});
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.error.rfind("--phase 5,fast: unknown or bad item \"fast\"", 0), 0U) << p.error;
}

TEST(ConsoleArgs, StatusAndControl) {
    auto p = parse({"status", "--rollout", "12", "--wait", "2.5"});
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_EQ(p.command.request.method, "GET");
    EXPECT_EQ(p.command.request.path, "/api/v1/rollouts/12");
    EXPECT_DOUBLE_EQ(p.command.wait_s, 2.5);
    p = parse({"status", "--rollout", "12"});
    ASSERT_TRUE(p.ok);
    EXPECT_EQ(p.command.wait_s, 0);
    for (const char* bad : {"0", "-1", "x", ""}) {
        EXPECT_FALSE(parse({"status", "--rollout", "12", "--wait", bad}).ok) << bad;
    }
    EXPECT_EQ(parse({"status"}).error, "--rollout is required");
    for (const std::string action : {"pause", "resume", "cancel", "retry-failed"}) {
        p = parse({action, "--rollout", "4"});
        ASSERT_TRUE(p.ok) << p.error;
        EXPECT_EQ(p.command.request.method, "POST");
        EXPECT_EQ(p.command.request.path, "/api/v1/rollouts/4/" + action);
        EXPECT_TRUE(p.command.request.body.empty());
    }
    EXPECT_FALSE(parse({"pause", "--rollout", "4", "--wait", "1"}).ok);
}

TEST(ConsoleArgs, Devices) {
    auto p = parse({"devices", "register", "--product-key", "PK", "--names", "a,b", "--tag", "t"});
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_EQ(p.command.request.path, "/api/v1/devices");
    const json device_a = {{"product_key", "PK"}, {"device_name", "a"}, {"tags", {"t"}}};
    const json device_b = {{"product_key", "PK"}, {"device_name", "b"}, {"tags", {"t"}}};
    EXPECT_EQ(json::parse(p.command.request.body), (json{{"devices", {device_a, device_b}}}));
    EXPECT_EQ(parse({"devices", "register", "--product-key", "PK"}).error,
              "--names or --names-file is required");
    p = parse({"devices", "list", "--product-key", "P K"});
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_EQ(p.command.request.method, "GET");
    EXPECT_EQ(p.command.request.path, "/api/v1/devices?limit=1000&product_key=P%20K");
    EXPECT_TRUE(p.command.follow_pages);
    EXPECT_EQ(parse({"devices"}).error, "devices needs register or list");
    EXPECT_EQ(parse({"firmware"}).error, "unknown command \"firmware\"");
}

TEST(ConsoleArgs, UrlFromOptionEnvOrDefault) {
    EXPECT_EQ(parse({"status", "--rollout", "1"}).command.base_url, "https://127.0.0.1:8443");
    EXPECT_EQ(parse({"status", "--rollout", "1"}, "https://c:1").command.base_url, "https://c:1");
    EXPECT_EQ(
        parse({"status", "--rollout", "1", "--url", "http://x:2"}, "https://c:1").command.base_url,
        "http://x:2");
    EXPECT_FALSE(parse({"status", "--rollout", "1", "--url", "ftp://x"}).ok);
}

TEST(ConsoleArgs, TokenFromFileThenEnvironment) {
    std::string token;
    std::string e;
    const std::string f = temp_file("token", "  s3cret-token \nsecond line\n");
    ASSERT_TRUE(ota_cloud::load_token(f, "from-env", token, e));
    EXPECT_EQ(token, "s3cret-token");
    ASSERT_TRUE(ota_cloud::load_token("", "from-env", token, e));
    EXPECT_EQ(token, "from-env");
    EXPECT_FALSE(ota_cloud::load_token("", nullptr, token, e));
    EXPECT_EQ(e, "no token: give --token-file F or set OTA_CONSOLE_TOKEN");
    const std::string empty = temp_file("empty-token", "\n");
    EXPECT_FALSE(ota_cloud::load_token(empty, "from-env", token, e));
    EXPECT_EQ(e, "the token file " + empty + " is empty");
    std::filesystem::remove(f);
    std::filesystem::remove(empty);
}

TEST(ConsoleArgs, ListsAndEncoding) {
    EXPECT_EQ(ota_cloud::split_list(" a, ,b,,c "), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_TRUE(ota_cloud::split_list(",,").empty());
    EXPECT_EQ(ota_cloud::url_encode("a-Z_0.~ /?&=%"), "a-Z_0.~%20%2F%3F%26%3D%25");
}

json view(const std::string& state, int total, int succeeded) {
    return json{{"rollout", {{"id", 1}, {"state", state}}},
                {"counts", {{"total", total}, {"by_state", {{"succeeded", succeeded}}}}}};
}

TEST(ConsoleWait, OutcomeOfEachRolloutState) {
    EXPECT_EQ(ota_cloud::rollout_wait_outcome(view("scheduled", 2, 0)), -1);
    EXPECT_EQ(ota_cloud::rollout_wait_outcome(view("running", 2, 1)), -1);
    EXPECT_EQ(ota_cloud::rollout_wait_outcome(view("canceling", 2, 1)), -1);
    EXPECT_EQ(ota_cloud::rollout_wait_outcome(view("completed", 2, 2)), 0);
    EXPECT_EQ(ota_cloud::rollout_wait_outcome(view("completed", 2, 1)), 3);
    EXPECT_EQ(ota_cloud::rollout_wait_outcome(view("paused", 2, 1)), 3);
    EXPECT_EQ(ota_cloud::rollout_wait_outcome(view("canceled", 2, 2)), 3);
    EXPECT_EQ(ota_cloud::rollout_wait_outcome(json::parse("[1]")), 1);
    EXPECT_EQ(ota_cloud::rollout_wait_outcome(json{{"rollout", {{"state", "completed"}}}}), 3);
}

TEST(ConsoleErrors, ApiErrorsPrintAsCodeAndMessage) {
    ota_cloud::HttpResponse r;
    r.status = 404;
    r.body = R"({"code":"not_found","message":"rollout 9 does not exist"})";
    EXPECT_EQ(ota_cloud::describe_error(r), "not_found: rollout 9 does not exist");
    r.status = 502;
    r.body = "<html>bad gateway</html>";
    EXPECT_EQ(ota_cloud::describe_error(r), "HTTP 502: <html>bad gateway</html>");
    r.status = 0;
    r.error = "Couldn't connect to server";
    EXPECT_EQ(ota_cloud::describe_error(r), "cannot reach the console: Couldn't connect to server");
}

TEST(ConsoleRun, ExitCodesWithoutAConsole) {
    EXPECT_EQ(ota_cloud::run_console({}), ota_cloud::kConsoleExitUsage);
    EXPECT_EQ(ota_cloud::run_console({"rollout"}), ota_cloud::kConsoleExitUsage);
    const std::string f = temp_file("token-run", "tok\n");
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    EXPECT_EQ(ota_cloud::run_console(
                  {"status", "--rollout", "1", "--url", "https://127.0.0.1:1", "--token-file", f}),
              ota_cloud::kConsoleExitError);
    std::filesystem::remove(f);
}

}  // namespace
