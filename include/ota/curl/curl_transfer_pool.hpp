// Many HTTP(S) downloads on a few threads: a pool of libcurl multi handles, and the ByteSource
// whose transfer runs on it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ota/byte_source.hpp"
#include "ota/options.hpp"
#include "ota/status.hpp"

namespace ota {

/// Settings of a CurlTransferPool.
struct CurlPoolOptions {
    /// Range of `threads`.
    static constexpr std::size_t kMinThreads = 1;
    /// Range of `threads`.
    static constexpr std::size_t kMaxThreads = 64;

    /// Number of libcurl multi handles, each driven by a thread of its own; 1..64. A source is
    /// placed on the thread with the fewest transfers when it opens.
    std::size_t threads = 1;
    /// Share TLS sessions and the DNS cache between all transfers of the pool (a CURLSH), so
    /// that a reconnect or a second transfer to the same server resumes the TLS session instead
    /// of a full handshake.
    bool share_tls_sessions = true;
    /// Upper bound of `max_idle_connections`.
    static constexpr std::size_t kMaxIdleConnections = 100000;
    /// Connections each thread keeps open after their transfers finished, for reuse by the next
    /// transfer to the same server (libcurl's connection cache, CURLMOPT_MAXCONNECTS); 1..100,000.
    /// When a transfer ends while the thread holds more connections than that (running ones
    /// count too), the oldest idle one is closed. Without this bound libcurl keeps up to 4 per
    /// transfer still running, so 1,000 concurrent downloads would leave 1,000 idle TLS
    /// connections (a socket and the TLS buffers each) behind. A resume that finds no idle
    /// connection makes a new one (with share_tls_sessions the TLS session is still resumed).
    std::size_t max_idle_connections = 8;

    /// invalid_argument naming the field when a value is outside its range.
    [[nodiscard]] Error validate() const;
};

/// Drives many transfers on a few libcurl multi handles: a few threads for any number of
/// PooledCurlByteSource objects, instead of one thread per transfer as with CurlByteSource.
///
/// Each thread waits on its transfers' sockets with epoll (libcurl's socket interface), so its
/// cost follows the number of sockets with activity, not the number of transfers. Connections
/// are kept and reused per thread (libcurl's connection cache of that multi handle), at most
/// CurlPoolOptions::max_idle_connections idle ones per thread. Linux only
/// (epoll, eventfd), like the rest of the library's POSIX layer. HTTP/2 multiplexing of different
/// sources over one connection is off: a paused source would hold back the others.
///
/// Lifetime: close or destroy every PooledCurlByteSource of the pool before the pool. Should a
/// source still be open, the destructor aborts its transfer before it stops the threads (the
/// source then reads fetch_failed, "the transfer pool was stopped") and the source refers to
/// nothing of the pool any more: it may still be read, closed and destroyed, but not opened
/// again. Thread-safety: start() and the getters may be called from any thread.
class CurlTransferPool {
  public:
    /// A pool with the given options; no thread runs until start().
    explicit CurlTransferPool(CurlPoolOptions options = {});
    /// Aborts the transfers still running, then stops and joins the threads (see the class
    /// comment about open sources).
    ~CurlTransferPool();
    CurlTransferPool(const CurlTransferPool&) = delete;
    CurlTransferPool& operator=(const CurlTransferPool&) = delete;
    CurlTransferPool(CurlTransferPool&&) = delete;
    CurlTransferPool& operator=(CurlTransferPool&&) = delete;

    /// Validates the options and starts the threads. Idempotent: ok at once when already
    /// running. invalid_argument for options out of range, internal when libcurl or a thread
    /// cannot be set up, no_memory when allocation fails.
    [[nodiscard]] Error start();

    /// Transfers currently added to the pool's multi handles (opened and not yet finished or
    /// closed), over all threads.
    [[nodiscard]] std::size_t active_transfers() const noexcept;

    /// The options the pool was created with.
    [[nodiscard]] const CurlPoolOptions& options() const noexcept;

    struct Impl;  ///< internal (used by PooledCurlByteSource)

  private:
    std::unique_ptr<Impl> impl_;
    friend class PooledCurlByteSource;
};

/// A ByteSource whose transfer runs on a CurlTransferPool thread.
///
/// Same contract, statuses and error texts as CurlByteSource (it shares its code for URL checks,
/// response-head parsing and failure classification): only 2xx bodies are handed out, a non-2xx
/// response reads as end_of_body with no bytes and http_status() tells why; transport failures
/// are fetch_failed/timeout, what no retry can cure (TLS verification, redirect to a refused
/// scheme, oversized head) is fetch_refused; last_error_detail() redacts URLs.
///
/// Memory: the only per-source buffer is a ring of HttpOptions::buffer_size bytes, allocated by
/// the first open() and kept (with libcurl's easy handle) for the next open() until destruction
/// or release_buffers(), so that a resume or the next download allocates nothing. When the ring
/// cannot take the next chunk, the transfer is paused (CURL_WRITEFUNC_PAUSE; libcurl then holds
/// that one chunk, at most HttpOptions::receive_buffer_size) and the pool thread resumes it once
/// read() freed a quarter of the ring (or the chunk's size, if larger). Add libcurl's own
/// per-transfer state: its receive buffer (HttpOptions::receive_buffer_size) and the TLS
/// connection's buffers. For thousands of sources pick small sizes, e.g. buffer_size 64 KiB and
/// receive_buffer_size 16 KiB.
///
/// Threads: like every ByteSource, one caller thread at a time. read() with a zero timeout never
/// blocks (it takes only the source's own short lock). The ready callback runs on a pool thread.
class PooledCurlByteSource final : public ByteSource {
  public:
    /// A source on `pool` (which must outlive it) with the given options; no network activity
    /// until open(). The pool is started by open() if it is not running yet.
    explicit PooledCurlByteSource(CurlTransferPool& pool, HttpOptions options = {});
    /// Closes (aborts any running transfer and waits until the pool thread let go of it).
    ~PooledCurlByteSource() override;
    PooledCurlByteSource(const PooledCurlByteSource&) = delete;
    PooledCurlByteSource& operator=(const PooledCurlByteSource&) = delete;
    PooledCurlByteSource(PooledCurlByteSource&&) = delete;
    PooledCurlByteSource& operator=(PooledCurlByteSource&&) = delete;

    /// Aborts any previous transfer, then hands a GET of `url` (with `Range: bytes=<offset>-`
    /// when `offset` > 0) to the pool. Errors as CurlByteSource::open(); also the pool's start()
    /// error when the pool could not be started.
    [[nodiscard]] Error open(std::string_view url, std::uint64_t offset) override;

    /// Waits up to `timeout` (zero: not at all) for body bytes and copies at most `len` of them
    /// into `buf`; see CurlByteSource::read(). Resumes a paused transfer once enough room is free.
    [[nodiscard]] ReadResult read(std::uint8_t* buf, std::size_t len,
                                  std::chrono::milliseconds timeout) override;

    /// Why the last open() or transfer failed (URLs redacted), empty if it did not.
    [[nodiscard]] std::string last_error_detail() const override;

    /// Aborts the running transfer (if any) and returns once the pool thread no longer touches
    /// this source; prompt also while the transfer is paused or still connecting. After it
    /// returns the ready callback is not called again until the next open().
    void close() noexcept override;

    /// `callback` is called on a pool thread when read() has something new to return (bytes,
    /// the end of the body, or a failure): at most once between two read() calls (each read()
    /// re-arms it), so a consumer reads until read() returns no bytes and then waits for the
    /// callback. It must be quick, must not block and must not call into this source or the
    /// pool. Set it before open() (it is not called while it is being replaced).
    void set_ready_callback(std::function<void()> callback);

    /// HTTP status of the final response, 0 before read() saw the headers.
    [[nodiscard]] int http_status() const noexcept;

    /// The final response's `Content-Length`, when announced (as seen by read()).
    [[nodiscard]] std::optional<std::uint64_t> content_length() const noexcept;

    /// The final response's raw `Content-Range` value, empty when absent; valid until the next
    /// open().
    [[nodiscard]] std::string_view content_range() const noexcept;

    /// The final response's `Retry-After` in delta-seconds (capped at a day), when present.
    [[nodiscard]] std::optional<std::chrono::seconds> retry_after() const noexcept;

    /// Bytes of the ring buffer allocated (0 before the first open() and after
    /// release_buffers(), else HttpOptions::buffer_size): the source's only buffer of its own.
    [[nodiscard]] std::size_t buffer_bytes() const noexcept;

    /// Closes (as close()), then frees the ring and libcurl's easy handle with its receive buffer
    /// (about buffer_size + receive_buffer_size + a few KiB), for a source that will not download
    /// again soon, e.g. one of thousands of simulated devices after its job. The next open()
    /// allocates them again; the response getters keep their values until then. The
    /// connection stays in the pool's cache (see CurlPoolOptions::max_idle_connections).
    void release_buffers() noexcept;

    struct Impl;  ///< internal (shared with the pool's threads)

  private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace ota
