#include "ota/status.hpp"

namespace ota {

const char* to_string(Status s) noexcept {
    switch (s) {
        case Status::ok:
            return "ok";
        case Status::invalid_argument:
            return "invalid argument";
        case Status::invalid_state:
            return "invalid state";
        case Status::buffer_too_small:
            return "buffer too small";
        case Status::malformed_message:
            return "malformed message";
        case Status::not_connected:
            return "not connected";
        case Status::timeout:
            return "timeout";
        case Status::fetch_failed:
            return "download failed";
        case Status::size_mismatch:
            return "size mismatch";
        case Status::digest_mismatch:
            return "digest mismatch";
        case Status::storage_failed:
            return "storage failed";
        case Status::storage_full:
            return "storage full";
        case Status::crypto_failed:
            return "crypto failed";
        case Status::no_memory:
            return "out of memory";
        case Status::internal:
            return "internal error";
        case Status::fetch_refused:
            return "download refused";
    }
    return "unknown status";
}

std::string Error::message() const {
    std::string out = to_string(status);
    if (!detail.empty()) {
        out += ": ";
        out += detail;
    }
    return out;
}

}  // namespace ota
