// Incremental image digests (MD5, SHA-256) over Mbed TLS's generic message-digest API.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ota/status.hpp"

namespace ota {

/// Digest algorithms the platform announces for firmware images.
enum class DigestAlgorithm { md5, sha256 };

/// "md5" or "sha256".
[[nodiscard]] const char* to_string(DigestAlgorithm alg) noexcept;

/// Raw digest size in bytes: 16 for MD5, 32 for SHA-256.
[[nodiscard]] std::size_t digest_size(DigestAlgorithm alg) noexcept;

/// Largest raw digest size of any supported algorithm.
inline constexpr std::size_t kMaxDigestSize = 32;

/// Lower-case hex of `len` bytes.
[[nodiscard]] std::string to_hex(const std::uint8_t* data, std::size_t len);

/// True when `a` and `b` are the same hex string ignoring ASCII case (lengths must match).
[[nodiscard]] bool hex_equal(std::string_view a, std::string_view b) noexcept;

/// True when `s` is exactly `digest_size(alg) * 2` hex digits (either case).
[[nodiscard]] bool is_hex_digest(std::string_view s, DigestAlgorithm alg) noexcept;

/// A running digest. Move-only RAII owner of an `mbedtls_md_context_t`; `update` never
/// allocates. A default-constructed or moved-from Hasher is empty: start() it before use.
class Hasher {
  public:
    Hasher() noexcept;
    ~Hasher();
    Hasher(Hasher&& other) noexcept;
    Hasher& operator=(Hasher&& other) noexcept;
    Hasher(const Hasher&) = delete;
    Hasher& operator=(const Hasher&) = delete;

    /// (Re)starts a fresh digest of `alg`, discarding any previous state.
    [[nodiscard]] Status start(DigestAlgorithm alg);
    /// Feeds `len` bytes. invalid_state when not started.
    [[nodiscard]] Status update(const std::uint8_t* data, std::size_t len) noexcept;
    /// Finishes the digest into `out` (lower-case hex); the hasher must be start()ed again after.
    [[nodiscard]] Status finish_hex(std::string& out);
    /// Finishes into raw bytes; `out` must hold digest_size(algorithm()) bytes.
    [[nodiscard]] Status finish(std::uint8_t* out, std::size_t out_len) noexcept;
    /// True between start() and finish().
    [[nodiscard]] bool active() const noexcept;
    /// The algorithm of the last start().
    [[nodiscard]] DigestAlgorithm algorithm() const noexcept { return alg_; }

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    DigestAlgorithm alg_ = DigestAlgorithm::md5;
    bool active_ = false;
};

/// Convenience: digest of a whole buffer as lower-case hex.
[[nodiscard]] Error digest_hex(DigestAlgorithm alg, const std::uint8_t* data, std::size_t len,
                               std::string& out);

}  // namespace ota
