// The C interface's process-wide pieces that need no transport: the HAL_Set*/HAL_Get* device
// triple, IOT_SetupConnInfo, and the library's weak default HAL hooks (this binary implements
// none, so the defaults are what the linkkit interface calls).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "c_api_fakes.hpp"
#include "ota/auth.hpp"
#include "ota/c_api/iot_export_linkkit.h"
#include "ota/c_api/iot_export_ota.h"
#include "ota/protocol.hpp"

namespace {

TEST(CApiDevice, HalSettersKeepTheTripleWithinItsLimits) {
    struct Field {
        int (*set)(const char*);
        int (*get)(char*);
        std::size_t limit;
    };
    const Field fields[] = {{HAL_SetProductKey, HAL_GetProductKey, IOTX_PRODUCT_KEY_LEN},
                            {HAL_SetDeviceName, HAL_GetDeviceName, IOTX_DEVICE_NAME_LEN},
                            {HAL_SetDeviceSecret, HAL_GetDeviceSecret, IOTX_DEVICE_SECRET_LEN}};
    for (const Field& f : fields) {
        const std::string longest(f.limit, 'a');
        EXPECT_EQ(f.set(longest.c_str()), static_cast<int>(f.limit));
        char buf[IOTX_DEVICE_SECRET_LEN + 1];
        EXPECT_EQ(f.get(buf), static_cast<int>(f.limit));
        EXPECT_EQ(std::string(buf), longest);
        const std::string too_long(f.limit + 1, 'b');
        EXPECT_EQ(f.set(too_long.c_str()), -1) << f.limit;
        EXPECT_EQ(f.set(nullptr), -1);
        EXPECT_EQ(f.get(buf), static_cast<int>(f.limit)) << "a refused value leaves the old one";
        EXPECT_EQ(f.get(nullptr), -1);
        EXPECT_EQ(f.set("x"), 1);
        EXPECT_EQ(f.get(buf), 1);
        EXPECT_STREQ(buf, "x");
    }
}

TEST(CApiDevice, SetupConnInfoComputesTheAliyunEndpoint) {
    void* p = nullptr;
    ASSERT_EQ(IOT_SetupConnInfo("a1Prod", "dev1", "secret", &p), 0);
    ASSERT_NE(p, nullptr);
    const auto* info = static_cast<const iotx_conn_info_t*>(p);
    EXPECT_EQ(info->port, 443);
    EXPECT_STREQ(info->host_name, "a1Prod.iot-as-mqtt.cn-shanghai.aliyuncs.com");
    EXPECT_STREQ(info->username, "dev1&a1Prod");
    EXPECT_NE(std::strstr(info->client_id, "securemode=2"), nullptr);
    EXPECT_EQ(std::strlen(info->password), 64U) << "hmacsha256 as hex";
    EXPECT_EQ(info->pub_key, nullptr);

    void* q = nullptr;
    EXPECT_EQ(IOT_SetupConnInfo(nullptr, "dev1", "secret", &q), -1);
    EXPECT_EQ(IOT_SetupConnInfo("a1Prod", nullptr, "secret", &q), -1);
    EXPECT_EQ(IOT_SetupConnInfo("a1Prod", "dev1", nullptr, &q), -1);
    EXPECT_EQ(IOT_SetupConnInfo("a1Prod", "dev1", "secret", nullptr), -1);
    const std::string long_pk(ota::kMaxProductKeyLength + 1, 'p');
    EXPECT_EQ(IOT_SetupConnInfo(long_pk.c_str(), "dev1", "secret", &q), -1);
    EXPECT_EQ(IOT_SetupConnInfo("", "dev1", "secret", &q), -1);
    EXPECT_EQ(q, nullptr) << "nothing is handed out on failure";
}

TEST(CApiDevice, SetupConnInfoHonoursTheIoctlConnectionSettings) {
    // IOT_Ioctl's settings are process-wide: put each back at the end.
    int region = IOTX_CLOUD_REGION_GERMANY;
    ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_DOMAIN, &region), 0);
    void* p = nullptr;
    ASSERT_EQ(IOT_SetupConnInfo("a1Prod", "dev1", "secret", &p), 0);
    const auto* info = static_cast<const iotx_conn_info_t*>(p);
    EXPECT_STREQ(info->host_name, "a1Prod.iot-as-mqtt.eu-central-1.aliyuncs.com");

    ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MQTT_DOMAIN, const_cast<char*>("mqtt.example.net")), 0);
    ASSERT_EQ(IOT_SetupConnInfo("a1Prod", "dev1", "secret", &p), 0);
    EXPECT_STREQ(info->host_name, "a1Prod.mqtt.example.net");

    int port = 8883;
    ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MQTT_HOST, const_cast<char*>("10.0.0.7")), 0);
    ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MQTT_PORT, &port), 0);
    const std::string pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const std::string ca_path = ::testing::TempDir() + "c_api_device_ca.pem";
    std::ofstream(ca_path, std::ios::binary) << pem;
    ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MQTT_CA_FILE, const_cast<char*>(ca_path.c_str())), 0);
    ASSERT_EQ(IOT_SetupConnInfo("a1Prod", "dev1", "secret", &p), 0);
    EXPECT_STREQ(info->host_name, "10.0.0.7") << "an explicit host wins over the domain";
    EXPECT_EQ(info->port, 8883);
    ASSERT_NE(info->pub_key, nullptr);
    EXPECT_STREQ(info->pub_key, pem.c_str()) << "pub_key is the CA as PEM text";

    ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MQTT_CA_FILE, const_cast<char*>("/nonexistent/ca.pem")), 0);
    EXPECT_EQ(IOT_SetupConnInfo("a1Prod", "dev1", "secret", &p), -1) << "an unreadable CA";

    region = IOTX_CLOUD_REGION_SHANGHAI;
    port = 443;
    EXPECT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_DOMAIN, &region), 0);
    EXPECT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MQTT_DOMAIN, nullptr), 0);
    EXPECT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MQTT_HOST, nullptr), 0);
    EXPECT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MQTT_PORT, &port), 0);
    EXPECT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_MQTT_CA_FILE, nullptr), 0);
    std::remove(ca_path.c_str());
}

TEST(CApiDevice, WeakDefaultHooksRefuseToStoreAnything) {
    char version[ota::kMaxVersionLength + 1] = {0};
    EXPECT_EQ(HAL_GetFirmwareVersion(version), -1);
    HAL_Firmware_Persistence_Start();  // only logs
    char data[4] = {1, 2, 3, 4};
    EXPECT_EQ(HAL_Firmware_Persistence_Write(data, sizeof data), -1);
    EXPECT_EQ(HAL_Firmware_Persistence_Stop(), 0);
    EXPECT_EQ(HAL_Firmware_Persistence_StopEx(1), 0);
    EXPECT_EQ(HAL_Firmware_Persistence_StopEx(0), 0);
}

TEST(CApiDevice, LinkkitOnTheDefaultHooksNeedsAVersionAndCannotStore) {
    ota::test::FakeTransports fakes;
    iotx_linkkit_dev_meta_info_t m;
    std::memset(&m, 0, sizeof m);
    std::strcpy(m.product_key, "a1Prod");
    std::strcpy(m.device_name, "dev1");
    std::strcpy(m.device_secret, "secret");
    ASSERT_EQ(IOT_Linkkit_Open(IOTX_LINKKIT_DEV_TYPE_MASTER, &m), 0);
    EXPECT_EQ(IOT_Linkkit_Connect(0), -1) << "the default HAL_GetFirmwareVersion fails";
    ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_FIRMWARE_VERSION, const_cast<char*>("1.0.0")), 0);
    ASSERT_EQ(IOT_Linkkit_Connect(0), 0);

    ota::UpgradeJob job;
    job.version = "2.0.0";
    job.size = 100;
    job.url = "https://fw.example.com/a.bin";
    job.digest.algorithm = ota::DigestAlgorithm::md5;
    job.digest.hex = std::string(32, '0');
    ota::test::ScriptedResponse r;
    r.body.assign(100, 0x42);
    r.content_length = 100;
    fakes.source->set_response(r);
    fakes.broker.publish(ota::make_topics("a1Prod", "dev1").upgrade,
                         ota::encode_upgrade_push(job, 1));
    ASSERT_EQ(IOT_Linkkit_Yield(0), 0);
    EXPECT_EQ(IOT_Linkkit_Query(0, ITM_MSG_QUERY_FOTA_DATA, nullptr, 0), -1)
        << "the default Write fails";
    EXPECT_EQ(IOT_Linkkit_Close(0), 0);
    ASSERT_EQ(IOT_Ioctl(IOTX_IOCTL_SET_FIRMWARE_VERSION, nullptr), 0);
}

}  // namespace
