// What IOT_Ioctl has configured for the connection, shared by the linkkit shim (which owns it)
// and IOT_SetupConnInfo (which honours it, as the original SDK did). Private to src/shim.
#pragma once

#include <string>

#include "ota/auth.hpp"

namespace ota::shim {

/// The connection settings IOT_Ioctl has set so far.
struct IoctlConnection {
    ConnectOptions connect;   ///< region, custom host, port, TLS or plain TCP
    std::string mqtt_domain;  ///< IOTX_IOCTL_SET_MQTT_DOMAIN; empty = the region's domain
    std::string mqtt_ca_file;
};

/// A copy of the current settings (like IOT_Ioctl itself, not synchronised: configure first).
[[nodiscard]] IoctlConnection ioctl_connection();

/// `c.connect` with the domain applied for `product_key`: an explicit host wins, then
/// "{product_key}.{mqtt_domain}", then the region.
[[nodiscard]] ConnectOptions connect_options_for(const IoctlConnection& c,
                                                 const std::string& product_key);

}  // namespace ota::shim
