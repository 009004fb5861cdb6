// TCP_NODELAY for the broker connection of ota_cloud's block server.
//
// Paho's C library never sets TCP_NODELAY and exposes no socket option hook. A block reply is
// written as several TLS records; with Nagle's algorithm the last one waits for the broker's
// (delayed, up to 40 ms) ACK of the first, so every request-reply round took about 45 ms and MQTT
// downloads crawled at under 1 MiB/s per request in flight (measured on loopback: 0.7 MiB/s
// with one 32 KiB request in flight, 23 MiB/s with TCP_NODELAY).
#pragma once

#include "ota/channel.hpp"

namespace ota_cloud {

/// Sets TCP_NODELAY on every TCP socket of this process (ota_cloud has one: the broker's) and
/// returns how many. Listed from /proc/self/fd; 0 where that is missing.
int set_tcp_nodelay_on_tcp_sockets() noexcept;

/// Sets TCP_NODELAY again after every reconnect (paho opens a new socket each time).
class NoDelayOnConnect final : public ota::ChannelListener {
  public:
    void on_message(std::string_view /*topic*/, std::string_view /*payload*/) override {}
    void on_connected() override { (void)set_tcp_nodelay_on_tcp_sockets(); }
};

}  // namespace ota_cloud
