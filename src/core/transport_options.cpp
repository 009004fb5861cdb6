// Validation of the transport options (MqttOptions, HttpOptions): the ranges are the named
// constants beside each struct in options.hpp, so the doc comments and the checks cannot drift.
// Pure code on purpose: the core build layer has no paho, no libcurl and no file I/O, and both
// adapters (and an application that wants to check its configuration early) call these.
#include <string>
#include <utility>

#include "common/ascii.hpp"
#include "ota/options.hpp"

namespace ota {
namespace {

Error bad(std::string detail) {
    return Error{Status::invalid_argument, std::move(detail)};
}

std::string ms_text(std::chrono::milliseconds d) {
    return std::to_string(d.count()) + " ms";
}

// A host name or address as it may appear in a URI: no space, control character or '/'.
bool plausible_host(std::string_view host) noexcept {
    for (const char c : host) {
        const auto u = static_cast<unsigned char>(c);
        if (detail::is_control(u) || u == ' ' || c == '/') return false;
    }
    return true;
}

}  // namespace

Error MqttOptions::validate() const {
    if (host.empty()) return bad("MqttOptions::host is empty");
    if (host.size() > kMaxHostLength || !plausible_host(host)) {
        return bad("MqttOptions::host '" + host + "' is not a host name or address");
    }
    if (port == 0) return bad("MqttOptions::port is 0");
    if (client_id.empty()) return bad("MqttOptions::client_id is empty");
    if (client_id.size() > kMaxStringLength) return bad("MqttOptions::client_id is too long");
    if (username.size() > kMaxStringLength) return bad("MqttOptions::username is too long");
    if (password.size() > kMaxStringLength) return bad("MqttOptions::password is too long");
    if (keepalive < kMinKeepalive || keepalive > kMaxKeepalive) {
        return bad("MqttOptions::keepalive must be " + std::to_string(kMinKeepalive.count()) +
                   ".." + std::to_string(kMaxKeepalive.count()) + " s, got " +
                   std::to_string(keepalive.count()) + " s");
    }
    if (connect_timeout < kMinConnectTimeout || connect_timeout > kMaxConnectTimeout) {
        return bad("MqttOptions::connect_timeout must be " + ms_text(kMinConnectTimeout) + ".." +
                   std::to_string(kMaxConnectTimeout.count() / 1000) + " s, got " +
                   ms_text(connect_timeout));
    }
    if (reconnect_min < kMinReconnect) {
        return bad("MqttOptions::reconnect_min must be at least " + ms_text(kMinReconnect) +
                   ", got " + ms_text(reconnect_min));
    }
    if (reconnect_max < reconnect_min) {
        return bad("MqttOptions::reconnect_max (" + ms_text(reconnect_max) +
                   ") is below reconnect_min (" + ms_text(reconnect_min) + ")");
    }
    if (max_queued_messages < 1 || max_queued_messages > kMaxQueuedMessagesLimit) {
        return bad("MqttOptions::max_queued_messages must be 1.." +
                   std::to_string(kMaxQueuedMessagesLimit) + ", got " +
                   std::to_string(max_queued_messages));
    }
    return {};
}

Error HttpOptions::validate() const {
    if (connect_timeout < kMinConnectTimeout || connect_timeout > kMaxConnectTimeout) {
        return bad("HttpOptions::connect_timeout must be " + ms_text(kMinConnectTimeout) + ".." +
                   std::to_string(kMaxConnectTimeout.count() / 1000) + " s, got " +
                   ms_text(connect_timeout));
    }
    if (low_speed_window < kMinLowSpeedWindow || low_speed_window > kMaxLowSpeedWindow) {
        return bad("HttpOptions::low_speed_window must be " +
                   std::to_string(kMinLowSpeedWindow.count()) + ".." +
                   std::to_string(kMaxLowSpeedWindow.count()) + " s, got " +
                   std::to_string(low_speed_window.count()) + " s");
    }
    if (max_redirects < 0 || max_redirects > kMaxRedirectsLimit) {
        return bad("HttpOptions::max_redirects must be 0.." + std::to_string(kMaxRedirectsLimit) +
                   ", got " + std::to_string(max_redirects));
    }
    if (buffer_size < kMinBufferSize || buffer_size > kMaxBufferSize) {
        return bad("HttpOptions::buffer_size must be " + std::to_string(kMinBufferSize) + ".." +
                   std::to_string(kMaxBufferSize) + " bytes, got " + std::to_string(buffer_size));
    }
    if (receive_buffer_size < kMinReceiveBufferSize ||
        receive_buffer_size > kMaxReceiveBufferSize) {
        return bad("HttpOptions::receive_buffer_size must be " +
                   std::to_string(kMinReceiveBufferSize) + ".." +
                   std::to_string(kMaxReceiveBufferSize) + " bytes, got " +
                   std::to_string(receive_buffer_size));
    }
    return {};
}

}  // namespace ota
