// SHA-256 with the ARMv8 Cryptography Extension's SHA-2 instructions, on aarch64 and on 32-bit
// ARM (AArch32: an armhf build running on an ARMv8 core) (the block function and the CPU check;
// the rest is in sha256_hw.cpp). The intrinsics are the same in both states.
//
// The instructions keep the eight working variables in two registers, {a,b,c,d} and {e,f,g,h}
// (lowest lane first, the order of the state array); SHA256H and SHA256H2 together run four
// rounds, the first producing the new {a,b,c,d} and the second the new {e,f,g,h} from the old
// {a,b,c,d}, both taking the four message words plus round constants as their third operand;
// SHA256SU0/SU1 compute the message schedule four words at a time.
//
// The instructions are optional in ARMv8.0 (the Cryptography Extension; Raspberry Pi 3 and 4
// lack it, many Cortex-A53/A72 SoCs and server cores have it; ARMv7 cores never do), so the
// compiler gets them for the function below only (target attribute) and the Linux kernel's
// HWCAP_SHA2 bit (HWCAP2_SHA2 for 32-bit programs) says whether this CPU has them.
#include "sha256_hw.hpp"

#if defined(OTA_SHA256_HW_ARMV8)
#include <arm_neon.h>
#include <asm/hwcap.h>
#include <sys/auxv.h>

#if defined(__aarch64__)
#define OTA_SHA2_TARGET "+crypto"
#else
// The instructions need the ARMv8 architecture and its crypto FPU/NEON unit; the hard-float
// calling convention is unchanged (no floating-point arguments cross this function).
#define OTA_SHA2_TARGET "arch=armv8-a,fpu=crypto-neon-fp-armv8"
#endif

namespace ota::detail {

bool sha256_cpu_has_instructions() noexcept {
#if defined(__aarch64__)
    return (getauxval(AT_HWCAP) & HWCAP_SHA2) != 0;
#else
    return (getauxval(AT_HWCAP2) & HWCAP2_SHA2) != 0;
#endif
}

__attribute__((target(OTA_SHA2_TARGET))) void sha256_compress_hw(
    std::array<std::uint32_t, 8>& state, const std::uint8_t* p, std::size_t blocks) noexcept {
    uint32x4_t abcd = vld1q_u32(state.data());
    uint32x4_t efgh = vld1q_u32(state.data() + 4);

    for (; blocks != 0; --blocks, p += 64) {
        const uint32x4_t abcd0 = abcd;
        const uint32x4_t efgh0 = efgh;
        // w[j % 4] holds message words 4j..4j+3 while they are needed.
        uint32x4_t w[4];
        for (int j = 0; j < 16; ++j) {
            if (j < 4) {
                // Message words are big-endian.
                w[j] = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(p + 16 * j)));
            } else {
                // W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four words at once: SU0
                // adds s0(W[t-15]) to W[t-16] (groups j-4 and j-3), SU1 adds W[t-7] and
                // s1(W[t-2]) (groups j-2 and j-1, including the words this group produces).
                w[j % 4] = vsha256su1q_u32(vsha256su0q_u32(w[j % 4], w[(j + 1) % 4]),
                                           w[(j + 2) % 4], w[(j + 3) % 4]);
            }
            const uint32x4_t wk = vaddq_u32(w[j % 4], vld1q_u32(kSha256Round + 4 * j));
            const uint32x4_t abcd_before = abcd;
            abcd = vsha256hq_u32(abcd, efgh, wk);
            efgh = vsha256h2q_u32(efgh, abcd_before, wk);
        }
        abcd = vaddq_u32(abcd, abcd0);
        efgh = vaddq_u32(efgh, efgh0);
    }

    vst1q_u32(state.data(), abcd);
    vst1q_u32(state.data() + 4, efgh);
}

}  // namespace ota::detail

#endif  // OTA_SHA256_HW_ARMV8
