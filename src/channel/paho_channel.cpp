// PahoChannel's public methods (the channel's inside: paho_channel_impl.hpp).
#include "ota/paho/paho_channel.hpp"

#include <mqtt/async_client.h>

#include <algorithm>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "channel/paho_channel_impl.hpp"
#include "channel/paho_connect.hpp"
#include "channel/paho_error.hpp"
#include "channel/topic_rules.hpp"
#include "ota/log.hpp"

namespace ota {
namespace {

using detail::check_ca_file;
using detail::map_paho_error;
using detail::Operation;
using detail::to_ms_text;
using detail::validate_filter;
using detail::validate_qos;
using detail::validate_topic;
using std::chrono::milliseconds;

// How long the caller waits for the broker's acknowledgement of a SUBSCRIBE / QoS 1 PUBLISH.
constexpr milliseconds kSubackTimeout{10000};
constexpr milliseconds kPubackTimeout{5000};
// yield() never sleeps longer than this, whatever it is asked (avoids clock overflow).
constexpr milliseconds kMaxYieldWait = std::chrono::hours(24);

// Logs `e` at warning and returns its status (for methods that return a bare Status).
Status warn(const Error& e) {
    log(LogLevel::warning, e.message());
    return e.status;
}

}  // namespace

PahoChannel::PahoChannel(MqttOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

PahoChannel::~PahoChannel() {
    disconnect();
}

Error PahoChannel::connect() {
    try {
        if (Error err = impl_->options.validate(); !err.ok()) return Impl::warned(std::move(err));
        if (Error err = check_ca_file(impl_->options); !err.ok()) {
            return Impl::warned(std::move(err));
        }
        std::unique_lock<std::shared_mutex> lock(impl_->client_mutex);
        return impl_->connect_locked();
    } catch (const std::exception& e) {
        return Impl::warned(map_paho_error(e, {Operation::connect, impl_->endpoint}));
    }
}

Error PahoChannel::start_connect() {
    try {
        if (Error err = impl_->options.validate(); !err.ok()) return Impl::warned(std::move(err));
        if (Error err = check_ca_file(impl_->options); !err.ok()) {
            return Impl::warned(std::move(err));
        }
        std::unique_lock<std::shared_mutex> lock(impl_->client_mutex);
        return impl_->start_attempt_locked(true);
    } catch (const std::exception& e) {
        return Impl::warned(map_paho_error(e, {Operation::connect, impl_->endpoint}));
    }
}

std::optional<Error> PahoChannel::connect_outcome() const {
    std::lock_guard<std::mutex> lock(impl_->state_mutex);
    return impl_->outcome;
}

void PahoChannel::set_event_callback(std::function<void()> callback) {
    std::shared_ptr<const std::function<void()>> cb;
    if (callback) cb = std::make_shared<const std::function<void()>>(std::move(callback));
    std::lock_guard<std::mutex> lock(impl_->callback_mutex);
    impl_->event_callback = std::move(cb);
}

void PahoChannel::disconnect() noexcept {
    try {
        std::unique_lock<std::shared_mutex> lock(impl_->client_mutex);
        if (!impl_->client) return;
        bool pending = false;
        {
            std::lock_guard<std::mutex> state(impl_->state_mutex);
            pending = !impl_->outcome.has_value();
        }
        impl_->destroy_client_locked();
        if (pending) {
            std::lock_guard<std::mutex> state(impl_->state_mutex);
            impl_->outcome = Error{Status::not_connected, "the connect to " + impl_->endpoint +
                                                              " was abandoned by disconnect()"};
        }
        log(LogLevel::info, "MQTT disconnected from " + impl_->endpoint);
    } catch (...) {
        // Only lock or logging failures can get here; nothing sensible is left to do.
    }
}

Status PahoChannel::publish(std::string_view topic, std::string_view payload, int qos) {
    try {
        if (Error err = validate_topic(topic); !err.ok()) return warn(err);
        if (Error err = validate_qos(qos, "publish"); !err.ok()) return warn(err);
        std::shared_lock<std::shared_mutex> lock(impl_->client_mutex);
        if (!impl_->client || !impl_->connected.load()) return Status::not_connected;
        try {
            auto msg =
                mqtt::make_message(std::string(topic), payload.data(), payload.size(), qos, false);
            mqtt::delivery_token_ptr tok = impl_->client->publish(msg);
            if (qos == 0) return Status::ok;
            if (!tok->wait_for(kPubackTimeout)) {
                return warn({Status::timeout, "publish '" + std::string(topic) +
                                                  "': no PUBACK from " + impl_->endpoint +
                                                  " within " + to_ms_text(kPubackTimeout)});
            }
            return Status::ok;
        } catch (const std::exception& e) {
            return warn(map_paho_error(e, {Operation::publish, impl_->endpoint, topic}));
        }
    } catch (const std::exception& e) {
        return warn(map_paho_error(e, {Operation::publish, impl_->endpoint, topic}));
    }
}

Status PahoChannel::subscribe(std::string_view topic_filter, int qos) {
    try {
        if (Error err = validate_filter(topic_filter); !err.ok()) return warn(err);
        if (Error err = validate_qos(qos, "subscribe"); !err.ok()) return warn(err);
        std::shared_lock<std::shared_mutex> lock(impl_->client_mutex);
        // Remembered before looking at the connection: the connected callback either sees it
        // or has already set `connected`, in which case we subscribe ourselves below.
        impl_->remember(topic_filter, qos);
        if (!impl_->client || !impl_->connected.load()) return Status::not_connected;
        try {
            mqtt::token_ptr tok = impl_->client->subscribe(std::string(topic_filter), qos);
            if (!tok->wait_for(kSubackTimeout)) {
                return warn({Status::timeout, "subscribe '" + std::string(topic_filter) +
                                                  "': no SUBACK from " + impl_->endpoint +
                                                  " within " + to_ms_text(kSubackTimeout)});
            }
            return Status::ok;
        } catch (const std::exception& e) {
            const Error err =
                map_paho_error(e, {Operation::subscribe, impl_->endpoint, topic_filter});
            // A refused filter is not restored on reconnect; a lost connection keeps it.
            if (err.status == Status::invalid_argument) impl_->forget(topic_filter);
            return warn(err);
        }
    } catch (const std::exception& e) {
        return warn(map_paho_error(e, {Operation::subscribe, impl_->endpoint, topic_filter}));
    }
}

void PahoChannel::add_listener(ChannelListener& listener) {
    impl_->listeners.add(listener);
}

void PahoChannel::remove_listener(ChannelListener& listener) noexcept {
    impl_->listeners.remove(listener);
}

bool PahoChannel::is_connected() const noexcept {
    return impl_->connected.load();
}

Status PahoChannel::yield(std::chrono::milliseconds timeout) {
    try {
        // Nothing to deliver: return without allocating anything.
        if (!impl_->inbox.wait(std::min(timeout, kMaxYieldWait))) return Status::ok;
        std::vector<Impl::Event> batch;
        impl_->inbox.take(batch);
        impl_->deliver(batch);
        return Status::ok;
    } catch (const std::exception& e) {
        return warn(map_paho_error(e, {Operation::yield, impl_->endpoint}));
    }
}

}  // namespace ota
