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
        const std::size_t len = std::min<std::size_t>(buf_len, INT_MAX);
        const ota::FetchResult r = h->client->fetch_yield(reinterpret_cast<std::uint8_t*>(buf), len,
                                                          std::chrono::seconds(timeout_s));
        if (r.status != ota::Status::ok) {
            return fail(h, r.status == ota::Status::invalid_state ? IOT_OTAE_INVALID_STATE
                                                                  : to_c_error(r.status));
        }
        return static_cast<int>(r.bytes);
    });
}

int IOT_OTA_GetLastError(void* handle) {
    OtaHandle* h = as_ota(handle);
    return h == nullptr ? IOT_OTAE_INVALID_PARAM : h->last_error;
}

}  // extern "C"
