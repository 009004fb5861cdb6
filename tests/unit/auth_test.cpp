// Device authentication: PROTOCOL.md section 1 vectors and the validation of every input.
#include "ota/auth.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "ota/status.hpp"

namespace ota {
namespace {

const DeviceIdentity kExample{"a1X2bEnP82z", "example1", "ga7XA6KdlEeiPXQPpRbAjOZXwG8ydgSe"};

struct SignVector {
    const char* name;
    DeviceIdentity device;
    const char* client_id;
    const char* timestamp;
    SignMethod method;
    const char* password;
};

void PrintTo(const SignVector& v, std::ostream* os) {
    *os << v.name;
}

std::vector<SignVector> protocol_vectors() {
    return {
        {"example1_sha256", kExample, "a1X2bEnP82z.example1", "2524608000000",
         SignMethod::hmac_sha256,
         "B8CE8F1D706DD3C61D13BFD9855DEF7E321B785084CA9C93F0169A2B46785DD2"},
        {"example1_sha1", kExample, "a1X2bEnP82z.example1", "2524608000000", SignMethod::hmac_sha1,
         "b2c9af96273c92315cc9eb431ed90573a6850105"},
        {"example1_md5", kExample, "a1X2bEnP82z.example1", "2524608000000", SignMethod::hmac_md5,
         "7e2c52953f3dcfbbc313de587ad83f74"},
        {"light_custom_client_id",
         {"a14Xib5kdYd", "light1983432", "oLyaKqVxtRvjH284LdhqVgVUx1UPy6zq"},
         "SN1928339",
         "1539421321846",
         SignMethod::hmac_sha1,
         "b2488041f64f425016b467ee1c94959ebd592ad1"},
        {"short_custom_client_id",
         {"pk", "device", "secret"},
         "12345",
         "789",
         SignMethod::hmac_sha1,
         "fafd82a3d602b37fb0fa8b7892f24a477f851a14"},
    };
}

class ProtocolVectors : public testing::TestWithParam<SignVector> {};

TEST_P(ProtocolVectors, SignPasswordMatches) {
    const SignVector& v = GetParam();
    std::string out;
    const Error e = sign_password(v.device, v.client_id, v.timestamp, v.method, out);
    ASSERT_TRUE(e.ok()) << e.message();
    EXPECT_EQ(out, v.password);
}

INSTANTIATE_TEST_SUITE_P(Section1, ProtocolVectors, testing::ValuesIn(protocol_vectors()),
                         [](const testing::TestParamInfo<SignVector>& param_info) {
                             return std::string(param_info.param.name);
                         });

ConnectionInfo connect_ok(const DeviceIdentity& device, const ConnectOptions& options) {
    ConnectionInfo info;
    const Error e = make_connection_info(device, options, info);
    EXPECT_TRUE(e.ok()) << e.message();
    return info;
}

TEST(SignMethodNames, AsInClientId) {
    EXPECT_STREQ(to_string(SignMethod::hmac_sha256), "hmacsha256");
    EXPECT_STREQ(to_string(SignMethod::hmac_sha1), "hmacsha1");
    EXPECT_STREQ(to_string(SignMethod::hmac_md5), "hmacmd5");
}

TEST(SignMethodNames, OutOfRangeValueIsUnknown) {
    EXPECT_STREQ(to_string(static_cast<SignMethod>(9)), "unknown");
}

TEST(ConnectionInfo, DefaultsMatchSdkV3) {
    const ConnectionInfo info = connect_ok(kExample, ConnectOptions{});
    EXPECT_EQ(info.client_id,
              "a1X2bEnP82z.example1|timestamp=2524608000000,_v=sdk-c-3.2.0,securemode=2,"
              "signmethod=hmacsha256,lan=C,gw=0,ext=0|");
    EXPECT_EQ(info.username, "example1&a1X2bEnP82z");
    EXPECT_EQ(info.password, "B8CE8F1D706DD3C61D13BFD9855DEF7E321B785084CA9C93F0169A2B46785DD2");
    EXPECT_EQ(info.host, "a1X2bEnP82z.iot-as-mqtt.cn-shanghai.aliyuncs.com");
    EXPECT_EQ(info.port, 443);
}

TEST(ConnectionInfo, PasswordFollowsSignMethod) {
    ConnectOptions o;
    o.sign_method = SignMethod::hmac_sha1;
    ConnectionInfo info = connect_ok(kExample, o);
    EXPECT_EQ(info.password, "b2c9af96273c92315cc9eb431ed90573a6850105");
    EXPECT_NE(info.client_id.find(",signmethod=hmacsha1,"), std::string::npos) << info.client_id;

    o.sign_method = SignMethod::hmac_md5;
    info = connect_ok(kExample, o);
    EXPECT_EQ(info.password, "7e2c52953f3dcfbbc313de587ad83f74");
    EXPECT_NE(info.client_id.find(",signmethod=hmacmd5,"), std::string::npos) << info.client_id;
}

TEST(ConnectionInfo, PlainTcpUsesSecureMode3AndCustomPort) {
    ConnectOptions o;
    o.secure_mode = SecureMode::tcp;
    o.port = 1883;
    const ConnectionInfo info = connect_ok(kExample, o);
    EXPECT_EQ(info.client_id,
              "a1X2bEnP82z.example1|timestamp=2524608000000,_v=sdk-c-3.2.0,securemode=3,"
              "signmethod=hmacsha256,lan=C,gw=0,ext=0|");
    EXPECT_EQ(info.port, 1883);
    // securemode is not part of the signed message.
    EXPECT_EQ(info.password, "B8CE8F1D706DD3C61D13BFD9855DEF7E321B785084CA9C93F0169A2B46785DD2");
}

TEST(ConnectionInfo, SdkVersionOverride) {
    ConnectOptions o;
    o.sdk_version = "sdk-cpp-0.1.0";
    const ConnectionInfo info = connect_ok(kExample, o);
    EXPECT_NE(info.client_id.find(",_v=sdk-cpp-0.1.0,"), std::string::npos) << info.client_id;
}

TEST(ConnectionInfo, EveryListedRegion) {
    for (const char* region :
         {"cn-shanghai", "ap-southeast-1", "ap-northeast-1", "us-west-1", "eu-central-1"}) {
        ConnectOptions o;
        o.region = region;
        const ConnectionInfo info = connect_ok(kExample, o);
        EXPECT_EQ(info.host, std::string("a1X2bEnP82z.iot-as-mqtt.") + region + ".aliyuncs.com");
    }
}

TEST(ConnectionInfo, EmptyRegionMeansDefault) {
    ConnectOptions o;
    o.region.clear();
    EXPECT_EQ(connect_ok(kExample, o).host, "a1X2bEnP82z.iot-as-mqtt.cn-shanghai.aliyuncs.com");
}

TEST(ConnectionInfo, CustomHostIsVerbatimAndIgnoresRegion) {
    ConnectOptions o;
    o.custom_host = "iot-06z00abcdefg.mqtt.iothub.aliyuncs.com";
    o.region = "not-a-region";
    const ConnectionInfo info = connect_ok(kExample, o);
    EXPECT_EQ(info.host, "iot-06z00abcdefg.mqtt.iothub.aliyuncs.com");
    EXPECT_EQ(info.password, "B8CE8F1D706DD3C61D13BFD9855DEF7E321B785084CA9C93F0169A2B46785DD2");

    o.custom_host = "127.0.0.1";
    EXPECT_EQ(connect_ok(kExample, o).host, "127.0.0.1");
}

TEST(ConnectionInfo, OutputUntouchedOnError) {
    ConnectionInfo info;
    info.host = "previous";
    DeviceIdentity bad = kExample;
    bad.device_name.clear();
    EXPECT_FALSE(make_connection_info(bad, ConnectOptions{}, info).ok());
    EXPECT_EQ(info.host, "previous");
    EXPECT_TRUE(info.password.empty());
}

// --- validation -------------------------------------------------------------------------------

struct BadInput {
    const char* name;
    DeviceIdentity device;
    ConnectOptions options;
    const char* detail_must_mention;
};

void PrintTo(const BadInput& b, std::ostream* os) {
    *os << b.name;
}

ConnectOptions with_region(const char* region) {
    ConnectOptions o;
    o.region = region;
    return o;
}

ConnectOptions with_host(const std::string& host) {
    ConnectOptions o;
    o.custom_host = host;
    return o;
}

ConnectOptions with_port(std::uint16_t port) {
    ConnectOptions o;
    o.port = port;
    return o;
}

ConnectOptions with_sdk_version(const char* version) {
    ConnectOptions o;
    o.sdk_version = version;
    return o;
}

DeviceIdentity with_pk(std::string pk) {
    DeviceIdentity d = kExample;
    d.product_key = std::move(pk);
    return d;
}

DeviceIdentity with_dn(std::string dn) {
    DeviceIdentity d = kExample;
    d.device_name = std::move(dn);
    return d;
}

DeviceIdentity with_ds(std::string ds) {
    DeviceIdentity d = kExample;
    d.device_secret = std::move(ds);
    return d;
}

std::vector<BadInput> bad_inputs() {
    return {
        {"empty_pk", with_pk(""), {}, "product key is empty"},
        {"long_pk", with_pk(std::string(21, 'p')), {}, "product key is 21 characters"},
        {"empty_dn", with_dn(""), {}, "device name is empty"},
        {"long_dn", with_dn(std::string(33, 'd')), {}, "device name is 33 characters"},
        {"empty_ds", with_ds(""), {}, "device secret is empty"},
        {"long_ds", with_ds(std::string(65, 'S')), {}, "device secret is 65 characters"},
        {"pk_slash", with_pk("a1X2/bEnP"), {}, "product key \"a1X2/bEnP\" contains '/'"},
        {"pk_plus", with_pk("a1+"), {}, "contains '+'"},
        {"dn_hash", with_dn("dev#1"), {}, "device name \"dev#1\" contains '#'"},
        {"dn_pipe", with_dn("dev|1"), {}, "contains '|'"},
        {"dn_comma", with_dn("dev,1"), {}, "contains ','"},
        {"dn_ampersand", with_dn("dev&1"), {}, "contains '&'"},
        {"dn_equals", with_dn("dev=1"), {}, "contains '='"},
        {"dn_space", with_dn("dev 1"), {}, "contains a space"},
        {"dn_tab", with_dn("dev\t1"), {}, "byte 0x09"},
        {"dn_control", with_dn(std::string("dev\x01", 4)), {}, "byte 0x01"},
        {"dn_non_ascii", with_dn("d\xC3\xA9v"), {}, "byte 0xC3"},
        {"unknown_region", kExample, with_region("cn-beijing"), "unknown region \"cn-beijing\""},
        {"port_zero", kExample, with_port(0), "port must not be 0"},
        {"host_space", kExample, with_host("my host.example.com"), "custom host contains a space"},
        {"host_scheme", kExample, with_host("mqtts://broker.example.com"),
         "custom host contains '/'"},
        {"host_path", kExample, with_host("broker.example.com/mqtt"), "custom host contains '/'"},
        {"host_user", kExample, with_host("user@broker.example.com"), "custom host contains '@'"},
        {"host_newline", kExample, with_host("broker.example.com\n"), "byte 0x0A"},
        {"host_too_long", kExample, with_host(std::string(254, 'h')), "custom host is 254"},
        {"sdk_version_pipe", kExample, with_sdk_version("v1|x"), "sdk version contains '|'"},
        {"sdk_version_empty", kExample, with_sdk_version(""), "sdk version is empty"},
    };
}

class RejectedInputs : public testing::TestWithParam<BadInput> {};

TEST_P(RejectedInputs, InvalidArgumentWithClearDetailAndNoSecret) {
    const BadInput& b = GetParam();
    ConnectionInfo info;
    const Error e = make_connection_info(b.device, b.options, info);
    EXPECT_EQ(e.status, Status::invalid_argument) << e.message();
    EXPECT_NE(e.detail.find(b.detail_must_mention), std::string::npos)
        << "detail: " << e.detail << "\nexpected to mention: " << b.detail_must_mention;
    if (!b.device.device_secret.empty()) {
        EXPECT_EQ(e.detail.find(b.device.device_secret), std::string::npos) << e.detail;
        EXPECT_EQ(e.message().find(b.device.device_secret), std::string::npos) << e.message();
    }
    EXPECT_TRUE(info.password.empty());
    EXPECT_TRUE(info.client_id.empty());
}

INSTANTIATE_TEST_SUITE_P(Validation, RejectedInputs, testing::ValuesIn(bad_inputs()),
                         [](const testing::TestParamInfo<BadInput>& param_info) {
                             return std::string(param_info.param.name);
                         });

TEST(Validation, LimitsAreInclusive) {
    DeviceIdentity d{std::string(20, 'p'), std::string(32, 'd'), std::string(64, 's')};
    ConnectionInfo info;
    const Error e = make_connection_info(d, ConnectOptions{}, info);
    EXPECT_TRUE(e.ok()) << e.message();
    EXPECT_EQ(info.username, std::string(32, 'd') + "&" + std::string(20, 'p'));
}

TEST(Validation, PlatformNameCharactersAccepted) {
    // The platform allows these in device names.
    const ConnectionInfo info = connect_ok(with_dn("dev-1_a@b.c:d"), ConnectOptions{});
    EXPECT_EQ(info.username, "dev-1_a@b.c:d&a1X2bEnP82z");
}

TEST(Validation, UnknownRegionListsValidOnes) {
    ConnectionInfo info;
    const Error e = make_connection_info(kExample, with_region("mars-1"), info);
    ASSERT_EQ(e.status, Status::invalid_argument);
    for (const char* region :
         {"cn-shanghai", "ap-southeast-1", "ap-northeast-1", "us-west-1", "eu-central-1"}) {
        EXPECT_NE(e.detail.find(region), std::string::npos) << e.detail;
    }
}

TEST(Validation, SecretWithForbiddenCharactersNeverEchoed) {
    // The secret itself may hold any byte; even when the device name is wrong, nothing of the
    // secret may appear.
    DeviceIdentity d{"a1X2bEnP82z", "bad/name", "sup3r-s3cret-value"};
    ConnectionInfo info;
    const Error e = make_connection_info(d, ConnectOptions{}, info);
    ASSERT_EQ(e.status, Status::invalid_argument);
    EXPECT_EQ(e.message().find("sup3r"), std::string::npos) << e.message();
}

TEST(Validation, UnknownSecureModeRejected) {
    ConnectOptions o;
    o.secure_mode = static_cast<SecureMode>(7);
    ConnectionInfo info;
    const Error e = make_connection_info(kExample, o, info);
    EXPECT_EQ(e.status, Status::invalid_argument);
    EXPECT_NE(e.detail.find("secure mode"), std::string::npos) << e.detail;
}

TEST(Validation, UnknownSignMethodRejectedAndOutputUntouched) {
    ConnectOptions o;
    o.sign_method = static_cast<SignMethod>(9);
    ConnectionInfo info;
    info.host = "unchanged";
    const Error e = make_connection_info(kExample, o, info);
    EXPECT_EQ(e.status, Status::invalid_argument);
    EXPECT_NE(e.detail.find("sign method"), std::string::npos) << e.detail;
    EXPECT_EQ(info.host, "unchanged");
    EXPECT_TRUE(info.password.empty());
}

TEST(SignPasswordValidation, RejectsBadIdentityWithoutLeakingSecret) {
    std::string out = "unchanged";
    Error e = sign_password(with_ds(std::string(65, 'Z')), "cid", "1", SignMethod::hmac_sha1, out);
    EXPECT_EQ(e.status, Status::invalid_argument);
    EXPECT_NE(e.detail.find("device secret"), std::string::npos) << e.detail;
    EXPECT_EQ(e.detail.find("ZZZZ"), std::string::npos) << e.detail;
    EXPECT_EQ(out, "unchanged");

    e = sign_password(with_pk(""), "cid", "1", SignMethod::hmac_sha1, out);
    EXPECT_EQ(e.status, Status::invalid_argument);
    EXPECT_NE(e.detail.find("product key"), std::string::npos) << e.detail;

    e = sign_password(with_dn(""), "cid", "1", SignMethod::hmac_sha1, out);
    EXPECT_EQ(e.status, Status::invalid_argument);
    EXPECT_NE(e.detail.find("device name"), std::string::npos) << e.detail;
    EXPECT_EQ(out, "unchanged");
}

TEST(SignPasswordValidation, RejectsEmptyClientIdTimestampAndUnknownMethod) {
    std::string out;
    Error e = sign_password(kExample, "", "1", SignMethod::hmac_sha1, out);
    EXPECT_EQ(e.status, Status::invalid_argument);
    EXPECT_NE(e.detail.find("client id"), std::string::npos) << e.detail;

    e = sign_password(kExample, "cid", "", SignMethod::hmac_sha1, out);
    EXPECT_EQ(e.status, Status::invalid_argument);
    EXPECT_NE(e.detail.find("timestamp"), std::string::npos) << e.detail;

    e = sign_password(kExample, "cid", "1", static_cast<SignMethod>(9), out);
    EXPECT_EQ(e.status, Status::invalid_argument);
    EXPECT_NE(e.detail.find("sign method"), std::string::npos) << e.detail;
    EXPECT_TRUE(out.empty());
}

TEST(SignPasswordValidation, DifferentSecretGivesDifferentPassword) {
    std::string a;
    std::string b;
    ASSERT_TRUE(sign_password(kExample, "c", "1", SignMethod::hmac_sha256, a).ok());
    ASSERT_TRUE(sign_password(with_ds("other"), "c", "1", SignMethod::hmac_sha256, b).ok());
    EXPECT_NE(a, b);
    EXPECT_EQ(a.size(), 64U);
}

}  // namespace
}  // namespace ota
