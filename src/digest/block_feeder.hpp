// The buffering and final padding shared by MD5 and SHA-256 (both hash 64-byte blocks and end
// with 0x80, zeros and the message length in bits in the last 8 bytes: RFC 1321 section 3.1-3.2,
// FIPS 180-4 section 5.1.1).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ota::detail {

enum class LengthOrder { little_endian, big_endian };

/// Holds the partial block between update() calls and hands whole blocks to `compress(data,
/// blocks)` straight from the caller's buffer when it can.
class BlockFeeder {
  public:
    void reset() noexcept { total_ = 0; }

    template <typename Compress>
    void update(const std::uint8_t* data, std::size_t len, Compress&& compress) noexcept {
        if (len == 0) return;
        std::size_t used = static_cast<std::size_t>(total_ % 64);
        total_ += len;
        if (used != 0) {
            const std::size_t take = std::min<std::size_t>(64 - used, len);
            std::memcpy(pending_.data() + used, data, take);
            data += take;
            len -= take;
            used += take;
            if (used < 64) return;
            compress(pending_.data(), std::size_t{1});
        }
        const std::size_t whole = len / 64;
        if (whole != 0) {
            compress(data, whole);
            data += whole * 64;
            len -= whole * 64;
        }
        if (len != 0) std::memcpy(pending_.data(), data, len);
    }

    /// Pads and compresses the last block(s); the feeder must be reset() before reuse.
    template <typename Compress>
    void finish(LengthOrder order, Compress&& compress) noexcept {
        const std::uint64_t bits = total_ * 8;  // the length modulo 2^64 bits
        std::size_t used = static_cast<std::size_t>(total_ % 64);
        pending_[used++] = 0x80;
        if (used > 56) {
            std::memset(pending_.data() + used, 0, 64 - used);
            compress(pending_.data(), std::size_t{1});
            used = 0;
        }
        std::memset(pending_.data() + used, 0, 56 - used);
        for (std::size_t i = 0; i < 8; ++i) {
            const std::size_t shift = order == LengthOrder::little_endian ? 8 * i : 8 * (7 - i);
            pending_[56 + i] = static_cast<std::uint8_t>(bits >> shift);
        }
        compress(pending_.data(), std::size_t{1});
    }

  private:
    std::uint64_t total_ = 0;
    std::array<std::uint8_t, 64> pending_{};
};

}  // namespace ota::detail
