// The persistence seam: where downloaded image bytes go (file, flash, application code).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "ota/status.hpp"

namespace ota {

/// Stores one firmware image while it is downloaded.
///
/// Lifecycle: begin() -> write()* / read()* / flush()* -> commit(), abort() or suspend(). After
/// any of the three the sink may begin() (or resume()) again. abort() is for a job that failed for
/// good; suspend() is for a stop (signal, deinit, the client's destruction), after which the same
/// job may resume() in a later run. Contract for every call:
///  - `Status::ok` on success; nothing is ever half-done silently.
///  - `storage_full` when the image or a write does not fit; `storage_failed` for I/O errors;
///    `invalid_argument` for out-of-range offsets/lengths; `invalid_state` outside
///    begin()/commit().
///  - An image becomes visible under its final name/slot only through commit(); a failed or
///    aborted job never leaves a partial image that looks complete.
///
/// Crash resume (optional): a sink that can keep a partial image across a restart implements
/// resume() and the resume record (save_record/load_record/clear_record). The defaults say "not
/// supported", and the client then always starts over with begin(). The record is an opaque blob
/// owned by the client (at most kMaxResumeRecordSize bytes); the sink only stores it.
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
    [[nodiscard]] virtual Status read(std::uint64_t offset, std::uint8_t* out, std::size_t len) = 0;

    /// Makes everything written so far durable (survives power loss).
    [[nodiscard]] virtual Status flush() = 0;

    /// Durably publishes the complete, verified image under its final name/slot.
    [[nodiscard]] virtual Status commit() = 0;

    /// Drops the current partial image. Safe to call in any state, repeatedly.
    virtual void abort() noexcept = 0;

    /// Ends the current job without giving it up: a sink that supports crash resume keeps the
    /// partial image and the resume record (the caller saved it just before) for resume() in a
    /// later run, and releases what it holds open. The default is abort(): a sink that cannot
    /// resume has nothing worth keeping, so existing sinks stay correct without overriding it.
    /// Safe to call in any state, repeatedly.
    virtual void suspend() noexcept { abort(); }

    /// The platform's reason for the last failed call (e.g. "No space left on device"), for the
    /// failure report; empty when there is none or the sink does not know (the default).
    [[nodiscard]] virtual std::string error_detail() const { return {}; }

    /// Largest image this sink can hold, in bytes.
    [[nodiscard]] virtual std::uint64_t capacity() const noexcept {
        return std::numeric_limits<std::uint64_t>::max();
    }

    /// Largest resume record a sink must be able to store.
    static constexpr std::size_t kMaxResumeRecordSize = 16 * 1024;

    /// Reopens the partial image that an earlier begin() (possibly in an earlier process) left
    /// behind, for an image of exactly `expected_size` bytes, instead of discarding it as begin()
    /// does. On success the sink is in the state begin() leaves it in, and `stored` is how many
    /// bytes the partial image holds (bytes past the last flush() may be among them, and may be
    /// wrong after a power cut: the caller only trusts what its record says was flushed).
    /// Errors: invalid_state = resuming is not supported (the default); storage_failed = there is
    /// no partial image; invalid_argument = the partial image is longer than `expected_size`;
    /// storage_full = `expected_size` exceeds capacity(). After an error the sink is idle.
    [[nodiscard]] virtual Status resume(std::uint64_t expected_size, std::uint64_t& stored) {
        (void)expected_size;
        stored = 0;
        return Status::invalid_state;
    }

    /// Durably stores `len` bytes (at most kMaxResumeRecordSize) as the resume record, replacing
    /// the previous one atomically: after a power cut load_record() yields the old or the new
    /// record, whole. Callable in any state. invalid_state = not supported (the default).
    [[nodiscard]] virtual Status save_record(const std::uint8_t* data, std::size_t len) {
        (void)data;
        (void)len;
        return Status::invalid_state;
    }

    /// Loads the resume record into `out`; ok with an empty `out` when there is none. Callable
    /// in any state. invalid_state = not supported (the default).
    [[nodiscard]] virtual Status load_record(std::vector<std::uint8_t>& out) {
        out.clear();
        return Status::invalid_state;
    }

    /// Removes the resume record, if any. Callable in any state, repeatedly.
    virtual void clear_record() noexcept {}
};

}  // namespace ota
