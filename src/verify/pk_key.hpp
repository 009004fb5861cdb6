// Private helpers shared by the verifier and the signer: one RAII owner of an Mbed TLS
// `mbedtls_pk_context`, key parsing that accepts PEM and DER alike, key classification and the
// mapping of Mbed TLS error codes.
#pragma once

#include <mbedtls/pk.h>

#include <string>
#include <string_view>

#include "ota/status.hpp"

namespace ota::verify_detail {

/// Owns one `mbedtls_pk_context`. Neither copyable nor movable: Mbed TLS has no copy for it, so
/// it stays where it was made (hold it through a unique_ptr when it has to move).
class PkContext {
  public:
    PkContext() noexcept { mbedtls_pk_init(&ctx_); }
    ~PkContext() { mbedtls_pk_free(&ctx_); }
    PkContext(const PkContext&) = delete;
    PkContext& operator=(const PkContext&) = delete;
    PkContext(PkContext&&) = delete;
    PkContext& operator=(PkContext&&) = delete;

    [[nodiscard]] mbedtls_pk_context* get() noexcept { return &ctx_; }
    [[nodiscard]] const mbedtls_pk_context* get() const noexcept { return &ctx_; }

  private:
    mbedtls_pk_context ctx_;
};

/// The key types image signatures use.
enum class KeyKind { ec_p256, rsa };

/// Human name of a key kind ("EC P-256", "RSA").
[[nodiscard]] const char* to_string(KeyKind kind) noexcept;

/// Parses a public key (`want_private` false) or an unencrypted private key (true) from PEM text
/// or DER bytes into the empty context `pk`. Returns the Mbed TLS result code.
[[nodiscard]] int parse_key(mbedtls_pk_context* pk, std::string_view pem_or_der, bool want_private);

/// Classifies a parsed key; invalid_argument naming the reason for anything but EC P-256 and
/// RSA 2048..8192 bits.
[[nodiscard]] Error classify_key(const mbedtls_pk_context* pk, KeyKind& kind);

/// Key ids appear in progress descs: 0..kMaxKeyIdLength printable ASCII characters, else
/// invalid_argument.
[[nodiscard]] Error check_key_id(std::string_view id);

/// "<Mbed TLS description> (-0xNNNN)" for a non-zero result code.
[[nodiscard]] std::string mbedtls_error_text(int rc);

/// True when `rc` reports an allocation failure at any level.
[[nodiscard]] bool is_alloc_failure(int rc) noexcept;

/// Status for a failed Mbed TLS call: no_memory for allocation failures, else `otherwise`.
[[nodiscard]] Status status_from_mbedtls(int rc, Status otherwise) noexcept;

}  // namespace ota::verify_detail
