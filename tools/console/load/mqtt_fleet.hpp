// The load generator's MQTT side: K paho connections as the lab's cloud user that publish on
// behalf of simulated devices, and counting subscribers (the pushes the console sends, and the
// baseline that receives the same progress flow as the console without doing any work).
//
// Why the cloud user: it may publish on every device topic, so a few connections stand for
// thousands of devices (a connection per device would measure the broker's connection handling
// and this machine's file descriptors, not the console).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace console_load {

/// Where and how to connect.
struct BrokerOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    bool tls = true;
    std::string ca_file;
    std::string user;
    std::string password;
};

/// K connections; message i goes out on connection i % K.
class Fleet {
  public:
    Fleet();
    ~Fleet();
    Fleet(const Fleet&) = delete;
    Fleet& operator=(const Fleet&) = delete;

    /// Connects `k` clients (ids "<prefix>-<i>"). Returns an error message, or "".
    [[nodiscard]] std::string connect(const BrokerOptions& broker, const std::string& prefix,
                                      std::size_t k);

    /// Publishes without waiting (QoS 0 or 1); false when paho refused it.
    bool publish(std::size_t i, const std::string& topic, const std::string& payload, int qos);

    /// Waits until every QoS 1 message published so far is acknowledged (bounded by
    /// `timeout`); false on timeout or a failed delivery.
    bool flush(std::chrono::milliseconds timeout);

    void disconnect();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// A subscriber that counts the messages on one filter, per device (the topic's last level)
/// for topics of `product_key`, and remembers when the first and the last arrived.
class CountingSubscriber {
  public:
    CountingSubscriber();
    ~CountingSubscriber();
    CountingSubscriber(const CountingSubscriber&) = delete;
    CountingSubscriber& operator=(const CountingSubscriber&) = delete;

    /// Connects and subscribes `filter` at `qos`. Returns an error message, or "".
    [[nodiscard]] std::string start(const BrokerOptions& broker, const std::string& client_id,
                                    const std::string& filter, int qos,
                                    const std::string& product_key);

    /// Forgets what was counted (the next scenario starts from zero).
    void reset();
    /// Messages received since the last reset (of product_key).
    [[nodiscard]] std::int64_t messages() const;
    /// Distinct devices seen since the last reset.
    [[nodiscard]] std::size_t devices() const;
    /// Messages whose payload did not parse as a push with a data.version (upgrade topics).
    [[nodiscard]] std::int64_t malformed() const;
    /// Steady-clock times of the first and the last message since the reset (epoch = none).
    [[nodiscard]] std::chrono::steady_clock::time_point first_at() const;
    [[nodiscard]] std::chrono::steady_clock::time_point last_at() const;
    /// Check the payload of each message as an upgrade push (data.version present).
    void set_check_push(bool on) { check_push_ = on; }

    void stop();

  private:
    void on_message(const std::string& topic, const std::string& payload);

    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::string product_key_;
    std::atomic<bool> check_push_{false};
    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::int64_t> per_device_;
    std::int64_t messages_ = 0;
    std::int64_t malformed_ = 0;
    std::chrono::steady_clock::time_point first_{};
    std::chrono::steady_clock::time_point last_{};
};

}  // namespace console_load
