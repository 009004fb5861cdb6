// Failed transfers: permanent or not, and why (see transfer_error.hpp).
#include "fetch/transfer_error.hpp"

#include <string>

#include "fetch/curl_handles.hpp"
#include "fetch/download_url.hpp"
#include "fetch/http_head.hpp"

namespace ota::detail {
namespace {

// Codes libcurl uses when the server's certificate chain, name or pinned key is not accepted, or
// the configured CA/CRL file cannot be used: the same certificate fails the same way next time.
bool is_tls_verification_error(CURLcode rc) noexcept {
    switch (rc) {
        case CURLE_PEER_FAILED_VERIFICATION:  // also CURLE_SSL_CACERT (same value)
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
            return true;
        default:
            return false;
    }
}

// libcurl keeps one header line in a buffer of bounded size (CURL_MAX_HTTP_HEADER, 100 KiB) and
// reports an overflow as "out of memory" (and, since 8.6, as CURLE_TOO_LARGE). While the head is
// being read that means the line was too long, not that the device ran out of memory.
bool is_header_overflow(CURLcode rc) noexcept {
#if LIBCURL_VERSION_NUM >= 0x080600
    if (rc == CURLE_TOO_LARGE) return true;
#endif
    return rc == CURLE_OUT_OF_MEMORY;
}

std::string curl_suffix(const TransferFailure& f) {
    return " (curl error " + std::to_string(static_cast<int>(f.rc)) + ")";
}

}  // namespace

Error transfer_error(const TransferFailure& f, std::string_view url) {
    const std::string text(trim_header_text(f.curl_text));
    const std::string prefix = "download of " + std::string(url) + " failed: ";
    Status status = status_from_curl(f.rc);
    std::string detail;
    if (f.head_over_limit) {
        status = Status::fetch_refused;
        detail = prefix + "response header too large (more than " +
                 std::to_string(kMaxResponseHeadBytes) + " bytes)";
    } else if (f.reading_head && is_header_overflow(f.rc)) {
        status = Status::fetch_refused;
        // libcurl's own words ("Out of memory") would send the reader the wrong way.
        detail = prefix + "response header too large (a header line over libcurl's limit of " +
                 std::to_string(CURL_MAX_HTTP_HEADER) + " bytes)" + curl_suffix(f);
    } else if (is_tls_verification_error(f.rc)) {
        status = Status::fetch_refused;
        detail = prefix + "TLS verification failed: " + text + curl_suffix(f);
    } else if (f.rc == CURLE_UNSUPPORTED_PROTOCOL) {
        // open() accepts only allowed schemes, so libcurl refuses one only on a redirect.
        status = Status::fetch_refused;
        const std::string target =
            f.location.empty() ? std::string("another scheme") : describe_url(f.location);
        const char* rule = f.allow_http ? "only https and http are allowed"
                                        : "only https is allowed (HttpOptions::allow_http is off)";
        detail = prefix + "redirect to " + target + " refused: " + rule + "; libcurl: " + text +
                 curl_suffix(f);
    } else {
        detail = prefix + text + curl_suffix(f);
    }
    return {status, scrub(std::move(detail), url)};
}

}  // namespace ota::detail
