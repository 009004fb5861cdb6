// A small scripted HTTP/1.1 server on 127.0.0.1 for integration tests: a handler decides each
// response, so tests can misbehave in ways a real server will not (5xx then success, wrong
// Content-Range, bodies longer or shorter than announced, connections cut mid-body).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace ota::test {

/// One request as received.
struct HttpRequest {
    std::string method;
    std::string target;  ///< path and query, as sent
    std::string head;    ///< the raw request line and headers
    std::chrono::steady_clock::time_point received_at;

    /// The value of header `name` (case-insensitive), empty when absent.
    [[nodiscard]] std::string header(std::string_view name) const;
    /// N of a `Range: bytes=N-` header; nullopt without one (or for any other form).
    [[nodiscard]] std::optional<std::uint64_t> range_start() const;
};

/// One scripted response.
struct HttpResponse {
    int status = 200;
    /// Extra headers in order. Content-Length is added unless `content_length` is false.
    std::vector<std::pair<std::string, std::string>> headers;
    std::vector<std::uint8_t> body;
    /// Send Content-Length: body.size(); false = a close-delimited body (implies `close`).
    bool content_length = true;
    /// Close the connection after this response.
    bool close = false;
    /// Send only this many body bytes, then close (an interrupted transfer).
    std::optional<std::size_t> cut_after;

    /// A bodiless status response (Content-Length: 0) with optional extra headers.
    static HttpResponse status_only(int status,
                                    std::vector<std::pair<std::string, std::string>> headers = {});
};

/// What a well-behaved server would answer for `file`: 200 with the whole file, or, for
/// `Range: bytes=N-`, 206 with `Content-Range: bytes N-<last>/<size>` (416 when N >= size).
HttpResponse serve_file(const std::vector<std::uint8_t>& file, const HttpRequest& request);

/// Plain-HTTP server on 127.0.0.1:<free port>. Every request goes to the handler (called on the
/// server's thread with the request and its 0-based index over the server's lifetime); requests
/// are recorded. Keep-alive is honoured. One poll() thread, bounded: at most 16 connections at
/// once, request heads up to 64 KiB, a lifetime of 10 minutes.
class ScriptedHttpServer {
  public:
    using Handler = std::function<HttpResponse(const HttpRequest&, std::size_t index)>;

    explicit ScriptedHttpServer(Handler handler);
    ~ScriptedHttpServer();
    ScriptedHttpServer(const ScriptedHttpServer&) = delete;
    ScriptedHttpServer& operator=(const ScriptedHttpServer&) = delete;

    /// The listening port (0 when the listener could not be set up).
    [[nodiscard]] std::uint16_t port() const { return port_; }
    /// http://127.0.0.1:<port>/<path>
    [[nodiscard]] std::string url(const std::string& path) const;
    /// Every request received so far, in order.
    [[nodiscard]] std::vector<HttpRequest> requests() const;
    [[nodiscard]] std::size_t request_count() const;
    /// Body bytes written to clients over all responses.
    [[nodiscard]] std::uint64_t body_bytes_sent() const;

  private:
    struct Conn;
    void run();
    bool pump(Conn& c);  // false: the connection is finished

    Handler handler_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    mutable std::mutex mu_;
    std::vector<HttpRequest> requests_;
    std::uint64_t body_bytes_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;  // last: starts after every other member is ready
};

}  // namespace ota::test
