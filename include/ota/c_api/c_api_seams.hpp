// C++-only seam of the IOT_* C interface (iot_export_ota.h, iot_export_linkkit.h): the MQTT
// channel, byte source and clock that IOT_MQTT_Construct, IOT_OTA_Init(Ex) and
// IOT_Linkkit_Connect build their handles on.
//
// Why a settable factory rather than extra C entry points: the C functions must keep their
// signatures and behaviour, and they build their transports deep inside (IOT_Linkkit_Connect
// makes the channel, the source and the agent in one call). Replacing the factory lets unit tests
// drive the whole C interface with in-memory fakes, and lets a port with its own MQTT or HTTP
// stack keep the C interface, without a second code path.
#pragma once

#include <functional>
#include <memory>

#include "ota/byte_source.hpp"
#include "ota/channel.hpp"
#include "ota/clock.hpp"
#include "ota/options.hpp"
#include "ota/status.hpp"

namespace ota::c_api {

/// How the C interface obtains its transports. An empty member means "the default one" (see
/// default_transports()).
struct Transports {
    /// Builds a channel for `options` and connects it, waiting at most options.connect_timeout.
    /// On failure returns nullptr and sets `error` (its detail is logged by the caller).
    std::function<std::unique_ptr<MqttChannel>(const MqttOptions& options, Error& error)>
        connect_channel;
    /// Builds the byte source an OTA handle or linkkit device fetches images with.
    std::function<std::unique_ptr<ByteSource>(const HttpOptions& options)> make_source;
    /// The clock of the clients built afterwards (backoff, stall detection, throttling); it must
    /// outlive them. nullptr = steady_clock().
    const Clock* clock = nullptr;
};

/// PahoChannel (connected with PahoChannel::connect()), CurlByteSource and steady_clock(): what
/// the C interface uses unless set_transports() said otherwise.
[[nodiscard]] Transports default_transports();

/// Makes later IOT_MQTT_Construct, IOT_OTA_Init(Ex) and IOT_Linkkit_Connect calls use
/// `transports` (empty members fall back to the defaults) and returns the ones set before, so a
/// caller can restore them. Handles built earlier keep what they were built on. Thread-safe with
/// respect to those calls.
Transports set_transports(Transports transports);

/// The transports the next handle will be built on, with every empty member already replaced by
/// its default.
[[nodiscard]] Transports current_transports();

}  // namespace ota::c_api
