// The production MQTT channel, built on Eclipse Paho MQTT C++ (async_client).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "ota/channel.hpp"
#include "ota/options.hpp"
#include "ota/status.hpp"

namespace ota {

/// An MqttChannel over a real broker: MQTT 3.1.1 over TLS ("ssl://host:port") or, when
/// MqttOptions::use_tls is off, plain TCP ("tcp://host:port").
///
/// TLS: the broker's certificate chain is verified against MqttOptions::ca_file, or against
/// OpenSSL's default trust store (the system CA bundle; OpenSSL honours SSL_CERT_FILE and
/// SSL_CERT_DIR) when ca_file is empty, and the certificate must name the host that was dialled.
/// MqttOptions::insecure_skip_verify turns both checks off and logs a warning.
///
/// Reconnects: after the first successful connect() the channel reconnects by itself for as long
/// as it exists, with a delay that starts at MqttOptions::reconnect_min and doubles up to
/// MqttOptions::reconnect_max. Paho counts these delays (and the connect timeout it applies to
/// each attempt) in whole seconds, so they are rounded up to at least one second, and it checks for
/// a due attempt only about once a second, so attempts come a second or two later than configured
/// (with 1 s settings: about every 3 s). A first connect() that fails is not retried. After every
/// (re)connect the remembered subscriptions are restored first and only once the broker has
/// answered every SUBSCRIBE is on_connected() queued, so a listener that announces the firmware
/// version from on_connected() does so with its downlink topics already in place.
///
/// Several channels in one process: paho's C library (1.3.12, Debian 12) serves all clients of a
/// process from one receive thread, which notices a new socket only once its current poll (up to
/// a second) returns. The first channel connects in tens of milliseconds; each further one, while
/// another is connected, takes about two seconds (measured on loopback: 0.16 s, then 2.15 s).
/// This is eclipse-paho/paho.mqtt.c issue 1430 (fixed upstream by pull request 1642); a process
/// with one connection (a device, ota_cloud) is not affected. Many channels therefore connect
/// with start_connect() from one thread, concurrently: they share those waits. That one thread
/// also runs every TLS handshake and finds a socket's client by a linear search: about 1.2-1.6 ms
/// of CPU per TLS connect and 0.2 ms per plain TCP connect with 200-2,000 channels, i.e. a few
/// hundred TLS connects per second per process (bench/paho_connect_bench.sh). Paho polls with
/// poll(), not select(), so more than 1,024 connections work; each needs one descriptor
/// (RLIMIT_NOFILE; a connect that runs out says so). An idle connected TLS channel costs about
/// 61 KiB of RSS, mostly OpenSSL's per-connection state (read and write buffers, the SSL_CTX
/// paho creates per connection); the channel itself about 1.5 KiB.
///
/// The trust store is loaded per connection: paho builds a new SSL_CTX for every connect and
/// loads the whole CA file into it. With MqttOptions::ca_file naming just the broker's CA that is
/// cheap; an empty ca_file on Debian means OpenSSL's default file, the system bundle of about 145
/// certificates: about 20 ms of CPU and 880 KiB of RSS per connection (measured: 884 KiB per
/// idle channel instead of 61). With many channels per process, name the broker's CA.
///
/// Threading: paho's threads only queue events (at most MqttOptions::max_queued_messages
/// messages; past that, older messages are replaced by newer ones on their topic, so the newest
/// message of every topic survives a burst; logged); listeners run inside yield() on the caller's
/// thread and may publish or subscribe from there. publish() with QoS 1 and subscribe() block the
/// caller until the broker acknowledges (PUBACK within 5 s, SUBACK within 10 s). No method throws.
class PahoChannel final : public MqttChannel {
  public:
    /// A channel with the given options; nothing happens on the network until connect().
    explicit PahoChannel(MqttOptions options);
    /// Disconnects (see disconnect()).
    ~PahoChannel() override;
    PahoChannel(const PahoChannel&) = delete;
    PahoChannel& operator=(const PahoChannel&) = delete;
    PahoChannel(PahoChannel&&) = delete;
    PahoChannel& operator=(PahoChannel&&) = delete;

    /// Checks the options, then connects and waits at most MqttOptions::connect_timeout for the
    /// broker to accept. Errors: invalid_argument for bad options (the detail names the field) and
    /// for a broker that refuses the credentials or the client id; not_connected when the broker
    /// cannot be reached or its certificate does not verify, and when the process is out of file
    /// descriptors (also while opening ca_file; the detail says "raise `ulimit -n`"); timeout when
    /// it does not answer in time; invalid_state when already connected (call disconnect()
    /// first). The detail never contains the password. On failure nothing keeps running in the
    /// background. The ca_file check reads the file once per path and version (device, inode,
    /// size, mtime): later connects with the same file cost a stat().
    [[nodiscard]] Error connect();

    /// Starts connecting and returns at once, for many channels connecting from one thread.
    /// Checks the options as connect() does and returns the same invalid_argument (bad options,
    /// unreadable ca_file), not_connected (out of file descriptors while opening ca_file) or
    /// invalid_state (already connected, or an attempt still pending) at once; ok means the attempt
    /// runs in the background. Its outcome is then available from connect_outcome() and the event
    /// callback fires when it is known. Paho bounds the attempt by MqttOptions::connect_timeout
    /// rounded up to whole seconds (and checks about once a second), so a timeout is reported up to
    /// about a second later than connect() reports it. After a successful attempt the channel
    /// behaves as after a successful connect() (automatic reconnects, subscriptions restored,
    /// on_connected() queued); after a failed one nothing is retried and the next
    /// start_connect()/connect() starts afresh. disconnect() abandons a pending attempt: its
    /// outcome becomes not_connected and the callback does not fire for it.
    [[nodiscard]] Error start_connect();

    /// The outcome of the last connect attempt (start_connect() or connect()): nullopt while it is
    /// pending or when none was made; then ok, or the error connect() would have returned (same
    /// status and detail, never the password). Cheap and non-blocking.
    [[nodiscard]] std::optional<Error> connect_outcome() const;

    /// Called on paho's threads after an event was queued for yield() (connected, connection
    /// lost, message) and when a start_connect() attempt finished. Must be quick and non-blocking
    /// and must not call into this channel (e.g. wake the thread that calls yield() or
    /// connect_outcome()). Best set before connecting; it may be replaced at any time (a call
    /// already under way may still reach the previous one). An empty function turns it off.
    /// A call may still be returning when connect_outcome() already shows the outcome: what the
    /// callback uses must stay valid until disconnect() returned or the channel is destroyed
    /// (both wait for a call under way).
    void set_event_callback(std::function<void()> callback);

    /// Disconnects gracefully (bounded to about two seconds) and stops reconnecting. Events
    /// already queued stay deliverable by yield(); no on_connection_lost is queued for it.
    /// Subscriptions stay remembered and are restored by the next connect().
    void disconnect() noexcept;

    [[nodiscard]] Status publish(std::string_view topic, std::string_view payload,
                                 int qos) override;
    [[nodiscard]] Status subscribe(std::string_view topic_filter, int qos) override;
    void add_listener(ChannelListener& listener) override;
    void remove_listener(ChannelListener& listener) noexcept override;
    [[nodiscard]] bool is_connected() const noexcept override;
    [[nodiscard]] Status yield(std::chrono::milliseconds timeout) override;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ota
