// The lab broker's users for a simulated fleet: mosquitto password-file lines and ACL blocks.
//
// Why generated here instead of `lab.sh add-device` per device: mosquitto_passwd rewrites the whole
// file for each user (minutes for 10,000 devices); `ota_fleet users` writes both files at once
// (20,000 devices in 2.7 s, nearly all of it PBKDF2) and `lab.sh add-devices` appends them with
// one SIGHUP.
//
// Password lines are what mosquitto_passwd 2.x writes: `user:$7$101$<salt>$<hash>`, PBKDF2 with
// HMAC-SHA512, 101 iterations, a 12-byte random salt and a 64-byte hash, both standard base64 with
// padding. The password of a device is its MQTT password (PROTOCOL.md section 1: hmacsha256 over
// clientId `{pk}.{dn}` and the fixed timestamp), as scripts/lab.sh computes it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ota/auth.hpp"
#include "ota/status.hpp"

namespace ota::fleet {

/// Salt length mosquitto_passwd uses (bytes).
inline constexpr std::size_t kMosquittoSaltLength = 12;
/// PBKDF2 iterations mosquitto_passwd 2.x uses by default.
inline constexpr std::uint32_t kMosquittoIterations = 101;

/// The broker user name of a device: `{dn}&{pk}`.
[[nodiscard]] std::string device_username(const DeviceIdentity& device);

/// The device's MQTT password (upper-case hex hmacsha256, clientId `{pk}.{dn}`, fixed timestamp).
/// A secret: never log it. Errors as ota::sign_password.
[[nodiscard]] Error device_mqtt_password(const DeviceIdentity& device, std::string& out);

/// One password-file line (without newline) for `username` with `password`, hashed with the
/// given salt (any length 1..64; mosquitto uses kMosquittoSaltLength) and iteration count
/// (1..1,000,000). Errors: invalid_argument (empty user, a ':' or newline in it, bad salt length or
/// iterations), crypto_failed.
[[nodiscard]] Error mosquitto_password_line(std::string_view username, std::string_view password,
                                            const std::vector<std::uint8_t>& salt,
                                            std::uint32_t iterations, std::string& out_line);

/// As above with a fresh random 12-byte salt (getrandom) and 101 iterations.
[[nodiscard]] Error mosquitto_password_line(std::string_view username, std::string_view password,
                                            std::string& out_line);

/// Checks a `user:$7$...` line (as mosquitto_passwd 2.x writes it) against `password`: sets
/// `matches`. Errors: malformed_message when the line is not of that form.
[[nodiscard]] Error check_mosquitto_password_line(std::string_view line, std::string_view password,
                                                  bool& matches);

/// The ACL block of a device exactly as `scripts/lab.sh add-device` appends it: a blank line,
/// `user {dn}&{pk}`, then one `topic read|write ...` line per topic, each ending in '\n'.
[[nodiscard]] std::string device_acl_block(const DeviceIdentity& device);

/// Writes the password file (one line per device) and the ACL file (one block per device) for
/// `devices`, replacing both files. Errors: invalid_argument (see above), storage_failed when a
/// file cannot be written (detail names the path).
[[nodiscard]] Error write_broker_users(const std::vector<DeviceIdentity>& devices,
                                       const std::string& passwd_path, const std::string& acl_path);

}  // namespace ota::fleet
