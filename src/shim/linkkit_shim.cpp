// The linkkit-style C interface over FotaAgent and the transports of the C interface's factory
// (ota/c_api_seams.hpp: PahoChannel and CurlByteSource by default), plus weak default HAL hooks.
// One device per process, like the original; no exception crosses into C.
#include <cstring>
#include <memory>
#include <string>

#include "ota/auth.hpp"
#include "ota/c_api/c_api_seams.hpp"
#include "ota/c_api/iot_export_linkkit.h"
#include "ota/fota_agent.hpp"
#include "ota/log.hpp"
#include "ota/protocol.hpp"
#include "shim/ioctl_connection.hpp"
#include "shim/persistence_hook_sink.hpp"

namespace {

struct LinkkitDevice {
    // Configuration (IOT_Ioctl / IOT_Linkkit_Open).
    ota::DeviceIdentity identity;
    ota::ConnectOptions connect;
    std::string mqtt_domain;
    std::string mqtt_ca_file;
    std::string http_ca_file;
    bool allow_http = false;
    std::string module;
    std::string firmware_version;
    bool opened = false;
    // Callbacks.
    iotx_fota_callback_t fota_cb = nullptr;
    iotx_fota_module_callback_t fota_module_cb = nullptr;
    iotx_connect_callback_t connected_cb = nullptr;
    iotx_connect_callback_t disconnected_cb = nullptr;
    iotx_initialized_callback_t initialized_cb = nullptr;
    // Runtime (IOT_Linkkit_Connect .. Close).
    std::unique_ptr<ota::MqttChannel> channel;
    std::unique_ptr<ota::ByteSource> source;
    std::unique_ptr<ota::FotaAgent> agent;
    std::unique_ptr<ota::ChannelListener> watcher;
};

LinkkitDevice& device() {
    static LinkkitDevice d;
    return d;
}

const char* const kRegions[] = {"cn-shanghai", "ap-southeast-1", "ap-northeast-1", "us-west-1",
                                "eu-central-1"};

int fail(const std::string& what) {
    ota::log(ota::LogLevel::error, what);
    return -1;
}

bool copy_string_option(void* data, std::string& out) {
    if (data == nullptr) {
        out.clear();
        return true;
    }
    out = static_cast<const char*>(data);
    return true;
}

void on_new_firmware(const ota::FotaEvent& ev) {
    LinkkitDevice& d = device();
    if (d.fota_module_cb != nullptr) {
        d.fota_module_cb(ev.type, ev.version.c_str(), ev.module.c_str());
    } else if (d.fota_cb != nullptr) {
        d.fota_cb(ev.type, ev.version.c_str());
    }
}

// Turns the channel's connection changes into the ITE_CONNECT_SUCC / ITE_DISCONNECTED
// callbacks; the channel calls it inside yield(), so they run on the application's thread.
class ConnectionWatcher final : public ota::ChannelListener {
  public:
    void on_message(std::string_view, std::string_view) override {}
    // The first connect is reported by IOT_Linkkit_Connect itself; only a reconnect is news.
    void on_connected() override {
        if (!lost_) return;
        lost_ = false;
        if (device().connected_cb != nullptr) device().connected_cb();
    }
    void on_connection_lost() override {
        lost_ = true;
        if (device().disconnected_cb != nullptr) device().disconnected_cb();
    }

  private:
    bool lost_ = false;
};

}  // namespace

namespace ota::shim {

IoctlConnection ioctl_connection() {
    const LinkkitDevice& d = device();
    return IoctlConnection{d.connect, d.mqtt_domain, d.mqtt_ca_file};
}

ConnectOptions connect_options_for(const IoctlConnection& c, const std::string& product_key) {
    ConnectOptions o = c.connect;
    if (o.custom_host.empty() && !c.mqtt_domain.empty()) {
        o.custom_host = product_key + "." + c.mqtt_domain;
    }
    return o;
}

}  // namespace ota::shim

extern "C" {

int iotx_register_for_ITE_FOTA(iotx_fota_callback_t callback) {
    device().fota_cb = callback;
    return 0;
}

int iotx_register_for_ITE_FOTA_MODULE(iotx_fota_module_callback_t callback) {
    device().fota_module_cb = callback;
    return 0;
}

int iotx_register_for_ITE_CONNECT_SUCC(iotx_connect_callback_t callback) {
    device().connected_cb = callback;
    return 0;
}

int iotx_register_for_ITE_DISCONNECTED(iotx_connect_callback_t callback) {
    device().disconnected_cb = callback;
    return 0;
}

int iotx_register_for_ITE_INITIALIZE_COMPLETED(iotx_initialized_callback_t callback) {
    device().initialized_cb = callback;
    return 0;
}

int IOT_Ioctl(int option, void* data) {
    LinkkitDevice& d = device();
    try {
        switch (option) {
            case IOTX_IOCTL_SET_DOMAIN:
            case IOTX_IOCTL_SET_REGION: {
                if (data == nullptr) return fail("IOT_Ioctl(SET_DOMAIN): NULL value");
                const int region = *static_cast<int*>(data);
                if (region < 0 || region >= static_cast<int>(std::size(kRegions))) {
                    return fail("IOT_Ioctl(SET_DOMAIN): unknown region " + std::to_string(region));
                }
                d.connect.region = kRegions[region];
                return 0;
            }
            case IOTX_IOCTL_SET_DYNAMIC_REGISTER:
                if (data != nullptr && *static_cast<int*>(data) != 0) {
                    return fail("IOT_Ioctl: dynamic registration is not supported");
                }
                return 0;
            case IOTX_IOCTL_RECV_EVENT_REPLY:
                return 0;
            case IOTX_IOCTL_SET_MQTT_DOMAIN:
                return copy_string_option(data, d.mqtt_domain) ? 0 : -1;
            case IOTX_IOCTL_SET_MODULE:
                return copy_string_option(data, d.module) ? 0 : -1;
            case IOTX_IOCTL_SET_MQTT_HOST:
                return copy_string_option(data, d.connect.custom_host) ? 0 : -1;
            case IOTX_IOCTL_SET_MQTT_PORT: {
                const int port = data != nullptr ? *static_cast<int*>(data) : 0;
                if (port <= 0 || port > 65535) {
                    return fail("IOT_Ioctl(SET_MQTT_PORT): port must be 1..65535");
                }
                d.connect.port = static_cast<std::uint16_t>(port);
                return 0;
            }
            case IOTX_IOCTL_SET_MQTT_CA_FILE:
                return copy_string_option(data, d.mqtt_ca_file) ? 0 : -1;
            case IOTX_IOCTL_SET_MQTT_PLAIN_TCP:
                d.connect.secure_mode = (data != nullptr && *static_cast<int*>(data) != 0)
                                            ? ota::SecureMode::tcp
                                            : ota::SecureMode::tls;
                return 0;
            case IOTX_IOCTL_SET_HTTP_CA_FILE:
                return copy_string_option(data, d.http_ca_file) ? 0 : -1;
            case IOTX_IOCTL_SET_ALLOW_HTTP:
                d.allow_http = data != nullptr && *static_cast<int*>(data) != 0;
                return 0;
            case IOTX_IOCTL_SET_FIRMWARE_VERSION:
                return copy_string_option(data, d.firmware_version) ? 0 : -1;
            default:
                return fail("IOT_Ioctl: unknown option " + std::to_string(option));
        }
    } catch (...) {
        return -1;
    }
}

int IOT_Linkkit_Open(iotx_linkkit_dev_type_t dev_type, iotx_linkkit_dev_meta_info_t* meta) {
    LinkkitDevice& d = device();
    if (dev_type != IOTX_LINKKIT_DEV_TYPE_MASTER || meta == nullptr) {
        return fail("IOT_Linkkit_Open: only the master device is supported");
    }
    if (d.opened) return fail("IOT_Linkkit_Open: the device is already open");
    try {
        // The fields are fixed-size arrays; never read past them even if unterminated.
        d.identity.product_key.assign(meta->product_key,
                                      strnlen(meta->product_key, sizeof meta->product_key));
        d.identity.device_name.assign(meta->device_name,
                                      strnlen(meta->device_name, sizeof meta->device_name));
        d.identity.device_secret.assign(meta->device_secret,
                                        strnlen(meta->device_secret, sizeof meta->device_secret));
        d.opened = true;
        return 0;
    } catch (...) {
        return -1;
    }
}

int IOT_Linkkit_Connect(int devid) {
    LinkkitDevice& d = device();
    if (devid != 0 || !d.opened) return fail("IOT_Linkkit_Connect: open the device first");
    if (d.agent) return fail("IOT_Linkkit_Connect: already connected");
    try {
        std::string version = d.firmware_version;
        if (version.empty()) {
            char buf[ota::kMaxVersionLength + 1] = {0};
            const int n = HAL_GetFirmwareVersion(buf);
            if (n <= 0 || static_cast<std::size_t>(n) > ota::kMaxVersionLength) {
                return fail(
                    "IOT_Linkkit_Connect: no firmware version (implement "
                    "HAL_GetFirmwareVersion or set IOTX_IOCTL_SET_FIRMWARE_VERSION)");
            }
            version.assign(buf, static_cast<std::size_t>(n));
        }
        ota::ConnectionInfo conn;
        const ota::ConnectOptions connect =
            ota::shim::connect_options_for(ota::shim::ioctl_connection(), d.identity.product_key);
        if (const ota::Error e = ota::make_connection_info(d.identity, connect, conn); !e.ok()) {
            return fail("IOT_Linkkit_Connect: " + e.message());
        }
        ota::MqttOptions mo = ota::MqttOptions::from(conn);
        mo.use_tls = d.connect.secure_mode == ota::SecureMode::tls;
        mo.ca_file = d.mqtt_ca_file;
        const ota::c_api::Transports transports = ota::c_api::current_transports();
        ota::Error connect_error;
        std::unique_ptr<ota::MqttChannel> channel = transports.connect_channel(mo, connect_error);
        if (channel == nullptr) {
            if (connect_error.ok()) connect_error = {ota::Status::internal, "no channel was built"};
            return fail("IOT_Linkkit_Connect: " + connect_error.message());
        }
        ota::HttpOptions ho;
        ho.ca_file = d.http_ca_file;
        ho.allow_http = d.allow_http;
        std::unique_ptr<ota::ByteSource> source = transports.make_source(ho);
        if (source == nullptr) return fail("IOT_Linkkit_Connect: no byte source was built");
        ota::ClientOptions co;
        co.product_key = d.identity.product_key;
        co.device_name = d.identity.device_name;
        co.module = d.module;
        co.allow_http = d.allow_http;
        auto agent =
            std::make_unique<ota::FotaAgent>(*channel, *source, std::move(co), *transports.clock);
        agent->on_new_firmware(on_new_firmware);
        if (const ota::Error e = agent->start(version); !e.ok()) {
            return fail("IOT_Linkkit_Connect: " + e.message());
        }
        auto watcher = std::make_unique<ConnectionWatcher>();
        channel->add_listener(*watcher);
        d.channel = std::move(channel);
        d.source = std::move(source);
        d.agent = std::move(agent);
        d.watcher = std::move(watcher);
        if (d.connected_cb != nullptr) d.connected_cb();
        if (d.initialized_cb != nullptr) d.initialized_cb(devid);
        return 0;
    } catch (...) {
        return fail("IOT_Linkkit_Connect: unexpected failure");
    }
}

int IOT_Linkkit_Yield(int timeout_ms) {
    LinkkitDevice& d = device();
    if (!d.agent) return -1;
    try {
        return d.agent->poll(std::chrono::milliseconds(timeout_ms > 0 ? timeout_ms : 0)).ok() ? 0
                                                                                              : -1;
    } catch (...) {
        return -1;
    }
}

int IOT_Linkkit_Query(int devid, iotx_linkkit_msg_type_t msg_type, unsigned char* payload,
                      int payload_len) {
    LinkkitDevice& d = device();
    if (devid != 0 || !d.agent) return fail("IOT_Linkkit_Query: connect the device first");
    try {
        switch (msg_type) {
            case ITM_MSG_QUERY_FOTA_DATA: {
                ota::shim::PersistenceHookSink sink;
                const ota::Error e = d.agent->download(sink);
                if (!e.ok()) return fail("IOT_Linkkit_Query(QUERY_FOTA_DATA): " + e.message());
                return 0;
            }
            case ITM_MSG_REQUEST_FOTA_IMAGE: {
                if (payload != nullptr && payload_len > 0) {
                    const auto* p = reinterpret_cast<const char*>(payload);
                    const std::string version(p, strnlen(p, static_cast<std::size_t>(payload_len)));
                    if (const ota::Error e = d.agent->report_version(version); !e.ok()) {
                        return fail("IOT_Linkkit_Query(REQUEST_FOTA_IMAGE): " + e.message());
                    }
                }
                const ota::Error e = d.agent->request_image();
                return e.ok() ? 0 : fail("IOT_Linkkit_Query(REQUEST_FOTA_IMAGE): " + e.message());
            }
        }
        return fail("IOT_Linkkit_Query: unsupported message type");
    } catch (...) {
        return fail("IOT_Linkkit_Query: unexpected failure");
    }
}

int IOT_Linkkit_Close(int devid) {
    LinkkitDevice& d = device();
    if (devid != 0 || !d.opened) return -1;
    d.agent.reset();
    d.source.reset();
    if (d.channel && d.watcher) d.channel->remove_listener(*d.watcher);
    d.channel.reset();  // destroying the channel disconnects it
    d.watcher.reset();
    d.opened = false;
    return 0;
}

// Weak defaults: an application that implements these hooks replaces them at link time.
__attribute__((weak)) int HAL_GetFirmwareVersion(char* /*version*/) {
    return -1;
}

__attribute__((weak)) void HAL_Firmware_Persistence_Start(void) {
    ota::log(ota::LogLevel::error,
             "no firmware persistence: implement HAL_Firmware_Persistence_Start/Write/Stop");
}

__attribute__((weak)) int HAL_Firmware_Persistence_Write(char* /*buffer*/, uint32_t /*length*/) {
    return -1;
}

__attribute__((weak)) int HAL_Firmware_Persistence_Stop(void) {
    return 0;
}

__attribute__((weak)) int HAL_Firmware_Persistence_StopEx(int /*succeeded*/) {
    return HAL_Firmware_Persistence_Stop();
}

}  // extern "C"
