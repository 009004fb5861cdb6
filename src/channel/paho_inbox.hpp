// The channel's inbox: the bounded queue between paho's threads, which only push events, and
// yield(), which takes them on the application's thread. Private to the channel.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>

#include "core/listener_set.hpp"

namespace ota::detail {

/// Events queued for yield(). Messages beyond the configured limit are dropped (and logged);
/// connection events beyond kMaxQueuedStateEvents are coalesced by dropping the oldest one, since
/// the newest describe the current state, which is what a listener must learn. Thread-safe.
class PahoInbox {
  public:
    /// Connection events kept at most.
    static constexpr std::size_t kMaxQueuedStateEvents = 32;

    /// An inbox holding at most `max_messages` messages.
    explicit PahoInbox(std::size_t max_messages) noexcept : max_messages_(max_messages) {}

    /// Queues a message, or drops it (logging the first drop since the last take) when full.
    void push_message(const std::string& topic, const std::string& payload);

    /// Queues a connection event (connected or connection_lost).
    void push_state(ChannelEvent::Kind kind);

    /// Drops the queued connection events (of a client that connect() gave up on).
    void purge_state_events();

    /// Waits up to `timeout` for a first event; true when something is queued. Allocates
    /// nothing, so that a yield() with nothing to deliver allocates nothing either.
    [[nodiscard]] bool wait(std::chrono::milliseconds timeout);

    /// Moves everything queued into `batch` (empty beforehand) and logs how many messages were
    /// dropped since the last take.
    void take(std::deque<ChannelEvent>& batch);

  private:
    const std::size_t max_messages_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<ChannelEvent> events_;
    std::size_t queued_messages_ = 0;
    std::size_t queued_state_events_ = 0;
    std::size_t dropped_messages_ = 0;
};

}  // namespace ota::detail
