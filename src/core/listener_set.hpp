// The one listener dispatch of an MqttChannel, shared by PahoChannel and the tests' FakeChannel
// so that both hand events to listeners the same way: listeners may add or remove listeners
// (themselves included) from inside a callback, and an exception thrown by a listener is caught
// and logged here, never escaping into the channel's yield() (and never into paho or C code).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "ota/channel.hpp"

namespace ota::detail {

/// One event queued by a channel for its listeners.
struct ChannelEvent {
    /// Which ChannelListener callback the event goes to.
    enum class Kind : std::uint8_t { message, connected, connection_lost };
    Kind kind = Kind::message;
    std::string topic;    ///< message only
    std::string payload;  ///< message only
};

/// The listeners of one channel and their dispatch.
///
/// Thread-safety: every method may be called from any thread; deliver() holds a recursive lock
/// while listeners run, so remove() from another thread returns only once the listener is no
/// longer running, and a listener may call add()/remove() on the same set from its callback.
class ListenerSet {
  public:
    /// Adds `listener` (not owned) at the end; adding one that is present has no effect. One
    /// added during deliver() already receives the rest of the current event's dispatch.
    void add(ChannelListener& listener);

    /// Removes `listener`; no effect for one that is not present. One removed during deliver()
    /// is not called again, also not for the current event.
    void remove(ChannelListener& listener) noexcept;

    /// Number of listeners present.
    [[nodiscard]] std::size_t size() const noexcept;

    /// Hands `event` to every listener in the order they were added. An exception from a
    /// listener is logged at error level and the next listener still gets the event.
    void deliver(const ChannelEvent& event);

  private:
    mutable std::recursive_mutex mutex_;
    std::vector<ChannelListener*> listeners_;  // nullptr = removed during delivery
    int depth_ = 0;                            // nested deliver() calls in progress
};

}  // namespace ota::detail
