// Real `ota_fleet` processes against the lab: the broker accepts the users `ota_fleet users`
// wrote, 200 devices complete a job, a failure mix ends in exactly the outcomes the seed predicts
// (device and cloud view), the same seed gives the same counts again, and two disjoint ranges
// merged equal one run.
//
// Why few, larger runs: each run costs seconds (TLS connects, downloads, "reboots"), and CI's
// budget for these tests is about two minutes together; the timings of the mix (stall, late join,
// churn) are shortened accordingly.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/outcome.hpp"
#include "core/stats.hpp"
#include "fleet_lab.hpp"
#include "lab.hpp"

namespace {

using ota::fleet::FleetAggregate;
using ota::fleet::FleetSummary;
using ota::fleet::Outcome;
using ota::test::Lab;

using Fleet = ota::test::FleetUsers;
using ota::test::register_fleet;

std::string count_text(std::uint64_t n) {
    return std::to_string(n);
}

// `ota_fleet run` for devices [first, first + count) of `f`, the in-process cloud pushing `image`
// (in the lab's www) as 2.0.0; the summary goes to `json`.
std::vector<std::string> run_cmd(const Lab& lab, const Fleet& f, std::uint64_t first,
                                 std::uint64_t count, const std::string& image,
                                 const std::filesystem::path& json,
                                 const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = ota::test::fleet_cmd(lab, f, {Lab::bin("ota_fleet"), "run"},
                                                         {"--first",
                                                          count_text(first),
                                                          "--count",
                                                          count_text(count),
                                                          "--connect-rate",
                                                          "1000",
                                                          "--reboot-ms",
                                                          "200",
                                                          "--duration",
                                                          "80",
                                                          "--job-timeout",
                                                          "60",
                                                          "--push-url",
                                                          lab.https_url(image),
                                                          "--push-file",
                                                          (lab.www_dir / image).string(),
                                                          "--push-version",
                                                          "2.0.0",
                                                          "--push-rate",
                                                          "2000",
                                                          "--cloud-user",
                                                          lab.cloud_user,
                                                          "--cloud-password-file",
                                                          f.cloud_pw.string(),
                                                          "--json",
                                                          json.string(),
                                                          "--quiet"});
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}

FleetSummary load_summary(const std::filesystem::path& json) {
    std::string text;
    EXPECT_TRUE(ota::fleet::read_text_file(json.string(), text).ok()) << json;
    FleetSummary s;
    const ota::Error e = FleetSummary::from_json(text, s);
    EXPECT_TRUE(e.ok()) << e.message();
    return s;
}

std::uint64_t at(const ota::fleet::OutcomeCounts& c, Outcome o) {
    return c[static_cast<std::size_t>(o)];
}

std::string describe(const ota::fleet::OutcomeCounts& c) {
    std::string out;
    for (const Outcome o : ota::fleet::kAllOutcomes) {
        if (at(c, o) != 0)
            out += std::string(ota::fleet::to_string(o)) + "=" + std::to_string(at(c, o)) + " ";
    }
    return out;
}

// A mix with every kind of failure, its timings shortened so that a run takes seconds.
const std::vector<std::string> kMixArgs = {
    "--mix",
    "cut=10,stall=10,corrupt=8,storage=8,never-return=6,rollback=6,late=10,churn=10,"
    "stall-ms=1500,late-ms=2000,churn-ms=1500",
    "--seed", "4242"};

TEST(FleetRun, TwoHundredDevicesCompleteAJobAndTheCloudAgrees) {
    const Lab& lab = Lab::get();
    ota::test::TempDir tmp;
    const Fleet f = register_fleet(lab, tmp, "fa", 200);
    lab.put_file("fleet-200.bin", ota::test::random_bytes(64 * 1024, 200));
    const auto json = tmp.path() / "run.json";
    const auto r = ota::test::run_process(run_cmd(lab, f, 0, 200, "fleet-200.bin", json), 100);
    ASSERT_FALSE(r.timed_out) << r.output;
    EXPECT_EQ(r.exit_code, 0) << r.output;
    const FleetSummary s = load_summary(json);
    const FleetAggregate a = s.aggregate();
    EXPECT_EQ(a.devices, 200U);
    EXPECT_EQ(a.connected, 200U);
    EXPECT_EQ(at(a.outcomes, Outcome::updated), 200U) << describe(a.outcomes);
    EXPECT_EQ(at(a.cloud_outcomes, Outcome::updated), 200U) << describe(a.cloud_outcomes);
    for (const auto& d : s.devices) {
        EXPECT_EQ(d.download_bytes, 64U * 1024U) << d.device_name;
        EXPECT_TRUE(d.job_ms.has_value()) << d.device_name;
    }
    EXPECT_EQ(a.job_ms.count, 200U);
    EXPECT_GT(a.download_bytes, 0U);
}

// --push-when all-connected with a device the broker does not know: the run pushes once every
// other device is connected and that one gave up (it used to wait for its report for ever).
TEST(FleetRun, AllConnectedPushGoesOutWhenADeviceNeverConnects) {
    const Lab& lab = Lab::get();
    ota::test::TempDir tmp;
    const Fleet f = register_fleet(lab, tmp, "fn", 4);  // device 4 is not registered
    lab.put_file("fleet-nc.bin", ota::test::random_bytes(16 * 1024, 4));
    const auto json = tmp.path() / "nc.json";
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = ota::test::run_process(
        run_cmd(lab, f, 0, 5, "fleet-nc.bin", json, {"--push-when", "all-connected"}), 100);
    const double took =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_FALSE(r.timed_out) << r.output;
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("run ended: settled"), std::string::npos) << r.output;
    EXPECT_LT(took, 70.0) << "the run waited for --duration (80 s)";
    const FleetAggregate a = load_summary(json).aggregate();
    EXPECT_EQ(at(a.outcomes, Outcome::updated), 4U) << describe(a.outcomes);
    EXPECT_EQ(at(a.outcomes, Outcome::connect_failed), 1U) << describe(a.outcomes);
    EXPECT_EQ(at(a.cloud_outcomes, Outcome::updated), 4U) << describe(a.cloud_outcomes);
    // No prediction for the device that never connected (expected = device view otherwise).
    EXPECT_EQ(at(a.expected, Outcome::updated), 4U) << describe(a.expected);
}

// --job-timeout counts from each job, not from the first one: pushes paced 2 s apart with a
// 3 s job timeout still let the last device finish (the run used to end 3 s after the first).
TEST(FleetRun, JobTimeoutCountsFromTheLastPush) {
    const Lab& lab = Lab::get();
    ota::test::TempDir tmp;
    const Fleet f = register_fleet(lab, tmp, "fj", 3);
    lab.put_file("fleet-jt.bin", ota::test::random_bytes(16 * 1024, 3));
    const auto json = tmp.path() / "jt.json";
    auto argv = run_cmd(lab, f, 0, 3, "fleet-jt.bin", json, {"--push-when", "all-connected"});
    for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
        if (argv[i] == "--push-rate") argv[i + 1] = "0.5";
        if (argv[i] == "--job-timeout") argv[i + 1] = "3";
    }
    const auto r = ota::test::run_process(argv, 100);
    ASSERT_FALSE(r.timed_out) << r.output;
    EXPECT_EQ(r.exit_code, 0) << r.output;
    const FleetAggregate a = load_summary(json).aggregate();
    EXPECT_EQ(at(a.outcomes, Outcome::updated), 3U) << describe(a.outcomes) << r.output;
}

// A run in which no device connects (a closed port) tested nothing: exit 4, not 0.
TEST(FleetRun, NoDeviceConnectedExitsFour) {
    ota::test::TempDir tmp;
    const auto r = ota::test::run_process(
        {Lab::bin("ota_fleet"), "run", "--product-key", "pk", "--name-pattern", "nc-%d", "--secret",
         "s", "--count", "2", "--host", "127.0.0.1", "--port", "9", "--no-tls", "--duration", "60",
         "--quiet"},
        100);
    ASSERT_FALSE(r.timed_out) << r.output;
    EXPECT_EQ(r.exit_code, 4) << r.output;
    EXPECT_NE(r.output.find("no device connected"), std::string::npos) << r.output;
}

TEST(FleetRun, FailureMixEndsAsTheSeedPredictsAndMergedRangesEqualOneRun) {
    const Lab& lab = Lab::get();
    ota::test::TempDir tmp;
    const Fleet f = register_fleet(lab, tmp, "fm", 100);
    lab.put_file("fleet-mix.bin", ota::test::random_bytes(256 * 1024, 100));

    // One process, devices 0..99.
    const auto one = tmp.path() / "one.json";
    const auto r =
        ota::test::run_process(run_cmd(lab, f, 0, 100, "fleet-mix.bin", one, kMixArgs), 100);
    ASSERT_FALSE(r.timed_out) << r.output;
    EXPECT_EQ(r.exit_code, 0) << r.output;
    const FleetSummary s = load_summary(one);
    const FleetAggregate a = s.aggregate();
    ASSERT_EQ(a.devices, 100U);
    // Every kind of terminal failure is in this mix, and every device ends as predicted.
    for (const Outcome o : {Outcome::updated, Outcome::digest_mismatch, Outcome::storage_failed,
                            Outcome::never_returned, Outcome::rolled_back}) {
        EXPECT_GT(at(a.expected, o), 0U) << ota::fleet::to_string(o);
    }
    EXPECT_EQ(a.outcomes, a.expected)
        << "device " << describe(a.outcomes) << "\nexpected " << describe(a.expected);
    EXPECT_EQ(a.cloud_outcomes, a.expected)
        << "cloud " << describe(a.cloud_outcomes) << "\nexpected " << describe(a.expected);
    for (const auto& d : s.devices) {
        ASSERT_TRUE(d.expected.has_value());
        EXPECT_EQ(d.outcome, *d.expected) << d.device_name << ": " << d.detail;
        EXPECT_EQ(d.cloud_outcome, d.expected) << d.device_name;
    }

    // The same seed again, as two processes on disjoint ranges at the same time, merged.
    const auto part_a = tmp.path() / "a.json";
    const auto part_b = tmp.path() / "b.json";
    ota::test::BackgroundProcess pa(run_cmd(lab, f, 0, 40, "fleet-mix.bin", part_a, kMixArgs),
                                    tmp.path() / "a.log");
    ota::test::BackgroundProcess pb(run_cmd(lab, f, 40, 60, "fleet-mix.bin", part_b, kMixArgs),
                                    tmp.path() / "b.log");
    EXPECT_EQ(pa.wait(100), 0) << pa.output();
    EXPECT_EQ(pb.wait(100), 0) << pb.output();
    const auto merged = tmp.path() / "merged.json";
    const auto m = ota::test::run_process(
        {Lab::bin("ota_fleet"), "merge", merged.string(), part_a.string(), part_b.string()}, 30);
    ASSERT_EQ(m.exit_code, 0) << m.output;
    const FleetAggregate b = load_summary(merged).aggregate();
    EXPECT_EQ(b.devices, 100U);
    EXPECT_EQ(b.expected, a.expected);
    EXPECT_EQ(b.outcomes, a.outcomes)
        << "merged " << describe(b.outcomes) << "\none run " << describe(a.outcomes);
    EXPECT_EQ(b.cloud_outcomes, a.cloud_outcomes);
}

TEST(FleetRun, ChurnDevicesGoOfflineAndComeBackWhileIdle) {
    const Lab& lab = Lab::get();
    ota::test::TempDir tmp;
    const Fleet f = register_fleet(lab, tmp, "fc", 20);
    const auto json = tmp.path() / "churn.json";
    // No cloud: the devices only connect, report and churn until --duration ends the run.
    const auto r = ota::test::run_process(
        ota::test::fleet_cmd(lab, f, {Lab::bin("ota_fleet"), "run"},
                             {"--count", "20", "--mix", "churn=100,churn-ms=1500", "--duration",
                              "9", "--json", json.string(), "--quiet"}),
        60);
    ASSERT_FALSE(r.timed_out) << r.output;
    EXPECT_EQ(r.exit_code, 0) << r.output;
    const FleetSummary s = load_summary(json);
    ASSERT_EQ(s.devices.size(), 20U);
    for (const auto& d : s.devices) {
        // A period of 0.75..1.5 s (+ 0.5 s off + the connect) over 9 s: three connects each
        // (first one included) leave several seconds of margin for a slow or sanitized run.
        EXPECT_GE(d.connects, 3U) << d.device_name;
        EXPECT_EQ(d.connect_failures, 0U) << d.device_name;
        EXPECT_EQ(d.outcome, Outcome::no_job) << d.device_name;
        EXPECT_FALSE(d.cloud_outcome.has_value()) << d.device_name;
    }
}

TEST(FleetRun, CloudInItsOwnProcessPushesToADeviceRun) {
    const Lab& lab = Lab::get();
    ota::test::TempDir tmp;
    const Fleet f = register_fleet(lab, tmp, "fo", 50);
    lab.put_file("fleet-own.bin", ota::test::random_bytes(32 * 1024, 50));
    // The same command line for both; the device run drops the --push-* options.
    std::vector<std::string> cloud_argv =
        run_cmd(lab, f, 0, 50, "fleet-own.bin", tmp.path() / "cloud.json",
                {"--push-when", "all-connected"});
    cloud_argv[0] = Lab::bin("ota_fleet_cloud");
    cloud_argv.erase(cloud_argv.begin() + 1);  // "run"
    std::vector<std::string> device_argv;
    for (std::size_t i = 0; i < cloud_argv.size(); ++i) {
        const std::string& a = cloud_argv[i];
        if (a.rfind("--push-", 0) == 0 || a.rfind("--cloud-", 0) == 0 || a == "--json") {
            ++i;  // and its value
            continue;
        }
        device_argv.push_back(a);
    }
    device_argv[0] = Lab::bin("ota_fleet");
    device_argv.insert(device_argv.begin() + 1, "run");
    device_argv.insert(device_argv.end(), {"--json", (tmp.path() / "devices.json").string()});

    ota::test::BackgroundProcess cloud(cloud_argv, tmp.path() / "cloud.log");
    ASSERT_TRUE(cloud.wait_for_output("cloud ready", 30)) << cloud.output();
    const auto devices = ota::test::run_process(device_argv, 100);
    EXPECT_EQ(devices.exit_code, 0) << devices.output;
    EXPECT_EQ(cloud.wait(30), 0) << cloud.output();

    const FleetAggregate a = load_summary(tmp.path() / "devices.json").aggregate();
    EXPECT_EQ(at(a.outcomes, Outcome::updated), 50U) << describe(a.outcomes);
    std::string text;
    ASSERT_TRUE(ota::fleet::read_text_file((tmp.path() / "cloud.json").string(), text).ok());
    const auto j = nlohmann::json::parse(text);
    EXPECT_EQ(j["format"], "ota_fleet-cloud/1");
    EXPECT_EQ(j["end"], "settled");
    EXPECT_EQ(j["pushed"], 50);
    EXPECT_EQ(j["cloud_outcomes"]["updated"], 50);
    EXPECT_EQ(j["push_to_updated_ms"]["count"], 50);
    EXPECT_GE(j["first_push_to_last_updated_s"].get<double>(), j["push_span_s"].get<double>());
}

}  // namespace
