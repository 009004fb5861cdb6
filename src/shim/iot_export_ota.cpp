// IOT_OTA_*: an OtaClient on an MQTT handle's channel and a byte source from the transport
// factory (ota/c_api_seams.hpp), CurlByteSource by default. IOT_OTA_Ioctl is in ota_ioctl.cpp.
// Every entry point catches everything: no exception crosses into C.
#include "ota/c_api/iot_export_ota.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <memory>

#include "ota/c_api/c_api_seams.hpp"
#include "ota/client.hpp"
#include "ota/log.hpp"
#include "shim/c_handles.hpp"

using ota::shim::as_mqtt;
using ota::shim::as_ota;
using ota::shim::fail;
using ota::shim::guarded;
using ota::shim::MqttHandle;
using ota::shim::OtaHandle;
using ota::shim::to_c_error;

namespace {

/// How long one wait inside IOT_OTA_FetchYield lasts when the caller passes timeout_s = 0.
constexpr std::chrono::milliseconds kIdleSlice{200};

}  // namespace

extern "C" {

void* IOT_OTA_InitEx(const char* product_key, const char* device_name, void* ch_signal,
                     const iotx_ota_options_t* options) {
    MqttHandle* mqtt = as_mqtt(ch_signal);
    if (product_key == nullptr || device_name == nullptr || mqtt == nullptr) {
        ota::log(ota::LogLevel::error,
                 "IOT_OTA_Init: product key, device name and an IOT_MQTT_Construct handle are "
                 "required");
        return nullptr;
    }
    try {
        ota::ClientOptions co;
        co.product_key = product_key;
        co.device_name = device_name;
        co.auto_progress = false;  // as in the original, the application reports progress
        ota::HttpOptions ho;
        if (options != nullptr) {
            if (options->module != nullptr) co.module = options->module;
            if (options->max_image_size != 0) co.max_image_size = options->max_image_size;
            co.allow_http = options->allow_http != 0;
            ho.allow_http = co.allow_http;
            if (options->http_ca_file != nullptr) ho.ca_file = options->http_ca_file;
        }
        const ota::c_api::Transports transports = ota::c_api::current_transports();
        auto h = std::make_unique<OtaHandle>();
        if (ho.ca_file.empty() && mqtt->pub_key_ca != nullptr) {
            // No CA named for the firmware server: trust the broker's pub_key, as the original.
            h->http_ca = mqtt->pub_key_ca;
            ho.ca_file = h->http_ca->path();
        }
        h->source = transports.make_source(ho);
        if (h->source == nullptr) {
            ota::log(ota::LogLevel::error, "IOT_OTA_Init: no byte source was built");
            return nullptr;
        }
        h->clock = transports.clock;
        h->client = std::make_unique<ota::OtaClient>(*mqtt->channel, *h->source, std::move(co),
                                                     *transports.clock);
        const ota::Error e = h->client->init();
        if (!e.ok()) {
            ota::log(ota::LogLevel::error, "IOT_OTA_Init: " + e.message());
            return nullptr;
        }
        return h.release();
    } catch (...) {
        ota::log(ota::LogLevel::error, "IOT_OTA_Init: unexpected failure");
        return nullptr;
    }
}

void* IOT_OTA_Init(const char* product_key, const char* device_name, void* ch_signal) {
    return IOT_OTA_InitEx(product_key, device_name, ch_signal, nullptr);
}

int IOT_OTA_Deinit(void* handle) {
    OtaHandle* h = as_ota(handle);
    if (h == nullptr) return IOT_OTAE_INVALID_PARAM;
    try {
        h->client->deinit();
    } catch (...) {
        // deinit is noexcept; nothing to recover.
    }
    h->tag = 0;
    delete h;
    return 0;
}

int IOT_OTA_ReportVersion(void* handle, const char* version) {
    OtaHandle* h = as_ota(handle);
    if (h == nullptr || version == nullptr) return fail(h, IOT_OTAE_INVALID_PARAM);
    return guarded(h, [&] {
        const ota::Error e = h->client->report_version(version);
        return e.ok() ? 0 : fail(h, e, "IOT_OTA_ReportVersion");
    });
}

int IOT_OTA_ReportProgress(void* handle, IOT_OTA_Progress_t progress, const char* msg) {
    OtaHandle* h = as_ota(handle);
    if (h == nullptr) return IOT_OTAE_INVALID_PARAM;
    return guarded(h, [&] {
        const ota::Error e =
            h->client->report_progress(static_cast<int>(progress), msg != nullptr ? msg : "");
        return e.ok() ? 0 : fail(h, e, "IOT_OTA_ReportProgress");
    });
}

int IOT_OTA_RequestImage(void* handle, const char* version) {
    OtaHandle* h = as_ota(handle);
    if (h == nullptr) return IOT_OTAE_INVALID_PARAM;
    return guarded(h, [&] {
        if (version != nullptr) {
            const ota::Error e = h->client->report_version(version);
            if (!e.ok()) return fail(h, e, "IOT_OTA_RequestImage");
        }
        const ota::Error e = h->client->request_image();
        return e.ok() ? 0 : fail(h, e, "IOT_OTA_RequestImage");
    });
}

int IOT_OTA_IsFetching(void* handle) {
    OtaHandle* h = as_ota(handle);
    return (h != nullptr && h->client->is_fetching()) ? 1 : 0;
}

int IOT_OTA_IsFetchFinish(void* handle) {
    OtaHandle* h = as_ota(handle);
    return (h != nullptr && h->client->is_fetch_finished()) ? 1 : 0;
}

int IOT_OTA_FetchYield(void* handle, char* buf, uint32_t buf_len, uint32_t timeout_s) {
    OtaHandle* h = as_ota(handle);
    if (h == nullptr || buf == nullptr || buf_len == 0) return fail(h, IOT_OTAE_INVALID_PARAM);
    return guarded(h, [&] {
        ota::OtaClient& c = *h->client;
        auto* out = reinterpret_cast<std::uint8_t*>(buf);
        const std::size_t len = std::min<std::size_t>(buf_len, INT_MAX);
        // The seed's loop takes 0 for a failure and reports -2: while the download is healthy,
        // keep calling the client (each call serves the MQTT channel) until bytes arrive or the
        // client gives up, which its retry policy bounds (stall detection, attempts, deadline).
        const std::chrono::milliseconds slice =
            timeout_s == 0 ? kIdleSlice : std::chrono::milliseconds(timeout_s) * 1000;
        const ota::RetryPolicy& rp = c.options().retry;
        const auto give_up_at = h->clock->now() + rp.total_deadline + rp.stall_window +
                                rp.max_backoff + c.options().end_of_body_wait + slice;
        for (;;) {
            const ota::FetchResult r = c.fetch_yield(out, len, slice);
            if (r.status != ota::Status::ok) {
                return fail(h, r.status == ota::Status::invalid_state ? IOT_OTAE_INVALID_STATE
                                                                      : to_c_error(r.status));
            }
            if (r.bytes > 0 || c.state() != ota::OtaState::fetching) {
                return static_cast<int>(r.bytes);
            }
            if (h->clock->now() >= give_up_at) {
                // Not reached while the client keeps its own bounds; a safety net for C loops.
                ota::log(ota::LogLevel::warning,
                         "IOT_OTA_FetchYield: no bytes within the retry policy's deadline");
                return 0;
            }
        }
    });
}

int IOT_OTA_GetLastError(void* handle) {
    OtaHandle* h = as_ota(handle);
    return h == nullptr ? IOT_OTAE_INVALID_PARAM : h->last_error;
}

}  // extern "C"
