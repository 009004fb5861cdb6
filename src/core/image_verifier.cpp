#include "core/image_verifier.hpp"

#include <array>
#include <string>

namespace ota::detail {

Status ImageVerifier::start(DigestAlgorithm algorithm, bool signature_needed) {
    algorithm_ = algorithm;
    signature_needed_ = signature_needed;
    second_sha_ = signature_needed && algorithm != DigestAlgorithm::sha256;
    return restart();
}

Status ImageVerifier::restart() {
    if (const Status s = hasher_.start(algorithm_); s != Status::ok) return s;
    if (second_sha_) return sha_hasher_.start(DigestAlgorithm::sha256);
    return Status::ok;
}

Status ImageVerifier::update(const std::uint8_t* data, std::size_t len) noexcept {
    if (const Status s = hasher_.update(data, len); s != Status::ok) return s;
    if (second_sha_) return sha_hasher_.update(data, len);
    return Status::ok;
}

Verdict ImageVerifier::verdict(const ExpectedDigest& expected, const SignaturePolicy& policy,
                               std::string_view ext_data_json) {
    std::string actual;
    if (const Status hs = hasher_.finish_hex(actual); hs != Status::ok) {
        return {Verdict::Kind::digest_error,
                {hs, std::string("digest could not be computed: ") + to_string(hs)}};
    }
    if (!hex_equal(expected.hex, actual)) {
        return {Verdict::Kind::mismatch,
                {Status::digest_mismatch, std::string("digest mismatch: expected ") +
                                              to_string(expected.algorithm) + " " + expected.hex +
                                              ", got " + actual}};
    }
    // Without a need for the digest (no signature, none required) the policy accepts.
    if (signature_needed_) {
        if (Error se = check_signature(actual, policy, ext_data_json); !se.ok()) {
            return {Verdict::Kind::bad_signature, std::move(se)};
        }
    }
    return {};
}

Error ImageVerifier::check_signature(std::string_view actual_hex, const SignaturePolicy& policy,
                                     std::string_view ext_data_json) {
    std::array<std::uint8_t, kSignedDigestSize> sha{};
    Status s = Status::ok;
    if (second_sha_) {
        s = sha_hasher_.finish(sha.data(), sha.size());
    } else if (algorithm_ != DigestAlgorithm::sha256 ||
               actual_hex.size() != 2 * kSignedDigestSize) {
        s = Status::internal;
    } else {
        // The job's own digest is the SHA-256 (finish_hex gives lower-case hex).
        const auto nibble = [](char c) {
            return static_cast<unsigned>(c >= 'a' ? c - 'a' + 10 : c - '0');
        };
        for (std::size_t i = 0; i < kSignedDigestSize; ++i) {
            sha[i] = static_cast<std::uint8_t>(nibble(actual_hex[2 * i]) << 4U |
                                               nibble(actual_hex[2 * i + 1]));
        }
    }
    if (s != Status::ok) {
        return {s, std::string("signature check failed: the image's SHA-256 could not be "
                               "computed: ") +
                       to_string(s)};
    }
    return check_image_signature(policy, ext_data_json, sha.data());
}

}  // namespace ota::detail
