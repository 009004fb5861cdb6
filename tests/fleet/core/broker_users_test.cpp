// Broker users: device passwords, mosquitto_passwd-compatible lines, ACL blocks, the files.
#include "core/broker_users.hpp"

#include <gtest/gtest.h>
#include <mbedtls/base64.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/stats.hpp"

namespace ota::fleet {
namespace {

// Written by mosquitto_passwd 2.0.11 (Debian 12): `mosquitto_passwd -c -b F 'sim-00007&a1PK' P`
// with P the PROTOCOL.md test vector's password, and `-b F user2 secret`.
constexpr const char* kRealLine1 =
    "sim-00007&a1PK:$7$101$ecFRNhcjuphjF+lO$zXA+dhy1bZWEl5XaGR06MEt8lofuWMcn70Vf8kz5GwAZMkRPcSc5P5k"
    "gYqLyhnyKjEVgsew0l/jJAPPmFFTFVg==";
constexpr const char* kRealPassword1 =
    "B8CE8F1D706DD3C61D13BFD9855DEF7E321B785084CA9C93F0169A2B46785DD2";
constexpr const char* kRealLine2 =
    "user2:$7$101$p7qrnmXx7INz27W9$nepwHBGu0qfFgbIgnAMzquYoW1Y3GK378gnrlbXDjCyFfvSdl0g/mbDqw7+OdRch"
    "yxd0h19bp+jYdAm5pgzUaA==";

std::vector<std::uint8_t> salt_of(const std::string& line) {
    const std::size_t a = line.find("$101$") + 5;
    const std::string b64 = line.substr(a, line.find('$', a) - a);
    std::vector<std::uint8_t> out(b64.size());
    std::size_t len = 0;
    EXPECT_EQ(mbedtls_base64_decode(out.data(), out.size(), &len,
                                    reinterpret_cast<const unsigned char*>(b64.data()), b64.size()),
              0);
    out.resize(len);
    return out;
}

TEST(FleetBrokerUsers, DevicePasswordIsTheProtocolVector) {
    const DeviceIdentity d{"a1X2bEnP82z", "example1", "ga7XA6KdlEeiPXQPpRbAjOZXwG8ydgSe"};
    std::string password;
    ASSERT_TRUE(device_mqtt_password(d, password).ok());
    EXPECT_EQ(password, kRealPassword1);
    EXPECT_EQ(device_username(d), "example1&a1X2bEnP82z");
}

TEST(FleetBrokerUsers, SameSaltGivesMosquittoPasswdsExactLine) {
    for (const auto& [line, user, password] : {std::tuple<std::string, std::string, std::string>{
                                                   kRealLine1, "sim-00007&a1PK", kRealPassword1},
                                               {kRealLine2, "user2", "secret"}}) {
        const std::vector<std::uint8_t> salt = salt_of(line);
        ASSERT_EQ(salt.size(), kMosquittoSaltLength);
        std::string ours;
        ASSERT_TRUE(mosquitto_password_line(user, password, salt, 101, ours).ok());
        EXPECT_EQ(ours, line);
    }
}

TEST(FleetBrokerUsers, ChecksRealLines) {
    bool matches = false;
    ASSERT_TRUE(check_mosquitto_password_line(kRealLine1, kRealPassword1, matches).ok());
    EXPECT_TRUE(matches);
    ASSERT_TRUE(check_mosquitto_password_line(kRealLine2, "secret", matches).ok());
    EXPECT_TRUE(matches);
    ASSERT_TRUE(check_mosquitto_password_line(kRealLine2, "secreT", matches).ok());
    EXPECT_FALSE(matches);
}

TEST(FleetBrokerUsers, RandomSaltLinesHaveMosquittosShape) {
    std::string a, b;
    ASSERT_TRUE(mosquitto_password_line("dev&pk", "pw", a).ok());
    ASSERT_TRUE(mosquitto_password_line("dev&pk", "pw", b).ok());
    EXPECT_NE(a, b);  // fresh salt each time
    // user:$7$101$<16 chars of 12-byte salt>$<88 chars of 64-byte hash>
    ASSERT_EQ(a.size(), std::string("dev&pk:$7$101$").size() + 16 + 1 + 88);
    EXPECT_EQ(a.compare(0, 14, "dev&pk:$7$101$"), 0);
    EXPECT_EQ(a[14 + 16], '$');
    bool matches = false;
    ASSERT_TRUE(check_mosquitto_password_line(a, "pw", matches).ok());
    EXPECT_TRUE(matches);
}

TEST(FleetBrokerUsers, LineErrors) {
    std::string line;
    const std::vector<std::uint8_t> salt(12, 1);
    EXPECT_EQ(mosquitto_password_line("", "pw", salt, 101, line).status, Status::invalid_argument);
    EXPECT_EQ(mosquitto_password_line("a:b", "pw", salt, 101, line).detail,
              "broker user name 'a:b' contains ':' or a line break (the password file's "
              "separators)");
    EXPECT_EQ(mosquitto_password_line("a", "pw", {}, 101, line).detail,
              "salt length 0 is out of range 1..64");
    EXPECT_EQ(mosquitto_password_line("a", "pw", salt, 0, line).detail,
              "iterations 0 is out of range 1..1000000");
    bool matches = true;
    const auto malformed = [&matches](const char* text) {
        Error e = check_mosquitto_password_line(text, "pw", matches);
        EXPECT_EQ(e.status, Status::malformed_message) << text;
        return e.detail;
    };
    EXPECT_EQ(malformed("nouser"), "password line: no ':' after the user name");
    EXPECT_EQ(malformed("u:$6$abc$def"), "password line: not a $7$ (PBKDF2-SHA512) hash");
    EXPECT_EQ(malformed("u:$7$101$abc"), "password line: expected $7$<iterations>$<salt>$<hash>");
    EXPECT_EQ(malformed("u:$7$x$AAAA$AAAA"), "password line: iterations out of range 1..1000000");
    EXPECT_EQ(malformed("u:$7$101$!!!!$AAAA"), "password line: salt is not base64 of 1..64 bytes");
    EXPECT_EQ(malformed("u:$7$101$AAAA$AAAA"), "password line: hash is not base64 of 64 bytes");
}

TEST(FleetBrokerUsers, AclBlockAsLabShWritesIt) {
    const DeviceIdentity d{"a1PK", "sim-00001", "s"};
    EXPECT_EQ(device_acl_block(d),
              "\n"
              "user sim-00001&a1PK\n"
              "topic write /ota/device/inform/a1PK/sim-00001\n"
              "topic write /ota/device/progress/a1PK/sim-00001\n"
              "topic read /ota/device/upgrade/a1PK/sim-00001\n"
              "topic write /sys/a1PK/sim-00001/thing/ota/firmware/get\n"
              "topic read /sys/a1PK/sim-00001/thing/ota/firmware/get_reply\n"
              "topic write /sys/a1PK/sim-00001/thing/file/download\n"
              "topic read /sys/a1PK/sim-00001/thing/file/download_reply\n");
}

class FleetBrokerUsersFiles : public ::testing::Test {
  protected:
    void SetUp() override {
        char name[] = "/tmp/ota_fleet_users_XXXXXX";
        ASSERT_NE(mkdtemp(name), nullptr);
        dir_ = name;
    }
    void TearDown() override {
        for (const char* f : {"/passwd", "/acl", "/real"}) std::remove((dir_ + f).c_str());
        rmdir(dir_.c_str());
    }
    std::string dir_;
};

TEST_F(FleetBrokerUsersFiles, WritesBothFiles) {
    const std::vector<DeviceIdentity> devices = {{"a1PK", "sim-0", "s0"}, {"a1PK", "sim-1", "s1"}};
    ASSERT_TRUE(write_broker_users(devices, dir_ + "/passwd", dir_ + "/acl").ok());
    std::string passwd, acl;
    ASSERT_TRUE(read_text_file(dir_ + "/passwd", passwd).ok());
    ASSERT_TRUE(read_text_file(dir_ + "/acl", acl).ok());
    EXPECT_EQ(acl, device_acl_block(devices[0]) + device_acl_block(devices[1]));
    std::istringstream lines(passwd);
    std::string line;
    for (const DeviceIdentity& d : devices) {
        ASSERT_TRUE(std::getline(lines, line));
        EXPECT_EQ(line.compare(0, d.device_name.size() + 6, d.device_name + "&a1PK:"), 0) << line;
        std::string password;
        ASSERT_TRUE(device_mqtt_password(d, password).ok());
        bool matches = false;
        ASSERT_TRUE(check_mosquitto_password_line(line, password, matches).ok());
        EXPECT_TRUE(matches) << d.device_name;
        // No secret and no MQTT password in the file, only the hash.
        EXPECT_EQ(line.find(password), std::string::npos);
    }
    EXPECT_FALSE(std::getline(lines, line));
    Error e = write_broker_users(devices, dir_ + "/no/dir/passwd", dir_ + "/acl");
    EXPECT_EQ(e.status, Status::storage_failed);
    e = write_broker_users({{"a1PK", "x:y", "s"}}, dir_ + "/passwd", dir_ + "/acl");
    EXPECT_EQ(e.status, Status::invalid_argument);
}

#ifdef OTA_MOSQUITTO_PASSWD
// Against the installed mosquitto_passwd: a line it writes now verifies with our check, and our
// line with its salt is byte for byte the same.
TEST_F(FleetBrokerUsersFiles, AgreesWithInstalledMosquittoPasswd) {
    const std::string file = dir_ + "/real";
    const std::string cmd = std::string(OTA_MOSQUITTO_PASSWD) + " -c -b '" + file +
                            "' 'dev-9&a1PK' 'Pass-word.1' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "mosquitto_passwd failed to run";
    std::string text;
    ASSERT_TRUE(read_text_file(file, text).ok());
    const std::string line = text.substr(0, text.find('\n'));
    bool matches = false;
    ASSERT_TRUE(check_mosquitto_password_line(line, "Pass-word.1", matches).ok()) << line;
    EXPECT_TRUE(matches);
    std::string ours;
    ASSERT_TRUE(
        mosquitto_password_line("dev-9&a1PK", "Pass-word.1", salt_of(line), 101, ours).ok());
    EXPECT_EQ(ours, line);
}
#endif

}  // namespace
}  // namespace ota::fleet
