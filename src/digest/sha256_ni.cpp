// SHA-256 with the x86 SHA extensions (the block function and the CPU check; the rest is in
// sha256_hw.cpp).
//
// The instructions keep the eight working variables in two registers, {A,B,E,F} and {C,D,G,H}
// (highest lane first); SHA256RNDS2 runs two rounds, taking the sum of the next two message words
// and round constants from the low lanes of its third operand; SHA256MSG1/MSG2 compute the
// message schedule four words at a time. The padding and the byte order of the length follow
// FIPS 180-4 section 5.1.1.
#include "sha256_hw.hpp"

#if defined(OTA_SHA256_HW_X86)
#include <cpuid.h>
#include <immintrin.h>

namespace ota::detail {
namespace {

bool cpu_has_sha_ni() noexcept {
    unsigned a = 0;
    unsigned b = 0;
    unsigned c = 0;
    unsigned d = 0;
    if (__get_cpuid(1, &a, &b, &c, &d) == 0) return false;
    const bool ssse3 = (c & (1U << 9)) != 0;
    const bool sse41 = (c & (1U << 19)) != 0;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return false;
    const bool sha = (b & (1U << 29)) != 0;
    return ssse3 && sse41 && sha;
}

// Four rounds: the four scheduled words `w` plus their constants, two rounds per instruction.
__attribute__((target("sha,sse4.1,ssse3"))) inline void four_rounds(__m128i& abef, __m128i& cdgh,
                                                                    __m128i w, int group) {
    const __m128i k = _mm_load_si128(reinterpret_cast<const __m128i*>(kSha256Round + 4 * group));
    const __m128i wk = _mm_add_epi32(w, k);
    cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);  // cdgh now holds the new {A,B,E,F}
    abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
    // Two rounds moved {A,B,E,F} into {C,D,G,H}: after two calls the roles are back in place.
}

}  // namespace

__attribute__((target("sha,sse4.1,ssse3"))) void sha256_compress_hw(
    std::array<std::uint32_t, 8>& state, const std::uint8_t* p, std::size_t blocks) noexcept {
    // Byte order: message words are big-endian.
    const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
    // state = {a..d}, {e..h} (lowest lane first) -> {F,E,B,A}, {H,G,D,C}.
    const __m128i abcd = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state.data()));
    const __m128i efgh = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state.data() + 4));
    const __m128i badc = _mm_shuffle_epi32(abcd, 0xB1);
    const __m128i hgfe = _mm_shuffle_epi32(efgh, 0x1B);
    __m128i abef = _mm_alignr_epi8(badc, hgfe, 8);
    __m128i cdgh = _mm_blend_epi16(hgfe, badc, 0xF0);

    for (; blocks != 0; --blocks, p += 64) {
        const __m128i abef0 = abef;
        const __m128i cdgh0 = cdgh;
        // w[j % 4] holds message words 4j..4j+3 while they are needed.
        __m128i w[4];
        for (int j = 0; j < 4; ++j) {
            w[j] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * j)),
                                    bswap);
            four_rounds(abef, cdgh, w[j], j);
        }
        for (int j = 4; j < 16; ++j) {
            // W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four words at once:
            // MSG1 adds s0(W[t-15]) to W[t-16]; W[t-7] straddles groups j-2 and j-1; MSG2 adds
            // s1(W[t-2]), including the words this group produces itself.
            const __m128i& g4 = w[j % 4];        // group j-4
            const __m128i& g3 = w[(j + 1) % 4];  // group j-3
            const __m128i& g2 = w[(j + 2) % 4];  // group j-2
            const __m128i& g1 = w[(j + 3) % 4];  // group j-1
            __m128i next = _mm_sha256msg1_epu32(g4, g3);
            next = _mm_add_epi32(next, _mm_alignr_epi8(g1, g2, 4));
            next = _mm_sha256msg2_epu32(next, g1);
            w[j % 4] = next;
            four_rounds(abef, cdgh, next, j);
        }
        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
    }

    // {F,E,B,A}, {H,G,D,C} -> {a..d}, {e..h}.
    const __m128i abfe = _mm_shuffle_epi32(abef, 0x1B);
    const __m128i ghcd = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(state.data()), _mm_blend_epi16(abfe, ghcd, 0xF0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(state.data() + 4), _mm_alignr_epi8(ghcd, abfe, 8));
}

bool sha256_cpu_has_instructions() noexcept {
    return cpu_has_sha_ni();
}

}  // namespace ota::detail

#endif  // OTA_SHA256_HW_X86
