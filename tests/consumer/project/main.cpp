// Uses a few public entry points of every layer so that linking proves the package carries its
// dependencies. The adapter and C headers are included by the names they had before they moved
// into their targets' folders: code written then keeps compiling.
#include <cstdio>
#include <memory>
#include <string>

#include "ota/auth.hpp"
#include "ota/curl_byte_source.hpp"
#include "ota/digest.hpp"
#include "ota/file_sink.hpp"
#include "ota/flash.hpp"
#include "ota/iot_export_linkkit.h"
#include "ota/iot_export_ota.h"
#include "ota/ota_flash.h"
#include "ota/ota_persistence.h"
#include "ota/paho_channel.hpp"
#include "ota/protocol.hpp"

int main() {
    ota::DeviceIdentity device{"a1X2bEnP82z", "example1", "ga7XA6KdlEeiPXQPpRbAjOZXwG8ydgSe"};
    ota::ConnectionInfo info;
    if (!ota::make_connection_info(device, ota::ConnectOptions{}, info).ok()) return 1;
    std::string md5;
    const unsigned char abc[] = {'a', 'b', 'c'};
    if (!ota::digest_hex(ota::DigestAlgorithm::md5, abc, sizeof abc, md5).ok()) return 1;
    const std::string inform = ota::encode_inform(1, "1.0.0");
    // One symbol from each adapter layer and the C interface (nothing connects anywhere).
    ota::CurlByteSource source(ota::HttpOptions{});
    ota::FileSink sink("consumer-image.bin");
    std::unique_ptr<ota::SimulatedFlash> flash;
    if (!ota::SimulatedFlash::create(ota::SimulatedFlashOptions{{64 * 1024, 4096, 8}, 0, {}}, flash)
             .ok() ||
        flash->size() != 64 * 1024) {
        return 1;
    }
    char pk[IOTX_PRODUCT_KEY_LEN + 1] = {0};
    if (HAL_GetProductKey(pk) < 0) return 1;
    (void)sizeof(ota::MqttOptions);  // PahoChannel is only named: constructing it needs a broker
    (void)sizeof(ota::PahoChannel);
    std::printf("%s\n%s\n%s\n", info.host.c_str(), md5.c_str(), inform.c_str());
    return md5 == "900150983cd24fb0d6963f7d28e17f72" ? 0 : 1;
}
