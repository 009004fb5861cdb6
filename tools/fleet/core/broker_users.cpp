#include "broker_users.hpp"

#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/version.h>
#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "numbers.hpp"
#include "stats.hpp"

namespace ota::fleet {
namespace {

constexpr std::size_t kHashLength = 64;  // SHA-512 output, what mosquitto stores

Error bad(std::string text) {
    return {Status::invalid_argument, std::move(text)};
}

Error pbkdf2_sha512(std::string_view password, const std::uint8_t* salt, std::size_t salt_len,
                    std::uint32_t iterations, std::uint8_t (&out)[kHashLength]) {
    const auto* pw = reinterpret_cast<const unsigned char*>(password.data());
#if MBEDTLS_VERSION_NUMBER >= 0x03030000
    const int rc = mbedtls_pkcs5_pbkdf2_hmac_ext(MBEDTLS_MD_SHA512, pw, password.size(), salt,
                                                 salt_len, iterations, kHashLength, out);
#else
    // Mbed TLS before 3.3 has no _ext: the caller sets up the HMAC context.
    const mbedtls_md_info_t* info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA512);
    if (info == nullptr) return {Status::crypto_failed, "SHA-512 is not available"};
    mbedtls_md_context_t ctx;
    mbedtls_md_init(&ctx);
    int rc = mbedtls_md_setup(&ctx, info, 1);
    if (rc == 0) {
        rc = mbedtls_pkcs5_pbkdf2_hmac(&ctx, pw, password.size(), salt, salt_len, iterations,
                                       kHashLength, out);
    }
    mbedtls_md_free(&ctx);
#endif
    if (rc != 0) return {Status::crypto_failed, "PBKDF2-HMAC-SHA512 failed: " + std::to_string(rc)};
    return {};
}

std::string base64(const std::uint8_t* data, std::size_t len) {
    std::string out(4 * ((len + 2) / 3) + 1, '\0');
    std::size_t written = 0;
    if (mbedtls_base64_encode(reinterpret_cast<unsigned char*>(out.data()), out.size(), &written,
                              data, len) != 0) {
        return {};
    }
    out.resize(written);
    return out;
}

bool unbase64(std::string_view text, std::vector<std::uint8_t>& out) {
    std::size_t len = 0;
    out.assign(text.size(), 0);
    if (mbedtls_base64_decode(out.data(), out.size(), &len,
                              reinterpret_cast<const unsigned char*>(text.data()),
                              text.size()) != 0) {
        return false;
    }
    out.resize(len);
    return true;
}

}  // namespace

std::string device_username(const DeviceIdentity& device) {
    return device.device_name + "&" + device.product_key;
}

Error device_mqtt_password(const DeviceIdentity& device, std::string& out) {
    const std::string client_id = device.product_key + "." + device.device_name;
    return sign_password(device, client_id, kFixedTimestamp, SignMethod::hmac_sha256, out);
}

Error mosquitto_password_line(std::string_view username, std::string_view password,
                              const std::vector<std::uint8_t>& salt, std::uint32_t iterations,
                              std::string& out_line) {
    if (username.empty()) return bad("broker user name is empty");
    if (username.find_first_of(":\r\n") != std::string_view::npos) {
        return bad("broker user name '" + std::string(username) +
                   "' contains ':' or a line break (the password file's separators)");
    }
    if (salt.empty() || salt.size() > 64) {
        return bad("salt length " + std::to_string(salt.size()) + " is out of range 1..64");
    }
    if (iterations < 1 || iterations > 1000000) {
        return bad("iterations " + std::to_string(iterations) + " is out of range 1..1000000");
    }
    std::uint8_t hash[kHashLength];
    Error e = pbkdf2_sha512(password, salt.data(), salt.size(), iterations, hash);
    if (!e.ok()) return e;
    out_line = std::string(username) + ":$7$" + std::to_string(iterations) + "$" +
               base64(salt.data(), salt.size()) + "$" + base64(hash, kHashLength);
    return {};
}

Error mosquitto_password_line(std::string_view username, std::string_view password,
                              std::string& out_line) {
    std::vector<std::uint8_t> salt(kMosquittoSaltLength);
    std::size_t got = 0;
    while (got < salt.size()) {
        const ssize_t n = getrandom(salt.data() + got, salt.size() - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return {Status::crypto_failed, std::string("getrandom: ") + std::strerror(errno)};
        }
        got += static_cast<std::size_t>(n);
    }
    return mosquitto_password_line(username, password, salt, kMosquittoIterations, out_line);
}

Error check_mosquitto_password_line(std::string_view line, std::string_view password,
                                    bool& matches) {
    line = detail::trim(line);
    const auto malformed = [&](const char* why) {
        return Error(Status::malformed_message, std::string("password line: ") + why);
    };
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return malformed("no ':' after the user name");
    std::string_view rest = line.substr(colon + 1);
    if (rest.substr(0, 3) != "$7$") return malformed("not a $7$ (PBKDF2-SHA512) hash");
    rest.remove_prefix(3);
    const std::size_t d1 = rest.find('$');
    const std::size_t d2 = d1 == std::string_view::npos ? d1 : rest.find('$', d1 + 1);
    if (d2 == std::string_view::npos) return malformed("expected $7$<iterations>$<salt>$<hash>");
    std::uint64_t iterations = 0;
    if (!detail::parse_u64(rest.substr(0, d1), iterations) || iterations < 1 ||
        iterations > 1000000) {
        return malformed("iterations out of range 1..1000000");
    }
    std::vector<std::uint8_t> salt;
    std::vector<std::uint8_t> hash;
    if (!unbase64(rest.substr(d1 + 1, d2 - d1 - 1), salt) || salt.empty() || salt.size() > 64) {
        return malformed("salt is not base64 of 1..64 bytes");
    }
    if (!unbase64(rest.substr(d2 + 1), hash) || hash.size() != kHashLength) {
        return malformed("hash is not base64 of 64 bytes");
    }
    std::uint8_t computed[kHashLength];
    Error e = pbkdf2_sha512(password, salt.data(), salt.size(),
                            static_cast<std::uint32_t>(iterations), computed);
    if (!e.ok()) return e;
    unsigned diff = 0;
    for (std::size_t i = 0; i < kHashLength; ++i) diff |= computed[i] ^ hash[i];
    matches = diff == 0;
    return {};
}

std::string device_acl_block(const DeviceIdentity& device) {
    const std::string& pk = device.product_key;
    const std::string& dn = device.device_name;
    std::string out;
    out += "\nuser " + device_username(device) + "\n";
    out += "topic write /ota/device/inform/" + pk + "/" + dn + "\n";
    out += "topic write /ota/device/progress/" + pk + "/" + dn + "\n";
    out += "topic read /ota/device/upgrade/" + pk + "/" + dn + "\n";
    out += "topic write /sys/" + pk + "/" + dn + "/thing/ota/firmware/get\n";
    out += "topic read /sys/" + pk + "/" + dn + "/thing/ota/firmware/get_reply\n";
    out += "topic write /sys/" + pk + "/" + dn + "/thing/file/download\n";
    out += "topic read /sys/" + pk + "/" + dn + "/thing/file/download_reply\n";
    return out;
}

Error write_broker_users(const std::vector<DeviceIdentity>& devices, const std::string& passwd_path,
                         const std::string& acl_path) {
    std::string passwd;
    std::string acl;
    passwd.reserve(devices.size() * 160);
    acl.reserve(devices.size() * 400);
    for (const DeviceIdentity& device : devices) {
        std::string password;
        Error e = device_mqtt_password(device, password);
        if (!e.ok()) return {e.status, device.device_name + ": " + e.detail};
        std::string line;
        e = mosquitto_password_line(device_username(device), password, line);
        if (!e.ok()) return {e.status, device.device_name + ": " + e.detail};
        passwd += line;
        passwd += '\n';
        acl += device_acl_block(device);
    }
    Error e = write_text_file(passwd_path, passwd);
    if (e.ok()) e = write_text_file(acl_path, acl);
    return e;
}

}  // namespace ota::fleet
