// Device authentication (PROTOCOL.md section 1): host, clientId, username and HMAC password.
//
// Error details name the offending field and why it is wrong, but never echo the device secret or
// the password: they end up in logs.
#include "ota/auth.hpp"

#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

#include "common/ascii.hpp"
#include "ota/digest.hpp"

namespace ota {
namespace {

using detail::is_control;

// Longest DNS name (RFC 1035); anything longer cannot be a host.
constexpr std::size_t kMaxHost = 253;
constexpr std::size_t kMaxSdkVersion = 64;

constexpr std::array<std::string_view, 5> kRegions = {
    "cn-shanghai", "ap-southeast-1", "ap-northeast-1", "us-west-1", "eu-central-1"};

constexpr std::size_t kMaxHmacSize = 32;

const char* hmac_name(SignMethod method) noexcept {
    switch (method) {
        case SignMethod::hmac_sha256:
            return "HMAC-SHA256";
        case SignMethod::hmac_sha1:
            return "HMAC-SHA1";
        case SignMethod::hmac_md5:
            return "HMAC-MD5";
    }
    return "HMAC";
}

bool known_sign_method(SignMethod method) noexcept {
    return method == SignMethod::hmac_sha256 || method == SignMethod::hmac_sha1 ||
           method == SignMethod::hmac_md5;
}

mbedtls_md_type_t md_type(SignMethod method) noexcept {
    switch (method) {
        case SignMethod::hmac_sha256:
            return MBEDTLS_MD_SHA256;
        case SignMethod::hmac_sha1:
            return MBEDTLS_MD_SHA1;
        case SignMethod::hmac_md5:
            return MBEDTLS_MD_MD5;
    }
    return MBEDTLS_MD_NONE;
}

bool is_space(unsigned char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool all_printable(std::string_view s) noexcept {
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c >= 0x7F) return false;
    }
    return true;
}

// Describes a character for an error message without producing unprintable output.
std::string describe_char(unsigned char c) {
    if (c == ' ') return "a space";
    if (is_control(c) || is_space(c) || c >= 0x80) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "0x%02X", static_cast<unsigned>(c));
        return std::string("byte ") + buf;
    }
    return std::string("'") + static_cast<char>(c) + "'";
}

// Checks a length in [1, max]; `name` is the field's human-readable name.
Error check_length(std::string_view name, std::string_view value, std::size_t max) {
    if (value.empty()) return Error(Status::invalid_argument, std::string(name) + " is empty");
    if (value.size() > max) {
        return Error(Status::invalid_argument,
                     std::string(name) + " is " + std::to_string(value.size()) +
                         " characters long, the limit is " + std::to_string(max));
    }
    return {};
}

Error check_identity_lengths(const DeviceIdentity& device) {
    Error e = check_length("product key", device.product_key, kMaxProductKeyLength);
    if (!e.ok()) return e;
    e = check_length("device name", device.device_name, kMaxDeviceNameLength);
    if (!e.ok()) return e;
    // Only the length goes into the message: the secret itself never does.
    return check_length("device secret", device.device_secret, kMaxDeviceSecretLength);
}

// Product key and device name are pasted into MQTT topics (`/ota/device/inform/{pk}/{dn}`), the
// clientId (`{pk}.{dn}|k=v,k=v|`), the username (`{dn}&{pk}`) and the signed message; these
// characters would change how any of them is parsed.
Error check_name_chars(std::string_view name, std::string_view value) {
    constexpr std::string_view kForbidden = "/+#|,&=";
    for (std::size_t i = 0; i < value.size(); ++i) {
        const auto c = static_cast<unsigned char>(value[i]);
        const bool bad = kForbidden.find(static_cast<char>(c)) != std::string_view::npos ||
                         is_control(c) || is_space(c) || c >= 0x80;
        if (bad) {
            // Quote the value only when it is printable, so the message stays one clean line.
            std::string msg(name);
            if (all_printable(value)) msg += " \"" + std::string(value) + "\"";
            msg += " contains " + describe_char(c) + " at position " + std::to_string(i) +
                   ", which would break MQTT topics or the clientId";
            return Error(Status::invalid_argument, std::move(msg));
        }
    }
    return {};
}

Error check_host(std::string_view host) {
    if (host.size() > kMaxHost) {
        return Error(Status::invalid_argument, "custom host is " + std::to_string(host.size()) +
                                                   " characters long, the limit is " +
                                                   std::to_string(kMaxHost));
    }
    // A host name only: no scheme, path, userinfo, query or embedded whitespace.
    constexpr std::string_view kForbidden = "/?#@\\";
    for (std::size_t i = 0; i < host.size(); ++i) {
        const auto c = static_cast<unsigned char>(host[i]);
        if (is_control(c) || is_space(c) || c >= 0x80 ||
            kForbidden.find(static_cast<char>(c)) != std::string_view::npos) {
            return Error(Status::invalid_argument,
                         "custom host contains " + describe_char(c) + " at position " +
                             std::to_string(i) +
                             "; give a bare host name (no scheme, path, user or spaces)");
        }
    }
    return {};
}

Error check_sdk_version(std::string_view version) {
    Error e = check_length("sdk version", version, kMaxSdkVersion);
    if (!e.ok()) return e;
    constexpr std::string_view kForbidden = "|,=&";
    for (std::size_t i = 0; i < version.size(); ++i) {
        const auto c = static_cast<unsigned char>(version[i]);
        if (is_control(c) || is_space(c) || c >= 0x80 ||
            kForbidden.find(static_cast<char>(c)) != std::string_view::npos) {
            return Error(Status::invalid_argument, "sdk version contains " + describe_char(c) +
                                                       " at position " + std::to_string(i) +
                                                       ", which would break the clientId");
        }
    }
    return {};
}

std::string region_list() {
    std::string out;
    for (std::string_view r : kRegions) {
        if (!out.empty()) out += ", ";
        out += r;
    }
    return out;
}

bool known_region(std::string_view region) noexcept {
    for (std::string_view r : kRegions) {
        if (r == region) return true;
    }
    return false;
}

void to_upper_ascii(std::string& s) noexcept {
    for (char& c : s) {
        if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
    }
}

}  // namespace

const char* to_string(SignMethod method) noexcept {
    switch (method) {
        case SignMethod::hmac_sha256:
            return "hmacsha256";
        case SignMethod::hmac_sha1:
            return "hmacsha1";
        case SignMethod::hmac_md5:
            return "hmacmd5";
    }
    return "unknown";
}

Error sign_password(const DeviceIdentity& device, std::string_view client_id,
                    std::string_view timestamp, SignMethod method, std::string& out_hex) {
    Error e = check_identity_lengths(device);
    if (!e.ok()) return e;
    if (client_id.empty()) return Error(Status::invalid_argument, "client id to sign is empty");
    if (timestamp.empty()) return Error(Status::invalid_argument, "timestamp to sign is empty");
    if (!known_sign_method(method)) {
        return Error(Status::invalid_argument, "unknown sign method " +
                                                   std::to_string(static_cast<int>(method)) +
                                                   "; valid: hmacsha256, hmacsha1, hmacmd5");
    }
    const mbedtls_md_info_t* info = mbedtls_md_info_from_type(md_type(method));
    if (info == nullptr) {
        return Error(Status::crypto_failed,
                     std::string(hmac_name(method)) + " is not available in this Mbed TLS build");
    }

    std::string message;
    message.reserve(client_id.size() + device.device_name.size() + device.product_key.size() +
                    timestamp.size() + 40);
    message += "clientId";
    message += client_id;
    message += "deviceName";
    message += device.device_name;
    message += "productKey";
    message += device.product_key;
    message += "timestamp";
    message += timestamp;

    std::array<unsigned char, kMaxHmacSize> mac{};
    const int rc = mbedtls_md_hmac(
        info, reinterpret_cast<const unsigned char*>(device.device_secret.data()),
        device.device_secret.size(), reinterpret_cast<const unsigned char*>(message.data()),
        message.size(), mac.data());
    if (rc != 0) {
        mbedtls_platform_zeroize(mac.data(), mac.size());
        char code[16];
        std::snprintf(code, sizeof code, "-0x%04X", static_cast<unsigned>(-rc));
        return Error(Status::crypto_failed,
                     std::string(hmac_name(method)) + " failed (mbedtls error " + code + ")");
    }
    std::string hex = to_hex(mac.data(), mbedtls_md_get_size(info));
    mbedtls_platform_zeroize(mac.data(), mac.size());
    // SDK v3/4 send hmacsha256 in upper case, SDK v2 sent hmacsha1 in lower case.
    if (method == SignMethod::hmac_sha256) to_upper_ascii(hex);
    out_hex = std::move(hex);
    return {};
}

Error make_connection_info(const DeviceIdentity& device, const ConnectOptions& options,
                           ConnectionInfo& out) {
    Error e = check_identity_lengths(device);
    if (!e.ok()) return e;
    e = check_name_chars("product key", device.product_key);
    if (!e.ok()) return e;
    e = check_name_chars("device name", device.device_name);
    if (!e.ok()) return e;
    if (options.port == 0) return Error(Status::invalid_argument, "port must not be 0");
    if (options.secure_mode != SecureMode::tls && options.secure_mode != SecureMode::tcp) {
        return Error(Status::invalid_argument,
                     "unknown secure mode " +
                         std::to_string(static_cast<int>(options.secure_mode)) +
                         "; valid: 2 (tls), 3 (tcp)");
    }
    e = check_sdk_version(options.sdk_version);
    if (!e.ok()) return e;

    ConnectionInfo info;
    if (!options.custom_host.empty()) {
        e = check_host(options.custom_host);
        if (!e.ok()) return e;
        info.host = options.custom_host;
    } else {
        // An empty region means the default one, like a default-constructed ConnectOptions.
        const std::string_view region =
            options.region.empty() ? kDefaultRegion : std::string_view(options.region);
        if (!known_region(region)) {
            return Error(Status::invalid_argument, "unknown region \"" + std::string(region) +
                                                       "\"; valid regions: " + region_list() +
                                                       " (or set a custom host)");
        }
        info.host = device.product_key;
        info.host += ".iot-as-mqtt.";
        info.host += region;
        info.host += ".aliyuncs.com";
    }
    info.port = options.port;

    std::string device_id = device.product_key;
    device_id += '.';
    device_id += device.device_name;

    // Signed over "{pk}.{dn}" alone; the |...| parameters are not part of the signature.
    e = sign_password(device, device_id, kFixedTimestamp, options.sign_method, info.password);
    if (!e.ok()) return e;

    info.client_id = device_id;
    info.client_id += "|timestamp=";
    info.client_id += kFixedTimestamp;
    info.client_id += ",_v=";
    info.client_id += options.sdk_version;
    info.client_id += ",securemode=";
    info.client_id += std::to_string(static_cast<int>(options.secure_mode));
    info.client_id += ",signmethod=";
    info.client_id += to_string(options.sign_method);
    info.client_id += ",lan=C,gw=0,ext=0|";

    info.username = device.device_name;
    info.username += '&';
    info.username += device.product_key;

    out = std::move(info);
    return {};
}

}  // namespace ota
