// Key parsing and classification for image signatures (see pk_key.hpp).
#include "verify/pk_key.hpp"

#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/version.h>

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

#include "ota/signature.hpp"

namespace ota::verify_detail {
namespace {

constexpr std::size_t kMinRsaBits = 2048;
constexpr std::size_t kMaxRsaBits = 8192;

/// PEM is recognised by its armour; Mbed TLS then wants the text NUL-terminated, with the NUL
/// counted in the length.
bool looks_like_pem(std::string_view data) noexcept {
    return data.find("-----BEGIN ") != std::string_view::npos;
}

mbedtls_ecp_group_id ec_group(const mbedtls_pk_context* pk) noexcept {
    const mbedtls_ecp_keypair* ec = mbedtls_pk_ec(*pk);
    if (ec == nullptr) return MBEDTLS_ECP_DP_NONE;
#if MBEDTLS_VERSION_MAJOR >= 3
    return ec->MBEDTLS_PRIVATE(grp).id;
#else
    return ec->grp.id;
#endif
}

}  // namespace

const char* to_string(KeyKind kind) noexcept {
    switch (kind) {
        case KeyKind::ec_p256:
            return "EC P-256";
        case KeyKind::rsa:
            return "RSA";
    }
    return "unknown";
}

int parse_key(mbedtls_pk_context* pk, std::string_view pem_or_der, bool want_private) {
    std::string pem;
    const unsigned char* data = reinterpret_cast<const unsigned char*>(pem_or_der.data());
    std::size_t len = pem_or_der.size();
    if (looks_like_pem(pem_or_der)) {
        pem.assign(pem_or_der);
        data = reinterpret_cast<const unsigned char*>(pem.c_str());
        len = pem.size() + 1;
    }
    if (len == 0) return MBEDTLS_ERR_PK_KEY_INVALID_FORMAT;
    if (!want_private) return mbedtls_pk_parse_public_key(pk, data, len);
#if MBEDTLS_VERSION_MAJOR >= 3
    // 3.x takes an RNG for blinding the key consistency check; parsing works without one.
    const int rc = mbedtls_pk_parse_key(pk, data, len, nullptr, 0, nullptr, nullptr);
#else
    const int rc = mbedtls_pk_parse_key(pk, data, len, nullptr, 0);
#endif
    // The copy held private key material.
    if (!pem.empty()) mbedtls_platform_zeroize(pem.data(), pem.size());
    return rc;
}

Error classify_key(const mbedtls_pk_context* pk, KeyKind& kind) {
    const mbedtls_pk_type_t type = mbedtls_pk_get_type(pk);
    if (type == MBEDTLS_PK_RSA) {
        const std::size_t bits = mbedtls_pk_get_bitlen(pk);
        if (bits < kMinRsaBits || bits > kMaxRsaBits) {
            return {Status::invalid_argument,
                    "RSA keys must have 2048 to 8192 bits, this one has " + std::to_string(bits)};
        }
        kind = KeyKind::rsa;
        return {};
    }
    if (type == MBEDTLS_PK_ECKEY || type == MBEDTLS_PK_ECDSA) {
        if (ec_group(pk) != MBEDTLS_ECP_DP_SECP256R1) {
            return {Status::invalid_argument, "EC keys must be on curve P-256 (secp256r1)"};
        }
        kind = KeyKind::ec_p256;
        return {};
    }
    return {Status::invalid_argument, std::string("unsupported key type ") +
                                          mbedtls_pk_get_name(pk) + " (EC P-256 or RSA required)"};
}

Error check_key_id(std::string_view id) {
    if (id.size() > kMaxKeyIdLength) {
        return {Status::invalid_argument,
                "key id is longer than " + std::to_string(kMaxKeyIdLength) + " characters"};
    }
    for (const char c : id) {
        if (c < 0x20 || c > 0x7E)
            return {Status::invalid_argument, "key id must be printable ASCII"};
    }
    return {};
}

std::string mbedtls_error_text(int rc) {
    char code[24];
    std::snprintf(code, sizeof code, "-0x%04X", static_cast<unsigned>(-rc));
#if defined(MBEDTLS_ERROR_C)
    char text[160];
    mbedtls_strerror(rc, text, sizeof text);
    return std::string(text) + " (" + code + ")";
#else
    return std::string("Mbed TLS error ") + code;
#endif
}

bool is_alloc_failure(int rc) noexcept {
    if (rc >= 0) return false;
    const int low = -((-rc) & 0x007F);
    const int high = -((-rc) & 0xFF80);
    return low == MBEDTLS_ERR_MPI_ALLOC_FAILED || high == MBEDTLS_ERR_ECP_ALLOC_FAILED ||
           high == MBEDTLS_ERR_PK_ALLOC_FAILED;
}

Status status_from_mbedtls(int rc, Status otherwise) noexcept {
    if (rc == 0) return Status::ok;
    return is_alloc_failure(rc) ? Status::no_memory : otherwise;
}

}  // namespace ota::verify_detail
