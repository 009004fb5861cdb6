// The instruction-set independent half of the hardware SHA-256: the running state, buffering and
// padding (FIPS 180-4 section 5.1.1, through BlockFeeder), and the switch the tests use to force
// the Mbed TLS path on a CPU that has the instructions (every CPU model qemu-aarch64 7.2 offers
// has them, so the fallback cannot be reached by picking a CPU there).
#include "sha256_hw.hpp"

#include <atomic>

namespace ota::detail {
namespace {

std::atomic<bool> g_disabled{false};

void store_be32(std::uint8_t* p, std::uint32_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}

}  // namespace

#if !defined(OTA_SHA256_HW_X86) && !defined(OTA_SHA256_HW_ARMV8)
// No hardware SHA-256 for this architecture or compiler (README "Size"), so the
// Hasher never picks this engine and sha256_compress_hw() is never reached.
bool sha256_cpu_has_instructions() noexcept {
    return false;
}

void sha256_compress_hw(std::array<std::uint32_t, 8>&, const std::uint8_t*, std::size_t) noexcept {}
#endif

bool sha256_hw_available() noexcept {
    static const bool cpu = sha256_cpu_has_instructions();
    return cpu && !g_disabled.load(std::memory_order_relaxed);
}

void set_sha256_hw_disabled(bool disabled) noexcept {
    g_disabled.store(disabled, std::memory_order_relaxed);
}

void Sha256Hw::reset() noexcept {
    state_ = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
              0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
    feeder_.reset();
}

void Sha256Hw::update(const std::uint8_t* data, std::size_t len) noexcept {
    feeder_.update(data, len, [this](const std::uint8_t* p, std::size_t n) {
        sha256_compress_hw(state_, p, n);
    });
}

void Sha256Hw::finish(std::uint8_t* out) noexcept {
    feeder_.finish(LengthOrder::big_endian, [this](const std::uint8_t* p, std::size_t n) {
        sha256_compress_hw(state_, p, n);
    });
    for (std::size_t i = 0; i < 8; ++i) store_be32(out + 4 * i, state_[i]);
}

}  // namespace ota::detail
