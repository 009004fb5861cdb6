#include "connect_waker.hpp"

#include <utility>

#include "ota/paho/paho_channel.hpp"

namespace ota::fleet {

ConnectWaker::ConnectWaker(ConnectWakerOptions options) : options_(std::move(options)) {}

ConnectWaker::~ConnectWaker() {
    stop();
}

ota::Error ConnectWaker::start() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (channel_ || stopping_) return ota::Error{};
    auto channel = std::make_unique<ota::PahoChannel>(options_.mqtt);
    // Wakes run() once the connection is up (the callback only notifies; the waker outlives the
    // channel, which is destroyed in stop() before the waker's members).
    channel->set_event_callback([this] { cv_.notify_all(); });
    if (ota::Error err = channel->start_connect(); !err.ok()) return err;
    channel_ = std::move(channel);
    thread_ = std::thread([this] { run(); });
    return ota::Error{};
}

bool ConnectWaker::wait_connected(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock<std::mutex> lock(mutex_);
    while (channel_ && !channel_->is_connected()) {
        const auto outcome = channel_->connect_outcome();
        if (outcome && !outcome->ok()) return false;
        if (cv_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() +
                                                        std::chrono::milliseconds(20))) ==
                std::cv_status::timeout &&
            std::chrono::steady_clock::now() >= deadline) {
            break;
        }
    }
    return channel_ && channel_->is_connected();
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
    s.connected = channel_ && channel_->is_connected();
    s.last_error = last_error_;
    return s;
}

void ConnectWaker::run() {
    ota::PahoChannel* channel = nullptr;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        channel = channel_.get();
    }
    for (;;) {
        {
            std::unique_lock<std::mutex> lock(mutex_);
            // Sleep while nothing is outstanding or the connection is not up (the event callback
            // notifies when it comes up; the timeout covers a reconnect, which has no callback).
            while (!stopping_ && (outstanding_ == 0 || !channel->is_connected())) {
                const auto outcome = channel->connect_outcome();
                if (outcome && !outcome->ok()) {
                    last_error_ = outcome->message();
                    // The first connect failed and is not retried: nothing to do any more.
                    cv_.wait(lock, [this] { return stopping_; });
                    break;
                }
                cv_.wait_for(lock, std::chrono::milliseconds(100));
            }
            if (stopping_) return;
        }
        // Drain what arrived on the topic (a push to the device whose credentials we use).
        (void)channel->yield(std::chrono::milliseconds(0));
        // One request/response: the SUBACK makes paho's receive thread return from its poll.
        const ota::Status st = channel->subscribe(options_.topic, 1);
        if (st == ota::Status::ok) {
            pings_.fetch_add(1, std::memory_order_relaxed);
        } else {
            failed_pings_.fetch_add(1, std::memory_order_relaxed);
            std::unique_lock<std::mutex> lock(mutex_);
            last_error_ = std::string("subscribe: ") + ota::to_string(st);
            // Not hammering a broker that refuses: back off a little.
            cv_.wait_for(lock, std::chrono::milliseconds(50), [this] { return stopping_; });
            continue;
        }
        if (options_.interval.count() > 0) {
            std::unique_lock<std::mutex> lock(mutex_);
            cv_.wait_for(lock, options_.interval, [this] { return stopping_; });
        }
    }
}

}  // namespace ota::fleet
