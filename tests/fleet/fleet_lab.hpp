// What the fleet's integration tests share: devices of a fresh product key registered with the
// lab's broker the way a user does it (`ota_fleet users` + `lab.sh add-devices`), and the
// arguments that point an `ota_fleet` process at them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lab.hpp"

namespace ota::test {

/// A registered fleet: devices `pattern` 0..count-1 of product key `pk` with one `secret`.
struct FleetUsers {
    std::string pk;
    std::string pattern;
    std::string secret = "fleet-it-secret";
    std::filesystem::path dir;  ///< the test's directory (users files, JSON, CSV)
    std::filesystem::path
        cloud_pw;  ///< the lab's cloud password, in a file (--cloud-password-file)
};

/// Registers `count` devices named `<tag><unique>-%04d` of a product key unique to this call
/// with the lab's broker. A failing step is a test failure (check HasFailure() to stop).
[[nodiscard]] FleetUsers register_fleet(const Lab& lab, const TempDir& tmp, const std::string& tag,
                                        std::uint64_t count);

/// --product-key, --name-pattern, --secret, --host, --port (the lab's TLS listener), --ca-file.
[[nodiscard]] std::vector<std::string> fleet_identity_args(const Lab& lab, const FleetUsers& f);

/// `program` (e.g. {Lab::bin("ota_fleet"), "run"}), then fleet_identity_args(), then `options`.
[[nodiscard]] std::vector<std::string> fleet_cmd(const Lab& lab, const FleetUsers& f,
                                                 std::vector<std::string> program,
                                                 const std::vector<std::string>& options);

}  // namespace ota::test
