// Hasher and hex helpers: published vectors fed whole, split and in random chunks, plus the
// lifecycle rules (restart, reuse after finish, moves, misuse).
#include "ota/digest.hpp"

#include <gtest/gtest.h>
#include <mbedtls/md.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__) || defined(__arm__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include "digest/sha256_hw.hpp"
#include "ota/status.hpp"

namespace ota {
namespace {

struct Vector {
    const char* name;
    DigestAlgorithm alg;
    std::string input;
    const char* expected_hex;
};

void PrintTo(const Vector& v, std::ostream* os) {
    *os << v.name;
}

std::vector<Vector> all_vectors() {
    return {
        // RFC 1321, appendix A.5.
        {"md5_empty", DigestAlgorithm::md5, "", "d41d8cd98f00b204e9800998ecf8427e"},
        {"md5_a", DigestAlgorithm::md5, "a", "0cc175b9c0f1b6a831c399e269772661"},
        {"md5_abc", DigestAlgorithm::md5, "abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"md5_message_digest", DigestAlgorithm::md5, "message digest",
         "f96b697d7cb7938d525a2f31aaf161d0"},
        {"md5_alphabet", DigestAlgorithm::md5, "abcdefghijklmnopqrstuvwxyz",
         "c3fcd3d76192e4007dfb496cca67e13b"},
        {"md5_alnum", DigestAlgorithm::md5,
         "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"md5_digits80", DigestAlgorithm::md5,
         "1234567890123456789012345678901234567890123456789012345678901234567890123456789"
         "0",
         "57edf4a22be3c955ac49da2e2107b67a"},
        // FIPS 180-2 appendix B.
        {"sha256_abc", DigestAlgorithm::sha256, "abc",
         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"sha256_448bit", DigestAlgorithm::sha256,
         "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"sha256_million_a", DigestAlgorithm::sha256, std::string(1000000, 'a'),
         "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
    };
}

const std::uint8_t* bytes(const std::string& s) {
    return reinterpret_cast<const std::uint8_t*>(s.data());
}

// Feeds `input` to a fresh hasher as the given sequence of chunk sizes and returns the hex digest.
std::string hash_in_chunks(DigestAlgorithm alg, const std::string& input,
                           const std::vector<std::size_t>& chunks) {
    Hasher h;
    EXPECT_EQ(h.start(alg), Status::ok);
    std::size_t off = 0;
    for (std::size_t n : chunks) {
        EXPECT_EQ(h.update(bytes(input) + off, n), Status::ok);
        off += n;
    }
    EXPECT_EQ(off, input.size()) << "chunk plan does not cover the input";
    std::string out;
    EXPECT_EQ(h.finish_hex(out), Status::ok);
    EXPECT_FALSE(h.active());
    return out;
}

class DigestVectors : public testing::TestWithParam<Vector> {};

TEST_P(DigestVectors, Whole) {
    const Vector& v = GetParam();
    EXPECT_EQ(hash_in_chunks(v.alg, v.input, {v.input.size()}), v.expected_hex);
}

TEST_P(DigestVectors, TwoHalves) {
    const Vector& v = GetParam();
    const std::size_t half = v.input.size() / 2;
    EXPECT_EQ(hash_in_chunks(v.alg, v.input, {half, v.input.size() - half}), v.expected_hex);
}

TEST_P(DigestVectors, ByteByByte) {
    const Vector& v = GetParam();
    EXPECT_EQ(hash_in_chunks(v.alg, v.input, std::vector<std::size_t>(v.input.size(), 1)),
              v.expected_hex);
}

TEST_P(DigestVectors, RandomChunksSeveralSeeds) {
    const Vector& v = GetParam();
    for (std::uint32_t seed : {1U, 7U, 42U, 2024U, 0xC0FFEEU}) {
        std::mt19937 rng(seed);
        // Chunks from empty up to a bit past the 64-byte block size, or much larger for big inputs.
        const std::size_t max_chunk = v.input.size() > 1000 ? 70000 : 130;
        std::uniform_int_distribution<std::size_t> dist(0, max_chunk);
        std::vector<std::size_t> chunks;
        std::size_t left = v.input.size();
        while (left > 0) {
            const std::size_t n = std::min(left, dist(rng));
            chunks.push_back(n);
            left -= n;
        }
        chunks.push_back(0);  // a trailing empty update must not change anything
        EXPECT_EQ(hash_in_chunks(v.alg, v.input, chunks), v.expected_hex) << "seed " << seed;
    }
}

TEST_P(DigestVectors, DigestHexConvenience) {
    const Vector& v = GetParam();
    std::string out;
    const Error e = digest_hex(v.alg, bytes(v.input), v.input.size(), out);
    ASSERT_TRUE(e.ok()) << e.message();
    EXPECT_EQ(out, v.expected_hex);
}

TEST_P(DigestVectors, RawFinishMatchesHex) {
    const Vector& v = GetParam();
    Hasher h;
    ASSERT_EQ(h.start(v.alg), Status::ok);
    ASSERT_EQ(h.update(bytes(v.input), v.input.size()), Status::ok);
    std::array<std::uint8_t, kMaxDigestSize> raw{};
    ASSERT_EQ(h.finish(raw.data(), digest_size(v.alg)), Status::ok);
    EXPECT_EQ(to_hex(raw.data(), digest_size(v.alg)), v.expected_hex);
}

INSTANTIATE_TEST_SUITE_P(Published, DigestVectors, testing::ValuesIn(all_vectors()),
                         [](const testing::TestParamInfo<Vector>& param_info) {
                             return std::string(param_info.param.name);
                         });

constexpr const char* kMd5Abc = "900150983cd24fb0d6963f7d28e17f72";
constexpr const char* kMd5Empty = "d41d8cd98f00b204e9800998ecf8427e";
constexpr const char* kSha256Abc =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr const char* kSha256Empty =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(Hasher, MetadataHelpers) {
    EXPECT_EQ(digest_size(DigestAlgorithm::md5), 16U);
    EXPECT_EQ(digest_size(DigestAlgorithm::sha256), 32U);
    EXPECT_STREQ(to_string(DigestAlgorithm::md5), "md5");
    EXPECT_STREQ(to_string(DigestAlgorithm::sha256), "sha256");
}

TEST(Hasher, UnknownAlgorithmIsRefused) {
    const auto bogus = static_cast<DigestAlgorithm>(7);
    EXPECT_STREQ(to_string(bogus), "unknown");
    Hasher h;
    ASSERT_EQ(h.start(DigestAlgorithm::md5), Status::ok);
    // A refused start() still ends the running digest.
    EXPECT_EQ(h.start(bogus), Status::crypto_failed);
    EXPECT_FALSE(h.active());
    const std::string abc = "abc";
    EXPECT_EQ(h.update(bytes(abc), abc.size()), Status::invalid_state);

    std::string out = "unchanged";
    const Error e = digest_hex(bogus, bytes(abc), abc.size(), out);
    EXPECT_EQ(e.status, Status::crypto_failed);
    EXPECT_NE(e.detail.find("cannot start"), std::string::npos) << e.detail;
    EXPECT_EQ(out, "unchanged");
}

TEST(Hasher, DefaultConstructedIsInactive) {
    Hasher h;
    EXPECT_FALSE(h.active());
}

TEST(Hasher, UpdateBeforeStartIsInvalidState) {
    Hasher h;
    const std::string abc = "abc";
    EXPECT_EQ(h.update(bytes(abc), abc.size()), Status::invalid_state);
    std::string out;
    EXPECT_EQ(h.finish_hex(out), Status::invalid_state);
    EXPECT_TRUE(out.empty());
}

TEST(Hasher, UseAfterFinishNeedsStart) {
    Hasher h;
    const std::string abc = "abc";
    ASSERT_EQ(h.start(DigestAlgorithm::md5), Status::ok);
    EXPECT_TRUE(h.active());
    ASSERT_EQ(h.update(bytes(abc), abc.size()), Status::ok);
    std::string out;
    ASSERT_EQ(h.finish_hex(out), Status::ok);
    EXPECT_FALSE(h.active());
    EXPECT_EQ(h.update(bytes(abc), abc.size()), Status::invalid_state);
    std::string again;
    EXPECT_EQ(h.finish_hex(again), Status::invalid_state);
    std::array<std::uint8_t, kMaxDigestSize> raw{};
    EXPECT_EQ(h.finish(raw.data(), raw.size()), Status::invalid_state);
}

TEST(Hasher, StartAgainAfterFinishGivesFreshDigest) {
    Hasher h;
    const std::string abc = "abc";
    for (int job = 0; job < 3; ++job) {
        ASSERT_EQ(h.start(DigestAlgorithm::md5), Status::ok);
        ASSERT_EQ(h.update(bytes(abc), abc.size()), Status::ok);
        std::string out;
        ASSERT_EQ(h.finish_hex(out), Status::ok);
        EXPECT_EQ(out, kMd5Abc) << "job " << job;
    }
}

TEST(Hasher, StartOnActiveHasherDiscardsState) {
    Hasher h;
    const std::string junk = "partial data of an abandoned job";
    const std::string abc = "abc";
    ASSERT_EQ(h.start(DigestAlgorithm::md5), Status::ok);
    ASSERT_EQ(h.update(bytes(junk), junk.size()), Status::ok);
    ASSERT_EQ(h.start(DigestAlgorithm::md5), Status::ok);
    ASSERT_EQ(h.update(bytes(abc), abc.size()), Status::ok);
    std::string out;
    ASSERT_EQ(h.finish_hex(out), Status::ok);
    EXPECT_EQ(out, kMd5Abc);
}

TEST(Hasher, RestartSwitchesAlgorithm) {
    Hasher h;
    const std::string abc = "abc";
    ASSERT_EQ(h.start(DigestAlgorithm::md5), Status::ok);
    ASSERT_EQ(h.update(bytes(abc), abc.size()), Status::ok);
    ASSERT_EQ(h.start(DigestAlgorithm::sha256), Status::ok);
    EXPECT_EQ(h.algorithm(), DigestAlgorithm::sha256);
    ASSERT_EQ(h.update(bytes(abc), abc.size()), Status::ok);
    std::string out;
    ASSERT_EQ(h.finish_hex(out), Status::ok);
    EXPECT_EQ(out, kSha256Abc);

    ASSERT_EQ(h.start(DigestAlgorithm::md5), Status::ok);
    EXPECT_EQ(h.algorithm(), DigestAlgorithm::md5);
    ASSERT_EQ(h.finish_hex(out), Status::ok);
    EXPECT_EQ(out, kMd5Empty);
}

TEST(Hasher, EmptyUpdateIsAcceptedEvenWithNullData) {
    Hasher h;
    ASSERT_EQ(h.start(DigestAlgorithm::sha256), Status::ok);
    EXPECT_EQ(h.update(nullptr, 0), Status::ok);
    std::string out;
    ASSERT_EQ(h.finish_hex(out), Status::ok);
    EXPECT_EQ(out, kSha256Empty);
}

TEST(Hasher, NullDataWithLengthIsRejected) {
    Hasher h;
    ASSERT_EQ(h.start(DigestAlgorithm::sha256), Status::ok);
    EXPECT_EQ(h.update(nullptr, 3), Status::invalid_argument);
    std::string out;
    EXPECT_FALSE(digest_hex(DigestAlgorithm::md5, nullptr, 3, out).ok());
    EXPECT_EQ(digest_hex(DigestAlgorithm::md5, nullptr, 3, out).status, Status::invalid_argument);
}

TEST(Hasher, FinishWithTooSmallBufferTruncatesNothingAndKeepsRunning) {
    Hasher h;
    const std::string abc = "abc";
    ASSERT_EQ(h.start(DigestAlgorithm::sha256), Status::ok);
    ASSERT_EQ(h.update(bytes(abc), abc.size()), Status::ok);
    std::array<std::uint8_t, kMaxDigestSize> raw{};
    raw.fill(0xAA);
    EXPECT_EQ(h.finish(raw.data(), 16), Status::buffer_too_small);
    for (std::uint8_t b : raw) ASSERT_EQ(b, 0xAA) << "nothing may be written";
    EXPECT_EQ(h.finish(nullptr, 32), Status::buffer_too_small);
    EXPECT_TRUE(h.active());
    // The digest is still intact: finishing with a large enough buffer gives the right value.
    ASSERT_EQ(h.finish(raw.data(), raw.size()), Status::ok);
    EXPECT_EQ(to_hex(raw.data(), 32), kSha256Abc);
}

TEST(Hasher, Md5FinishNeedsOnlySixteenBytes) {
    Hasher h;
    ASSERT_EQ(h.start(DigestAlgorithm::md5), Status::ok);
    std::array<std::uint8_t, 16> raw{};
    EXPECT_EQ(h.finish(raw.data(), 15), Status::buffer_too_small);
    ASSERT_EQ(h.finish(raw.data(), raw.size()), Status::ok);
    EXPECT_EQ(to_hex(raw.data(), raw.size()), kMd5Empty);
}

TEST(Hasher, MoveConstructionCarriesRunningState) {
    const std::string ab = "ab";
    const std::string c = "c";
    Hasher a;
    ASSERT_EQ(a.start(DigestAlgorithm::sha256), Status::ok);
    ASSERT_EQ(a.update(bytes(ab), ab.size()), Status::ok);
    Hasher b(std::move(a));
    EXPECT_TRUE(b.active());
    EXPECT_EQ(b.algorithm(), DigestAlgorithm::sha256);
    EXPECT_FALSE(a.active());  // NOLINT(bugprone-use-after-move): moved-from state is specified
    EXPECT_EQ(a.update(bytes(c), c.size()), Status::invalid_state);  // NOLINT
    ASSERT_EQ(b.update(bytes(c), c.size()), Status::ok);
    std::string out;
    ASSERT_EQ(b.finish_hex(out), Status::ok);
    EXPECT_EQ(out, kSha256Abc);

    // A moved-from hasher becomes usable again after start().
    ASSERT_EQ(a.start(DigestAlgorithm::md5), Status::ok);  // NOLINT
    ASSERT_EQ(a.update(bytes(ab), ab.size()), Status::ok);
    ASSERT_EQ(a.update(bytes(c), c.size()), Status::ok);
    ASSERT_EQ(a.finish_hex(out), Status::ok);
    EXPECT_EQ(out, kMd5Abc);
}

TEST(Hasher, MoveAssignmentReplacesTargetState) {
    const std::string ab = "ab";
    const std::string c = "c";
    const std::string junk = "junk";
    Hasher src;
    ASSERT_EQ(src.start(DigestAlgorithm::md5), Status::ok);
    ASSERT_EQ(src.update(bytes(ab), ab.size()), Status::ok);
    Hasher dst;
    ASSERT_EQ(dst.start(DigestAlgorithm::sha256), Status::ok);
    ASSERT_EQ(dst.update(bytes(junk), junk.size()), Status::ok);

    dst = std::move(src);
    EXPECT_TRUE(dst.active());
    EXPECT_EQ(dst.algorithm(), DigestAlgorithm::md5);
    EXPECT_FALSE(src.active());  // NOLINT(bugprone-use-after-move)
    ASSERT_EQ(dst.update(bytes(c), c.size()), Status::ok);
    std::string out;
    ASSERT_EQ(dst.finish_hex(out), Status::ok);
    EXPECT_EQ(out, kMd5Abc);

    // Moving an inactive hasher over an active one leaves the target inactive.
    Hasher idle;
    ASSERT_EQ(dst.start(DigestAlgorithm::md5), Status::ok);
    dst = std::move(idle);
    EXPECT_FALSE(dst.active());
    EXPECT_EQ(dst.update(bytes(c), c.size()), Status::invalid_state);
}

TEST(Hasher, SelfMoveAssignmentKeepsState) {
    const std::string abc = "abc";
    Hasher h;
    ASSERT_EQ(h.start(DigestAlgorithm::md5), Status::ok);
    Hasher& alias = h;
    h = std::move(alias);
    EXPECT_TRUE(h.active());
    ASSERT_EQ(h.update(bytes(abc), abc.size()), Status::ok);
    std::string out;
    ASSERT_EQ(h.finish_hex(out), Status::ok);
    EXPECT_EQ(out, kMd5Abc);
}

TEST(HexHelpers, ToHexIsLowerCaseTwoDigitsPerByte) {
    const std::array<std::uint8_t, 5> data{0x00, 0x0F, 0xA5, 0xF0, 0xFF};
    EXPECT_EQ(to_hex(data.data(), data.size()), "000fa5f0ff");
    EXPECT_EQ(to_hex(data.data(), 0), "");
}

TEST(HexHelpers, HexEqualIgnoresCase) {
    EXPECT_TRUE(hex_equal("900150983cd24fb0d6963f7d28e17f72", "900150983CD24FB0D6963F7D28E17F72"));
    EXPECT_TRUE(hex_equal("abcdef", "AbCdEf"));
    EXPECT_TRUE(hex_equal("", ""));
}

TEST(HexHelpers, HexEqualDetectsDifferences) {
    EXPECT_FALSE(hex_equal("900150983cd24fb0d6963f7d28e17f72", "900150983cd24fb0d6963f7d28e17f73"));
    EXPECT_FALSE(hex_equal("abcdef", "abcdee"));
}

TEST(HexHelpers, HexEqualChecksLength) {
    EXPECT_FALSE(hex_equal("abcdef", "abcde"));
    EXPECT_FALSE(hex_equal("abcdef", "abcdef0"));
    EXPECT_FALSE(hex_equal("", "0"));
}

TEST(HexHelpers, HexEqualRejectsNonHex) {
    // Equal strings that are not hex must not compare equal as digests.
    EXPECT_FALSE(hex_equal("zz", "zz"));
    EXPECT_FALSE(hex_equal("g0", "G0"));
    // Either side alone being non-hex is enough.
    EXPECT_FALSE(hex_equal("a0", "ag"));
    EXPECT_FALSE(hex_equal("ag", "a0"));
}

TEST(HexHelpers, IsHexDigest) {
    EXPECT_TRUE(is_hex_digest(kMd5Abc, DigestAlgorithm::md5));
    EXPECT_TRUE(is_hex_digest("900150983CD24FB0D6963F7D28E17F72", DigestAlgorithm::md5));
    EXPECT_TRUE(is_hex_digest(kSha256Abc, DigestAlgorithm::sha256));
    // Right characters, wrong length for the algorithm.
    EXPECT_FALSE(is_hex_digest(kSha256Abc, DigestAlgorithm::md5));
    EXPECT_FALSE(is_hex_digest(kMd5Abc, DigestAlgorithm::sha256));
    EXPECT_FALSE(is_hex_digest("900150983cd24fb0d6963f7d28e17f7", DigestAlgorithm::md5));
    EXPECT_FALSE(is_hex_digest("", DigestAlgorithm::md5));
    // Right length, a non-hex character.
    EXPECT_FALSE(is_hex_digest("900150983cd24fb0d6963f7d28e17f7g", DigestAlgorithm::md5));
    EXPECT_FALSE(is_hex_digest("900150983cd24fb0d6963f7d28e17f7 ", DigestAlgorithm::md5));
}

// The built-in MD5 (src/digest/md5.cpp) and the hardware SHA-256 (src/digest/sha256_hw.hpp: x86
// SHA-NI, ARMv8 SHA-2) against Mbed TLS's as the reference: every length from 0 to 1,100 bytes
// (all padding cases: 55/56/63/64 bytes into a block, one and two padding blocks) fed in random
// chunks, every split of every length up to 200 bytes, and a multi-MiB input fed in uneven
// pieces. SHA-256 runs twice: with the CPU's instructions (when this CPU has them: under
// qemu-aarch64 every CPU model does) and with them switched off, so the Mbed TLS path is covered
// on every machine.
struct Engine {
    const char* name;
    DigestAlgorithm alg;
    bool disable_sha_hw;
};

void PrintTo(const Engine& e, std::ostream* os) {
    *os << e.name;
}

class DigestEngines : public ::testing::TestWithParam<Engine> {
  protected:
    void SetUp() override { detail::set_sha256_hw_disabled(GetParam().disable_sha_hw); }
    void TearDown() override { detail::set_sha256_hw_disabled(false); }

    static std::string reference_hex(DigestAlgorithm alg, const std::vector<std::uint8_t>& data) {
        std::array<unsigned char, 32> raw{};
        const mbedtls_md_info_t* info = mbedtls_md_info_from_type(
            alg == DigestAlgorithm::md5 ? MBEDTLS_MD_MD5 : MBEDTLS_MD_SHA256);
        if (info == nullptr || mbedtls_md(info, data.data(), data.size(), raw.data()) != 0) {
            return "";
        }
        return to_hex(raw.data(), digest_size(alg));
    }

    static std::string chunked_hex(DigestAlgorithm alg, const std::vector<std::uint8_t>& data,
                                   std::mt19937& rng, std::size_t max_chunk) {
        Hasher h;
        if (h.start(alg) != Status::ok) return "start failed";
        std::size_t off = 0;
        std::uniform_int_distribution<std::size_t> pick(1, max_chunk);
        while (off < data.size()) {
            const std::size_t n = std::min(pick(rng), data.size() - off);
            if (h.update(data.data() + off, n) != Status::ok) return "update failed";
            off += n;
        }
        std::string out;
        if (h.finish_hex(out) != Status::ok) return "finish failed";
        return out;
    }
};

TEST_P(DigestEngines, MatchesMbedTlsForEveryLengthUpTo1100) {
    const DigestAlgorithm alg = GetParam().alg;
    std::mt19937 rng(1321);
    std::uniform_int_distribution<int> byte(0, 255);
    std::vector<std::uint8_t> data;
    for (std::size_t len = 0; len <= 1100; ++len) {
        data.resize(len);
        for (auto& b : data) b = static_cast<std::uint8_t>(byte(rng));
        const std::string want = reference_hex(alg, data);
        ASSERT_EQ(want.size(), digest_size(alg) * 2);
        ASSERT_EQ(chunked_hex(alg, data, rng, 150), want) << "length " << len;
        std::string whole;
        ASSERT_TRUE(digest_hex(alg, data.data(), data.size(), whole).ok());
        ASSERT_EQ(whole, want) << "length " << len;
    }
}

// Two updates split at every point: each partial-block state the buffering can be in, and
// updates of one, two and three whole blocks at once.
TEST_P(DigestEngines, MatchesMbedTlsForEverySplitOfLengthsUpTo200) {
    const DigestAlgorithm alg = GetParam().alg;
    std::mt19937 rng(180);
    std::uniform_int_distribution<int> byte(0, 255);
    std::vector<std::uint8_t> data;
    for (std::size_t len = 0; len <= 200; ++len) {
        data.resize(len);
        for (auto& b : data) b = static_cast<std::uint8_t>(byte(rng));
        const std::string want = reference_hex(alg, data);
        for (std::size_t split = 0; split <= len; ++split) {
            Hasher h;
            ASSERT_EQ(h.start(alg), Status::ok);
            ASSERT_EQ(h.update(data.data(), split), Status::ok);
            ASSERT_EQ(h.update(data.data() + split, len - split), Status::ok);
            std::string got;
            ASSERT_EQ(h.finish_hex(got), Status::ok);
            ASSERT_EQ(got, want) << "length " << len << " split at " << split;
        }
    }
}

TEST_P(DigestEngines, MatchesMbedTlsForMegabytesInUnevenPieces) {
    const DigestAlgorithm alg = GetParam().alg;
    std::mt19937 rng(64);
    std::vector<std::uint8_t> data((5U << 20) + 13U);
    std::uniform_int_distribution<int> byte(0, 255);
    for (auto& b : data) b = static_cast<std::uint8_t>(byte(rng));
    EXPECT_EQ(chunked_hex(alg, data, rng, 300000), reference_hex(alg, data));
}

INSTANTIATE_TEST_SUITE_P(
    Builtin, DigestEngines,
    ::testing::Values(Engine{"md5", DigestAlgorithm::md5, false},
                      Engine{"sha256_default", DigestAlgorithm::sha256, false},
                      Engine{"sha256_without_hw", DigestAlgorithm::sha256, true}),
    [](const ::testing::TestParamInfo<Engine>& p) { return std::string(p.param.name); });

// The hardware engine is chosen exactly when the CPU running the test reports the instructions
// (asked here independently of src/digest): it is not silently left unused on a CPU that has
// them, nor picked on one that lacks them or on an architecture without an implementation.
// Under qemu-aarch64 every CPU model reports SHA-2, so there this proves the ARMv8 path is the one
// the DigestEngines tests above ran; on armhf ctest runs this binary twice, on qemu-arm's "max"
// CPU (ARMv8, SHA-2) and on "cortex-a7" (ARMv7, none).
TEST(Sha256Hardware, UsedExactlyWhenTheCpuHasTheInstructions) {
#if defined(__x86_64__)
    unsigned a = 0;
    unsigned b = 0;
    unsigned c = 0;
    unsigned d = 0;
    bool cpu = __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & bit_SSSE3) != 0 && (c & bit_SSE4_1) != 0;
    cpu = cpu && __get_cpuid_count(7, 0, &a, &b, &c, &d) != 0 && (b & bit_SHA) != 0;
#elif defined(__aarch64__) && !defined(__clang__)  // clang: src/digest/sha256_hw.hpp
    const bool cpu = (getauxval(AT_HWCAP) & HWCAP_SHA2) != 0;
#elif defined(__arm__) && !defined(__clang__)
    const bool cpu = (getauxval(AT_HWCAP2) & HWCAP2_SHA2) != 0;
#else
    const bool cpu = false;
#endif
    EXPECT_EQ(detail::sha256_hw_available(), cpu);
    detail::set_sha256_hw_disabled(true);
    EXPECT_FALSE(detail::sha256_hw_available());
    detail::set_sha256_hw_disabled(false);
    EXPECT_EQ(detail::sha256_hw_available(), cpu);
}

// A Hasher started while the instructions were on keeps its engine when it is switched off
// mid-digest.
TEST(DigestEngineSwitch, RunningDigestKeepsItsEngine) {
    const std::string input(1000, 'x');
    const auto* p = reinterpret_cast<const std::uint8_t*>(input.data());
    std::string want;
    ASSERT_TRUE(digest_hex(DigestAlgorithm::sha256, p, input.size(), want).ok());
    Hasher h;
    ASSERT_EQ(h.start(DigestAlgorithm::sha256), Status::ok);
    ASSERT_EQ(h.update(p, 500), Status::ok);
    detail::set_sha256_hw_disabled(true);
    ASSERT_EQ(h.update(p + 500, 500), Status::ok);
    std::string got;
    ASSERT_EQ(h.finish_hex(got), Status::ok);
    detail::set_sha256_hw_disabled(false);
    EXPECT_EQ(got, want);
}

TEST(Md5, MillionAs) {
    const std::string a(1000000, 'a');
    std::string out;
    ASSERT_TRUE(digest_hex(DigestAlgorithm::md5, reinterpret_cast<const std::uint8_t*>(a.data()),
                           a.size(), out)
                    .ok());
    EXPECT_EQ(out, "7707d6ae4e027c70eea2a935c2296f21");
}

}  // namespace
}  // namespace ota
