// The transport factory behind the C interface (ota/c_api_seams.hpp). The defaults are the only
// place where the C interface names PahoChannel and CurlByteSource.
#include <mutex>
#include <utility>

#include "ota/c_api/c_api_seams.hpp"
#include "ota/curl/curl_byte_source.hpp"
#include "ota/paho/paho_channel.hpp"

namespace ota::c_api {
namespace {

std::mutex& transports_mutex() {
    static std::mutex mutex;
    return mutex;
}

Transports& installed() {
    static Transports transports;
    return transports;
}

}  // namespace

Transports default_transports() {
    Transports t;
    t.connect_channel = [](const MqttOptions& options,
                           Error& error) -> std::unique_ptr<MqttChannel> {
        auto channel = std::make_unique<PahoChannel>(options);
        error = channel->connect();
        if (!error.ok()) return nullptr;
        return channel;
    };
    t.make_source = [](const HttpOptions& options) -> std::unique_ptr<ByteSource> {
        return std::make_unique<CurlByteSource>(options);
    };
    t.clock = &steady_clock();
    return t;
}

Transports set_transports(Transports transports) {
    std::lock_guard<std::mutex> lock(transports_mutex());
    return std::exchange(installed(), std::move(transports));
}

Transports current_transports() {
    Transports t;
    {
        std::lock_guard<std::mutex> lock(transports_mutex());
        t = installed();
    }
    if (!t.connect_channel || !t.make_source || t.clock == nullptr) {
        Transports d = default_transports();
        if (!t.connect_channel) t.connect_channel = std::move(d.connect_channel);
        if (!t.make_source) t.make_source = std::move(d.make_source);
        if (t.clock == nullptr) t.clock = d.clock;
    }
    return t;
}

}  // namespace ota::c_api
