// The platform's push / get_reply payloads (PROTOCOL.md section 3) and the system wall clock.
//
// Why here and not in the MQTT part: the engine decides what a device is told; the MQTT side only
// carries the bytes, so the push and the get_reply of a task can never disagree.
#include <chrono>
#include <nlohmann/json.hpp>

#include "engine/engine.hpp"
#include "engine/internal.hpp"

namespace console {

namespace {

using nlohmann::json;

class SystemWallClock : public WallClock {
  public:
    [[nodiscard]] Millis now() const override {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
};

json push_data(const Firmware& f, const std::string& url, const std::string& protocol) {
    json data{{"size", f.size}, {"version", f.version}, {"md5", f.md5}};
    if (protocol == "mqtt") {
        // PROTOCOL.md 5b: the device asks the console for blocks of stream <firmware id>, file 1.
        data["dProtocol"] = "mqtt";
        data["streamId"] = f.id;
        data["streamFileId"] = 1;
    } else {
        data["url"] = url;
    }
    const bool md5 = f.sign_method == "Md5" || f.sign_method == "MD5" || f.sign_method == "md5";
    data["sign"] = md5 ? f.md5 : f.sha256;
    data["signMethod"] = md5 ? "Md5" : "SHA256";
    if (f.module != kDefaultModule && !f.module.empty()) data["module"] = f.module;
    if (!f.ext_data.empty()) {
        json ext = json::parse(f.ext_data, nullptr, /*allow_exceptions=*/false);
        // Stored by the API as JSON text; should it not parse, the device still gets it, raw.
        data["extData"] = ext.is_discarded() ? json(f.ext_data) : ext;
    }
    return data;
}

}  // namespace

const WallClock& system_wall_clock() {
    static const SystemWallClock clock;
    return clock;
}

std::string push_payload(const Firmware& firmware, const std::string& url, std::int64_t id) {
    return push_payload(firmware, url, id, "https");
}

std::string push_payload(const Firmware& firmware, const std::string& url, std::int64_t id,
                         const std::string& protocol) {
    return json{{"code", "1000"},
                {"data", push_data(firmware, url, protocol)},
                {"id", id},
                {"message", "success"}}
        .dump();
}

std::string empty_get_reply(const std::string& request_id) {
    return json{
        {"code", "1000"}, {"data", json::object()}, {"id", request_id}, {"message", "success"}}
        .dump();
}

namespace engine_detail {

std::string get_reply_payload(const Firmware& f, const std::string& url,
                              const std::string& request_id, const std::string& protocol) {
    return json{{"code", "1000"},
                {"data", push_data(f, url, protocol)},
                {"id", request_id},
                {"message", "success"}}
        .dump();
}

std::string step_reason(int step, const std::string& desc) {
    std::string what;
    switch (step) {
        case -2:
            what = "download failed";
            break;
        case -3:
            what = "digest check failed";
            break;
        case -4:
            what = "flash write failed";
            break;
        default:
            what = "upgrade failed";
            break;
    }
    return desc.empty() ? what : what + ": " + desc;
}

}  // namespace engine_detail

}  // namespace console
