// Fleet registration for the integration tests: see fleet_lab.hpp.
#include "fleet_lab.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>

namespace ota::test {

FleetUsers register_fleet(const Lab& lab, const TempDir& tmp, const std::string& tag,
                          std::uint64_t count) {
    static std::atomic<int> counter{0};
    const std::string n = std::to_string(::getpid()) + "x" + std::to_string(counter++);
    FleetUsers f;
    f.pk = "p" + tag + n;
    f.pattern = tag + n + "-%04d";
    f.dir = tmp.path();
    f.cloud_pw = tmp.path() / "cloud.pw";
    const auto passwd = tmp.path() / "fleet.passwd";
    const auto acl = tmp.path() / "fleet.acl";
    const auto users =
        run_process({Lab::bin("ota_fleet"), "users", "--product-key", f.pk, "--name-pattern",
                     f.pattern, "--secret", f.secret, "--count", std::to_string(count),
                     "--passwd-out", passwd.string(), "--acl-out", acl.string()},
                    30);
    EXPECT_EQ(users.exit_code, 0) << users.output;
    const auto add = run_process(
        {OTA_LAB_SCRIPT_PATH, "add-devices", lab.dir.string(), passwd.string(), acl.string()}, 60);
    EXPECT_EQ(add.exit_code, 0) << add.output;
    std::ofstream(f.cloud_pw) << lab.cloud_password;
    return f;
}

std::vector<std::string> fleet_identity_args(const Lab& lab, const FleetUsers& f) {
    return {
        "--product-key", f.pk,       "--name-pattern", f.pattern, "--secret",
        f.secret,        "--host",   "127.0.0.1",      "--port",  std::to_string(lab.mqtt_tls_port),
        "--ca-file",     lab.ca_file};
}

std::vector<std::string> fleet_cmd(const Lab& lab, const FleetUsers& f,
                                   std::vector<std::string> program,
                                   const std::vector<std::string>& options) {
    const auto identity = fleet_identity_args(lab, f);
    program.insert(program.end(), identity.begin(), identity.end());
    program.insert(program.end(), options.begin(), options.end());
    return program;
}

}  // namespace ota::test
