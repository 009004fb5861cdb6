// The persistence seam: where downloaded image bytes go (file, flash, application code).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

#include "ota/status.hpp"

namespace ota {

/// Stores one firmware image while it is downloaded.
///
/// Lifecycle: begin() -> write()* / read()* / flush()* -> commit() or abort(). After commit() or
/// abort() the sink may begin() again. Contract for every call:
///  - `Status::ok` on success; nothing is ever half-done silently.
///  - `storage_full` when the image or a write does not fit; `storage_failed` for I/O errors;
///    `invalid_argument` for out-of-range offsets/lengths; `invalid_state` outside begin()/commit().
///  - An image becomes visible under its final name/slot only through commit(); a failed or
///    aborted job never leaves a partial image that looks complete.
/// Implementations need not be thread-safe: the client calls them from one thread.
class FirmwareSink {
public:
    virtual ~FirmwareSink() = default;

    /// Starts a new image of exactly `expected_size` bytes, discarding any earlier partial one.
    /// storage_full when `expected_size` exceeds capacity().
    [[nodiscard]] virtual Status begin(std::uint64_t expected_size) = 0;

    /// Writes `len` bytes at `offset`. `offset + len` must not exceed the expected size.
    [[nodiscard]] virtual Status write(std::uint64_t offset, const std::uint8_t* data,
                                       std::size_t len) = 0;

    /// Reads back `len` bytes at `offset` of the current image into `out` (all or error).
    [[nodiscard]] virtual Status read(std::uint64_t offset, std::uint8_t* out,
                                      std::size_t len) = 0;

    /// Makes everything written so far durable (survives power loss).
    [[nodiscard]] virtual Status flush() = 0;

    /// Durably publishes the complete, verified image under its final name/slot.
    [[nodiscard]] virtual Status commit() = 0;

    /// Drops the current partial image. Safe to call in any state, repeatedly.
    virtual void abort() noexcept = 0;

    /// Largest image this sink can hold, in bytes.
    [[nodiscard]] virtual std::uint64_t capacity() const noexcept {
        return std::numeric_limits<std::uint64_t>::max();
    }
};

}  // namespace ota
