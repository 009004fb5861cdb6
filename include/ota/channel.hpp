// The MQTT seam: what the OTA client needs from a broker connection.
#pragma once

#include <chrono>
#include <string_view>

#include "ota/status.hpp"

namespace ota {

/// Receives events from an MqttChannel. Called only from inside MqttChannel::yield(), i.e. on the
/// application's thread, never on a network library's thread.
class ChannelListener {
  public:
    virtual ~ChannelListener() = default;
    /// A message arrived on a subscribed topic.
    virtual void on_message(std::string_view topic, std::string_view payload) = 0;
    /// The channel (re)connected and has already restored every subscription.
    virtual void on_connected() {}
    /// The connection was lost; the channel reconnects by itself.
    virtual void on_connection_lost() {}
};

/// A connection to an MQTT broker.
///
/// Threading contract: publish/subscribe/is_connected may be called from the application's
/// thread at any time; incoming messages and connection changes are queued by the implementation
/// and handed to listeners only inside yield(). Listeners may publish from their callbacks.
class MqttChannel {
  public:
    virtual ~MqttChannel() = default;

    /// Publishes `payload` on `topic` with QoS 0 or 1. not_connected while disconnected (the
    /// message is not queued), invalid_argument for a bad topic or QoS.
    [[nodiscard]] virtual Status publish(std::string_view topic, std::string_view payload,
                                         int qos) = 0;

    /// Subscribes to `topic_filter` with QoS 0 or 1. The subscription is remembered and restored on
    /// every reconnect; while disconnected it returns not_connected but is still remembered.
    [[nodiscard]] virtual Status subscribe(std::string_view topic_filter, int qos) = 0;

    /// Adds a listener (not owned; it must be removed before it is destroyed). Adding the same
    /// listener twice has no effect.
    virtual void add_listener(ChannelListener& listener) = 0;

    /// Removes a listener; safe to call for one that was never added.
    virtual void remove_listener(ChannelListener& listener) noexcept = 0;

    /// True while connected to the broker.
    [[nodiscard]] virtual bool is_connected() const noexcept = 0;

    /// Delivers queued events to the listeners on the calling thread. Waits up to `timeout` for a
    /// first event, then delivers everything queued without further waiting. Returns ok (also when
    /// nothing arrived). Must not allocate when there is nothing to deliver.
    [[nodiscard]] virtual Status yield(std::chrono::milliseconds timeout) = 0;
};

}  // namespace ota
