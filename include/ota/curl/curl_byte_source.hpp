// The production HTTP(S) byte source, built on libcurl.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ota/byte_source.hpp"
#include "ota/options.hpp"
#include "ota/status.hpp"

namespace ota {

/// Downloads an image over HTTPS (plain HTTP only with HttpOptions::allow_http) with libcurl.
///
/// open() starts the transfer on a thread of its own, which copies the body into a ring buffer of
/// HttpOptions::buffer_size bytes (allocated once per source, by the first open()); read()
/// copies from that ring into the caller's buffer. When the ring is full the transfer thread waits
/// for read() to make room, so memory stays bounded whatever the image size and a slow consumer
/// throttles the download instead of losing bytes. Nothing is allocated per chunk.
///
/// Status codes: the source does not judge them (the client does), but it only ever delivers the
/// body of a 2xx response. The body of any other final status (404, 500, ...) is never handed out
/// as image bytes: read() reports end_of_body with no bytes and http_status() tells why. Redirects
/// are followed (up to HttpOptions::max_redirects) and must stay on the allowed schemes; the
/// headers reported are those of the final response. No compression is requested and none is
/// decoded, so the bytes read are exactly the bytes of the stored file.
///
/// A transport failure (DNS, connect, reset, timeout, stall) is reported by read() as
/// fetch_failed (timeout for curl's operation timeout and stall detection) after every byte
/// received before it has been read; last_error_detail() then explains it with the URL's query
/// string redacted. What no retry can cure is reported as fetch_refused instead, so that the
/// client fails the download at once: a server certificate that fails verification (unknown CA,
/// wrong host name, expired; "TLS verification failed: ..."), a redirect to a scheme outside the
/// allowed ones ("redirect to ... refused"), and a response head larger than 64 KiB or with a
/// header line beyond libcurl's limit ("response header too large"). A consumer that stops reading
/// for longer than HttpOptions::low_speed_window may trip the stall detector; the client then
/// resumes from its offset.
///
/// Thread-safety: like every ByteSource, one caller thread at a time; the transfer thread is
/// internal. The getters describe the response as last observed by read() on the caller thread.
class CurlByteSource final : public ByteSource {
  public:
    /// A source with the given options; no network activity until open().
    explicit CurlByteSource(HttpOptions options = {});
    /// Aborts and joins any running transfer.
    ~CurlByteSource() override;
    CurlByteSource(const CurlByteSource&) = delete;
    CurlByteSource& operator=(const CurlByteSource&) = delete;
    CurlByteSource(CurlByteSource&&) = delete;
    CurlByteSource& operator=(CurlByteSource&&) = delete;

    /// Aborts any previous transfer, then starts a GET of `url` (with `Range: bytes=<offset>-`
    /// when `offset` > 0). invalid_argument for options outside their ranges (the detail is
    /// HttpOptions::validate()'s), for an empty or malformed URL or a scheme other than https (or
    /// http when allowed); no_memory when the ring buffer cannot be allocated.
    [[nodiscard]] Error open(std::string_view url, std::uint64_t offset) override;

    /// Waits up to `timeout` for body bytes and copies at most `len` of them into `buf`. Returns
    /// {ok, 0, false} when nothing arrived in time; end_of_body is set (possibly together with
    /// the last bytes) once the transfer completed and every byte has been read. invalid_state
    /// when no transfer was opened.
    [[nodiscard]] ReadResult read(std::uint8_t* buf, std::size_t len,
                                  std::chrono::milliseconds timeout) override;

    // Inspection of the current response, for diagnostics and tests (the client itself judges
    // the response from ReadResult::head, the ByteSource contract).

    /// HTTP status of the final response, 0 before read() saw the headers.
    [[nodiscard]] int http_status() const noexcept;

    /// The final response's raw `Content-Range` value, empty when absent; valid until the next
    /// open().
    [[nodiscard]] std::string_view content_range() const noexcept;

    /// The final response's `Content-Length`, when announced.
    [[nodiscard]] std::optional<std::uint64_t> content_length() const noexcept;

    /// The final response's `Retry-After` in delta-seconds (capped at a day), when present; an
    /// HTTP-date value is ignored.
    [[nodiscard]] std::optional<std::chrono::seconds> retry_after() const noexcept;

    /// Why the last open() or transfer failed (URLs redacted), empty if it did not.
    [[nodiscard]] std::string last_error_detail() const override;

    /// Aborts the running transfer (if any) and joins its thread. Returns promptly also while
    /// the transfer waits on the network or on a full buffer.
    void close() noexcept override;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ota
