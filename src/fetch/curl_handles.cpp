// libcurl plumbing (see curl_handles.hpp).
#include "fetch/curl_handles.hpp"

#include <mutex>

namespace ota::detail {

Status status_from_curl(CURLcode rc) noexcept {
    switch (rc) {
        case CURLE_OK:
            return Status::ok;
        case CURLE_OPERATION_TIMEDOUT:
            return Status::timeout;
        case CURLE_OUT_OF_MEMORY:
            return Status::no_memory;
        case CURLE_URL_MALFORMAT:
            return Status::invalid_argument;
        case CURLE_FAILED_INIT:
        case CURLE_UNKNOWN_OPTION:
        case CURLE_NOT_BUILT_IN:
        case CURLE_BAD_FUNCTION_ARGUMENT:
            return Status::internal;
        default:
            return Status::fetch_failed;
    }
}

CURLcode global_init() noexcept {
    static std::once_flag once;
    static CURLcode rc = CURLE_OK;
    try {
        std::call_once(once, [] { rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
    } catch (...) {
        return CURLE_FAILED_INIT;
    }
    return rc;
}

}  // namespace ota::detail
