// The image verifier: digest match and mismatch (case-insensitive hex), the second SHA-256 for
// signatures, and a required signature that is missing.
#include "core/image_verifier.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using ota::DigestAlgorithm;
using ota::ExpectedDigest;
using ota::SignaturePolicy;
using ota::Status;
using ota::detail::ImageVerifier;
using ota::detail::Verdict;

const std::vector<std::uint8_t> kImage = {'h', 'e', 'l', 'l', 'o'};

ExpectedDigest digest_of(DigestAlgorithm alg) {
    ExpectedDigest d;
    d.algorithm = alg;
    EXPECT_TRUE(ota::digest_hex(alg, kImage.data(), kImage.size(), d.hex).ok());
    return d;
}

TEST(ImageVerifier, MatchInAnyCaseAndInPieces) {
    for (const auto alg : {DigestAlgorithm::md5, DigestAlgorithm::sha256}) {
        ImageVerifier v;
        ASSERT_EQ(v.start(alg, false), Status::ok);
        ASSERT_EQ(v.update(kImage.data(), 2), Status::ok);
        ASSERT_EQ(v.update(kImage.data() + 2, 3), Status::ok);
        ExpectedDigest d = digest_of(alg);
        for (char& c : d.hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        const Verdict verdict = v.verdict(d, SignaturePolicy{}, "");
        EXPECT_EQ(verdict.kind, Verdict::Kind::valid);
        EXPECT_TRUE(verdict.error.ok());
    }
}

TEST(ImageVerifier, MismatchNamesBothDigests) {
    ImageVerifier v;
    ASSERT_EQ(v.start(DigestAlgorithm::md5, false), Status::ok);
    ASSERT_EQ(v.update(kImage.data(), kImage.size()), Status::ok);
    ExpectedDigest d;
    d.hex = std::string(32, '0');
    const Verdict verdict = v.verdict(d, SignaturePolicy{}, "");
    EXPECT_EQ(verdict.kind, Verdict::Kind::mismatch);
    EXPECT_EQ(verdict.error.status, Status::digest_mismatch);
    EXPECT_EQ(verdict.error.detail, "digest mismatch: expected md5 " + d.hex + ", got " +
                                        digest_of(DigestAlgorithm::md5).hex);
}

TEST(ImageVerifier, RestartForgetsTheBytesFedSoFar) {
    ImageVerifier v;
    ASSERT_EQ(v.start(DigestAlgorithm::sha256, false), Status::ok);
    ASSERT_EQ(v.update(kImage.data(), 3), Status::ok);
    ASSERT_EQ(v.restart(), Status::ok);
    ASSERT_EQ(v.update(kImage.data(), kImage.size()), Status::ok);
    EXPECT_EQ(v.verdict(digest_of(DigestAlgorithm::sha256), SignaturePolicy{}, "").kind,
              Verdict::Kind::valid);
}

TEST(ImageVerifier, ARequiredSignatureThatIsMissingIsRefused) {
    SignaturePolicy policy;
    policy.required = true;
    policy.verifier = std::make_shared<ota::SignatureVerifier>();
    for (const auto alg : {DigestAlgorithm::md5, DigestAlgorithm::sha256}) {
        ImageVerifier v;
        // MD5 jobs need the second SHA-256 digest; SHA-256 jobs reuse their own.
        ASSERT_EQ(v.start(alg, policy.needs_digest("")), Status::ok);
        ASSERT_EQ(v.update(kImage.data(), kImage.size()), Status::ok);
        const Verdict verdict = v.verdict(digest_of(alg), policy, "");
        EXPECT_EQ(verdict.kind, Verdict::Kind::bad_signature);
        EXPECT_FALSE(verdict.error.ok());
        EXPECT_FALSE(verdict.error.detail.empty());
    }
}

}  // namespace
