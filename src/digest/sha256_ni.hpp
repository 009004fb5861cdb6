// SHA-256 (FIPS 180-4) on the x86 SHA extensions, used when the CPU has them.
//
// Mbed TLS 2.28 computes SHA-256 in portable C (about 210 MiB/s here), which makes SHA-256 jobs
// several times slower than the download itself. CPUs with the SHA extensions (SHA-NI: most
// x86-64 CPUs since 2017-2019) do the same rounds in hardware, several times faster. The Hasher
// uses this implementation when sha256_ni_available() is true and Mbed TLS otherwise;
// tests/unit/digest_test.cpp checks both against each other.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "block_feeder.hpp"

namespace ota::detail {

/// True when this build targets x86-64 and the CPU running it has SHA-NI, SSSE3 and SSE4.1
/// (checked once with CPUID), and the tests have not switched it off.
[[nodiscard]] bool sha256_ni_available() noexcept;

/// Tests only: makes sha256_ni_available() false (true restores CPU detection). Affects Hashers
/// started afterwards.
void set_sha256_ni_disabled(bool disabled) noexcept;

/// A running SHA-256 on SHA-NI. Only use it when sha256_ni_available().
class Sha256Ni {
  public:
    static constexpr std::size_t kDigestSize = 32;

    Sha256Ni() noexcept { reset(); }
    void reset() noexcept;
    void update(const std::uint8_t* data, std::size_t len) noexcept;
    /// Writes the 32-byte digest; reset() before reusing the object.
    void finish(std::uint8_t* out) noexcept;

  private:
    std::array<std::uint32_t, 8> state_{};
    BlockFeeder feeder_;
};

}  // namespace ota::detail
