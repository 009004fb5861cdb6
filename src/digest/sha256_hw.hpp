// SHA-256 (FIPS 180-4) on the CPU's SHA-256 instructions, used when the CPU has them.
//
// Mbed TLS 2.28 computes SHA-256 in portable C (about 210 MiB/s on the x86-64 build machine),
// which makes SHA-256 jobs several times slower than the download itself. Most x86-64 CPUs since
// 2017-2019 (the SHA extensions, "SHA-NI") and most 64-bit ARM application cores (the ARMv8
// Cryptography Extension) do the same rounds in hardware, several times faster. The Hasher uses
// this implementation when sha256_hw_available() is true and Mbed TLS otherwise;
// tests/unit/digest_test.cpp checks both against each other.
//
// One file per instruction set holds the block function and the CPU check
// (sha256_ni.cpp: x86-64, sha256_armv8.cpp: aarch64 and 32-bit ARM); only that file is compiled for
// the instructions, through function target attributes, so the rest of the library keeps the
// baseline ISA and runs on CPUs without them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "block_feeder.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define OTA_SHA256_HW_X86 1
#elif (defined(__aarch64__) || defined(__arm__)) && defined(__linux__) && defined(__GNUC__) && \
    !defined(__clang__)
// 64-bit ARM, and 32-bit ARM (AArch32 on an ARMv8 core; ARMv7 cores have no such instructions).
// GCC only: clang 14's arm_neon.h declares the SHA-2 intrinsics only when the whole file is
// compiled for them, not for one function with a target attribute, so clang builds use Mbed TLS.
#define OTA_SHA256_HW_ARMV8 1
#endif

namespace ota::detail {

/// True when this build has a hardware SHA-256 for its architecture (x86-64: SHA-NI with SSSE3
/// and SSE4.1, checked once with CPUID; ARM Linux: the ARMv8 SHA-2 instructions, checked once
/// with getauxval(), AT_HWCAP on aarch64 and AT_HWCAP2 on 32-bit ARM), the CPU running it has the
/// instructions, and the tests have not switched it off.
[[nodiscard]] bool sha256_hw_available() noexcept;

/// Tests only: makes sha256_hw_available() false (false restores CPU detection). Affects Hashers
/// started afterwards.
void set_sha256_hw_disabled(bool disabled) noexcept;

/// What the CPU running this build reports, ignoring set_sha256_hw_disabled(); false on an
/// architecture without a hardware SHA-256 here. Defined by the instruction set's own file.
[[nodiscard]] bool sha256_cpu_has_instructions() noexcept;

/// Compresses `blocks` 64-byte blocks at `p` into `state` ({a..h}) with the instructions. Only
/// call it when sha256_cpu_has_instructions(). Defined by the instruction set's own file.
void sha256_compress_hw(std::array<std::uint32_t, 8>& state, const std::uint8_t* p,
                        std::size_t blocks) noexcept;

/// The 64 round constants K (FIPS 180-4 section 4.2.2), 16-byte aligned for vector loads.
alignas(16) inline constexpr std::uint32_t kSha256Round[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u,
    0xab1c5ed5u, 0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu,
    0x9bdc06a7u, 0xc19bf174u, 0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu,
    0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau, 0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u,
    0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu,
    0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u, 0xa2bfe8a1u, 0xa81a664bu,
    0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u, 0x19a4c116u,
    0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u,
    0xc67178f2u};

/// A running SHA-256 on the CPU's instructions. Only use it when sha256_hw_available().
class Sha256Hw {
  public:
    static constexpr std::size_t kDigestSize = 32;

    Sha256Hw() noexcept { reset(); }
    void reset() noexcept;
    void update(const std::uint8_t* data, std::size_t len) noexcept;
    /// Writes the 32-byte digest; reset() before reusing the object.
    void finish(std::uint8_t* out) noexcept;

  private:
    std::array<std::uint32_t, 8> state_{};
    BlockFeeder feeder_;
};

}  // namespace ota::detail
