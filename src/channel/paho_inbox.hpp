// The channel's inbox: the bounded queue between paho's threads, which only push events, and
// yield(), which takes them on the application's thread. Private to the channel.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/listener_set.hpp"

namespace ota::detail {

/// Events queued for yield(). Thread-safe.
///
/// Messages: paho has acknowledged a message (QoS 1) by the time it is queued, so the broker will
/// not send it again: a message the inbox drops is lost. Past `max_messages`, a new message is
/// therefore never refused; instead the oldest queued message that a newer one on the same topic
/// supersedes (the new one included) makes room for it. On the OTA topics a newer push replaces
/// an older one, so the newest message of every topic is kept, however long the burst: memory
/// stays bounded (max_messages messages) and the last valid push of a flood survives. Only when
/// every queued message is the newest of its own topic (more topics than max_messages) is the
/// oldest of them dropped. Either case is logged.
///
/// Connection events beyond kMaxQueuedStateEvents are coalesced by dropping the oldest one, since
/// the newest describe the current state, which is what a listener must learn.
class PahoInbox {
  public:
    /// Connection events kept at most.
    static constexpr std::size_t kMaxQueuedStateEvents = 32;

    /// An inbox holding at most `max_messages` (>= 1) messages.
    explicit PahoInbox(std::size_t max_messages) noexcept
        : max_messages_(max_messages == 0 ? 1 : max_messages) {}

    /// Queues a message; when the inbox is full, first drops the oldest message a newer one on
    /// its topic supersedes (see the class comment), logging the first drop since the last take.
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
    void take(std::vector<ChannelEvent>& batch);

  private:
    /// Drops one queued message to make room for one on `topic` (caller holds mutex_); true when
    /// the dropped one was the only queued message of its topic.
    bool make_room_locked(const std::string& topic);

    const std::size_t max_messages_;
    std::mutex mutex_;
    std::condition_variable cv_;
    // A vector, not a deque: it allocates nothing until an event arrives and take() leaves the
    // inbox with the caller's empty vector, so an idle channel holds no event buffer (a deque
    // allocates about 600 bytes up front, which counted with thousands of channels).
    std::vector<ChannelEvent> events_;
    std::unordered_map<std::string, std::size_t> per_topic_;  // queued messages per topic
    std::size_t queued_messages_ = 0;
    std::size_t queued_state_events_ = 0;
    std::size_t superseded_messages_ = 0;  // dropped for a newer message on their topic
    std::size_t lost_messages_ = 0;        // dropped although the newest of their topic
};

}  // namespace ota::detail
