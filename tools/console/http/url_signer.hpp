// The URLs devices download firmware from: `<base>/files/<sha256>?fw=<id>&exp=<ms>&sig=<hex>`,
// an HMAC-SHA256 over path, firmware id and expiry with a secret of the data directory, or
// `<public_base_url>/<sha256>` when nginx or a CDN serves the files.
//
// Why signed with an expiry and no token: a device is given the URL in its push and cannot send
// the API token; a signature that expires keeps the file route closed to anyone who was not
// given a URL recently, without a per-download database lookup. The secret lives in
// <data>/url-secret (0600) so URLs stay valid across restarts of the same console; consoles
// sharing a PostgreSQL database take it from the database instead (UrlSecret), so a URL signed
// by one is valid at all.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "engine/engine.hpp"
#include "model/model.hpp"

namespace console {

/// The scheme, host and port of an absolute URL.
struct UrlBase {
    std::string scheme;  ///< "http" or "https"
    std::string host;    ///< without the brackets of an IPv6 literal
    int port = 0;        ///< 0 = none given
};
/// Parses "http(s)://host[:port][/path]"; nullopt for anything else (no host, user info,
/// spaces, a bad port).
[[nodiscard]] std::optional<UrlBase> parse_url_base(const std::string& url);
/// `url` without trailing slashes.
[[nodiscard]] std::string strip_trailing_slash(std::string url);

/// A URL-signing secret given directly (not read from a data directory).
struct UrlSecret {
    std::string value;
};

/// The name of the store setting (Store::shared_secret) that holds the URL secret with --db.
inline constexpr const char* kUrlSecretSetting = "url-secret";

/// Makes and checks signed firmware URLs. Thread-safe.
class UrlSigner {
  public:
    /// Loads the secret from `<data_dir>/url-secret`, creating it (32 random bytes, mode 0600)
    /// when missing. `ttl_ms`: how long a URL stays valid. A non-empty `public_base_url` makes
    /// url_for() return unsigned `<public_base_url>/<sha256>` URLs instead. Throws
    /// std::runtime_error when the secret cannot be read or written.
    UrlSigner(const std::string& data_dir, const WallClock& clock, Millis ttl_ms,
              std::string public_base_url = {});

    /// A signer with this secret (at least 32 characters), e.g. the one all consoles on a
    /// PostgreSQL database share (Store::shared_secret), so a URL one console signed is valid
    /// at every other. Throws std::runtime_error for a shorter secret.
    UrlSigner(UrlSecret secret, const WallClock& clock, Millis ttl_ms,
              std::string public_base_url = {});

    /// The scheme://host:port the console's own file route is reached at (set once the port is
    /// known, e.g. "https://127.0.0.1:8443"). Ignored while a public base URL is set.
    void set_base(std::string base);
    [[nodiscard]] std::string base() const;
    [[nodiscard]] const std::string& public_base_url() const noexcept { return public_base_; }

    /// The URL a device downloads `firmware` from, valid for the TTL from now.
    [[nodiscard]] std::string url_for(const Firmware& firmware) const;

    /// Why a file request is refused (or ok).
    enum class Check { ok, bad_signature, expired };
    /// Checks the signature of a request for `/files/<sha256>` and its expiry against now.
    [[nodiscard]] Check check(std::string_view sha256, std::int64_t firmware_id, Millis expires,
                              std::string_view signature_hex) const;

    /// The hex HMAC-SHA256 of one URL (exposed for tests that forge and tamper).
    [[nodiscard]] std::string signature(std::string_view sha256, std::int64_t firmware_id,
                                        Millis expires) const;

  private:
    std::string secret_;
    const WallClock& clock_;
    Millis ttl_ms_;
    std::string public_base_;
    mutable std::mutex mutex_;
    std::string base_;
};

}  // namespace console
