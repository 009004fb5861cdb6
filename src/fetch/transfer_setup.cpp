// Shared download setup and response-head tracking (see transfer_setup.hpp).
#include "fetch/transfer_setup.hpp"

#include <charconv>
#include <cstring>
#include <string_view>
#include <system_error>

#include "fetch/curl_handles.hpp"
#include "fetch/download_url.hpp"
#include "fetch/http_head.hpp"
#include "fetch/transfer_error.hpp"
#include "ota/log.hpp"

namespace ota::detail {

curl_slist* make_request_headers() noexcept {
    return curl_slist_append(nullptr, "Accept-Encoding:");
}

Error configure_download(CURL* h, const HttpOptions& opts, char* errbuf,
                         curl_slist* request_headers, CurlDataCallback on_header,
                         CurlDataCallback on_body, void* self) {
    CURLcode rc = CURLE_OK;
    const char* failed = nullptr;
    const auto check = [&](CURLcode r, const char* name) {
        if (r != CURLE_OK && rc == CURLE_OK) {
            rc = r;
            failed = name;
        }
    };
    const char* protocols = opts.allow_http ? "http,https" : "https";
    check(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L), "NOSIGNAL");
    check(curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf), "ERRORBUFFER");
    check(curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header), "HEADERFUNCTION");
    check(curl_easy_setopt(h, CURLOPT_HEADERDATA, self), "HEADERDATA");
    check(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body), "WRITEFUNCTION");
    check(curl_easy_setopt(h, CURLOPT_WRITEDATA, self), "WRITEDATA");
    check(curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocols), "PROTOCOLS_STR");
    check(curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, protocols), "REDIR_PROTOCOLS_STR");
    check(curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L), "FOLLOWLOCATION");
    check(curl_easy_setopt(h, CURLOPT_MAXREDIRS, opts.max_redirects), "MAXREDIRS");
    // The client judges the status; the body of an error response is dropped (begin_body()).
    check(curl_easy_setopt(h, CURLOPT_FAILONERROR, 0L), "FAILONERROR");
    // Never ask for compression (it breaks Content-Length and Range) and never decode any.
    check(curl_easy_setopt(h, CURLOPT_HTTPHEADER, request_headers), "HTTPHEADER");
    check(curl_easy_setopt(h, CURLOPT_HTTP_CONTENT_DECODING, 0L), "HTTP_CONTENT_DECODING");
    check(curl_easy_setopt(h, CURLOPT_USERAGENT, "ota-device-sdk"), "USERAGENT");
    if (!opts.ca_file.empty()) {
        check(curl_easy_setopt(h, CURLOPT_CAINFO, opts.ca_file.c_str()), "CAINFO");
        // Trust exactly the configured bundle, not also the system's certificate directory.
        check(curl_easy_setopt(h, CURLOPT_CAPATH, static_cast<char*>(nullptr)), "CAPATH");
    }
    const long verify = opts.insecure_skip_verify ? 0L : 1L;
    check(curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, verify), "SSL_VERIFYPEER");
    check(curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, verify * 2L), "SSL_VERIFYHOST");
    check(curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                           static_cast<long>(opts.connect_timeout.count())),
          "CONNECTTIMEOUT_MS");
    if (opts.low_speed_bytes_per_s > 0) {
        check(curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT,
                               static_cast<long>(opts.low_speed_bytes_per_s)),
              "LOW_SPEED_LIMIT");
        check(curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                               static_cast<long>(opts.low_speed_window.count())),
              "LOW_SPEED_TIME");
    }
    // Larger than libcurl's 16 KiB default by default so that plain-HTTP transfers need fewer
    // callbacks; TLS hands over at most one record (16 KiB) per read either way.
    check(curl_easy_setopt(h, CURLOPT_BUFFERSIZE, static_cast<long>(opts.receive_buffer_size)),
          "BUFFERSIZE");
    // Nothing is ever uploaded, yet libcurl 7.88 allocates its upload buffer (64 KiB by default)
    // for every transfer: the smallest it allows.
    check(curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 16L * 1024), "UPLOAD_BUFFERSIZE");
    if (rc != CURLE_OK) {
        return {status_from_curl(rc),
                std::string("libcurl rejected CURLOPT_") + failed + ": " + curl_easy_strerror(rc)};
    }
    if (opts.insecure_skip_verify) {
        log(LogLevel::warning,
            "firmware download: TLS certificate verification is OFF (insecure_skip_verify); "
            "use this only in a lab");
    }
    return {};
}

Error set_download_target(CURL* h, const std::string& url, std::uint64_t offset) {
    CURLcode rc = curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    // 20 digits for any 64-bit offset, '-' and NUL: the Range value can never be truncated.
    char range_value[32] = {};
    if (rc == CURLE_OK && offset > 0) {
        const auto [end, ec] =
            std::to_chars(range_value, range_value + sizeof range_value - 2, offset);
        *end = '-';
        rc = ec == std::errc() ? curl_easy_setopt(h, CURLOPT_RANGE, range_value)
                               : CURLE_BAD_FUNCTION_ARGUMENT;
    } else if (rc == CURLE_OK) {
        rc = curl_easy_setopt(h, CURLOPT_RANGE, static_cast<char*>(nullptr));
    }
    if (rc != CURLE_OK) {
        return {status_from_curl(rc),
                std::string("cannot set up the download: ") + curl_easy_strerror(rc)};
    }
    return {};
}

void HeadTracker::reset() {
    head = ResponseHead{};
    published = false;
    rejecting_body = false;
    body_rejected = false;
    head_bytes = 0;
    head_over_limit = false;
    location.clear();
}

std::size_t HeadTracker::on_header(const char* data, std::size_t n) noexcept {
    // Trailers (after the body) are not part of the response headers reported.
    if (published) return n;
    // A status line starts the next response (after a redirect or a 1xx): its head counts anew.
    if (n >= 5 && std::memcmp(data, "HTTP/", 5) == 0) {
        head_bytes = 0;
        location.clear();
    }
    head_bytes += n;
    if (head_bytes > kMaxResponseHeadBytes) {
        // Refused here rather than buffered: a head this large is no firmware server's answer,
        // and it will not be smaller on the next attempt.
        head_over_limit = true;
        return CURL_WRITEFUNC_ERROR;
    }
    try {
        const std::string_view line(data, n);
        parse_header_line(line, head);
        if (const auto v = header_value(line, "Location"); !v.empty()) location.assign(v);
        return n;
    } catch (...) {
        return CURL_WRITEFUNC_ERROR;
    }
}

bool HeadTracker::begin_body() noexcept {
    if (!published) {
        published = true;
        rejecting_body = head.http_status < 200 || head.http_status > 299;
    }
    if (rejecting_body) body_rejected = true;
    return rejecting_body;
}

Error HeadTracker::outcome(CURLcode rc, CURLMcode mc, CURL* easy, const char* errbuf,
                           const std::string& url, bool allow_http) const noexcept {
    Error e;
    try {
        if (mc != CURLM_OK) {
            e.status = mc == CURLM_OUT_OF_MEMORY ? Status::no_memory : Status::internal;
            e.detail = "download of " + describe_url(url) +
                       " failed: libcurl multi error: " + curl_multi_strerror(mc);
        } else if (rc == CURLE_WRITE_ERROR && body_rejected) {
            // A non-2xx response whose body was dropped on purpose: the normal end.
        } else if (rc != CURLE_OK) {
            TransferFailure f;
            f.rc = rc;
            f.curl_text = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
            long request_bytes = 0;
            if (curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &request_bytes) != CURLE_OK) {
                request_bytes = 0;
            }
            f.reading_head = !published && (head_bytes > 0 || request_bytes > 0);
            f.head_over_limit = head_over_limit;
            f.location = location;
            f.allow_http = allow_http;
            e = transfer_error(f, url);
        }
    } catch (...) {
        e.detail.clear();
        if (e.status == Status::ok && rc != CURLE_OK && !body_rejected) {
            e.status = Status::fetch_failed;
        }
    }
    return e;
}

}  // namespace ota::detail
