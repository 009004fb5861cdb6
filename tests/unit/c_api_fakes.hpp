// The fakes the C interface's unit tests install behind IOT_MQTT_Construct, IOT_OTA_Init and
// IOT_Linkkit_Connect (ota/c_api_seams.hpp): a FakeChannel on a FakeBroker, a ScriptedSource and
// a ManualClock, plus a record of the options the C layer built them with.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "ota/c_api/c_api_seams.hpp"
#include "support/fake_broker.hpp"
#include "support/scripted_source.hpp"

namespace ota::test {

/// A FakeChannel whose yield() can be made to answer any Status (to walk the C error mapping).
class StatusChannel final : public MqttChannel {
  public:
    explicit StatusChannel(FakeBroker& broker) : inner_(broker, "device") {}
    [[nodiscard]] Status publish(std::string_view topic, std::string_view payload,
                                 int qos) override {
        return inner_.publish(topic, payload, qos);
    }
    [[nodiscard]] Status subscribe(std::string_view filter, int qos) override {
        return inner_.subscribe(filter, qos);
    }
    void add_listener(ChannelListener& l) override { inner_.add_listener(l); }
    void remove_listener(ChannelListener& l) noexcept override { inner_.remove_listener(l); }
    [[nodiscard]] bool is_connected() const noexcept override { return inner_.is_connected(); }
    [[nodiscard]] Status yield(std::chrono::milliseconds timeout) override {
        if (on_yield) on_yield();
        const Status s = inner_.yield(timeout);
        return yield_status == Status::ok ? s : yield_status;
    }

    FakeChannel& fake() noexcept { return inner_; }
    Status yield_status = Status::ok;  ///< what yield() answers instead of ok
    /// Runs at the start of every yield() (e.g. to move a fake clock while a caller waits).
    std::function<void()> on_yield;

  private:
    FakeChannel inner_;
};

/// Installs fake transports for its lifetime and restores the previous ones afterwards. Every
/// channel and source it builds is owned by the C handle; the raw pointers here stay valid while
/// that handle lives.
class FakeTransports {
  public:
    FakeTransports() {
        c_api::Transports t;
        t.connect_channel = [this](const MqttOptions& o, Error& error) {
            mqtt_options.push_back(o);
            if (!connect_error.ok()) {
                error = connect_error;
                return std::unique_ptr<MqttChannel>();
            }
            auto c = std::make_unique<StatusChannel>(broker);
            channel = c.get();
            return std::unique_ptr<MqttChannel>(std::move(c));
        };
        t.make_source = [this](const HttpOptions& o) {
            http_options.push_back(o);
            auto s = std::make_unique<ScriptedSource>(next_response);
            s->set_clock(&clock);
            source = s.get();
            return std::unique_ptr<ByteSource>(std::move(s));
        };
        t.clock = &clock;
        previous_ = c_api::set_transports(std::move(t));
    }
    ~FakeTransports() { c_api::set_transports(std::move(previous_)); }
    FakeTransports(const FakeTransports&) = delete;
    FakeTransports& operator=(const FakeTransports&) = delete;

    FakeBroker broker;
    ManualClock clock;
    Error connect_error;               ///< not ok: connect_channel fails with it
    ScriptedResponse next_response;    ///< the script of the next source built
    StatusChannel* channel = nullptr;  ///< the last channel built
    ScriptedSource* source = nullptr;  ///< the last source built
    std::vector<MqttOptions> mqtt_options;
    std::vector<HttpOptions> http_options;

  private:
    c_api::Transports previous_;
};

}  // namespace ota::test
