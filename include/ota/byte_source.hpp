// The HTTP seam: a stream of image bytes fetched from a URL, possibly from an offset.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ota/status.hpp"

namespace ota {

/// The head of one response: what the client judges before it takes a single body byte.
struct ResponseHead {
    int http_status = 0;                          ///< e.g. 200, 206, 404; 0 = none seen
    std::optional<std::uint64_t> content_length;  ///< `Content-Length`, when announced
    std::string content_range;                    ///< raw `Content-Range` value, empty if absent
    /// `Retry-After` of a 429 or 503 (delta-seconds), when present.
    std::optional<std::chrono::seconds> retry_after;
};

/// Outcome of one ByteSource::read().
struct ReadResult {
    Status status = Status::ok;  ///< ok, or why the transfer failed (fetch_failed, timeout, ...)
    std::size_t bytes = 0;       ///< bytes copied into the caller's buffer (0 = nothing yet)
    bool end_of_body = false;    ///< the response body is complete; no more bytes will come
    /// The response head, on the first result of an attempt (after open()) that carries bytes
    /// or end_of_body, and on no other; owned by the source, valid until the next open() or
    /// close(). The client judges the response from it before it uses any byte.
    const ResponseHead* head = nullptr;
};

/// Streams an HTTP(S) response body into caller-owned buffers.
///
/// Contract: open() starts a GET; with `offset` > 0 it asks for `Range: bytes=<offset>-`. read()
/// waits up to `timeout` and copies at most `len` bytes; it never returns data before the
/// response headers are known, and it hands them over as ReadResult::head with the first result
/// of each attempt that carries bytes or end_of_body. A status other than ok ends the transfer;
/// open() again to retry. The source does not judge the status code: the client does.
class ByteSource {
  public:
    virtual ~ByteSource() = default;

    /// Starts fetching `url` from `offset`. invalid_argument for a URL the source cannot handle.
    [[nodiscard]] virtual Error open(std::string_view url, std::uint64_t offset) = 0;

    /// Reads body bytes into `buf`; see the class contract.
    [[nodiscard]] virtual ReadResult read(std::uint8_t* buf, std::size_t len,
                                          std::chrono::milliseconds timeout) = 0;

    /// Explanation of the last failure (no secrets, URLs redacted), empty if none.
    [[nodiscard]] virtual std::string last_error_detail() const = 0;

    /// Aborts the current transfer, if any. Safe to call repeatedly.
    virtual void close() noexcept = 0;
};

}  // namespace ota
