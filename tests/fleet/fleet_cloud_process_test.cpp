// ota_fleet_cloud as a process of its own beside an `ota_fleet run` without --push-url: it
// settles (exit 0, "settled") on a mix whose devices roll back or never return, takes a device
// that never reports as connect_failed after --connect-wait and pushes to the others with
// --push-when all-connected, and a signal ends it with exit 0.
//
// Why its own file: fleet_run_test.cpp covers the device process; these cases are about the
// cloud process's end conditions. Kept short (about 10 s): --reboot-ms 200, --connect-wait 3,
// --return-grace 4 (margins for a loaded machine: a rollback device must report within it).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
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

Fleet register_fleet(const Lab& lab, const ota::test::TempDir& tmp, std::uint64_t registered) {
    return ota::test::register_fleet(lab, tmp, "fc", registered);
}

// The options both processes share, for devices [0, count).
std::vector<std::string> common(const Lab& lab, const Fleet& f, std::uint64_t count) {
    return ota::test::fleet_cmd(lab, f, {},
                                {"--count", std::to_string(count), "--reboot-ms", "200",
                                 "--duration", "60", "--job-timeout", "45", "--quiet"});
}

std::vector<std::string> cloud_cmd(const Lab& lab, const Fleet& f, std::uint64_t count,
                                   const std::string& image, const std::filesystem::path& json,
                                   const std::vector<std::string>& extra) {
    std::vector<std::string> argv{Lab::bin("ota_fleet_cloud")};
    for (const auto& a : common(lab, f, count)) argv.push_back(a);
    for (const auto& a : std::vector<std::string>{
             "--push-url", lab.https_url(image), "--push-file", (lab.www_dir / image).string(),
             "--push-version", "2.0.0", "--cloud-user", lab.cloud_user, "--cloud-password-file",
             f.cloud_pw.string(), "--json", json.string()}) {
        argv.push_back(a);
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}

nlohmann::json load_json(const std::filesystem::path& path) {
    std::string text;
    EXPECT_TRUE(ota::fleet::read_text_file(path.string(), text).ok()) << path;
    return nlohmann::json::parse(text, nullptr, false);
}

std::uint64_t at(const ota::fleet::OutcomeCounts& c, Outcome o) {
    return c[static_cast<std::size_t>(o)];
}

TEST(FleetCloudProcess, SettlesOnRollbackNeverReturnAndASilentDevice) {
    const Lab& lab = Lab::get();
    ota::test::TempDir tmp;
    // 30 devices run; the cloud also expects a 31st that is not even registered.
    const Fleet f = register_fleet(lab, tmp, 30);
    lab.put_file("fleet-cp.bin", ota::test::random_bytes(32 * 1024, 31));
    const auto cloud_json = tmp.path() / "cloud.json";
    ota::test::BackgroundProcess cloud(
        cloud_cmd(lab, f, 31, "fleet-cp.bin", cloud_json,
                  {"--push-when", "all-connected", "--connect-wait", "3", "--return-grace", "4"}),
        tmp.path() / "cloud.log");
    ASSERT_TRUE(cloud.wait_for_output("cloud ready", 30)) << cloud.output();

    std::vector<std::string> device_argv{Lab::bin("ota_fleet"), "run"};
    for (const auto& a : common(lab, f, 30)) device_argv.push_back(a);
    const auto devices_json = tmp.path() / "devices.json";
    device_argv.insert(device_argv.end(), {"--mix", "never-return=25,rollback=25", "--seed", "77",
                                           "--json", devices_json.string()});
    ota::test::BackgroundProcess devices(device_argv, tmp.path() / "devices.log");

    EXPECT_EQ(cloud.wait(40), 0) << cloud.output();
    // Normally all 30 reported before the wait ran out; a device slower than that (a loaded
    // machine) is pushed when it reports, so the outcomes below hold either way.
    EXPECT_NE(cloud.output().find("(--connect-wait): pushing to those"), std::string::npos)
        << cloud.output();
    EXPECT_EQ(devices.wait(40), 0) << devices.output();

    std::string text;
    ASSERT_TRUE(ota::fleet::read_text_file(devices_json.string(), text).ok());
    FleetSummary s;
    ASSERT_TRUE(FleetSummary::from_json(text, s).ok());
    const FleetAggregate a = s.aggregate();
    ASSERT_GT(at(a.expected, Outcome::rolled_back), 0U);
    ASSERT_GT(at(a.expected, Outcome::never_returned), 0U);

    const nlohmann::json j = load_json(cloud_json);
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(j["end"], "settled");
    EXPECT_EQ(j["pushed"], 30);
    const auto& c = j["cloud_outcomes"];
    EXPECT_EQ(c["connect_failed"], 1) << c.dump();
    for (const Outcome o : {Outcome::updated, Outcome::rolled_back, Outcome::never_returned}) {
        EXPECT_EQ(c[ota::fleet::to_string(o)].get<std::uint64_t>(), at(a.expected, o))
            << ota::fleet::to_string(o) << ": " << c.dump();
    }
}

TEST(FleetCloudProcess, ASignalEndsItWithExitZero) {
    const Lab& lab = Lab::get();
    ota::test::TempDir tmp;
    const Fleet f = register_fleet(lab, tmp, 1);
    lab.put_file("fleet-cs.bin", ota::test::random_bytes(1024, 32));
    const auto json = tmp.path() / "cloud.json";
    ota::test::BackgroundProcess cloud(cloud_cmd(lab, f, 1, "fleet-cs.bin", json, {}),
                                       tmp.path() / "cloud.log");
    ASSERT_TRUE(cloud.wait_for_output("cloud ready", 30)) << cloud.output();
    cloud.kill(SIGINT);
    EXPECT_EQ(cloud.wait(20), 0) << cloud.output();
    EXPECT_EQ(load_json(json)["end"], "signal");
}

}  // namespace
