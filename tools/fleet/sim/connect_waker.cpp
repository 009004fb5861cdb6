#include "connect_waker.hpp"

#include <optional>
#include <utility>

#include "ota/paho/paho_channel.hpp"

namespace ota::fleet {

ConnectWaker::ConnectWaker(ConnectWakerOptions options) : options_(std::move(options)) {}

ConnectWaker::~ConnectWaker() {
    stop();
}

ota::Error ConnectWaker::start() {
    // Paho's callbacks (holding paho's lock) call begin()/end(), which take mutex_: nothing
    // below calls into paho while holding mutex_.
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (started_ || stopping_) return ota::Error{};
        started_ = true;
    }
    auto channel = std::make_unique<ota::PahoChannel>(options_.mqtt);
    // Wakes run() once the connection is up (the callback only notifies; the waker outlives the
    // channel, which is destroyed in stop() before the waker's members).
    // The callback runs on paho's threads like begin()/end() and, like them, only takes mutex_.
    channel->set_event_callback([this] {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            ++channel_events_;
        }
        cv_.notify_all();
    });
    if (ota::Error err = channel->start_connect(); !err.ok()) {
        std::lock_guard<std::mutex> lock(mutex_);
        started_ = false;
        return err;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    channel_ = std::move(channel);
    thread_ = std::thread([this] { run(); });
    return ota::Error{};
}

bool ConnectWaker::wait_connected(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    ota::PahoChannel* channel = nullptr;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        channel = channel_.get();
    }
    if (!channel) return false;
    // The channel lives until stop(); wait_connected() and stop() are the owner's calls.
    while (!channel->is_connected()) {
        const auto outcome = channel->connect_outcome();
        if (outcome && !outcome->ok()) return false;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait_for(lock, std::chrono::milliseconds(20));
    }
    return true;
}

void ConnectWaker::begin() noexcept {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ++outstanding_;
        ++begins_;
    }
    cv_.notify_all();
}

void ConnectWaker::end() noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    if (outstanding_ > 0) --outstanding_;
}

void ConnectWaker::stop() noexcept {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::unique_ptr<ota::PahoChannel> channel;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        channel = std::move(channel_);
    }
    if (channel) channel->disconnect();
}

ConnectWakerStats ConnectWaker::stats() const {
    ConnectWakerStats s;
    s.pings = pings_.load();
    s.failed_pings = failed_pings_.load();
    std::lock_guard<std::mutex> lock(mutex_);
    s.begins = begins_;
    s.outstanding = outstanding_;
    s.connected = channel_ && channel_->is_connected();  // an atomic load, no lock of paho's
    s.last_error = last_error_;
    return s;
}

void ConnectWaker::run() {
    ota::PahoChannel* channel = nullptr;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        channel = channel_.get();
    }
    using Clock = std::chrono::steady_clock;
    std::optional<Clock::time_point> last_subscribe;
    for (;;) {
        std::uint64_t seen_events = 0;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (stopping_) return;
            seen_events = channel_events_;
        }
        // The channel's state is read without mutex_ (see start()); an event after seen_events
        // was taken ends the wait below at once, so none is missed.
        const bool up = channel->is_connected();
        const std::optional<ota::Error> outcome = up ? std::nullopt : channel->connect_outcome();
        // Drain what arrived on the topic (a push to the device whose credentials we use) and
        // the channel's own events.
        if (up) (void)channel->yield(std::chrono::milliseconds(0));
        {
            std::unique_lock<std::mutex> lock(mutex_);
            if (stopping_) return;
            if (outcome && !outcome->ok()) {
                // The first connect failed and is not retried: nothing to do any more.
                last_error_ = outcome->message();
                cv_.wait(lock, [this] { return stopping_; });
                return;
            }
            if (outstanding_ == 0 || !up) {
                // Sleep until begin(), an event of the connection (up, lost, reconnected) or
                // stop(). Down, a reconnect's event could be dropped by a full inbox: then look
                // again after a second.
                const auto woken = [&] {
                    return stopping_ || channel_events_ != seen_events || (up && outstanding_ > 0);
                };
                if (up) {
                    cv_.wait(lock, woken);
                } else {
                    cv_.wait_for(lock, std::chrono::seconds(1), woken);
                }
                continue;
            }
            // At most one SUBSCRIBE per interval (start to start).
            if (last_subscribe && options_.interval.count() > 0) {
                const auto due = *last_subscribe + options_.interval;
                if (cv_.wait_until(lock, due, [this] { return stopping_; })) return;
                if (outstanding_ == 0) continue;
            }
        }
        // One request/response: the SUBACK makes paho's receive thread return from its poll.
        last_subscribe = Clock::now();
        const ota::Status st = channel->subscribe(options_.topic, 1);
        std::unique_lock<std::mutex> lock(mutex_);
        if (st == ota::Status::ok) {
            pings_.fetch_add(1, std::memory_order_relaxed);
        } else {
            failed_pings_.fetch_add(1, std::memory_order_relaxed);
            last_error_ = std::string("subscribe: ") + ota::to_string(st);
            // Not hammering a broker that refuses: back off a little.
            cv_.wait_for(lock, std::chrono::milliseconds(50), [this] { return stopping_; });
        }
    }
}

}  // namespace ota::fleet
