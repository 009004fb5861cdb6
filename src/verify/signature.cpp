// Image signatures: the extData codec, the verifier over Mbed TLS `pk` and the policy check.
//
// Everything here handles data from the network (extData) or from configuration (keys): every
// field is type-checked and bounded before use, messages never echo values, and no exception
// leaves this file.
#include "ota/signature.hpp"

#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "verify/pk_key.hpp"

namespace ota {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;
using verify_detail::KeyKind;

/// extData arrives inside an MQTT payload of at most 64 KiB; larger text is refused unparsed.
constexpr std::size_t kMaxExtDataLength = 65536;
/// Base64 text length of a kMaxSignatureSize-byte signature.
constexpr std::size_t kMaxSignatureBase64 = (kMaxSignatureSize + 2) / 3 * 4;

constexpr const char* kFieldSignature = "extData.signature";
constexpr const char* kFieldAlg = "extData.signature.alg";
constexpr const char* kFieldSig = "extData.signature.sig";
constexpr const char* kFieldKeyId = "extData.signature.keyId";

std::optional<KeyKind> kind_for_algorithm(std::string_view alg) noexcept {
    if (alg == kSignatureEcdsaP256Sha256) return KeyKind::ec_p256;
    if (alg == kSignatureRsaPssSha256) return KeyKind::rsa;
    return std::nullopt;
}

SignatureParseResult parse_failure(SignatureParseErrc code, std::string field,
                                   std::string_view what) {
    SignatureParseError e;
    e.code = code;
    e.message = field + ' ' + std::string(what) + '.';
    e.field = std::move(field);
    SignatureParseResult r;
    r.error = std::move(e);
    return r;
}

/// Strict standard base64: the alphabet A-Z a-z 0-9 + /, length a multiple of 4, at most two
/// '=' of padding at the end, no whitespace.
bool is_strict_base64(std::string_view s) noexcept {
    if (s.empty() || s.size() % 4 != 0) return false;
    std::size_t pad = 0;
    while (pad < 2 && s[s.size() - 1 - pad] == '=') ++pad;
    for (std::size_t i = 0; i < s.size() - pad; ++i) {
        const char c = s[i];
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '+' || c == '/';
        if (!ok) return false;
    }
    return true;
}

bool decode_base64(std::string_view text, std::vector<std::uint8_t>& out) {
    if (!is_strict_base64(text)) return false;
    out.assign(text.size() / 4 * 3, 0);
    std::size_t written = 0;
    const int rc =
        mbedtls_base64_decode(out.data(), out.size(), &written,
                              reinterpret_cast<const unsigned char*>(text.data()), text.size());
    if (rc != 0) return false;
    out.resize(written);
    return true;
}

std::string encode_base64(const std::vector<std::uint8_t>& bytes) {
    std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');
    std::size_t written = 0;
    if (mbedtls_base64_encode(reinterpret_cast<unsigned char*>(out.data()), out.size(), &written,
                              bytes.data(), bytes.size()) != 0) {
        return {};
    }
    out.resize(written);
    return out;
}

SignatureParseResult parse_signature_object(const Json& obj) {
    SignatureParseResult r;
    ImageSignature sig;

    const auto alg = obj.find("alg");
    if (alg == obj.end() || alg->is_null()) {
        return parse_failure(SignatureParseErrc::missing_field, kFieldAlg, "is missing");
    }
    if (!alg->is_string()) {
        return parse_failure(SignatureParseErrc::wrong_type, kFieldAlg, "must be a string");
    }
    sig.algorithm = alg->get<std::string>();
    if (!kind_for_algorithm(sig.algorithm)) {
        return parse_failure(SignatureParseErrc::unknown_algorithm, kFieldAlg,
                             "must be \"ecdsa-p256-sha256\" or \"rsa-pss-sha256\"");
    }

    const auto value = obj.find("sig");
    if (value == obj.end() || value->is_null()) {
        return parse_failure(SignatureParseErrc::missing_field, kFieldSig, "is missing");
    }
    if (!value->is_string()) {
        return parse_failure(SignatureParseErrc::wrong_type, kFieldSig, "must be a string");
    }
    const std::string& text = value->get_ref<const std::string&>();
    if (text.size() > kMaxSignatureBase64) {
        return parse_failure(SignatureParseErrc::too_long, kFieldSig,
                             "is longer than " + std::to_string(kMaxSignatureSize) + " bytes");
    }
    if (!decode_base64(text, sig.signature) || sig.signature.empty()) {
        return parse_failure(SignatureParseErrc::bad_base64, kFieldSig,
                             "is not non-empty standard base64");
    }
    if (sig.signature.size() > kMaxSignatureSize) {
        return parse_failure(SignatureParseErrc::too_long, kFieldSig,
                             "is longer than " + std::to_string(kMaxSignatureSize) + " bytes");
    }

    const auto key_id = obj.find("keyId");
    if (key_id != obj.end() && !key_id->is_null()) {
        if (!key_id->is_string()) {
            return parse_failure(SignatureParseErrc::wrong_type, kFieldKeyId, "must be a string");
        }
        sig.key_id = key_id->get<std::string>();
        if (sig.key_id.size() > kMaxKeyIdLength) {
            return parse_failure(
                SignatureParseErrc::too_long, kFieldKeyId,
                "is longer than " + std::to_string(kMaxKeyIdLength) + " characters");
        }
    }
    r.signature = std::move(sig);
    return r;
}

}  // namespace

SignatureParseResult parse_image_signature(std::string_view ext_data_json) {
    if (ext_data_json.empty()) return {};
    if (ext_data_json.size() > kMaxExtDataLength) {
        return parse_failure(SignatureParseErrc::too_long, "extData",
                             "is longer than " + std::to_string(kMaxExtDataLength) + " bytes");
    }
    try {
        const Json j = Json::parse(ext_data_json, nullptr, false);
        if (j.is_discarded()) {
            return parse_failure(SignatureParseErrc::not_json, "extData", "is not valid JSON");
        }
        if (!j.is_object()) return {};
        const auto it = j.find("signature");
        if (it == j.end() || it->is_null()) return {};
        if (!it->is_object()) {
            return parse_failure(SignatureParseErrc::wrong_type, kFieldSignature,
                                 "must be an object");
        }
        return parse_signature_object(*it);
    } catch (const std::exception&) {
        // Only allocation can throw here; report it as unusable input rather than crash.
        return parse_failure(SignatureParseErrc::not_json, "extData", "could not be processed");
    }
}

Error encode_signature_ext_data(const ImageSignature& sig, std::string_view ext_data_json,
                                std::string& out) {
    if (!kind_for_algorithm(sig.algorithm)) {
        return {Status::invalid_argument, "unsupported signature algorithm"};
    }
    if (sig.signature.empty() || sig.signature.size() > kMaxSignatureSize) {
        return {Status::invalid_argument,
                "signature must be 1.." + std::to_string(kMaxSignatureSize) + " bytes"};
    }
    if (Error e = verify_detail::check_key_id(sig.key_id); !e.ok()) return e;
    try {
        OrderedJson ext = OrderedJson::object();
        if (!ext_data_json.empty()) {
            ext = OrderedJson::parse(ext_data_json, nullptr, false);
            if (ext.is_discarded() || !ext.is_object()) {
                return {Status::invalid_argument, "extData must be a JSON object"};
            }
        }
        OrderedJson s = OrderedJson::object();
        s["alg"] = sig.algorithm;
        s["sig"] = encode_base64(sig.signature);
        if (!sig.key_id.empty()) s["keyId"] = sig.key_id;
        ext["signature"] = std::move(s);
        out = ext.dump();
        return {};
    } catch (const std::exception&) {
        return {Status::no_memory, "encoding extData failed"};
    }
}

// ---------------------------------------------------------------------------------------------
// SignatureVerifier

namespace {

struct TrustedKey {
    verify_detail::PkContext pk;
    KeyKind kind = KeyKind::ec_p256;
    std::string id;
};

/// One verification with one key whose kind already matches the algorithm.
int verify_with(TrustedKey& key, const std::uint8_t* sha256, const std::vector<std::uint8_t>& sig) {
    if (key.kind == KeyKind::ec_p256) {
        // mbedtls_pk_verify on an EC key is ECDSA; the DER {r, s} must span `sig` exactly.
        return mbedtls_pk_verify(key.pk.get(), MBEDTLS_MD_SHA256, sha256, kSignedDigestSize,
                                 sig.data(), sig.size());
    }
    // PSS is requested explicitly: mbedtls_pk_verify on an RSA key would check PKCS#1 v1.5.
    mbedtls_pk_rsassa_pss_options options;
    options.mgf1_hash_id = MBEDTLS_MD_SHA256;
    options.expected_salt_len = MBEDTLS_RSA_SALT_LEN_ANY;
    return mbedtls_pk_verify_ext(MBEDTLS_PK_RSASSA_PSS, &options, key.pk.get(), MBEDTLS_MD_SHA256,
                                 sha256, kSignedDigestSize, sig.data(), sig.size());
}

}  // namespace

struct SignatureVerifier::Impl {
    std::vector<std::unique_ptr<TrustedKey>> keys;
};

SignatureVerifier::SignatureVerifier() noexcept = default;
SignatureVerifier::~SignatureVerifier() = default;
SignatureVerifier::SignatureVerifier(SignatureVerifier&& other) noexcept = default;
SignatureVerifier& SignatureVerifier::operator=(SignatureVerifier&& other) noexcept = default;

Error SignatureVerifier::add_public_key(std::string_view pem_or_der, std::string key_id) {
    if (Error e = verify_detail::check_key_id(key_id); !e.ok()) return e;
    try {
        if (impl_) {
            for (const auto& k : impl_->keys) {
                if (!key_id.empty() && k->id == key_id) {
                    return {Status::invalid_argument, "a key with id '" + key_id + "' exists"};
                }
            }
        }
        auto key = std::make_unique<TrustedKey>();
        if (const int rc = verify_detail::parse_key(key->pk.get(), pem_or_der, false); rc != 0) {
            return {verify_detail::status_from_mbedtls(rc, Status::invalid_argument),
                    "not a PEM or DER public key: " + verify_detail::mbedtls_error_text(rc)};
        }
        if (Error e = verify_detail::classify_key(key->pk.get(), key->kind); !e.ok()) return e;
        key->id = std::move(key_id);
        if (!impl_) impl_ = std::make_unique<Impl>();
        impl_->keys.push_back(std::move(key));
        return {};
    } catch (const std::bad_alloc&) {
        return {Status::no_memory, "adding a public key"};
    }
}

Error SignatureVerifier::add_public_key(const std::uint8_t* data, std::size_t len,
                                        std::string key_id) {
    if (data == nullptr && len != 0) return {Status::invalid_argument, "key data is null"};
    return add_public_key(std::string_view(reinterpret_cast<const char*>(data), len),
                          std::move(key_id));
}

std::size_t SignatureVerifier::key_count() const noexcept {
    return impl_ ? impl_->keys.size() : 0;
}

Error SignatureVerifier::verify(const ImageSignature& sig,
                                const std::uint8_t sha256[kSignedDigestSize]) const {
    if (sha256 == nullptr) return {Status::invalid_argument, "image digest is null"};
    const std::optional<KeyKind> want = kind_for_algorithm(sig.algorithm);
    if (!want) {
        return {Status::digest_mismatch,
                "unsupported signature algorithm (expected "
                "ecdsa-p256-sha256 or rsa-pss-sha256)"};
    }
    if (sig.signature.empty() || sig.signature.size() > kMaxSignatureSize) {
        return {Status::digest_mismatch,
                "signature must be 1.." + std::to_string(kMaxSignatureSize) + " bytes"};
    }
    if (key_count() == 0) {
        return {Status::digest_mismatch, "no trusted public key is configured"};
    }

    // keyId narrows the candidates when it names a configured key; otherwise every key is tried.
    bool id_known = false;
    if (!sig.key_id.empty()) {
        for (const auto& k : impl_->keys) id_known = id_known || k->id == sig.key_id;
    }
    std::size_t tried = 0;
    for (const auto& k : impl_->keys) {
        if (id_known && k->id != sig.key_id) continue;
        if (k->kind != *want) continue;
        ++tried;
        const int rc = verify_with(*k, sha256, sig.signature);
        if (rc == 0) return {};
        if (verify_detail::is_alloc_failure(rc)) {
            return {Status::no_memory, "out of memory while verifying the signature"};
        }
    }
    if (tried == 0) {
        if (id_known) {
            return {Status::digest_mismatch, "key '" + sig.key_id + "' does not fit " +
                                                 sig.algorithm + ", which needs an " +
                                                 verify_detail::to_string(*want) + " key"};
        }
        return {Status::digest_mismatch, std::string("no trusted ") +
                                             verify_detail::to_string(*want) + " key for " +
                                             sig.algorithm};
    }
    std::string detail = sig.algorithm + " signature does not verify";
    if (id_known) {
        detail += " with key '" + sig.key_id + "'";
    } else {
        detail += " with any of " + std::to_string(tried) + " trusted " +
                  verify_detail::to_string(*want) + " key(s)";
    }
    return {Status::digest_mismatch, std::move(detail)};
}

// ---------------------------------------------------------------------------------------------
// SignaturePolicy

bool SignaturePolicy::active() const noexcept {
    return required || (verifier && verifier->key_count() > 0);
}

bool SignaturePolicy::needs_digest(std::string_view ext_data_json) const {
    if (required) return true;
    if (!active()) return false;
    const SignatureParseResult r = parse_image_signature(ext_data_json);
    return r.signature.has_value() || r.error.has_value();
}

Error SignaturePolicy::validate() const {
    if (required && !(verifier && verifier->key_count() > 0)) {
        return {Status::invalid_argument,
                "signed images are required but no trusted public key is configured"};
    }
    return {};
}

Error check_image_signature(const SignaturePolicy& policy, std::string_view ext_data_json,
                            const std::uint8_t sha256[kSignedDigestSize]) {
    if (!policy.active()) return {};
    if (sha256 == nullptr) return {Status::invalid_argument, "image digest is null"};
    const SignatureParseResult r = parse_image_signature(ext_data_json);
    if (r.error) {
        return {Status::digest_mismatch, "image signature is malformed: " + r.error->message};
    }
    if (!r.signature) {
        if (!policy.required) return {};
        return {Status::digest_mismatch,
                "image signature required but the job carries none (extData.signature)"};
    }
    if (!policy.verifier || policy.verifier->key_count() == 0) {
        return {Status::digest_mismatch,
                "image signature cannot be checked: no trusted public key is configured"};
    }
    Error e = policy.verifier->verify(*r.signature, sha256);
    if (!e.ok()) e.detail = "image signature check failed: " + e.detail;
    return e;
}

}  // namespace ota
