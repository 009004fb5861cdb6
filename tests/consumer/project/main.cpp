// Uses a few public entry points so that linking proves the package carries its dependencies.
#include <cstdio>
#include <string>

#include "ota/auth.hpp"
#include "ota/digest.hpp"
#include "ota/protocol.hpp"

int main() {
    ota::DeviceIdentity device{"a1X2bEnP82z", "example1", "ga7XA6KdlEeiPXQPpRbAjOZXwG8ydgSe"};
    ota::ConnectionInfo info;
    if (!ota::make_connection_info(device, ota::ConnectOptions{}, info).ok()) return 1;
    std::string md5;
    const unsigned char abc[] = {'a', 'b', 'c'};
    if (!ota::digest_hex(ota::DigestAlgorithm::md5, abc, sizeof abc, md5).ok()) return 1;
    const std::string inform = ota::encode_inform(1, "1.0.0");
    std::printf("%s\n%s\n%s\n", info.host.c_str(), md5.c_str(), inform.c_str());
    return md5 == "900150983cd24fb0d6963f7d28e17f72" ? 0 : 1;
}
