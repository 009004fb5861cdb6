// What every libcurl download of the fetch layer shares, whichever thread drives it: the easy
// handle's options, the request target (URL and Range), and the tracking of the response head
// that decides what read() may hand out and how a failed transfer is reported. Used by
// CurlByteSource (a thread per transfer) and PooledCurlByteSource (a pool of multi threads), so
// both keep one contract and the same error texts. Private to the fetch layer.
#pragma once

#include <curl/curl.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "ota/byte_source.hpp"
#include "ota/options.hpp"
#include "ota/status.hpp"

namespace ota::detail {

/// libcurl's header and write callback signature.
using CurlDataCallback = std::size_t (*)(char* data, std::size_t size, std::size_t n, void* self);

/// The request headers of every download ("Accept-Encoding:" with no value: no compression);
/// nullptr when out of memory. The caller owns the list.
[[nodiscard]] curl_slist* make_request_headers() noexcept;

/// Sets the options every transfer of one source shares on `h`: callbacks (both get `self`),
/// error buffer, allowed schemes, redirects, TLS verification, timeouts, stall detection and
/// buffer sizes from `opts`. `errbuf` (CURL_ERROR_SIZE bytes) and `request_headers` must outlive
/// the handle's transfers. Logs the insecure_skip_verify warning. The error names the option
/// libcurl rejected.
[[nodiscard]] Error configure_download(CURL* h, const HttpOptions& opts, char* errbuf,
                                       curl_slist* request_headers, CurlDataCallback on_header,
                                       CurlDataCallback on_body, void* self);

/// Points `h` at `url` (which must stay alive during the transfer), asking for
/// `Range: bytes=<offset>-` when `offset` > 0 and for the whole body otherwise.
[[nodiscard]] Error set_download_target(CURL* h, const std::string& url, std::uint64_t offset);

/// The response head of one transfer as libcurl delivers it, on the thread driving the transfer.
struct HeadTracker {
    ResponseHead head;             ///< the current (finally: the final) response's head
    bool published = false;        ///< the head is final: the body (or the end) has begun
    bool rejecting_body = false;   ///< final status is not 2xx: its body is dropped
    bool body_rejected = false;    ///< the transfer was stopped on purpose to drop that body
    std::size_t head_bytes = 0;    ///< size of the current response's head so far
    bool head_over_limit = false;  ///< it passed kMaxResponseHeadBytes: the transfer was stopped
    std::string location;          ///< Location of the current response (names a refused redirect)

    /// Forgets everything, for the next transfer.
    void reset();

    /// Applies one header line (libcurl's header callback); returns `n` to go on or
    /// CURL_WRITEFUNC_ERROR to stop (oversized head, allocation failure). Trailers are ignored.
    [[nodiscard]] std::size_t on_header(const char* data, std::size_t n) noexcept;

    /// Called with the first body bytes (the head is final then): marks the head published and
    /// decides whether this body is refused. Returns true when the body must be dropped.
    bool begin_body() noexcept;

    /// Status and detail (URLs redacted) of a transfer of `url` that libcurl ended with `rc`
    /// (multi result `mc`): ok for success and for a non-2xx body dropped on purpose.
    [[nodiscard]] Error outcome(CURLcode rc, CURLMcode mc, CURL* easy, const char* errbuf,
                                const std::string& url, bool allow_http) const noexcept;
};

}  // namespace ota::detail
