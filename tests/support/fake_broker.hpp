// In-memory MQTT broker, channel and clock for unit tests (no network, no threads).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "channel/topic_rules.hpp"
#include "core/listener_set.hpp"
#include "ota/channel.hpp"
#include "ota/clock.hpp"
#include "ota/status.hpp"

namespace ota::test {

/// The library's MQTT topic matching (src/channel/topic_rules), which the fake broker routes with.
using detail::topic_matches;

/// One message seen by the broker.
struct PublishedMessage {
    std::string sender;  ///< the publishing channel's name, or "cloud" for FakeBroker::publish()
    std::string topic;
    std::string payload;
    int qos = 0;
};

class FakeChannel;

/// Routes publishes between FakeChannels and records every message it routed.
class FakeBroker {
  public:
    FakeBroker() = default;
    FakeBroker(const FakeBroker&) = delete;
    FakeBroker& operator=(const FakeBroker&) = delete;

    /// Publishes as "the cloud" (e.g. an upgrade push): recorded and routed to subscribers.
    void publish(std::string_view topic, std::string_view payload, int qos = 1);

    /// Every message routed so far, oldest first.
    [[nodiscard]] const std::vector<PublishedMessage>& published() const noexcept { return log_; }
    /// The messages on exactly `topic`, oldest first.
    [[nodiscard]] std::vector<PublishedMessage> published_on(std::string_view topic) const;
    /// Forgets the recorded messages (routing is unaffected).
    void clear_published() noexcept { log_.clear(); }

    /// Number of attached channels.
    [[nodiscard]] std::size_t channel_count() const noexcept { return channels_.size(); }

  private:
    friend class FakeChannel;
    void attach(FakeChannel& channel);
    void detach(FakeChannel& channel) noexcept;
    void route(std::string_view sender, std::string_view topic, std::string_view payload, int qos);

    std::vector<FakeChannel*> channels_;
    std::vector<PublishedMessage> log_;
};

/// An MqttChannel connected to a FakeBroker. Incoming messages and connection events are queued
/// in an inbox and handed to listeners only inside yield(), through the same dispatch as the real
/// channel (detail::ListenerSet: an exception thrown by a listener is logged, not propagated).
class FakeChannel final : public MqttChannel {
  public:
    explicit FakeChannel(FakeBroker& broker, std::string name = "device", bool connected = true);
    ~FakeChannel() override;
    FakeChannel(const FakeChannel&) = delete;
    FakeChannel& operator=(const FakeChannel&) = delete;

    [[nodiscard]] Status publish(std::string_view topic, std::string_view payload,
                                 int qos) override;
    [[nodiscard]] Status subscribe(std::string_view topic_filter, int qos) override;
    void add_listener(ChannelListener& listener) override;
    void remove_listener(ChannelListener& listener) noexcept override;
    [[nodiscard]] bool is_connected() const noexcept override { return connected_; }
    /// Delivers the events queued when it is called (events queued by listeners during delivery
    /// wait for the next yield). Never waits: nothing can arrive while the caller is inside.
    [[nodiscard]] Status yield(std::chrono::milliseconds timeout) override;

    /// Drops the connection: queues on_connection_lost; nothing is routed here until reconnect().
    void disconnect();
    /// Reconnects: the subscriptions are restored and on_connected is queued.
    void reconnect();
    /// Makes every publish() return `status` (Status::ok restores normal behaviour).
    void set_publish_failure(Status status) noexcept { publish_failure_ = status; }

    /// Remembered subscriptions (filter, qos), in subscription order.
    struct Subscription {
        std::string filter;
        int qos = 0;
    };
    [[nodiscard]] const std::vector<Subscription>& subscriptions() const noexcept {
        return subscriptions_;
    }
    [[nodiscard]] bool is_subscribed(std::string_view filter) const noexcept;
    /// True when some subscription matches `topic`.
    [[nodiscard]] bool wants(std::string_view topic) const noexcept;
    /// Events waiting for yield().
    [[nodiscard]] std::size_t pending() const noexcept { return inbox_.size(); }
    [[nodiscard]] std::size_t listener_count() const noexcept;
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    /// Number of yield() calls so far.
    [[nodiscard]] std::size_t yield_count() const noexcept { return yields_; }
    /// The longest timeout any yield() call was given so far.
    [[nodiscard]] std::chrono::milliseconds max_yield_timeout() const noexcept {
        return max_yield_timeout_;
    }

  private:
    friend class FakeBroker;
    using Event = detail::ChannelEvent;
    void enqueue_message(std::string_view topic, std::string_view payload);

    FakeBroker& broker_;
    std::string name_;
    bool connected_;
    Status publish_failure_ = Status::ok;
    std::vector<Subscription> subscriptions_;
    detail::ListenerSet listeners_;
    std::deque<Event> inbox_;
    std::size_t yields_ = 0;
    std::chrono::milliseconds max_yield_timeout_{0};
};

/// A Clock that only moves when told to.
class ManualClock final : public Clock {
  public:
    /// Starts at an arbitrary non-zero time point.
    ManualClock() noexcept : now_(time_point{} + std::chrono::hours(1)) {}
    [[nodiscard]] time_point now() const noexcept override { return now_; }
    void advance(std::chrono::nanoseconds d) noexcept { now_ += d; }

  private:
    time_point now_;
};

}  // namespace ota::test
