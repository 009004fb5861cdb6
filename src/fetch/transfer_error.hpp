// How a transfer that libcurl ended with an error is reported: which errors retrying cannot cure
// (Status::fetch_refused, so that the client fails the download at once instead of backing off
// and trying again for minutes) and the reason in words. Pure code over libcurl's result codes,
// so the classification can be tested without a network. Private to the fetch layer.
#pragma once

#include <curl/curl.h>

#include <cstddef>
#include <string_view>

#include "ota/status.hpp"

namespace ota::detail {

/// Largest response head (status line and header lines of one response, in bytes) the byte
/// source accepts. Real firmware servers and CDNs send a few KiB; a larger head is refused as
/// "response header too large" rather than buffered.
inline constexpr std::size_t kMaxResponseHeadBytes = 64 * 1024;

/// What the transfer thread knows about a transfer that libcurl ended with `rc`.
struct TransferFailure {
    CURLcode rc = CURLE_OK;
    std::string_view curl_text;    ///< libcurl's error buffer, or curl_easy_strerror(rc)
    bool reading_head = false;     ///< the request went out and no body byte had come yet
    bool head_over_limit = false;  ///< a response head grew beyond kMaxResponseHeadBytes
    std::string_view location;     ///< Location of the last redirect response, empty if none
    bool allow_http = false;       ///< HttpOptions::allow_http
};

/// Status and description of the failed transfer of `url` (every URL in the text redacted).
/// fetch_refused for what no retry can cure: a TLS certificate that fails verification, a
/// redirect to a scheme outside the allowed ones, an oversized response head (the source's own
/// limit, or libcurl giving up on a header line while reading the head); status_from_curl(rc)
/// otherwise (fetch_failed for network errors, which the client retries).
[[nodiscard]] Error transfer_error(const TransferFailure& f, std::string_view url);

}  // namespace ota::detail
