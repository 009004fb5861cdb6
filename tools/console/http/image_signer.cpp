// Image signing: see image_signer.hpp.
#include "http/image_signer.hpp"

#include <stdexcept>

#include "http/token.hpp"
#include "ota/signature.hpp"

namespace console {

ImageSigner::ImageSigner(const std::string& key_file, std::string key_id)
    : key_(read_small_file(key_file, 64 * 1024)), key_id_(std::move(key_id)) {
    const std::uint8_t probe[ota::kSignedDigestSize] = {};
    ota::ImageSignature sig;
    if (const ota::Error e = ota::sign_image_digest(key_, probe, key_id_, sig); !e.ok()) {
        throw std::runtime_error("signing key " + key_file + ": " + e.message());
    }
}

std::string ImageSigner::signed_ext_data(const std::uint8_t* sha256,
                                         const std::string& ext_data) const {
    ota::ImageSignature sig;
    if (const ota::Error e = ota::sign_image_digest(key_, sha256, key_id_, sig); !e.ok()) {
        throw std::runtime_error("image signing failed: " + e.message());
    }
    std::string out;
    if (const ota::Error e = ota::encode_signature_ext_data(sig, ext_data, out); !e.ok()) {
        throw std::runtime_error("image signing failed: " + e.message());
    }
    return out;
}

}  // namespace console
