// The IOT_OTA_* C interface over OtaClient, PahoChannel and CurlByteSource. Every entry point
// catches everything: no exception crosses into C.
#include "ota/iot_export_ota.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>

#include "ota/auth.hpp"
#include "ota/client.hpp"
#include "ota/curl_byte_source.hpp"
#include "ota/log.hpp"
#include "ota/paho_channel.hpp"

namespace {

// Tags that let the shim reject a handle of the wrong kind instead of crashing on it.
constexpr std::uint32_t kMqttTag = 0x4D515454U;  // "MQTT"
constexpr std::uint32_t kOtaTag = 0x4F54412EU;   // "OTA."

// Forwards connection changes of a PahoChannel to the seed-style event callback.
class EventBridge final : public ota::ChannelListener {
  public:
    EventBridge(iotx_mqtt_event_handle_t events, void* client) : events_(events), client_(client) {}
    void on_message(std::string_view, std::string_view) override {}
    void on_connected() override {
        if (lost_) {
            lost_ = false;
            emit(IOTX_MQTT_EVENT_RECONNECT);
        }
    }
    void on_connection_lost() override {
        lost_ = true;
        emit(IOTX_MQTT_EVENT_DISCONNECT);
    }

  private:
    void emit(iotx_mqtt_event_type_t type) {
        if (events_.h_fp == nullptr) return;
        iotx_mqtt_event_msg_t msg{type, nullptr};
        events_.h_fp(events_.pcontext, client_, &msg);
    }
    iotx_mqtt_event_handle_t events_;
    void* client_;
    bool lost_ = false;
};

struct MqttHandle {
    std::uint32_t tag = kMqttTag;
    std::unique_ptr<ota::PahoChannel> channel;
    std::unique_ptr<EventBridge> bridge;
};

struct OtaHandle {
    std::uint32_t tag = kOtaTag;
    std::unique_ptr<ota::CurlByteSource> source;
    std::unique_ptr<ota::OtaClient> client;
    int last_error = IOT_OTAE_NONE;
};

MqttHandle* as_mqtt(void* handle) {
    auto* h = static_cast<MqttHandle*>(handle);
    return (h != nullptr && h->tag == kMqttTag) ? h : nullptr;
}

OtaHandle* as_ota(void* handle) {
    auto* h = static_cast<OtaHandle*>(handle);
    return (h != nullptr && h->tag == kOtaTag) ? h : nullptr;
}

// The one place where library statuses become IOT_OTAE_* codes.
int to_c_error(ota::Status s) {
    switch (s) {
        case ota::Status::ok:
            return IOT_OTAE_NONE;
        case ota::Status::invalid_argument:
            return IOT_OTAE_INVALID_PARAM;
        case ota::Status::invalid_state:
            return IOT_OTAE_INVALID_STATE;
        case ota::Status::buffer_too_small:
            return IOT_OTAE_STR_TOO_LONG;
        case ota::Status::fetch_failed:
        case ota::Status::size_mismatch:
        case ota::Status::timeout:
            return IOT_OTAE_FETCH_FAILED;
        case ota::Status::no_memory:
            return IOT_OTAE_NOMEM;
        case ota::Status::not_connected:
        case ota::Status::storage_failed:
        case ota::Status::storage_full:
        case ota::Status::crypto_failed:
            return IOT_OTAE_OSC_FAILED;
        case ota::Status::malformed_message:
        case ota::Status::digest_mismatch:
        case ota::Status::internal:
            return IOT_OTAE_GENERAL;
    }
    return IOT_OTAE_GENERAL;
}

// Records `code` as the handle's last error and returns it.
int fail(OtaHandle* h, int code) {
    if (h != nullptr) h->last_error = code;
    return code;
}

int fail(OtaHandle* h, const ota::Error& e, const char* what) {
    ota::log(ota::LogLevel::warning, std::string(what) + ": " + e.message());
    return fail(h, to_c_error(e.status));
}

// Runs `body`, turning any escaping exception into an error code.
template <typename F>
int guarded(OtaHandle* h, F&& body) {
    try {
        return body();
    } catch (const std::bad_alloc&) {
        return fail(h, IOT_OTAE_NOMEM);
    } catch (...) {
        return fail(h, IOT_OTAE_GENERAL);
    }
}

// Copies `value` plus a NUL into a caller buffer of `len` bytes; STR_TOO_LONG instead of
// truncating.
int copy_string(OtaHandle* h, std::string_view value, void* buf, int len) {
    if (len <= 0 || static_cast<std::size_t>(len) < value.size() + 1) {
        return fail(h, IOT_OTAE_STR_TOO_LONG);
    }
    std::memcpy(buf, value.data(), value.size());
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

// ---- HAL_Set*/Get*: the C SDK keeps the device triple process-wide. ----

struct DeviceTriple {
    std::mutex mutex;
    std::string product_key;
    std::string device_name;
    std::string device_secret;
};

DeviceTriple& device_triple() {
    static DeviceTriple triple;
    return triple;
}

int hal_set(std::string DeviceTriple::*field, const char* value, std::size_t limit) {
    if (value == nullptr) return -1;
    const std::size_t n = std::strlen(value);
    if (n > limit) return -1;
    try {
        auto& t = device_triple();
        std::lock_guard<std::mutex> lock(t.mutex);
        t.*field = value;
    } catch (...) {
        return -1;
    }
    return static_cast<int>(n);
}

int hal_get(std::string DeviceTriple::*field, char* buf) {
    if (buf == nullptr) return -1;
    auto& t = device_triple();
    std::lock_guard<std::mutex> lock(t.mutex);
    const std::string& v = t.*field;
    std::memcpy(buf, v.c_str(), v.size() + 1);
    return static_cast<int>(v.size());
}

bool copy_field(char* dst, std::size_t cap, const std::string& src) {
    if (src.size() + 1 > cap) return false;
    std::memcpy(dst, src.c_str(), src.size() + 1);
    return true;
}

}  // namespace

extern "C" {

int HAL_SetProductKey(const char* product_key) {
    return hal_set(&DeviceTriple::product_key, product_key, IOTX_PRODUCT_KEY_LEN);
}
int HAL_SetDeviceName(const char* device_name) {
    return hal_set(&DeviceTriple::device_name, device_name, IOTX_DEVICE_NAME_LEN);
}
int HAL_SetDeviceSecret(const char* device_secret) {
    return hal_set(&DeviceTriple::device_secret, device_secret, IOTX_DEVICE_SECRET_LEN);
}
int HAL_GetProductKey(char* buf) {
    return hal_get(&DeviceTriple::product_key, buf);
}
int HAL_GetDeviceName(char* buf) {
    return hal_get(&DeviceTriple::device_name, buf);
}
int HAL_GetDeviceSecret(char* buf) {
    return hal_get(&DeviceTriple::device_secret, buf);
}

int IOT_SetupConnInfo(const char* product_key, const char* device_name, const char* device_secret,
                      void** info_ptr) {
    static std::mutex mutex;
    static iotx_conn_info_t info;
    if (product_key == nullptr || device_name == nullptr || device_secret == nullptr ||
        info_ptr == nullptr) {
        ota::log(ota::LogLevel::error, "IOT_SetupConnInfo: NULL argument");
        return -1;
    }
    try {
        ota::ConnectionInfo ci;
        const ota::Error e = ota::make_connection_info({product_key, device_name, device_secret},
                                                       ota::ConnectOptions{}, ci);
        if (!e.ok()) {
            ota::log(ota::LogLevel::error, "IOT_SetupConnInfo: " + e.message());
            return -1;
        }
        std::lock_guard<std::mutex> lock(mutex);
        info = iotx_conn_info_t{};
        info.port = ci.port;
        if (!copy_field(info.host_name, sizeof info.host_name, ci.host) ||
            !copy_field(info.client_id, sizeof info.client_id, ci.client_id) ||
            !copy_field(info.username, sizeof info.username, ci.username) ||
            !copy_field(info.password, sizeof info.password, ci.password)) {
            ota::log(ota::LogLevel::error, "IOT_SetupConnInfo: connection info too long");
            return -1;
        }
        *info_ptr = &info;
        return 0;
    } catch (...) {
        return -1;
    }
}

void* IOT_MQTT_Construct(iotx_mqtt_param_t* p) {
    if (p == nullptr || p->host == nullptr || p->client_id == nullptr) {
        ota::log(ota::LogLevel::error, "IOT_MQTT_Construct: host and client_id are required");
        return nullptr;
    }
    try {
        ota::MqttOptions o;
        o.host = p->host;
        o.port = p->port;
        o.client_id = p->client_id;
        if (p->username != nullptr) o.username = p->username;
        if (p->password != nullptr) o.password = p->password;
        o.use_tls = p->plain_tcp == 0;
        if (p->ca_file != nullptr) o.ca_file = p->ca_file;
        o.clean_session = p->clean_session != 0;
        o.keepalive = std::chrono::seconds(
            p->keepalive_interval_ms == 0
                ? 60
                : std::max<std::uint32_t>(p->keepalive_interval_ms / 1000, 10));
        // The seed passes request_timeout_ms = 2000; a TLS handshake to a distant broker can take
        // longer, so the connect bound is never below 10 s.
        o.connect_timeout =
            std::chrono::milliseconds(std::max<std::uint32_t>(p->request_timeout_ms, 10000));

        auto h = std::make_unique<MqttHandle>();
        h->channel = std::make_unique<ota::PahoChannel>(std::move(o));
        const ota::Error e = h->channel->connect();
        if (!e.ok()) {
            ota::log(ota::LogLevel::error, "IOT_MQTT_Construct: " + e.message());
            return nullptr;
        }
        h->bridge = std::make_unique<EventBridge>(p->handle_event, h.get());
        h->channel->add_listener(*h->bridge);
        return h.release();
    } catch (...) {
        ota::log(ota::LogLevel::error, "IOT_MQTT_Construct: unexpected failure");
        return nullptr;
    }
}

int IOT_MQTT_Yield(void* handle, int timeout_ms) {
    MqttHandle* h = as_mqtt(handle);
    if (h == nullptr) return IOT_OTAE_INVALID_PARAM;
    try {
        const ota::Status s = h->channel->yield(std::chrono::milliseconds(std::max(timeout_ms, 0)));
        return s == ota::Status::ok ? 0 : to_c_error(s);
    } catch (...) {
        return IOT_OTAE_GENERAL;
    }
}

int IOT_MQTT_Destroy(void** phandle) {
    if (phandle == nullptr) return IOT_OTAE_INVALID_PARAM;
    MqttHandle* h = as_mqtt(*phandle);
    if (h == nullptr) return IOT_OTAE_INVALID_PARAM;
    try {
        h->channel->remove_listener(*h->bridge);
        h->channel->disconnect();
    } catch (...) {
        // Disconnecting is best effort; the handle is freed regardless.
    }
    h->tag = 0;
    delete h;
    *phandle = nullptr;
    return 0;
}

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
        auto h = std::make_unique<OtaHandle>();
        h->source = std::make_unique<ota::CurlByteSource>(std::move(ho));
        h->client = std::make_unique<ota::OtaClient>(*mqtt->channel, *h->source, std::move(co));
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
                // A mismatch is an answer (0), not a failure of the call.
                if (!e.ok() && e.status != ota::Status::digest_mismatch) {
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

int IOT_OTA_GetLastError(void* handle) {
    OtaHandle* h = as_ota(handle);
    return h == nullptr ? IOT_OTAE_INVALID_PARAM : h->last_error;
}

}  // extern "C"
