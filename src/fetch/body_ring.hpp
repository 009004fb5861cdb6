// The reader's half of a download, shared by CurlByteSource (a thread per transfer) and
// PooledCurlByteSource (transfers on a pool's threads): the ring the body passes through, the
// wait of a blocking read(), and the hand-over of the response head with the first result.
// Private to the fetch layer.
//
// Locking is the owner's: its mutex guards BodyRing's indices (head, count) and the flags the
// wait looks at, while the bytes themselves are copied outside the lock - the writer only into
// the free region, the reader only out of the filled one.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <utility>

#include "fetch/transfer_setup.hpp"
#include "ota/byte_source.hpp"

namespace ota::detail {

/// A fixed ring of body bytes between the thread that drives the transfer and read().
struct BodyRing {
    std::unique_ptr<std::uint8_t[]> bytes;
    std::size_t cap = 0;    ///< size of `bytes` (0 while not allocated)
    std::size_t head = 0;   ///< oldest unread byte (owner's lock)
    std::size_t count = 0;  ///< unread bytes (owner's lock)

    /// Allocates `size` bytes once (kept until release()); false when out of memory.
    [[nodiscard]] bool allocate(std::size_t size) noexcept {
        if (!bytes) {
            bytes.reset(new (std::nothrow) std::uint8_t[size]);
            if (!bytes) return false;
            cap = size;
        }
        return true;
    }
    /// Gives the bytes back; the next allocate() takes them again.
    void release() noexcept {
        bytes.reset();
        cap = head = count = 0;
    }
    /// Empties the ring for the next transfer (owner's lock).
    void clear() noexcept { head = count = 0; }
    /// Free bytes (owner's lock).
    [[nodiscard]] std::size_t room() const noexcept { return cap - count; }
    /// Where the next byte goes (owner's lock).
    [[nodiscard]] std::size_t tail() const noexcept { return (head + count) % cap; }

    /// Writer, without the lock: copies `n` bytes to the free region starting at `at` (a tail()
    /// taken under the lock, with `n` <= room() then). Publish them with `count += n`.
    void put(std::size_t at, const char* data, std::size_t n) noexcept {
        const std::size_t first = std::min(n, cap - at);
        std::memcpy(bytes.get() + at, data, first);
        if (n > first) std::memcpy(bytes.get(), data + first, n - first);
    }
    /// Reader, without the lock: copies `k` bytes from the filled region starting at `from` (the
    /// head taken under the lock, with `k` <= count then). Then consumed(k) under the lock.
    void take(std::size_t from, std::uint8_t* out, std::size_t k) const noexcept {
        const std::size_t first = std::min(k, cap - from);
        std::memcpy(out, bytes.get() + from, first);
        if (k > first) std::memcpy(out + first, bytes.get(), k - first);
    }
    /// Marks `k` bytes read (owner's lock).
    void consumed(std::size_t k) noexcept {
        head = (head + k) % cap;
        count -= k;
    }
};

/// How long a blocking read() waits for a worthwhile amount before it settles for any (bounds
/// the latency this adds).
inline constexpr std::chrono::milliseconds kCoalesceWait{2};

/// A blocking read()'s wait, with the owner's lock held and the ring empty: first briefly
/// (kCoalesceWait) for `want` bytes, then until `deadline` for any, or until `finished`.
/// `reader_want` tells the writer when a wake-up is worth it (0 again afterwards).
inline void wait_for_body(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                          const BodyRing& ring, const bool& finished, std::size_t& reader_want,
                          std::size_t want, std::chrono::steady_clock::time_point deadline) {
    // Body bytes only enter the ring after the headers were published, so count > 0 means the
    // headers are known.
    reader_want = want;
    const auto coalesce = std::min(deadline, std::chrono::steady_clock::now() + kCoalesceWait);
    if (!cv.wait_until(lock, coalesce, [&] { return ring.count >= want || finished; })) {
        reader_want = 1;
        cv.wait_until(lock, deadline, [&] { return ring.count > 0 || finished; });
    }
    reader_want = 0;
}

/// The caller thread's side of the response head: taken over from the HeadTracker once the
/// driving thread has published it, and handed out once, with the first result of an attempt
/// that carries bytes or the end of the body (the ByteSource contract).
struct HeadHandover {
    ResponseHead response;  ///< the head as read() took it over; the getters read it
    bool seen = false;      ///< taken over from the tracker in this attempt
    bool given = false;     ///< ReadResult::head was handed out in this attempt

    /// For a new attempt.
    void reset() {
        response = ResponseHead{};
        seen = false;
        given = false;
    }
    /// With the owner's lock held: takes the head over once `headers_ready` (the driving thread
    /// no longer writes it in this transfer).
    void take_once(HeadTracker& tracker, bool headers_ready) {
        if (!seen && headers_ready) {
            seen = true;
            response = std::move(tracker.head);
        }
    }
    /// `r` with the head attached if it is the first result that carries bytes or the end.
    [[nodiscard]] ReadResult attach(ReadResult r) noexcept {
        if (!given && (r.bytes > 0 || r.end_of_body)) {
            given = true;
            r.head = &response;
        }
        return r;
    }
};

}  // namespace ota::detail
