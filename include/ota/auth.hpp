// Device authentication: from the device triple to MQTT host, clientId, username and password,
// exactly as the Alibaba Cloud IoT platform expects (PROTOCOL.md section 1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ota/status.hpp"

namespace ota {

/// HMAC used to sign the MQTT password.
enum class SignMethod { hmac_sha256, hmac_sha1, hmac_md5 };

/// The platform's `securemode`: 2 = MQTT over TLS, 3 = plain TCP.
enum class SecureMode : int { tls = 2, tcp = 3 };

/// Name as it appears in the clientId ("hmacsha256", "hmacsha1", "hmacmd5").
[[nodiscard]] const char* to_string(SignMethod method) noexcept;

/// The fixed timestamp every official SDK signs with.
inline constexpr std::string_view kFixedTimestamp = "2524608000000";

/// The SDK version announced in the clientId's `_v=` field by default.
inline constexpr std::string_view kDefaultSdkVersion = "sdk-c-3.2.0";

/// Longest product key the platform issues (characters); the C interface's IOTX_PRODUCT_KEY_LEN.
inline constexpr std::size_t kMaxProductKeyLength = 20;
/// Longest device name the platform allows (characters); the C interface's IOTX_DEVICE_NAME_LEN.
inline constexpr std::size_t kMaxDeviceNameLength = 32;
/// Longest device secret (characters); the C interface's IOTX_DEVICE_SECRET_LEN.
inline constexpr std::size_t kMaxDeviceSecretLength = 64;

/// The region used when neither a region nor a custom host is given.
inline constexpr std::string_view kDefaultRegion = "cn-shanghai";

/// The device triple issued by the platform. Limits: product key 1..20, device name 1..32,
/// device secret 1..64 characters.
struct DeviceIdentity {
    std::string product_key;
    std::string device_name;
    std::string device_secret;
};

/// How to reach the broker. Defaults: region cn-shanghai, port 443, TLS, hmacsha256.
struct ConnectOptions {
    std::string region{
        kDefaultRegion};       ///< One of the platform's regions; ignored with custom_host.
    std::string custom_host;   ///< Taken verbatim when not empty.
    std::uint16_t port = 443;  ///< Must be non-zero.
    SecureMode secure_mode = SecureMode::tls;
    SignMethod sign_method = SignMethod::hmac_sha256;
    std::string sdk_version{kDefaultSdkVersion};
};

/// Everything an MQTT client needs to connect. `password` is a secret: never log it.
struct ConnectionInfo {
    std::string host;
    std::uint16_t port = 0;
    std::string client_id;
    std::string username;
    std::string password;
};

/// Computes the HMAC signature (the MQTT password) over
/// `clientId{client_id}deviceName{dn}productKey{pk}timestamp{timestamp}` keyed with the device
/// secret. Hex is upper case for hmacsha256 and lower case for hmacsha1 / hmacmd5, as the SDKs do.
/// Errors: invalid_argument for an empty or over-long identity field, crypto_failed from Mbed TLS.
[[nodiscard]] Error sign_password(const DeviceIdentity& device, std::string_view client_id,
                                  std::string_view timestamp, SignMethod method,
                                  std::string& out_hex);

/// Computes host, port, clientId (SDK v3 form), username (`{dn}&{pk}`) and password.
/// Errors: invalid_argument (empty/over-long triple, unknown region, zero port, characters that
/// would break the clientId or topic syntax), crypto_failed.
[[nodiscard]] Error make_connection_info(const DeviceIdentity& device,
                                         const ConnectOptions& options, ConnectionInfo& out);

}  // namespace ota
