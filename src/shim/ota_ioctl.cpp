// IOT_OTA_Ioctl: the untyped query/command interface of the C SDK mapped onto OtaClient's typed
// getters. Buffers are checked for exactly the type each command documents in iot_export_ota.h.
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

#include "ota/c_api/iot_export_ota.h"
#include "ota/client.hpp"
#include "ota/log.hpp"
#include "shim/c_handles.hpp"

using ota::shim::as_ota;
using ota::shim::fail;
using ota::shim::guarded;
using ota::shim::OtaHandle;

namespace {

// Copies `value` plus a NUL into a caller buffer of `len` bytes; STR_TOO_LONG instead of
// truncating.
int copy_string(OtaHandle* h, std::string_view value, void* buf, int len) {
    if (len <= 0 || static_cast<std::size_t>(len) < value.size() + 1) {
        return fail(h, IOT_OTAE_STR_TOO_LONG);
    }
    // An empty view may carry a null data(): memcpy must not see it, even for 0 bytes.
    if (!value.empty()) std::memcpy(buf, value.data(), value.size());
    static_cast<char*>(buf)[value.size()] = '\0';
    return IOT_OTAE_NONE;
}

int copy_u32(OtaHandle* h, std::uint64_t value, void* buf, int len) {
    if (len != static_cast<int>(sizeof(std::uint32_t))) return fail(h, IOT_OTAE_INVALID_PARAM);
    if (value > std::numeric_limits<std::uint32_t>::max()) return fail(h, IOT_OTAE_STR_TOO_LONG);
    const auto v = static_cast<std::uint32_t>(value);
    std::memcpy(buf, &v, sizeof v);
    return IOT_OTAE_NONE;
}

int copy_u64(OtaHandle* h, std::uint64_t value, void* buf, int len) {
    if (len != static_cast<int>(sizeof(std::uint64_t))) return fail(h, IOT_OTAE_INVALID_PARAM);
    std::memcpy(buf, &value, sizeof value);
    return IOT_OTAE_NONE;
}

}  // namespace

extern "C" {

int IOT_OTA_Ioctl(void* handle, IOT_OTA_CmdType_t type, void* buf, int buf_len) {
    OtaHandle* h = as_ota(handle);
    if (h == nullptr) return IOT_OTAE_INVALID_PARAM;
    const bool needs_buf = type != IOT_OTAG_RESET_FETCHED_SIZE && type != IOT_OTAG_RESET_STATE;
    if (needs_buf && (buf == nullptr || buf_len <= 0)) return fail(h, IOT_OTAE_INVALID_PARAM);
    return guarded(h, [&]() -> int {
        ota::OtaClient& c = *h->client;
        switch (type) {
            case IOT_OTAG_OTA_TYPE:
                return copy_u32(h, c.job() != nullptr ? IOT_OTAT_FOTA : IOT_OTAT_NONE, buf,
                                buf_len);
            case IOT_OTAG_FETCHED_SIZE:
                return copy_u32(h, c.fetched_size(), buf, buf_len);
            case IOT_OTAG_FILE_SIZE:
                return copy_u32(h, c.file_size(), buf, buf_len);
            case IOT_OTAG_FETCHED_SIZE_64:
                return copy_u64(h, c.fetched_size(), buf, buf_len);
            case IOT_OTAG_FILE_SIZE_64:
                return copy_u64(h, c.file_size(), buf, buf_len);
            case IOT_OTAG_MD5SUM:
                return copy_string(h, c.expected_digest(), buf, buf_len);
            case IOT_OTAG_VERSION:
                return copy_string(h, c.version(), buf, buf_len);
            case IOT_OTAG_MODULE:
                return copy_string(h, c.module(), buf, buf_len);
            case IOT_OTAG_CHECK_FIRMWARE: {
                if (buf_len != static_cast<int>(sizeof(std::uint32_t))) {
                    return fail(h, IOT_OTAE_INVALID_PARAM);
                }
                bool valid = false;
                const ota::Error e = c.check_firmware(valid);
                const std::uint32_t v = (e.ok() && valid) ? 1U : 0U;
                std::memcpy(buf, &v, sizeof v);
                // In FETCHED every verdict is an answer (0 for a mismatch or a failed download),
                // not a failure of the call, as in the original.
                if (!e.ok() && c.state() != ota::OtaState::fetched) {
                    return fail(h, e, "IOT_OTA_Ioctl(CHECK_FIRMWARE)");
                }
                return 0;
            }
            case IOT_OTAG_RESET_FETCHED_SIZE: {
                const ota::Error e = c.restart_download();
                return e.ok() ? 0 : fail(h, e, "IOT_OTA_Ioctl(RESET_FETCHED_SIZE)");
            }
            case IOT_OTAG_RESET_STATE:
                c.reset();
                return 0;
            case IOT_OTAG_COTA_CONFIG_ID:
            case IOT_OTAG_COTA_CONFIG_SIZE:
            case IOT_OTAG_COTA_SIGN:
            case IOT_OTAG_COTA_SIGN_METHOD:
            case IOT_OTAG_COTA_URL:
            case IOT_OTAG_COTA_GETTYPE:
            case IOT_OTAG_CHECK_CONFIG:
                ota::log(ota::LogLevel::warning,
                         "IOT_OTA_Ioctl: config OTA (COTA) is not supported by this library");
                return fail(h, IOT_OTAE_INVALID_PARAM);
        }
        return fail(h, IOT_OTAE_INVALID_PARAM);
    });
}

}  // extern "C"
