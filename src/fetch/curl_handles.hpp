// libcurl plumbing shared by the byte source's parts: one owner per libcurl handle, the one
// CURLcode -> Status mapping, and the process-wide curl_global_init. Private to the fetch layer.
#pragma once

#include <curl/curl.h>

#include <memory>

#include "ota/status.hpp"

namespace ota::detail {

/// The one mapping of libcurl results onto library statuses.
[[nodiscard]] Status status_from_curl(CURLcode rc) noexcept;

/// curl_global_init, once per process; its result on every call.
[[nodiscard]] CURLcode global_init() noexcept;

struct EasyDeleter {
    void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
struct MultiDeleter {
    void operator()(CURLM* h) const noexcept { curl_multi_cleanup(h); }
};
struct SlistDeleter {
    void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
struct UrlDeleter {
    void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};
struct CurlStringDeleter {
    void operator()(char* s) const noexcept { curl_free(s); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;
using MultiHandle = std::unique_ptr<CURLM, MultiDeleter>;
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;
using UrlHandle = std::unique_ptr<CURLU, UrlDeleter>;
using CurlString = std::unique_ptr<char, CurlStringDeleter>;

}  // namespace ota::detail
