// A fault-injecting TCP proxy for integration tests: sits between a client and a real server on
// 127.0.0.1 and, per connection, cuts, resets, stalls or slows down what the server sends.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ota::test {

/// What the proxy does to one connection. Byte counts are of the server-to-client stream as it
/// leaves the proxy (for HTTPS that is the TLS stream, handshake included: the proxy never
/// decrypts anything).
struct Fault {
    enum class Kind {
        pass,   ///< forward everything untouched
        cut,    ///< forward `after` bytes, then close both sides (FIN)
        reset,  ///< forward `after` bytes, then abort the client side (RST)
        stall,  ///< forward `after` bytes, then forward nothing for `duration`, keeping both open
        delay,  ///< wait `duration` before each `chunk` bytes sent to the client
        /// hold back the last `after` bytes the server sends before it goes quiet for
        /// `duration`, then close both sides without them (a cut just before the end of a
        /// response whose exact length is unknown in advance)
        drop_tail,
    };
    Kind kind = Kind::pass;
    std::uint64_t after = 0;
    std::chrono::milliseconds duration{0};
    std::size_t chunk = 16 * 1024;

    /// Forward untouched.
    static Fault pass() { return {}; }
    /// Close both sides once `n` bytes went to the client (`n` = 0: close on accept, without
    /// contacting the server).
    static Fault cut_after(std::uint64_t n) { return {Kind::cut, n, {}, 16 * 1024}; }
    /// Like cut_after, but the client sees a connection reset (bytes still queued may be lost).
    static Fault reset_after(std::uint64_t n) { return {Kind::reset, n, {}, 16 * 1024}; }
    /// Stop forwarding in both directions for `d` once `n` bytes went to the client.
    static Fault stall_after(std::uint64_t n, std::chrono::milliseconds d) {
        return {Kind::stall, n, d, 16 * 1024};
    }
    /// Pace the server-to-client stream: at most `chunk` bytes per `d`.
    static Fault delay_each(std::chrono::milliseconds d, std::size_t chunk = 16 * 1024) {
        return {Kind::delay, 0, d, chunk};
    }
    /// Close both sides `n` bytes before the end of what the server sends (the end being where
    /// it stays quiet for `idle`); those `n` bytes never reach the client. The first
    /// kDropTailStart bytes (TLS handshake, response headers) are never held back. n <= 32 KiB.
    static Fault drop_tail(std::uint64_t n,
                           std::chrono::milliseconds idle = std::chrono::milliseconds(300)) {
        return {Kind::drop_tail, n, idle, 16 * 1024};
    }
    /// Bytes a drop_tail fault forwards before it starts holding anything back.
    static constexpr std::uint64_t kDropTailStart = 64 * 1024;
    /// "cut after 1048576 bytes" and the like, for test messages.
    [[nodiscard]] std::string describe() const;
};

/// What happened on one proxied connection.
struct ConnectionRecord {
    Fault fault;
    std::uint64_t bytes_down = 0;  ///< server -> client, forwarded
    std::uint64_t bytes_up = 0;    ///< client -> server, forwarded
    bool fault_fired = false;      ///< the cut/reset/stall/drop_tail took place
    bool server_refused = false;   ///< the target could not be reached
    std::chrono::steady_clock::time_point accepted_at;
};

/// Listens on 127.0.0.1:<free port> and forwards every accepted connection to
/// 127.0.0.1:<target_port>, applying the next queued Fault (or the default one when the queue is
/// empty). One poll() thread serves all connections; memory is bounded (64 KiB per direction per
/// connection, at most 32 connections at once, further ones are closed on accept). The thread
/// ends with the proxy, or after 10 minutes at the latest.
class FaultProxy {
  public:
    explicit FaultProxy(std::uint16_t target_port, Fault default_fault = Fault::pass());
    ~FaultProxy();
    FaultProxy(const FaultProxy&) = delete;
    FaultProxy& operator=(const FaultProxy&) = delete;

    /// The listening port (0 when the listener could not be set up).
    [[nodiscard]] std::uint16_t port() const { return port_; }
    /// https://127.0.0.1:<port>/<path>
    [[nodiscard]] std::string https_url(const std::string& path) const;
    /// http://127.0.0.1:<port>/<path>
    [[nodiscard]] std::string http_url(const std::string& path) const;

    /// Queues faults for the next connections, in order.
    void push(std::initializer_list<Fault> faults);
    void push(const Fault& fault);
    /// The fault of connections accepted while the queue is empty.
    void set_default(const Fault& fault);

    /// Connections accepted so far.
    [[nodiscard]] std::size_t connections() const;
    /// Bytes forwarded to clients over all connections.
    [[nodiscard]] std::uint64_t bytes_down() const;
    /// Bytes forwarded to the server over all connections.
    [[nodiscard]] std::uint64_t bytes_up() const;
    /// One record per accepted connection, in accept order.
    [[nodiscard]] std::vector<ConnectionRecord> records() const;
    /// True once at least `n` connections were accepted, polling up to `timeout`.
    [[nodiscard]] bool wait_for_connections(std::size_t n, std::chrono::milliseconds timeout) const;

  private:
    struct Conn;
    void run();
    void accept_one();
    bool pump(Conn& c);  // false: the connection is finished

    std::uint16_t target_port_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    mutable std::mutex mu_;
    std::deque<Fault> queue_;
    Fault default_fault_;
    std::vector<ConnectionRecord> records_;
    std::vector<std::unique_ptr<Conn>> conns_;  // used by the proxy thread only
    std::atomic<bool> stop_{false};
    std::thread thread_;  // last: starts after every other member is ready
};

}  // namespace ota::test
