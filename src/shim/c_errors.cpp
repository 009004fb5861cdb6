// Status -> IOT_OTAE_* and the shared failure path of the IOT_OTA_* entry points.
#include <string>

#include "ota/log.hpp"
#include "shim/c_handles.hpp"

namespace ota::shim {

int to_c_error(Status s) noexcept {
    switch (s) {
        case Status::ok:
            return IOT_OTAE_NONE;
        case Status::invalid_argument:
            return IOT_OTAE_INVALID_PARAM;
        case Status::invalid_state:
            return IOT_OTAE_INVALID_STATE;
        case Status::buffer_too_small:
            return IOT_OTAE_STR_TOO_LONG;
        case Status::fetch_failed:
        case Status::fetch_refused:
        case Status::size_mismatch:
        case Status::timeout:
            return IOT_OTAE_FETCH_FAILED;
        case Status::no_memory:
            return IOT_OTAE_NOMEM;
        case Status::not_connected:
        case Status::storage_failed:
        case Status::storage_full:
        case Status::crypto_failed:
            return IOT_OTAE_OSC_FAILED;
        case Status::malformed_message:
        case Status::digest_mismatch:
        case Status::internal:
            return IOT_OTAE_GENERAL;
    }
    return IOT_OTAE_GENERAL;
}

int fail(OtaHandle* h, const Error& e, const char* what) {
    log(LogLevel::warning, std::string(what) + ": " + e.message());
    return fail(h, to_c_error(e.status));
}

}  // namespace ota::shim
