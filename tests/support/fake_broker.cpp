#include "support/fake_broker.hpp"

#include <algorithm>
#include <utility>

namespace ota::test {
namespace {

/// Splits off the next topic level; `rest` loses it and its separator. `more` tells whether a
/// separator followed (so that "a/" has an empty second level).
std::string_view next_level(std::string_view& rest, bool& more) noexcept {
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos) {
        const auto level = rest;
        rest = {};
        more = false;
        return level;
    }
    const auto level = rest.substr(0, slash);
    rest.remove_prefix(slash + 1);
    more = true;
    return level;
}

bool valid_topic_name(std::string_view topic) noexcept {
    return !topic.empty() && topic.find_first_of("+#") == std::string_view::npos;
}

bool valid_filter(std::string_view filter) noexcept {
    if (filter.empty()) return false;
    std::string_view rest = filter;
    bool more = true;
    while (more) {
        const auto level = next_level(rest, more);
        if (level.find_first_of("+#") != std::string_view::npos && level.size() != 1) return false;
        if (level == "#" && more) return false;
    }
    return true;
}

}  // namespace

// ---- FakeBroker ---------------------------------------------------------------------------

void FakeBroker::publish(std::string_view topic, std::string_view payload, int qos) {
    route("cloud", topic, payload, qos);
}

std::vector<PublishedMessage> FakeBroker::published_on(std::string_view topic) const {
    std::vector<PublishedMessage> out;
    for (const auto& m : log_) {
        if (m.topic == topic) out.push_back(m);
    }
    return out;
}

void FakeBroker::attach(FakeChannel& channel) {
    channels_.push_back(&channel);
}

void FakeBroker::detach(FakeChannel& channel) noexcept {
    channels_.erase(std::remove(channels_.begin(), channels_.end(), &channel), channels_.end());
}

void FakeBroker::route(std::string_view sender, std::string_view topic, std::string_view payload,
                       int qos) {
    log_.push_back(
        PublishedMessage{std::string(sender), std::string(topic), std::string(payload), qos});
    for (FakeChannel* ch : channels_) {
        if (ch->connected_ && ch->wants(topic)) ch->enqueue_message(topic, payload);
    }
}

// ---- FakeChannel --------------------------------------------------------------------------

FakeChannel::FakeChannel(FakeBroker& broker, std::string name, bool connected)
    : broker_(broker), name_(std::move(name)), connected_(connected) {
    broker_.attach(*this);
}

FakeChannel::~FakeChannel() {
    broker_.detach(*this);
}

Status FakeChannel::publish(std::string_view topic, std::string_view payload, int qos) {
    if (!valid_topic_name(topic) || (qos != 0 && qos != 1)) return Status::invalid_argument;
    if (publish_failure_ != Status::ok) return publish_failure_;
    if (!connected_) return Status::not_connected;
    broker_.route(name_, topic, payload, qos);
    return Status::ok;
}

Status FakeChannel::subscribe(std::string_view topic_filter, int qos) {
    if (!valid_filter(topic_filter) || (qos != 0 && qos != 1)) return Status::invalid_argument;
    auto it = std::find_if(subscriptions_.begin(), subscriptions_.end(),
                           [&](const Subscription& s) { return s.filter == topic_filter; });
    if (it != subscriptions_.end()) {
        it->qos = qos;
    } else {
        subscriptions_.push_back(Subscription{std::string(topic_filter), qos});
    }
    return connected_ ? Status::ok : Status::not_connected;
}

void FakeChannel::add_listener(ChannelListener& listener) {
    listeners_.add(listener);
}

void FakeChannel::remove_listener(ChannelListener& listener) noexcept {
    listeners_.remove(listener);
}

std::size_t FakeChannel::listener_count() const noexcept {
    return listeners_.size();
}

bool FakeChannel::is_subscribed(std::string_view filter) const noexcept {
    return std::any_of(subscriptions_.begin(), subscriptions_.end(),
                       [&](const Subscription& s) { return s.filter == filter; });
}

bool FakeChannel::wants(std::string_view topic) const noexcept {
    return std::any_of(subscriptions_.begin(), subscriptions_.end(),
                       [&](const Subscription& s) { return topic_matches(s.filter, topic); });
}

void FakeChannel::enqueue_message(std::string_view topic, std::string_view payload) {
    inbox_.push_back(Event{Event::Kind::message, std::string(topic), std::string(payload)});
}

void FakeChannel::disconnect() {
    if (!connected_) return;
    connected_ = false;
    inbox_.push_back(Event{Event::Kind::connection_lost, {}, {}});
}

void FakeChannel::reconnect() {
    if (connected_) return;
    connected_ = true;  // subscriptions_ are kept, i.e. restored on the broker
    inbox_.push_back(Event{Event::Kind::connected, {}, {}});
}

Status FakeChannel::yield(std::chrono::milliseconds timeout) {
    ++yields_;
    max_yield_timeout_ = std::max(max_yield_timeout_, timeout);
    if (inbox_.empty()) return Status::ok;  // the no-allocation path
    // Only what was queued on entry: listeners publishing to themselves cannot loop forever.
    for (std::size_t remaining = inbox_.size(); remaining > 0 && !inbox_.empty(); --remaining) {
        const Event event = std::move(inbox_.front());
        inbox_.pop_front();
        listeners_.deliver(event);
    }
    return Status::ok;
}

}  // namespace ota::test
