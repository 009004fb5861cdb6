// The inside of PahoChannel, shared by paho_channel.cpp (the public methods) and
// paho_connect.cpp (connect attempts). Private to the channel.
//
// Three kinds of threads meet here. The application's thread calls connect/publish/subscribe/
// yield/disconnect. Paho's threads run the callbacks (connected, connection lost, message, SUBACK
// of a resubscription, start of a reconnect attempt); they never block and never call listeners:
// they only queue events into the inbox, which yield() drains on the caller's thread.
//
// Connect attempts: connect() and start_connect() share one path (start_attempt_locked). The
// attempt's completion (on_attempt_done, on paho's thread) records its outcome; connect() waits
// for that outcome, start_connect() returns at once and the event callback tells the application.
// A failed attempt's client stays until the next connect/start_connect/disconnect destroys it
// (paho's threads cannot destroy it); its automatic retries are stopped when it fails.
//
// Lifetime of the paho client: created by a connect attempt, destroyed by disconnect(). Before it
// is destroyed, `live_client` is cleared under the state mutex and the callbacks already running
// are waited for; a callback that starts later sees no client and returns at once. This keeps
// paho's threads from touching a client (or this object) that is being torn down.
#pragma once

#include <mqtt/async_client.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "channel/paho_connect.hpp"
#include "channel/paho_error.hpp"
#include "channel/paho_inbox.hpp"
#include "channel/topic_rules.hpp"
#include "core/listener_set.hpp"
#include "ota/log.hpp"
#include "ota/paho/paho_channel.hpp"

namespace ota {
namespace detail {

/// Graceful DISCONNECT: paho's quiesce time, and how long we wait for it.
inline constexpr std::chrono::milliseconds kDisconnectQuiesce{500};
/// How long destroying a client waits for paho's DISCONNECT to complete.
inline constexpr std::chrono::milliseconds kDisconnectWait{1500};
/// Upper bound for waiting on paho callbacks that are running while the client is torn down.
inline constexpr std::chrono::milliseconds kCallbackDrainTimeout{5000};

}  // namespace detail

/// The channel's state: the paho client, its callbacks (paho's threads) and what they share with
/// the application's threads.
struct PahoChannel::Impl {
    using Event = detail::ChannelEvent;
    using EventKind = detail::ChannelEvent::Kind;
    struct Subscription {
        std::string filter;
        int qos = 0;
    };

    // Registers a running paho callback; client() is null when the client is being torn down.
    class CallbackScope {
      public:
        explicit CallbackScope(Impl& impl) : impl_(impl) {
            std::lock_guard<std::mutex> lock(impl_.state_mutex);
            client_ = impl_.live_client;
            if (client_ != nullptr) ++impl_.active_callbacks;
        }
        ~CallbackScope() {
            if (client_ == nullptr) return;
            std::lock_guard<std::mutex> lock(impl_.state_mutex);
            if (--impl_.active_callbacks == 0) impl_.state_cv.notify_all();
        }
        CallbackScope(const CallbackScope&) = delete;
        CallbackScope& operator=(const CallbackScope&) = delete;
        [[nodiscard]] mqtt::async_client* client() const noexcept { return client_; }

      private:
        Impl& impl_;
        mqtt::async_client* client_ = nullptr;
    };

    // Completion of one resubscription issued from the connected callback.
    class ResubscribeListener final : public mqtt::iaction_listener {
      public:
        explicit ResubscribeListener(Impl& impl) : impl_(impl) {}
        void on_success(const mqtt::token& tok) override { impl_.on_resubscribed(tok, true); }
        void on_failure(const mqtt::token& tok) override { impl_.on_resubscribed(tok, false); }

      private:
        Impl& impl_;
    };

    // Completion of a connect attempt (connect() or start_connect()).
    class ConnectListener final : public mqtt::iaction_listener {
      public:
        explicit ConnectListener(Impl& impl) : impl_(impl) {}
        void on_success(const mqtt::token&) override { impl_.on_attempt_done(nullptr); }
        void on_failure(const mqtt::token& tok) override { impl_.on_attempt_done(&tok); }

      private:
        Impl& impl_;
    };

    explicit Impl(MqttOptions o) : options(std::move(o)) {
        const bool ipv6 =
            options.host.find(':') != std::string::npos && options.host.front() != '[';
        const std::string host = ipv6 ? "[" + options.host + "]" : options.host;
        endpoint = host + ":" + std::to_string(options.port);
        uri = (options.use_tls ? "ssl://" : "tcp://") + endpoint;
        trust = options.ca_file.empty() ? std::string("the system CA store")
                                        : "the CA file '" + options.ca_file + "'";
    }

    // ---- paho callbacks (paho's threads) -------------------------------------------------------

    void on_connected() noexcept {
        try {
            CallbackScope scope(*this);
            mqtt::async_client* cli = scope.client();
            if (cli == nullptr) return;
            std::vector<Subscription> subs;
            std::uintptr_t gen = 0;
            bool reconnect = false;
            {
                std::lock_guard<std::mutex> lock(state_mutex);
                connected.store(true);
                reconnect_attempts = 0;
                gen = ++generation;
                subs = subscriptions;
                resubscribes_pending = subs.size();
                reconnect = ever_connected;
                ever_connected = true;
            }
            if (reconnect) {
                log(LogLevel::info, "MQTT reconnected to " + endpoint + "; restoring " +
                                        std::to_string(subs.size()) + " subscription(s)");
            }
            if (subs.empty()) {
                inbox.push_state(EventKind::connected);
                notify_event();
                return;
            }
            // Asynchronous: the SUBACKs arrive on this thread later; on_connected is queued
            // once all of them are in (resubscription_finished).
            for (const Subscription& s : subs) {
                try {
                    cli->subscribe(s.filter, s.qos, reinterpret_cast<void*>(gen),
                                   resubscribe_listener);
                } catch (const std::exception& e) {
                    const Error err = detail::map_paho_error(
                        e, {detail::Operation::subscribe, endpoint, s.filter});
                    log(LogLevel::warning, "could not restore a subscription: " + err.message());
                    resubscription_finished(gen);
                }
            }
        } catch (...) {
            log(LogLevel::error, "MQTT connected callback failed unexpectedly");
        }
    }

    void on_resubscribed(const mqtt::token& tok, bool ok) noexcept {
        try {
            CallbackScope scope(*this);
            if (scope.client() == nullptr) return;
            const auto gen = reinterpret_cast<std::uintptr_t>(tok.get_user_context());
            if (!ok) {
                std::string filter;
                const auto topics = tok.get_topics();
                if (topics && topics->size() > 0) filter = (*topics)[0];
                const Error err =
                    detail::map_paho_error(mqtt::exception(tok.get_return_code()),
                                           {detail::Operation::subscribe, endpoint, filter});
                log(LogLevel::warning,
                    "could not restore a subscription after connecting: " + err.message());
            }
            resubscription_finished(gen);
        } catch (...) {
            log(LogLevel::error, "MQTT subscribe callback failed unexpectedly");
        }
    }

    void resubscription_finished(std::uintptr_t gen) {
        bool all_done = false;
        {
            std::lock_guard<std::mutex> lock(state_mutex);
            if (gen == generation && resubscribes_pending > 0) {
                all_done = --resubscribes_pending == 0;
            }
        }
        if (all_done) {
            inbox.push_state(EventKind::connected);
            notify_event();
        }
    }

    void on_connection_lost(const std::string& cause) noexcept {
        try {
            CallbackScope scope(*this);
            if (scope.client() == nullptr) return;
            {
                std::lock_guard<std::mutex> lock(state_mutex);
                connected.store(false);
                ++generation;
                ++lost_count;
                resubscribes_pending = 0;
            }
            log(LogLevel::warning, "MQTT connection to " + endpoint + " lost" +
                                       (cause.empty() ? std::string() : " (" + cause + ")") +
                                       "; reconnecting automatically");
            inbox.push_state(EventKind::connection_lost);
            notify_event();
        } catch (...) {
            log(LogLevel::error, "MQTT connection-lost callback failed unexpectedly");
        }
    }

    // Called by paho before every automatic reconnect attempt: the one before it (if any)
    // failed, which paho reports nowhere else.
    void on_reconnect_attempt() noexcept {
        try {
            CallbackScope scope(*this);
            if (scope.client() == nullptr) return;
            std::uint64_t attempt = 0;
            {
                std::lock_guard<std::mutex> lock(state_mutex);
                attempt = ++reconnect_attempts;
            }
            if (attempt == 1) {
                log(LogLevel::info, "MQTT reconnecting to " + endpoint);
                return;
            }
            log(LogLevel::warning,
                "MQTT reconnect to " + endpoint + " failed (attempt " +
                    std::to_string(attempt - 1) + "); retrying with back-off up to " +
                    std::to_string(
                        detail::whole_seconds_at_least_one(options.reconnect_max).count()) +
                    " s");
        } catch (...) {
            log(LogLevel::error, "MQTT reconnect callback failed unexpectedly");
        }
    }

    void on_message(const mqtt::const_message_ptr& msg) noexcept {
        try {
            CallbackScope scope(*this);
            if (scope.client() == nullptr || !msg) return;
            warn_if_unexpected(msg->get_topic());
            inbox.push_message(msg->get_topic(), msg->get_payload_str());
            notify_event();
        } catch (...) {
            log(LogLevel::error, "MQTT message callback failed unexpectedly (out of memory?)");
        }
    }

    // A topic no subscription matches vanishes in the listeners; say so once per topic (at most
    // kMaxWarnedTopics of them, so that a flood cannot grow the set).
    void warn_if_unexpected(const std::string& topic) {
        static constexpr std::size_t kMaxWarnedTopics = 32;
        {
            std::lock_guard<std::mutex> lock(state_mutex);
            for (const Subscription& s : subscriptions) {
                if (detail::topic_matches(s.filter, topic)) return;
            }
            if (warned_topics.size() >= kMaxWarnedTopics || !warned_topics.insert(topic).second) {
                return;
            }
        }
        log(LogLevel::warning, detail::unexpected_topic_warning(topic));
    }

    void deliver(const std::vector<Event>& batch) {
        for (const Event& event : batch) listeners.deliver(event);
    }

    // ---- client lifetime (caller holds client_mutex exclusively) -------------------------------

    // ---- connect attempts (caller holds client_mutex exclusively) -------------------------------
    // A new client and its CONNECT; ok once paho has it queued (the outcome arrives in
    // on_attempt_done). A client left by a failed start_connect() is destroyed first.
    Error start_attempt_locked(bool background);
    // connect(): an attempt whose outcome is awaited, at most connect_timeout.
    Error connect_locked();
    // The end of an attempt, on paho's thread: records the outcome, wakes connect() and tells
    // the application (event callback) about a start_connect().
    void on_attempt_done(const mqtt::token* failed) noexcept;

    detail::ConnectTarget target() const noexcept { return {options, endpoint, trust}; }

    static Error warned(Error e) {
        log(LogLevel::warning, "MQTT connect failed: " + e.message());
        return e;
    }

    // Calls the application's event callback, if any (paho's threads).
    void notify_event() {
        std::shared_ptr<const std::function<void()>> cb;
        {
            std::lock_guard<std::mutex> lock(callback_mutex);
            cb = event_callback;
        }
        if (cb) (*cb)();
    }

    void destroy_client_locked() noexcept {
        if (!client) return;
        {
            std::unique_lock<std::mutex> lock(state_mutex);
            live_client = nullptr;
            state_cv.wait_for(lock, detail::kCallbackDrainTimeout,
                              [this] { return active_callbacks == 0; });
            connected.store(false);
            ++generation;
            resubscribes_pending = 0;
        }
        try {
            if (client->is_connected()) {
                client->disconnect(detail::kDisconnectQuiesce)->wait_for(detail::kDisconnectWait);
            }
        } catch (...) {
            // Already gone or failing to say goodbye: the client is destroyed below either way.
        }
        client.reset();  // stops paho's reconnect attempts for this client
    }

    void remember(std::string_view filter, int qos) {
        std::lock_guard<std::mutex> lock(state_mutex);
        for (Subscription& s : subscriptions) {
            if (s.filter == filter) {
                s.qos = qos;
                return;
            }
        }
        subscriptions.push_back(Subscription{std::string(filter), qos});
    }

    void forget(std::string_view filter) {
        std::lock_guard<std::mutex> lock(state_mutex);
        subscriptions.erase(
            std::remove_if(subscriptions.begin(), subscriptions.end(),
                           [&](const Subscription& s) { return s.filter == filter; }),
            subscriptions.end());
    }

    // ---- data ----------------------------------------------------------------------------------

    const MqttOptions options;
    std::string endpoint;  // host:port, for messages
    std::string uri;
    std::string trust;  // what the broker's certificate is verified against, for messages

    // Inbox: filled by paho's threads, drained by yield().
    detail::PahoInbox inbox{options.max_queued_messages};

    // Listeners: touched by the application's threads only (see ListenerSet for removal from
    // another thread during delivery).
    detail::ListenerSet listeners;

    // Shared with paho's threads.
    std::mutex state_mutex;
    std::condition_variable state_cv;
    mqtt::async_client* live_client = nullptr;  // null: callbacks must do nothing
    int active_callbacks = 0;
    std::vector<Subscription> subscriptions;
    std::set<std::string> warned_topics;  // topics matching no subscription, already logged
    std::uintptr_t generation = 0;        // bumped on every connect/loss: stale SUBACKs are ignored
    std::size_t resubscribes_pending = 0;
    std::uint64_t lost_count = 0;
    std::uint64_t reconnect_attempts = 0;   // since the last successful (re)connect
    std::uint64_t lost_before_attempt = 0;  // lost_count when the current attempt started
    std::optional<Error> outcome;           // of the last connect attempt; empty while pending
    bool attempt_in_background = false;     // the current attempt came from start_connect()
    std::chrono::steady_clock::time_point attempt_started;
    bool ever_connected = false;
    std::atomic<bool> connected{false};

    ResubscribeListener resubscribe_listener{*this};
    ConnectListener connect_listener{*this};

    // The application's event callback, swapped under callback_mutex, called outside it.
    std::mutex callback_mutex;
    std::shared_ptr<const std::function<void()>> event_callback;

    // The paho client; replaced only by connect()/disconnect() under the exclusive lock. Declared
    // last so that it goes before everything its callbacks use.
    std::shared_mutex client_mutex;
    std::unique_ptr<mqtt::async_client> client;
};

}  // namespace ota
