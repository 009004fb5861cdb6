// ConnectWaker: keeps paho's receive thread from sleeping while many connects are outstanding.
//
// Paho C 1.3.12 serves every client of a process from one receive thread. That thread sleeps in
// poll() with a hard-coded 1000 ms timeout and only looks at sockets added (or TCP connects that
// finished) after that poll returns (eclipse-paho/paho.mqtt.c issue 1430). With many
// start_connect()s and little other traffic, each batch of new sockets waits up to a second.
// The waker owns one extra MQTT connection of the same process; while at least one connect is
// outstanding (begin() ... end()), a thread of its own keeps a request/response going on it - a
// QoS 1 SUBSCRIBE of a topic the user may read, answered by a SUBACK - so the receive thread's
// poll returns about every `interval` and picks up the new sockets. With nothing outstanding the
// thread sleeps on a condition variable until begin(), an event of its connection or stop()
// (no periodic wake-up) and the connection is idle (keepalive only).
//
// Load on the broker: at most one SUBSCRIBE per `interval` (default 5 ms: <= 200 per second,
// each answered by a SUBACK) for as long as any connect is outstanding - with churn devices that
// can be most of a run. ota_fleet counts them (stdout "connect waker:" line, JSON
// processes[].waker_subscribes) so that broker load figures can allow for them;
// --no-connect-waker turns the waker off.
//
// Measured (2,000 TLS connections, 1 process, loopback mosquitto; bench/paho_connect_bench.sh
// --waker and ota_fleet run A/B): the waker removes the up-to-a-second waits, so below the receive
// thread's CPU limit connects take milliseconds (ota_fleet at 200/s: p50 1440 -> 4.5 ms; with the
// in-process cloud connected first, 1000/s: 310 -> 545 connects/s). It does not raise that limit:
// paho's one receive thread runs every TLS handshake (about 1.5-1.8 ms of CPU each), so one
// process tops out at about 550-650 TLS connects per second on this 2-core machine either way.
// In ota_fleet the connection uses the first device's credentials under its own client id; a
// broker that binds the password to the client id refuses it, and the fleet goes on without.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "ota/options.hpp"

namespace ota {
class PahoChannel;
}

namespace ota::fleet {

/// Settings of a ConnectWaker.
struct ConnectWakerOptions {
    /// The waker's own connection: any user of the broker; client_id must differ from every
    /// other client's (e.g. "ota-fleet-waker-<pid>"). Connected with start_connect() by start().
    ota::MqttOptions mqtt;
    /// A topic filter that user may subscribe to (a device: its own
    /// /ota/device/upgrade/{pk}/{dn}). Messages that arrive on it are drained and dropped.
    std::string topic;
    /// Least time from one SUBSCRIBE to the next while connects are outstanding (the SUBACK is
    /// awaited in between, so a slow broker makes it longer): bounds the waker's load on the
    /// broker to 1 s / interval SUBSCRIBEs per second. 0 = no bound (one round trip after
    /// another, several hundred per second on loopback). Every wake-up costs paho's receive
    /// thread one poll() over all of the process's sockets and a new socket waits at most about
    /// this long to be picked up, so a few milliseconds are a good compromise.
    std::chrono::microseconds interval{std::chrono::milliseconds(5)};
};

/// Counters of a ConnectWaker (for reports and tests).
struct ConnectWakerStats {
    std::uint64_t pings = 0;         ///< SUBSCRIBEs answered by a SUBACK
    std::uint64_t failed_pings = 0;  ///< SUBSCRIBEs that failed (not connected, timeout, refused)
    /// SUBSCRIBEs sent to the broker (pings + failed_pings): the waker's load on the broker.
    [[nodiscard]] std::uint64_t subscribes() const noexcept { return pings + failed_pings; }
    std::uint64_t begins = 0;     ///< begin() calls so far
    std::size_t outstanding = 0;  ///< begin() calls not yet matched by end()
    bool connected = false;       ///< the waker's own connection is up
    std::string last_error;       ///< detail of the last failure (never a password)
};

/// Keeps paho's receive thread polling while connects are outstanding; see the file comment.
/// begin()/end() are cheap, thread-safe and may be called from any thread (also from paho's
/// callbacks: they only touch a counter and notify a condition variable; the waker never calls
/// into paho while holding the lock they take). start(), wait_connected() and stop() are the
/// owner's calls, from one thread.
class ConnectWaker {
  public:
    /// A waker that does nothing until start().
    explicit ConnectWaker(ConnectWakerOptions options);
    /// Stops the thread and disconnects the waker's connection.
    ~ConnectWaker();
    ConnectWaker(const ConnectWaker&) = delete;
    ConnectWaker& operator=(const ConnectWaker&) = delete;
    ConnectWaker(ConnectWaker&&) = delete;
    ConnectWaker& operator=(ConnectWaker&&) = delete;

    /// Starts connecting the waker's connection (returns at once) and its thread. Errors are
    /// those of PahoChannel::start_connect() (bad options); a connect that fails later only shows
    /// in stats() (the waker then does nothing: connects still work, only slower). Idempotent.
    [[nodiscard]] ota::Error start();
    /// Waits at most `timeout` for the waker's own connection to be up; true when it is.
    /// Connect it before a storm of other connects: later it waits in paho's poll like them.
    bool wait_connected(std::chrono::milliseconds timeout);
    /// One more connect is outstanding: keep the receive thread awake.
    void begin() noexcept;
    /// One outstanding connect finished (either way). Unmatched calls are ignored.
    void end() noexcept;
    /// Ends the thread and disconnects; begin()/end() stay harmless afterwards. Idempotent.
    void stop() noexcept;
    /// A snapshot of the counters.
    [[nodiscard]] ConnectWakerStats stats() const;

  private:
    void run();

    ConnectWakerOptions options_;
    std::unique_ptr<ota::PahoChannel> channel_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::size_t outstanding_ = 0;
    std::uint64_t begins_ = 0;
    std::uint64_t channel_events_ = 0;  // event callbacks of the waker's own channel
    bool started_ = false;
    bool stopping_ = false;
    std::string last_error_;
    std::atomic<std::uint64_t> pings_{0};
    std::atomic<std::uint64_t> failed_pings_{0};
    std::thread thread_;
};

}  // namespace ota::fleet
