// Status codes shared by every part of the library.
#pragma once

#include <string>
#include <utility>

namespace ota {

/// Outcome of a library operation. `ok` is the only success value; everything else names what
/// went wrong. Mapped to the C API's `IOT_OTAE_*` codes only in the C shim.
enum class Status : int {
    ok = 0,
    invalid_argument,   ///< A caller-supplied value is out of range, empty or malformed.
    invalid_state,      ///< The operation is not allowed in the client's current state.
    buffer_too_small,   ///< An output buffer cannot hold the value (nothing is truncated).
    malformed_message,  ///< A received payload does not match the protocol.
    not_connected,      ///< The MQTT channel is not connected.
    timeout,            ///< Nothing happened within the allotted time.
    fetch_failed,       ///< Transport or HTTP error while downloading.
    size_mismatch,      ///< The body was longer or shorter than the announced size.
    digest_mismatch,    ///< The image digest does not match the expected one.
    storage_failed,     ///< The persistence layer failed to write, read or commit.
    storage_full,       ///< The image does not fit the persistence layer's capacity.
    crypto_failed,      ///< Mbed TLS reported an error.
    no_memory,          ///< An allocation failed.
    internal,           ///< A bug or an unexpected condition inside the library.
    /// A download error that retrying cannot cure, as a byte source reports it: the server's TLS
    /// certificate failed verification, a redirect led to a refused scheme, or the response
    /// header was too large. The client fails the download at once (no backoff, no further
    /// attempt). Last in the list so that the values above keep their numbers.
    fetch_refused,
};

/// A short, stable, lower-case English name of `s` (e.g. "digest mismatch"); never null.
[[nodiscard]] const char* to_string(Status s) noexcept;

/// A status plus a human-readable explanation. `detail` never contains secrets (device secret,
/// MQTT password, the query string of a signed URL).
struct [[nodiscard]] Error {
    Status status = Status::ok;
    std::string detail;

    Error() = default;
    Error(Status s, std::string d = {})
        : status(s), detail(std::move(d)) {}  // NOLINT: implicit by design

    /// True when this holds no error.
    [[nodiscard]] bool ok() const noexcept { return status == Status::ok; }
    /// "<status name>: <detail>", or just the status name when there is no detail.
    [[nodiscard]] std::string message() const;
};

}  // namespace ota
