// PahoInbox (see paho_inbox.hpp).
#include "channel/paho_inbox.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "ota/log.hpp"

namespace ota::detail {
namespace {

bool is_state_event(const ChannelEvent& e) noexcept {
    return e.kind != ChannelEvent::Kind::message;
}

}  // namespace

bool PahoInbox::make_room_locked(const std::string& topic) {
    auto victim = events_.end();
    for (auto it = events_.begin(); it != events_.end(); ++it) {
        if (is_state_event(*it)) continue;
        if (victim == events_.end()) victim = it;  // the oldest message, if nothing better
        if (it->topic == topic || per_topic_[it->topic] > 1) {
            victim = it;
            break;
        }
    }
    if (victim == events_.end()) return false;
    bool only_one = false;
    const auto count = per_topic_.find(victim->topic);
    if (count != per_topic_.end() && --count->second == 0) {
        only_one = victim->topic != topic;
        per_topic_.erase(count);
    }
    events_.erase(victim);
    --queued_messages_;
    return only_one;
}

void PahoInbox::push_message(const std::string& topic, const std::string& payload) {
    bool first_drop = false;
    bool lost = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (queued_messages_ >= max_messages_) {
            first_drop = superseded_messages_ + lost_messages_ == 0;
            lost = make_room_locked(topic);
            ++(lost ? lost_messages_ : superseded_messages_);
        }
        events_.push_back(ChannelEvent{ChannelEvent::Kind::message, topic, payload});
        ++per_topic_[topic];
        ++queued_messages_;
    }
    cv_.notify_one();
    if (lost) {
        log(LogLevel::warning,
            "MQTT inbox full (max_queued_messages = " + std::to_string(max_messages_) +
                ") with one message per topic: dropped the oldest; call "
                "yield() more often");
    } else if (first_drop) {
        log(LogLevel::warning, "MQTT inbox full (max_queued_messages = " +
                                   std::to_string(max_messages_) + "): older messages on '" +
                                   topic + "' are replaced by newer ones; call yield() more often");
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

void PahoInbox::take(std::vector<ChannelEvent>& batch) {
    std::unique_lock<std::mutex> lock(mutex_);
    batch.swap(events_);
    per_topic_.clear();
    queued_messages_ = 0;
    queued_state_events_ = 0;
    const std::size_t superseded = std::exchange(superseded_messages_, 0);
    const std::size_t lost = std::exchange(lost_messages_, 0);
    lock.unlock();
    if (superseded > 0) {
        log(LogLevel::warning,
            "MQTT inbox was full: " + std::to_string(superseded) +
                " incoming message(s) replaced by newer ones on their topic since the last "
                "yield()");
    }
    if (lost > 0) {
        log(LogLevel::warning, "MQTT inbox was full: " + std::to_string(lost) +
                                   " incoming message(s) dropped since the last yield() (more "
                                   "topics than max_queued_messages)");
    }
}

}  // namespace ota::detail
