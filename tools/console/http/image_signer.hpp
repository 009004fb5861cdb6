// Signing uploaded images with --signing-key, in the format the SDK verifies.
//
// Why a class around the library's signer: ota::sign_image_digest and
// ota::encode_signature_ext_data (include/ota/signature.hpp, the same calls `ota_cloud sign`
// makes) do the cryptography; this keeps the key loaded and checked once at start, so a bad key
// stops the console at start instead of failing every upload.
#pragma once

#include <cstdint>
#include <string>

namespace console {

/// Signs SHA-256 image digests with one private key (EC P-256 -> ecdsa-p256-sha256, RSA ->
/// rsa-pss-sha256). Thread-safe (holds only the key's PEM text).
class ImageSigner {
  public:
    /// Reads the unencrypted PEM/DER private key in `key_file` and checks it by signing a test
    /// digest. `key_id` (0..64 characters) goes into the signature's "keyId" when not empty.
    /// Throws std::runtime_error naming the file and the reason.
    explicit ImageSigner(const std::string& key_file, std::string key_id = {});

    /// The push's extData JSON text: `ext_data` (empty = {}) plus the "signature" object over
    /// the 32-byte SHA-256 `sha256`. Throws std::runtime_error when signing fails.
    [[nodiscard]] std::string signed_ext_data(const std::uint8_t* sha256,
                                              const std::string& ext_data = {}) const;

  private:
    std::string key_;
    std::string key_id_;
};

}  // namespace console
