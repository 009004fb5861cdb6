// Signed firmware images: an ECDSA P-256 or RSA-PSS signature over the image's SHA-256, carried
// in the job's `extData`, checked against public keys configured on the device (Mbed TLS `pk`).
//
// extData layout (other members of extData and of "signature" are left to the application):
//
//   "extData": {
//     "signature": {
//       "alg":   "ecdsa-p256-sha256" | "rsa-pss-sha256",   required
//       "sig":   "<standard base64 with padding>",         required, 1..1024 bytes decoded
//       "keyId": "<which trusted key signed>"              optional, 0..64 characters
//     }
//   }
//
// The signature is the one `openssl dgst -sha256 -sign KEY IMAGE` produces: for ECDSA the DER
// SEQUENCE {r, s} over SHA-256(image); for RSA-PSS the EMSA-PSS encoding with SHA-256 and
// MGF1-SHA-256 (any salt length is accepted; the signer here uses 32 bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ota/status.hpp"

namespace ota {

/// `alg` value of an ECDSA signature on curve P-256 (secp256r1) over SHA-256.
inline constexpr std::string_view kSignatureEcdsaP256Sha256 = "ecdsa-p256-sha256";
/// `alg` value of an RSASSA-PSS signature with SHA-256 and MGF1-SHA-256.
inline constexpr std::string_view kSignatureRsaPssSha256 = "rsa-pss-sha256";
/// Largest decoded signature accepted (an RSA-8192 signature); longer ones are refused unparsed.
inline constexpr std::size_t kMaxSignatureSize = 1024;
/// Longest `keyId` accepted.
inline constexpr std::size_t kMaxKeyIdLength = 64;
/// Size of the SHA-256 digest a signature covers.
inline constexpr std::size_t kSignedDigestSize = 32;

/// A decoded `extData.signature`: algorithm name as on the wire, the raw signature bytes and the
/// optional key identifier (empty when absent).
struct ImageSignature {
    std::string algorithm;  ///< kSignatureEcdsaP256Sha256 or kSignatureRsaPssSha256
    std::vector<std::uint8_t> signature;
    std::string key_id;
};

/// Why `extData.signature` could not be decoded.
enum class SignatureParseErrc {
    not_json,           ///< extData is not parseable JSON
    wrong_type,         ///< "signature" is not an object, or a member has the wrong JSON type
    missing_field,      ///< "alg" or "sig" is absent
    unknown_algorithm,  ///< "alg" names no supported algorithm
    bad_base64,         ///< "sig" is not valid base64, or decodes to nothing
    too_long,           ///< "sig" or "keyId" exceeds its limit
};

/// A typed parse error naming the offending field (e.g. "extData.signature.sig"); `message` is
/// one sentence fit for a progress desc and never echoes the field's value.
struct SignatureParseError {
    SignatureParseErrc code = SignatureParseErrc::wrong_type;
    std::string field;
    std::string message;
};

/// Result of parse_image_signature(): `signature` when one is present and well-formed, `error`
/// when one is present but malformed, neither when the job carries no signature.
struct SignatureParseResult {
    std::optional<ImageSignature> signature;
    std::optional<SignatureParseError> error;
};

/// Decodes the signature from a job's `extData` JSON text (UpgradeJob::ext_data_json). Empty
/// text, an extData that is not an object, and an object without "signature" (or with
/// "signature": null) all mean "no signature". Never throws.
[[nodiscard]] SignatureParseResult parse_image_signature(std::string_view ext_data_json);

/// Adds `sig` as the "signature" member of the extData object `ext_data_json` (empty = `{}`),
/// replacing any previous one, and writes the compact JSON to `out`. invalid_argument when
/// `ext_data_json` is not a JSON object or `sig` breaks a limit above.
[[nodiscard]] Error encode_signature_ext_data(const ImageSignature& sig,
                                              std::string_view ext_data_json, std::string& out);

/// The public keys a device trusts for image signatures. Move-only; owns one Mbed TLS
/// `mbedtls_pk_context` per key. Accepted keys: EC on P-256 (for ecdsa-p256-sha256) and RSA of
/// 2048..8192 bits (for rsa-pss-sha256), as PEM ("PUBLIC KEY" or "RSA PUBLIC KEY") or DER
/// (SubjectPublicKeyInfo or PKCS#1). Not synchronised: use it from one thread at a time.
class SignatureVerifier {
  public:
    SignatureVerifier() noexcept;
    ~SignatureVerifier();
    SignatureVerifier(SignatureVerifier&& other) noexcept;
    SignatureVerifier& operator=(SignatureVerifier&& other) noexcept;
    SignatureVerifier(const SignatureVerifier&) = delete;
    SignatureVerifier& operator=(const SignatureVerifier&) = delete;

    /// Adds a trusted public key given as PEM text or DER bytes, under an optional `key_id`
    /// (0..64 characters, unique among this verifier's keys when not empty). invalid_argument for
    /// an unparsable, private, or unsupported key (other curves, RSA below 2048 bits) or a bad id;
    /// the verifier is unchanged then.
    [[nodiscard]] Error add_public_key(std::string_view pem_or_der, std::string key_id = {});
    /// The same for a key held in a byte array (e.g. one compiled into the firmware).
    [[nodiscard]] Error add_public_key(const std::uint8_t* data, std::size_t len,
                                       std::string key_id = {});
    /// The same for a key file (at most 64 KiB). Defined in ota::hal_posix (file I/O): a program
    /// that links ota::core alone passes the key's bytes to add_public_key() instead.
    [[nodiscard]] Error add_public_key_file(const std::string& path, std::string key_id = {});

    /// Number of trusted keys.
    [[nodiscard]] std::size_t key_count() const noexcept;

    /// Checks `sig` over the 32-byte SHA-256 `sha256`. Keys tried: those whose id equals
    /// `sig.key_id` when any does (keyId is a hint: an unknown id falls back to all keys), each
    /// only if its type fits the algorithm (EC P-256 for ECDSA, RSA for RSA-PSS); the first one
    /// that verifies wins. Errors: digest_mismatch for an unknown algorithm, an empty or
    /// oversized signature, no trusted key, an algorithm/key-type mismatch or a signature that
    /// verifies with no key; no_memory if Mbed TLS runs out; invalid_argument for a null digest.
    [[nodiscard]] Error verify(const ImageSignature& sig,
                               const std::uint8_t sha256[kSignedDigestSize]) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// How a device treats image signatures. Copyable; the verifier is shared and immutable.
///
/// With no verifier (or one without keys) and `required` false, signatures are ignored — the
/// default, and the original SDK's behaviour. With keys configured, a signature present in a job
/// is always verified and a bad one fails the job; `required` also fails jobs that carry none.
struct SignaturePolicy {
    /// Jobs without a valid signature fail (step -3) and their image is never committed.
    bool required = false;
    /// The trusted keys; may be null when `required` is false.
    std::shared_ptr<const SignatureVerifier> verifier;

    /// True when check_image_signature() can do anything but accept: the client needs the
    /// image's SHA-256 for the job only then.
    [[nodiscard]] bool active() const noexcept;
    /// True when check_image_signature() for a job with this extData needs the image's SHA-256
    /// (signatures required, or keys configured and extData has a "signature" member).
    [[nodiscard]] bool needs_digest(std::string_view ext_data_json) const;
    /// invalid_argument when signatures are required but no trusted key is configured.
    [[nodiscard]] Error validate() const;
};

/// The policy decision for one fetched image whose SHA-256 is `sha256` (32 bytes): ok when the
/// policy is inactive, or no signature is present and none is required, or the signature
/// verifies. Otherwise digest_mismatch (no_memory on allocation failure) with a detail for a
/// step -3 progress desc: a required signature is missing, the signature is malformed, no key
/// is configured, or it does not verify. A present but bad signature fails even when signatures
/// are not required.
[[nodiscard]] Error check_image_signature(const SignaturePolicy& policy,
                                          std::string_view ext_data_json,
                                          const std::uint8_t sha256[kSignedDigestSize]);

/// Signs a SHA-256 image digest, for the cloud side (tools, tests): `private_key` is an
/// unencrypted PEM or DER private key, EC P-256 (giving ecdsa-p256-sha256) or RSA 2048..8192
/// bits (giving rsa-pss-sha256, salt length 32, MGF1-SHA-256). Randomness comes from Mbed TLS's
/// CTR_DRBG seeded by its default entropy source. On success `out` holds the algorithm,
/// signature and `key_id` (0..64 characters). invalid_argument for an unusable key or id,
/// crypto_failed when Mbed TLS fails. Lives in its own object file, so firmware that only
/// verifies does not link it.
[[nodiscard]] Error sign_image_digest(std::string_view private_key,
                                      const std::uint8_t sha256[kSignedDigestSize],
                                      std::string key_id, ImageSignature& out);

}  // namespace ota
