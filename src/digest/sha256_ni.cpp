// SHA-256 with the x86 SHA extensions.
//
// The instructions keep the eight working variables in two registers, {A,B,E,F} and {C,D,G,H}
// (highest lane first); SHA256RNDS2 runs two rounds, taking the sum of the next two message words
// and round constants from the low lanes of its third operand; SHA256MSG1/MSG2 compute the
// message schedule four words at a time. The padding and the byte order of the length follow
// FIPS 180-4 section 5.1.1.
#include "sha256_ni.hpp"

#include <atomic>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define OTA_HAVE_SHA_NI 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define OTA_HAVE_SHA_NI 0
#endif

namespace ota::detail {
namespace {

std::atomic<bool> g_disabled{false};

#if OTA_HAVE_SHA_NI

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

alignas(16) constexpr std::uint32_t kRound[64] = {
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

// Four rounds: the four scheduled words `w` plus their constants, two rounds per instruction.
__attribute__((target("sha,sse4.1,ssse3"))) inline void four_rounds(__m128i& abef, __m128i& cdgh,
                                                                    __m128i w, int group) {
    const __m128i k = _mm_load_si128(reinterpret_cast<const __m128i*>(kRound + 4 * group));
    const __m128i wk = _mm_add_epi32(w, k);
    cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);  // cdgh now holds the new {A,B,E,F}
    abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
    // Two rounds moved {A,B,E,F} into {C,D,G,H}: after two calls the roles are back in place.
}

__attribute__((target("sha,sse4.1,ssse3"))) void compress(std::array<std::uint32_t, 8>& state,
                                                          const std::uint8_t* p,
                                                          std::size_t blocks) noexcept {
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

#else  // no SHA-NI in this build: never available, so compress() is never reached

bool cpu_has_sha_ni() noexcept {
    return false;
}

void compress(std::array<std::uint32_t, 8>&, const std::uint8_t*, std::size_t) noexcept {}

#endif

void store_be32(std::uint8_t* p, std::uint32_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}

}  // namespace

bool sha256_ni_available() noexcept {
    static const bool cpu = cpu_has_sha_ni();
    return cpu && !g_disabled.load(std::memory_order_relaxed);
}

void set_sha256_ni_disabled(bool disabled) noexcept {
    g_disabled.store(disabled, std::memory_order_relaxed);
}

void Sha256Ni::reset() noexcept {
    state_ = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
              0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
    feeder_.reset();
}

void Sha256Ni::update(const std::uint8_t* data, std::size_t len) noexcept {
    feeder_.update(data, len,
                   [this](const std::uint8_t* p, std::size_t n) { compress(state_, p, n); });
}

void Sha256Ni::finish(std::uint8_t* out) noexcept {
    feeder_.finish(LengthOrder::big_endian,
                   [this](const std::uint8_t* p, std::size_t n) { compress(state_, p, n); });
    for (std::size_t i = 0; i < 8; ++i) store_be32(out + 4 * i, state_[i]);
}

}  // namespace ota::detail
