// PahoChannel: the MqttChannel seam over Eclipse Paho MQTT C++ (async_client, MQTT 3.1.1).
//
// Three kinds of threads meet here. The application's thread calls connect/publish/subscribe/
// yield/disconnect. Paho's threads run the callbacks (connected, connection lost, message, SUBACK
// of a resubscription, start of a reconnect attempt); they never block and never call listeners:
// they only queue events into the inbox, which yield() drains on the caller's thread.
//
// Lifetime of the paho client: created by connect(), destroyed by disconnect(). Before it is
// destroyed, `live_client` is cleared under the state mutex and the callbacks already running are
// waited for; a callback that starts later sees no client and returns at once. This keeps paho's
// threads from touching a client (or this object) that is being torn down.
#include "ota/paho/paho_channel.hpp"

#include <mqtt/async_client.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <fstream>
#include <mutex>
#include <new>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "channel/paho_error.hpp"
#include "channel/paho_inbox.hpp"
#include "channel/topic_rules.hpp"
#include "core/listener_set.hpp"
#include "ota/log.hpp"

namespace ota {
namespace {

using detail::FailureContext;
using detail::map_paho_error;
using detail::Operation;
using detail::probe_tcp;
using detail::Reachability;
using detail::validate_filter;
using detail::validate_qos;
using detail::validate_topic;
using std::chrono::milliseconds;
using std::chrono::seconds;

// How long the caller waits for the broker's acknowledgement of a SUBSCRIBE / QoS 1 PUBLISH.
constexpr milliseconds kSubackTimeout{10000};
constexpr milliseconds kPubackTimeout{5000};
// Graceful DISCONNECT: paho's quiesce time, and how long we wait for it.
constexpr milliseconds kDisconnectQuiesce{500};
constexpr milliseconds kDisconnectWait{1500};
// Upper bound for waiting on paho callbacks that are running while the client is torn down.
constexpr milliseconds kCallbackDrainTimeout{5000};
// The TCP probe that explains a bare connect failure (see probe_tcp).
constexpr milliseconds kProbeTimeout{2000};
// yield() never sleeps longer than this, whatever it is asked (avoids clock overflow).
constexpr milliseconds kMaxYieldWait = std::chrono::hours(24);
constexpr std::uintmax_t kMaxCaFileBytes = 16U * 1024U * 1024U;

// Paho's connect timeout and retry intervals are whole seconds; zero would mean "no timeout" or
// "retry immediately in a loop", so sub-second values are rounded up to one second.
seconds whole_seconds_at_least_one(milliseconds d) {
    const auto s = std::chrono::ceil<seconds>(d);
    return s < seconds{1} ? seconds{1} : s;
}

std::string to_ms_text(milliseconds d) {
    return std::to_string(d.count()) + " ms";
}

// The CA file, when TLS uses one: readable and holding a PEM certificate. Checked here rather
// than in MqttOptions::validate() (which stays free of file I/O) so that a wrong path fails
// connect() with a message naming the field instead of paho's bare TLS failure.
Error check_ca_file(const MqttOptions& o) {
    if (!o.use_tls || o.ca_file.empty()) return {};
    std::ifstream in(o.ca_file, std::ios::binary);
    if (!in) {
        return {Status::invalid_argument, "cannot read MqttOptions::ca_file '" + o.ca_file + "'"};
    }
    std::string pem;
    char buf[4096];
    while (pem.size() < kMaxCaFileBytes && in.read(buf, sizeof buf).gcount() > 0) {
        pem.append(buf, static_cast<std::size_t>(in.gcount()));
    }
    if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
        return {Status::invalid_argument,
                "MqttOptions::ca_file '" + o.ca_file + "' holds no PEM certificate"};
    }
    return {};
}

// Logs `e` at warning and returns its status (for methods that return a bare Status).
Status warn(const Error& e) {
    log(LogLevel::warning, e.message());
    return e.status;
}

}  // namespace

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
                return;
            }
            // Asynchronous: the SUBACKs arrive on this thread later; on_connected is queued
            // once all of them are in (resubscription_finished).
            for (const Subscription& s : subs) {
                try {
                    cli->subscribe(s.filter, s.qos, reinterpret_cast<void*>(gen),
                                   resubscribe_listener);
                } catch (const std::exception& e) {
                    const Error err = map_paho_error(e, {Operation::subscribe, endpoint, s.filter});
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
                const Error err = map_paho_error(mqtt::exception(tok.get_return_code()),
                                                 {Operation::subscribe, endpoint, filter});
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
        if (all_done) inbox.push_state(EventKind::connected);
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
                    std::to_string(whole_seconds_at_least_one(options.reconnect_max).count()) +
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

    void deliver(const std::deque<Event>& batch) {
        for (const Event& event : batch) listeners.deliver(event);
    }

    // ---- client lifetime (caller holds client_mutex exclusively) -------------------------------

    mqtt::ssl_options make_ssl_options() {
        mqtt::ssl_options ssl;
        // An empty trust store makes paho fall back to OpenSSL's default verify paths.
        if (!options.ca_file.empty()) ssl.set_trust_store(options.ca_file);
        const bool verify = !options.insecure_skip_verify;
        ssl.set_enable_server_cert_auth(verify);
        ssl.set_verify(verify);  // host name / IP address check against the certificate
        // No set_error_handler(): paho C++ 1.2 hands the C library a pointer to the copy of these
        // options that lives in async_client::connect()'s by-value parameter, so the handler
        // would run on a destroyed object during the (asynchronous) handshake.
        return ssl;
    }

    Error connect_locked() {
        if (client) {
            return {Status::invalid_state,
                    "already connected to " + endpoint + "; call disconnect() first"};
        }
        std::uint64_t lost_before = 0;
        try {
            auto cli = std::make_unique<mqtt::async_client>(uri, options.client_id);
            cli->set_connected_handler([this](const std::string&) { on_connected(); });
            cli->set_connection_lost_handler(
                [this](const std::string& cause) { on_connection_lost(cause); });
            cli->set_message_callback([this](mqtt::const_message_ptr msg) { on_message(msg); });
            cli->set_update_connection_handler([this](mqtt::connect_data&) {
                on_reconnect_attempt();
                return false;  // keep the credentials as they are
            });

            mqtt::connect_options_builder builder;
            builder.mqtt_version(MQTTVERSION_3_1_1)
                .keep_alive_interval(options.keepalive)
                .clean_session(options.clean_session)
                .connect_timeout(whole_seconds_at_least_one(options.connect_timeout))
                .automatic_reconnect(whole_seconds_at_least_one(options.reconnect_min),
                                     whole_seconds_at_least_one(options.reconnect_max));
            if (!options.username.empty()) builder.user_name(options.username);
            if (!options.password.empty()) builder.password(options.password);
            if (options.use_tls) builder.ssl(make_ssl_options());
            {
                std::lock_guard<std::mutex> lock(state_mutex);
                live_client = cli.get();
                ever_connected = false;
                reconnect_attempts = 0;
                lost_before = lost_count;
            }
            client = std::move(cli);
            if (options.use_tls && options.insecure_skip_verify) {
                log(LogLevel::warning, "MQTT TLS certificate verification is OFF for " + endpoint +
                                           " (insecure_skip_verify): anyone on the path can "
                                           "impersonate the broker");
            }
            mqtt::token_ptr tok = client->connect(builder.finalize());
            if (!tok->wait_for(options.connect_timeout)) {
                destroy_client_locked();
                inbox.purge_state_events();
                return warned({Status::timeout, "no answer from " + endpoint + " within " +
                                                    to_ms_text(options.connect_timeout) +
                                                    " (connect_timeout)"});
            }
        } catch (const std::exception& e) {
            FailureContext ctx(Operation::connect, endpoint);
            ctx.trust = trust;
            ctx.use_tls = options.use_tls;
            ctx.verify = !options.insecure_skip_verify;
            const auto* pe = dynamic_cast<const mqtt::exception*>(&e);
            if (pe != nullptr && pe->get_return_code() == MQTTASYNC_FAILURE) {
                ctx.reachability = probe_tcp(options.host, options.port, kProbeTimeout);
            }
            const Error err = map_paho_error(e, ctx);
            destroy_client_locked();
            inbox.purge_state_events();
            return warned(err);
        }
        {
            std::lock_guard<std::mutex> lock(state_mutex);
            // Unless the connection already dropped again, it is up now (the connected callback
            // may run a moment after the connect token completes).
            if (lost_count == lost_before) connected.store(true);
        }
        log(LogLevel::info,
            "MQTT connected to " + uri + " as '" + options.client_id + "'" +
                (options.use_tls
                     ? (options.insecure_skip_verify ? " (TLS, NOT verified)" : " (TLS, verified)")
                     : " (plain TCP)"));
        return {};
    }

    static Error warned(Error e) {
        log(LogLevel::warning, "MQTT connect failed: " + e.message());
        return e;
    }

    void destroy_client_locked() noexcept {
        if (!client) return;
        {
            std::unique_lock<std::mutex> lock(state_mutex);
            live_client = nullptr;
            state_cv.wait_for(lock, kCallbackDrainTimeout,
                              [this] { return active_callbacks == 0; });
            connected.store(false);
            ++generation;
            resubscribes_pending = 0;
        }
        try {
            if (client->is_connected()) {
                client->disconnect(kDisconnectQuiesce)->wait_for(kDisconnectWait);
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
    std::uint64_t reconnect_attempts = 0;  // since the last successful (re)connect
    bool ever_connected = false;
    std::atomic<bool> connected{false};

    ResubscribeListener resubscribe_listener{*this};

    // The paho client; replaced only by connect()/disconnect() under the exclusive lock. Declared
    // last so that it goes before everything its callbacks use.
    std::shared_mutex client_mutex;
    std::unique_ptr<mqtt::async_client> client;
};

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

void PahoChannel::disconnect() noexcept {
    try {
        std::unique_lock<std::shared_mutex> lock(impl_->client_mutex);
        if (!impl_->client) return;
        impl_->destroy_client_locked();
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
        std::deque<Impl::Event> batch;
        impl_->inbox.take(batch);
        impl_->deliver(batch);
        return Status::ok;
    } catch (const std::exception& e) {
        return warn(map_paho_error(e, {Operation::yield, impl_->endpoint}));
    }
}

}  // namespace ota
