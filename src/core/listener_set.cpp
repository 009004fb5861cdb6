// ListenerSet (see listener_set.hpp).
#include "core/listener_set.hpp"

#include <algorithm>
#include <exception>

#include "ota/log.hpp"

namespace ota::detail {

void ListenerSet::add(ChannelListener& listener) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (std::find(listeners_.begin(), listeners_.end(), &listener) == listeners_.end()) {
        listeners_.push_back(&listener);
    }
}

void ListenerSet::remove(ChannelListener& listener) noexcept {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    const auto it = std::find(listeners_.begin(), listeners_.end(), &listener);
    if (it == listeners_.end()) return;
    if (depth_ > 0) {
        *it = nullptr;  // compacted when the outermost delivery ends: indices stay valid
    } else {
        listeners_.erase(it);
    }
}

std::size_t ListenerSet::size() const noexcept {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    return static_cast<std::size_t>(
        std::count_if(listeners_.begin(), listeners_.end(), [](auto* l) { return l != nullptr; }));
}

void ListenerSet::deliver(const ChannelEvent& event) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    // Removed listeners are compacted when the outermost delivery ends, however it ends.
    struct DepthGuard {
        ListenerSet& set;
        explicit DepthGuard(ListenerSet& s) : set(s) { ++set.depth_; }
        ~DepthGuard() {
            if (--set.depth_ == 0) {
                auto& ls = set.listeners_;
                ls.erase(std::remove(ls.begin(), ls.end(), nullptr), ls.end());
            }
        }
        DepthGuard(const DepthGuard&) = delete;
        DepthGuard& operator=(const DepthGuard&) = delete;
    } depth(*this);
    // Index loop: listeners may be added (appended) or removed (nulled) meanwhile.
    for (std::size_t i = 0; i < listeners_.size(); ++i) {
        ChannelListener* listener = listeners_[i];
        if (listener == nullptr) continue;
        try {
            switch (event.kind) {
                case ChannelEvent::Kind::message:
                    listener->on_message(event.topic, event.payload);
                    break;
                case ChannelEvent::Kind::connected:
                    listener->on_connected();
                    break;
                case ChannelEvent::Kind::connection_lost:
                    listener->on_connection_lost();
                    break;
            }
        } catch (const std::exception& e) {
            log(LogLevel::error, std::string("an MQTT channel listener threw: ") + e.what());
        } catch (...) {
            log(LogLevel::error, "an MQTT channel listener threw a non-standard exception");
        }
    }
}

}  // namespace ota::detail
