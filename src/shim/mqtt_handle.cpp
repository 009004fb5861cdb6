// IOT_MQTT_Construct / Yield / Destroy: an MQTT handle over the channel the transport factory
// (ota/c_api_seams.hpp) connects, PahoChannel by default. No exception crosses into C.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "ota/c_api/c_api_seams.hpp"
#include "ota/c_api/iot_export_ota.h"
#include "ota/log.hpp"
#include "shim/c_handles.hpp"

namespace ota::shim {

void EventBridge::on_connected() {
    if (lost_) {
        lost_ = false;
        emit(IOTX_MQTT_EVENT_RECONNECT);
    }
}

void EventBridge::on_connection_lost() {
    lost_ = true;
    emit(IOTX_MQTT_EVENT_DISCONNECT);
}

PemFile::PemFile(std::string_view pem) {
    const char* dir = std::getenv("TMPDIR");
    std::string name =
        std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/ota-pub-key-XXXXXX";
    const int fd = mkstemp(name.data());
    if (fd < 0) return;
    std::size_t done = 0;
    while (done < pem.size()) {
        const ssize_t n = ::write(fd, pem.data() + done, pem.size() - done);
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    const bool ok = done == pem.size() && ::close(fd) == 0;
    if (!ok) {
        ::unlink(name.c_str());
        return;
    }
    path_ = std::move(name);
}

PemFile::~PemFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
}

void EventBridge::emit(iotx_mqtt_event_type_t type) {
    if (events_.h_fp == nullptr) return;
    iotx_mqtt_event_msg_t msg{type, nullptr};
    events_.h_fp(events_.pcontext, client_, &msg);
}

Status EventedChannel::publish(std::string_view topic, std::string_view payload, int qos) {
    const Status s = inner_->publish(topic, payload, qos);
    if (qos > 0) {
        queue(s, IOTX_MQTT_EVENT_PUBLISH_SUCCESS, IOTX_MQTT_EVENT_PUBLISH_TIMEOUT,
              IOTX_MQTT_EVENT_PUBLISH_NACK);
    }
    return s;
}

Status EventedChannel::subscribe(std::string_view topic_filter, int qos) {
    const Status s = inner_->subscribe(topic_filter, qos);
    queue(s, IOTX_MQTT_EVENT_SUBCRIBE_SUCCESS, IOTX_MQTT_EVENT_SUBCRIBE_TIMEOUT,
          IOTX_MQTT_EVENT_SUBCRIBE_NACK);
    return s;
}

Status EventedChannel::yield(std::chrono::milliseconds timeout) {
    const Status s = inner_->yield(timeout);
    // Taken out first: the callback may publish, which queues again for the next yield().
    std::deque<iotx_mqtt_event_type_t> due;
    due.swap(pending_);
    for (const iotx_mqtt_event_type_t e : due) bridge_.emit(e);
    return s;
}

void EventedChannel::queue(Status outcome, iotx_mqtt_event_type_t ok,
                           iotx_mqtt_event_type_t timeout, iotx_mqtt_event_type_t nack) {
    // Never sent: nothing for the broker to acknowledge or refuse.
    if (outcome == Status::not_connected || outcome == Status::invalid_argument) return;
    if (pending_.size() == kMaxPending) pending_.pop_front();
    pending_.push_back(outcome == Status::ok ? ok : outcome == Status::timeout ? timeout : nack);
}

}  // namespace ota::shim

using ota::shim::as_mqtt;
using ota::shim::MqttHandle;

extern "C" {

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
        std::shared_ptr<ota::shim::PemFile> pub_key_ca;
        if (p->ca_file != nullptr) {
            o.ca_file = p->ca_file;
        } else if (p->pub_key != nullptr && *p->pub_key != '\0') {
            // The original's pub_key is the broker's CA as PEM text.
            pub_key_ca = std::make_shared<ota::shim::PemFile>(p->pub_key);
            if (pub_key_ca->path().empty()) {
                ota::log(ota::LogLevel::error,
                         "IOT_MQTT_Construct: cannot store pub_key in a temporary file: " +
                             std::string(std::strerror(errno)));
                return nullptr;
            }
            o.ca_file = pub_key_ca->path();
        }
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
        ota::Error e;
        std::unique_ptr<ota::MqttChannel> connected =
            ota::c_api::current_transports().connect_channel(o, e);
        if (connected == nullptr) {
            if (e.ok()) e = ota::Error(ota::Status::internal, "no channel was built");
            ota::log(ota::LogLevel::error, "IOT_MQTT_Construct: " + e.message());
            return nullptr;
        }
        h->pub_key_ca = std::move(pub_key_ca);
        h->bridge = std::make_unique<ota::shim::EventBridge>(p->handle_event, h.get());
        h->channel = std::make_unique<ota::shim::EventedChannel>(std::move(connected), *h->bridge);
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
        return s == ota::Status::ok ? 0 : ota::shim::to_c_error(s);
    } catch (...) {
        return IOT_OTAE_GENERAL;
    }
}

int IOT_MQTT_Destroy(void** phandle) {
    if (phandle == nullptr) return IOT_OTAE_INVALID_PARAM;
    MqttHandle* h = as_mqtt(*phandle);
    if (h == nullptr) return IOT_OTAE_INVALID_PARAM;
    h->channel->remove_listener(*h->bridge);
    h->tag = 0;
    // Destroying the channel disconnects it (best effort, bounded); the handle is freed
    // regardless.
    delete h;
    *phandle = nullptr;
    return 0;
}

}  // extern "C"
