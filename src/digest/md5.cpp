// MD5 compression function and padding (RFC 1321), arranged for instruction-level parallelism.
//
// In every step `a = b + rotl(a + f(b, c, d) + X[k] + T[i], s)`, only `b` is new: it was produced
// by the step before. Each step below therefore adds the message word and constant to `a` first,
// and splits f so that the parts depending on c and d alone are computed while `b` is still being
// produced:
//   F(b,c,d) = d ^ (b & (c ^ d))        c ^ d ready early
//   G(b,c,d) = (b & d) + (c & ~d)       the two halves share no set bit, so | equals +; c & ~d
//                                       is added to `a` before b & d is known
//   H(b,c,d) = b ^ (c ^ d)              c ^ d ready early
//   I(b,c,d) = c ^ (b | ~d)             ~d ready early
#include "md5.hpp"

#include "common/endian.hpp"

namespace ota::detail {
namespace {

using u32 = std::uint32_t;

inline u32 rotl(u32 x, int s) noexcept {
    return (x << s) | (x >> (32 - s));
}

inline void step_f(u32& a, u32 b, u32 c, u32 d, u32 x, int s, u32 t) noexcept {
    a += x + t;
    a += d ^ (b & (c ^ d));
    a = rotl(a, s) + b;
}

inline void step_g(u32& a, u32 b, u32 c, u32 d, u32 x, int s, u32 t) noexcept {
    a += x + t + (c & ~d);
    a += b & d;
    a = rotl(a, s) + b;
}

inline void step_h(u32& a, u32 b, u32 c, u32 d, u32 x, int s, u32 t) noexcept {
    a += x + t;
    a += b ^ (c ^ d);
    a = rotl(a, s) + b;
}

inline void step_i(u32& a, u32 b, u32 c, u32 d, u32 x, int s, u32 t) noexcept {
    a += x + t;
    a += c ^ (b | ~d);
    a = rotl(a, s) + b;
}

// Processes `blocks` whole 64-byte blocks.
void compress(std::array<u32, 4>& state, const std::uint8_t* p, std::size_t blocks) noexcept {
    u32 a = state[0];
    u32 b = state[1];
    u32 c = state[2];
    u32 d = state[3];
    for (; blocks != 0; --blocks, p += 64) {
        u32 x[16];
        for (int i = 0; i < 16; ++i) x[i] = load_le32(p + 4 * i);
        const u32 a0 = a;
        const u32 b0 = b;
        const u32 c0 = c;
        const u32 d0 = d;

        // Round 1: T[i] = floor(abs(sin(i + 1)) * 2^32), message words in order.
        step_f(a, b, c, d, x[0], 7, 0xd76aa478u);
        step_f(d, a, b, c, x[1], 12, 0xe8c7b756u);
        step_f(c, d, a, b, x[2], 17, 0x242070dbu);
        step_f(b, c, d, a, x[3], 22, 0xc1bdceeeu);
        step_f(a, b, c, d, x[4], 7, 0xf57c0fafu);
        step_f(d, a, b, c, x[5], 12, 0x4787c62au);
        step_f(c, d, a, b, x[6], 17, 0xa8304613u);
        step_f(b, c, d, a, x[7], 22, 0xfd469501u);
        step_f(a, b, c, d, x[8], 7, 0x698098d8u);
        step_f(d, a, b, c, x[9], 12, 0x8b44f7afu);
        step_f(c, d, a, b, x[10], 17, 0xffff5bb1u);
        step_f(b, c, d, a, x[11], 22, 0x895cd7beu);
        step_f(a, b, c, d, x[12], 7, 0x6b901122u);
        step_f(d, a, b, c, x[13], 12, 0xfd987193u);
        step_f(c, d, a, b, x[14], 17, 0xa679438eu);
        step_f(b, c, d, a, x[15], 22, 0x49b40821u);

        // Round 2: words (1 + 5i) mod 16.
        step_g(a, b, c, d, x[1], 5, 0xf61e2562u);
        step_g(d, a, b, c, x[6], 9, 0xc040b340u);
        step_g(c, d, a, b, x[11], 14, 0x265e5a51u);
        step_g(b, c, d, a, x[0], 20, 0xe9b6c7aau);
        step_g(a, b, c, d, x[5], 5, 0xd62f105du);
        step_g(d, a, b, c, x[10], 9, 0x02441453u);
        step_g(c, d, a, b, x[15], 14, 0xd8a1e681u);
        step_g(b, c, d, a, x[4], 20, 0xe7d3fbc8u);
        step_g(a, b, c, d, x[9], 5, 0x21e1cde6u);
        step_g(d, a, b, c, x[14], 9, 0xc33707d6u);
        step_g(c, d, a, b, x[3], 14, 0xf4d50d87u);
        step_g(b, c, d, a, x[8], 20, 0x455a14edu);
        step_g(a, b, c, d, x[13], 5, 0xa9e3e905u);
        step_g(d, a, b, c, x[2], 9, 0xfcefa3f8u);
        step_g(c, d, a, b, x[7], 14, 0x676f02d9u);
        step_g(b, c, d, a, x[12], 20, 0x8d2a4c8au);

        // Round 3: words (5 + 3i) mod 16.
        step_h(a, b, c, d, x[5], 4, 0xfffa3942u);
        step_h(d, a, b, c, x[8], 11, 0x8771f681u);
        step_h(c, d, a, b, x[11], 16, 0x6d9d6122u);
        step_h(b, c, d, a, x[14], 23, 0xfde5380cu);
        step_h(a, b, c, d, x[1], 4, 0xa4beea44u);
        step_h(d, a, b, c, x[4], 11, 0x4bdecfa9u);
        step_h(c, d, a, b, x[7], 16, 0xf6bb4b60u);
        step_h(b, c, d, a, x[10], 23, 0xbebfbc70u);
        step_h(a, b, c, d, x[13], 4, 0x289b7ec6u);
        step_h(d, a, b, c, x[0], 11, 0xeaa127fau);
        step_h(c, d, a, b, x[3], 16, 0xd4ef3085u);
        step_h(b, c, d, a, x[6], 23, 0x04881d05u);
        step_h(a, b, c, d, x[9], 4, 0xd9d4d039u);
        step_h(d, a, b, c, x[12], 11, 0xe6db99e5u);
        step_h(c, d, a, b, x[15], 16, 0x1fa27cf8u);
        step_h(b, c, d, a, x[2], 23, 0xc4ac5665u);

        // Round 4: words 7i mod 16.
        step_i(a, b, c, d, x[0], 6, 0xf4292244u);
        step_i(d, a, b, c, x[7], 10, 0x432aff97u);
        step_i(c, d, a, b, x[14], 15, 0xab9423a7u);
        step_i(b, c, d, a, x[5], 21, 0xfc93a039u);
        step_i(a, b, c, d, x[12], 6, 0x655b59c3u);
        step_i(d, a, b, c, x[3], 10, 0x8f0ccc92u);
        step_i(c, d, a, b, x[10], 15, 0xffeff47du);
        step_i(b, c, d, a, x[1], 21, 0x85845dd1u);
        step_i(a, b, c, d, x[8], 6, 0x6fa87e4fu);
        step_i(d, a, b, c, x[15], 10, 0xfe2ce6e0u);
        step_i(c, d, a, b, x[6], 15, 0xa3014314u);
        step_i(b, c, d, a, x[13], 21, 0x4e0811a1u);
        step_i(a, b, c, d, x[4], 6, 0xf7537e82u);
        step_i(d, a, b, c, x[11], 10, 0xbd3af235u);
        step_i(c, d, a, b, x[2], 15, 0x2ad7d2bbu);
        step_i(b, c, d, a, x[9], 21, 0xeb86d391u);

        a += a0;
        b += b0;
        c += c0;
        d += d0;
    }
    state[0] = a;
    state[1] = b;
    state[2] = c;
    state[3] = d;
}

}  // namespace

void Md5::reset() noexcept {
    state_ = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
    feeder_.reset();
}

void Md5::update(const std::uint8_t* data, std::size_t len) noexcept {
    feeder_.update(data, len,
                   [this](const std::uint8_t* p, std::size_t n) { compress(state_, p, n); });
}

void Md5::finish(std::uint8_t* out) noexcept {
    feeder_.finish(LengthOrder::little_endian,
                   [this](const std::uint8_t* p, std::size_t n) { compress(state_, p, n); });
    for (std::size_t i = 0; i < 4; ++i) store_le32(out + 4 * i, state_[i]);
}

}  // namespace ota::detail
