// paho behind Fleet and CountingSubscriber (see mqtt_fleet.hpp). mqtt::exception is caught in
// each call and turned into a message; the message callback catches everything, so nothing
// crosses paho's C threads.
#include "mqtt_fleet.hpp"

#include <mqtt/async_client.h>

#include <deque>
#include <nlohmann/json.hpp>

namespace console_load {

namespace {

std::string uri_of(const BrokerOptions& b) {
    return std::string(b.tls ? "ssl://" : "tcp://") + b.host + ":" + std::to_string(b.port);
}

mqtt::connect_options options_of(const BrokerOptions& b) {
    mqtt::connect_options_builder builder;
    builder.mqtt_version(MQTTVERSION_3_1_1)
        .keep_alive_interval(std::chrono::seconds(60))
        .clean_session(true)
        .connect_timeout(std::chrono::seconds(10))
        .max_inflight(2000);
    if (!b.user.empty()) builder.user_name(b.user);
    if (!b.password.empty()) builder.password(b.password);
    if (b.tls) {
        mqtt::ssl_options ssl;
        if (!b.ca_file.empty()) ssl.set_trust_store(b.ca_file);
        ssl.set_enable_server_cert_auth(true);
        ssl.set_verify(true);
        builder.ssl(ssl);
    }
    return builder.finalize();
}

}  // namespace

struct Fleet::Impl {
    std::vector<std::unique_ptr<mqtt::async_client>> clients;
    std::mutex mutex;  // guards pending
    std::deque<mqtt::delivery_token_ptr> pending;
};

Fleet::Fleet() : impl_(std::make_unique<Impl>()) {}

Fleet::~Fleet() {
    disconnect();
}

std::string Fleet::connect(const BrokerOptions& broker, const std::string& prefix, std::size_t k) {
    try {
        for (std::size_t i = 0; i < k; ++i) {
            auto cli = std::make_unique<mqtt::async_client>(uri_of(broker),
                                                            prefix + "-" + std::to_string(i));
            if (!cli->connect(options_of(broker))->wait_for(std::chrono::seconds(15))) {
                return "connection " + std::to_string(i) + " timed out";
            }
            impl_->clients.push_back(std::move(cli));
        }
    } catch (const std::exception& e) {
        return std::string("cannot connect to ") + uri_of(broker) + ": " + e.what();
    }
    return {};
}

bool Fleet::publish(std::size_t i, const std::string& topic, const std::string& payload, int qos) {
    if (impl_->clients.empty()) return false;
    try {
        auto tok = impl_->clients[i % impl_->clients.size()]->publish(topic, payload.data(),
                                                                      payload.size(), qos, false);
        if (qos > 0) {
            std::lock_guard<std::mutex> lock(impl_->mutex);
            impl_->pending.push_back(std::move(tok));
        }
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

bool Fleet::flush(std::chrono::milliseconds timeout) {
    std::deque<mqtt::delivery_token_ptr> pending;
    {
        std::lock_guard<std::mutex> lock(impl_->mutex);
        pending.swap(impl_->pending);
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool ok = true;
    for (const auto& tok : pending) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        try {
            if (left.count() <= 0 || !tok->wait_for(left)) return false;
        } catch (const std::exception&) {
            ok = false;
        }
    }
    return ok;
}

void Fleet::disconnect() {
    for (auto& cli : impl_->clients) {
        try {
            if (cli->is_connected()) cli->disconnect()->wait_for(std::chrono::seconds(5));
        } catch (const std::exception&) {
            // already gone: nothing to do at shutdown
        }
    }
    impl_->clients.clear();
}

struct CountingSubscriber::Impl {
    std::unique_ptr<mqtt::async_client> client;
};

CountingSubscriber::CountingSubscriber() : impl_(std::make_unique<Impl>()) {}

CountingSubscriber::~CountingSubscriber() {
    stop();
}

std::string CountingSubscriber::start(const BrokerOptions& broker, const std::string& client_id,
                                      const std::string& filter, int qos,
                                      const std::string& product_key) {
    product_key_ = product_key;
    try {
        impl_->client = std::make_unique<mqtt::async_client>(uri_of(broker), client_id);
        impl_->client->set_message_callback([this](mqtt::const_message_ptr m) {
            try {
                on_message(m->get_topic(), m->get_payload_str());
            } catch (...) {
                // a counting callback never throws into paho
            }
        });
        if (!impl_->client->connect(options_of(broker))->wait_for(std::chrono::seconds(15))) {
            return "subscriber " + client_id + ": connect timed out";
        }
        if (!impl_->client->subscribe(filter, qos)->wait_for(std::chrono::seconds(15))) {
            return "subscriber " + client_id + ": subscribe timed out";
        }
    } catch (const std::exception& e) {
        return "subscriber " + client_id + ": " + e.what();
    }
    return {};
}

void CountingSubscriber::on_message(const std::string& topic, const std::string& payload) {
    const auto now = std::chrono::steady_clock::now();
    // .../<pk>/<dn>: only the run's own product counts.
    const auto slash = topic.rfind('/');
    if (slash == std::string::npos || slash == 0) return;
    const auto pk_start = topic.rfind('/', slash - 1);
    if (pk_start == std::string::npos) return;
    if (topic.compare(pk_start + 1, slash - pk_start - 1, product_key_) != 0) return;
    bool bad = false;
    if (check_push_) {
        const auto j = nlohmann::json::parse(payload, nullptr, false);
        bad = !j.is_object() || !j.contains("data") || !j["data"].is_object() ||
              !j["data"].contains("version");
    }
    std::lock_guard<std::mutex> lock(mutex_);
    ++per_device_[topic.substr(slash + 1)];
    ++messages_;
    if (bad) ++malformed_;
    if (first_ == std::chrono::steady_clock::time_point{}) first_ = now;
    last_ = now;
}

void CountingSubscriber::reset() {
    std::lock_guard<std::mutex> lock(mutex_);
    per_device_.clear();
    messages_ = 0;
    malformed_ = 0;
    first_ = {};
    last_ = {};
}

std::int64_t CountingSubscriber::messages() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return messages_;
}

std::size_t CountingSubscriber::devices() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return per_device_.size();
}

std::int64_t CountingSubscriber::malformed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return malformed_;
}

std::chrono::steady_clock::time_point CountingSubscriber::first_at() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return first_;
}

std::chrono::steady_clock::time_point CountingSubscriber::last_at() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_;
}

void CountingSubscriber::stop() {
    if (!impl_->client) return;
    try {
        if (impl_->client->is_connected()) {
            impl_->client->disconnect()->wait_for(std::chrono::seconds(5));
        }
    } catch (const std::exception&) {
        // already gone
    }
    impl_->client.reset();
}

}  // namespace console_load
