// The image verifier: the running digests of one download target and the verdict on the
// finished image (the job's digest, then the signature policy). Internal. It returns a verdict;
// committing or dropping the image is the client's business.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ota/digest.hpp"
#include "ota/protocol.hpp"
#include "ota/signature.hpp"
#include "ota/status.hpp"

namespace ota::detail {

/// The verifier's conclusion on a finished image.
struct Verdict {
    /// valid: digest (and signature, when checked) match. mismatch: the digest differs.
    /// digest_error: the digest could not be computed. bad_signature: the signature policy
    /// refused the image.
    enum class Kind { valid, mismatch, digest_error, bad_signature };
    Kind kind = Kind::valid;
    Error error;  ///< why, when not valid (the step -3 description is error.detail)
};

/// The digests of one image, fed as its bytes arrive, and the verdict on it.
class ImageVerifier {
  public:
    /// (Re)starts the image's digest of `algorithm`; with `signature_needed` (the signature
    /// policy needs the image's SHA-256) and another algorithm, a second SHA-256 digest runs
    /// beside it.
    [[nodiscard]] Status start(DigestAlgorithm algorithm, bool signature_needed);
    /// Starts again with the same algorithms (the download restarts from byte 0).
    [[nodiscard]] Status restart();
    /// Feeds image bytes, in order. Does not allocate.
    [[nodiscard]] Status update(const std::uint8_t* data, std::size_t len) noexcept;
    /// The verdict on the image fed so far against `expected` and, when the start asked for it,
    /// `policy` for a job with `ext_data_json`. Finishes the digests.
    [[nodiscard]] Verdict verdict(const ExpectedDigest& expected, const SignaturePolicy& policy,
                                  std::string_view ext_data_json);

  private:
    Error check_signature(std::string_view actual_hex, const SignaturePolicy& policy,
                          std::string_view ext_data_json);

    Hasher hasher_;
    Hasher sha_hasher_;
    DigestAlgorithm algorithm_ = DigestAlgorithm::md5;
    bool signature_needed_ = false;
    bool second_sha_ = false;  // the second SHA-256 digest runs
};

}  // namespace ota::detail
