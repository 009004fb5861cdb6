// PahoInbox (see paho_inbox.hpp).
#include "channel/paho_inbox.hpp"

#include <algorithm>
#include <utility>

#include "ota/log.hpp"

namespace ota::detail {
namespace {

bool is_state_event(const ChannelEvent& e) noexcept {
    return e.kind != ChannelEvent::Kind::message;
}

}  // namespace

void PahoInbox::push_message(const std::string& topic, const std::string& payload) {
    bool first_drop = false;
    bool dropped = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (queued_messages_ >= max_messages_) {
            dropped = true;
            first_drop = dropped_messages_++ == 0;
        } else {
            events_.push_back(ChannelEvent{ChannelEvent::Kind::message, topic, payload});
            ++queued_messages_;
        }
    }
    if (!dropped) {
        cv_.notify_one();
    } else if (first_drop) {
        log(LogLevel::warning,
            "MQTT inbox full (max_queued_messages = " + std::to_string(max_messages_) +
                "): dropping a message on '" + topic + "'; call yield() more often");
    }
}

void PahoInbox::push_state(ChannelEvent::Kind kind) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (queued_state_events_ >= kMaxQueuedStateEvents) {
            const auto oldest = std::find_if(events_.begin(), events_.end(), is_state_event);
            if (oldest != events_.end()) {
                events_.erase(oldest);
                --queued_state_events_;
            }
        }
        events_.push_back(ChannelEvent{kind, {}, {}});
        ++queued_state_events_;
    }
    cv_.notify_one();
}

void PahoInbox::purge_state_events() {
    std::lock_guard<std::mutex> lock(mutex_);
    events_.erase(std::remove_if(events_.begin(), events_.end(), is_state_event), events_.end());
    queued_state_events_ = 0;
}

bool PahoInbox::wait(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (events_.empty() && timeout.count() > 0) {
        cv_.wait_for(lock, timeout, [this] { return !events_.empty(); });
    }
    return !events_.empty();
}

void PahoInbox::take(std::deque<ChannelEvent>& batch) {
    std::unique_lock<std::mutex> lock(mutex_);
    batch.swap(events_);
    queued_messages_ = 0;
    queued_state_events_ = 0;
    const std::size_t dropped = std::exchange(dropped_messages_, 0);
    lock.unlock();
    if (dropped > 0) {
        log(LogLevel::warning, "MQTT inbox was full: " + std::to_string(dropped) +
                                   " incoming message(s) dropped since the last yield()");
    }
}

}  // namespace ota::detail
