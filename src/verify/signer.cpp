// The cloud side of image signatures: signing a SHA-256 image digest with a private key.
//
// Kept apart from signature.cpp so that firmware which only verifies never links the private-key
// parser, the entropy source or the DRBG.
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/version.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ota/signature.hpp"
#include "verify/pk_key.hpp"

namespace ota {
namespace {

/// Personalisation string of the DRBG: separates this use from any other seeded the same way.
constexpr char kDrbgPersonalisation[] = "ota image signer";

/// Entropy source plus CTR_DRBG seeded from it; neither copyable nor movable (the DRBG keeps a
/// pointer to the entropy context).
class Drbg {
  public:
    Drbg() noexcept {
        mbedtls_entropy_init(&entropy_);
        mbedtls_ctr_drbg_init(&drbg_);
    }
    ~Drbg() {
        mbedtls_ctr_drbg_free(&drbg_);
        mbedtls_entropy_free(&entropy_);
    }
    Drbg(const Drbg&) = delete;
    Drbg& operator=(const Drbg&) = delete;
    Drbg(Drbg&&) = delete;
    Drbg& operator=(Drbg&&) = delete;

    [[nodiscard]] int seed() noexcept {
        return mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_,
                                     reinterpret_cast<const unsigned char*>(kDrbgPersonalisation),
                                     sizeof kDrbgPersonalisation - 1);
    }
    [[nodiscard]] mbedtls_ctr_drbg_context* get() noexcept { return &drbg_; }

  private:
    mbedtls_entropy_context entropy_;
    mbedtls_ctr_drbg_context drbg_;
};

}  // namespace

Error sign_image_digest(std::string_view private_key, const std::uint8_t sha256[kSignedDigestSize],
                        std::string key_id, ImageSignature& out) {
    if (sha256 == nullptr) return {Status::invalid_argument, "image digest is null"};
    if (Error e = verify_detail::check_key_id(key_id); !e.ok()) return e;
    try {
        verify_detail::PkContext pk;
        if (const int rc = verify_detail::parse_key(pk.get(), private_key, true); rc != 0) {
            return {verify_detail::status_from_mbedtls(rc, Status::invalid_argument),
                    "not an unencrypted PEM or DER private key: " +
                        verify_detail::mbedtls_error_text(rc)};
        }
        verify_detail::KeyKind kind = verify_detail::KeyKind::ec_p256;
        if (Error e = verify_detail::classify_key(pk.get(), kind); !e.ok()) return e;

        if (kind == verify_detail::KeyKind::rsa) {
            // With PKCS#1 v2.1 padding set, mbedtls_pk_sign makes an RSASSA-PSS signature with
            // MGF1 over the given hash and a salt as long as the hash (32 bytes).
#if MBEDTLS_VERSION_MAJOR >= 3
            if (const int rc = mbedtls_rsa_set_padding(mbedtls_pk_rsa(*pk.get()),
                                                       MBEDTLS_RSA_PKCS_V21, MBEDTLS_MD_SHA256);
                rc != 0) {
                return {Status::crypto_failed,
                        "selecting RSA-PSS failed: " + verify_detail::mbedtls_error_text(rc)};
            }
#else
            mbedtls_rsa_set_padding(mbedtls_pk_rsa(*pk.get()), MBEDTLS_RSA_PKCS_V21,
                                    MBEDTLS_MD_SHA256);
#endif
        }

        Drbg drbg;
        if (const int rc = drbg.seed(); rc != 0) {
            return {Status::crypto_failed, "seeding the random generator failed: " +
                                               verify_detail::mbedtls_error_text(rc)};
        }
        std::vector<std::uint8_t> sig(MBEDTLS_PK_SIGNATURE_MAX_SIZE);
        std::size_t sig_len = 0;
#if MBEDTLS_VERSION_MAJOR >= 3
        const int rc =
            mbedtls_pk_sign(pk.get(), MBEDTLS_MD_SHA256, sha256, kSignedDigestSize, sig.data(),
                            sig.size(), &sig_len, mbedtls_ctr_drbg_random, drbg.get());
#else
        const int rc = mbedtls_pk_sign(pk.get(), MBEDTLS_MD_SHA256, sha256, kSignedDigestSize,
                                       sig.data(), &sig_len, mbedtls_ctr_drbg_random, drbg.get());
#endif
        if (rc != 0) {
            return {verify_detail::status_from_mbedtls(rc, Status::crypto_failed),
                    "signing failed: " + verify_detail::mbedtls_error_text(rc)};
        }
        sig.resize(sig_len);
        out.algorithm =
            std::string(kind == verify_detail::KeyKind::ec_p256 ? kSignatureEcdsaP256Sha256
                                                                : kSignatureRsaPssSha256);
        out.signature = std::move(sig);
        out.key_id = std::move(key_id);
        return {};
    } catch (const std::bad_alloc&) {
        return {Status::no_memory, "signing the image digest"};
    }
}

}  // namespace ota
