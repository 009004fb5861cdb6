// Strict decoding of device messages: see device_message.hpp.
#include "common/device_message.hpp"

#include <charconv>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace ota_tools {
namespace {

using nlohmann::json;

std::vector<std::string_view> split_levels(std::string_view topic) {
    std::vector<std::string_view> levels;
    std::size_t start = 0;
    while (true) {
        const std::size_t slash = topic.find('/', start);
        if (slash == std::string_view::npos) {
            levels.push_back(topic.substr(start));
            return levels;
        }
        levels.push_back(topic.substr(start, slash - start));
        start = slash + 1;
    }
}

// A product key or device name from a topic level: non-empty, bounded, printable, no wildcard.
bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > kMaxTopicNameLength) return false;
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x21 || u == 0x7f || c == '+' || c == '#') return false;
    }
    return true;
}

// A version or module: 1..64 bytes, no control characters.
bool valid_label(const std::string& s) {
    if (s.empty() || s.size() > kMaxVersionLength) return false;
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) return false;
    }
    return true;
}

DecodeResult refuse(std::string why) {
    DecodeResult r;
    r.error = std::move(why);
    return r;
}

// Parses an optional '-' and decimal digits, nothing else.
std::optional<std::int64_t> parse_integer(std::string_view s) {
    if (s.empty() || s.size() > 12) return std::nullopt;
    std::int64_t v = 0;
    const char* first = s.data();
    const char* last = s.data() + s.size();
    const auto [ptr, ec] = std::from_chars(first, last, v);
    if (ec != std::errc() || ptr != last) return std::nullopt;
    return v;
}

std::string cut_utf8(std::string s, std::size_t max) {
    if (s.size() <= max) return s;
    std::size_t n = max;
    // Back off continuation bytes so the cut never splits a character.
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0U) == 0x80U) --n;
    s.resize(n);
    return s;
}

}  // namespace

const char* to_string(DeviceMessageKind k) noexcept {
    switch (k) {
        case DeviceMessageKind::inform:
            return "inform";
        case DeviceMessageKind::progress:
            return "progress";
        case DeviceMessageKind::firmware_get:
            return "firmware_get";
        case DeviceMessageKind::block_request:
            return "block_request";
    }
    return "unknown";
}

std::string get_reply_topic(const DeviceKey& device) {
    return "/sys/" + device.product_key + "/" + device.device_name +
           "/thing/ota/firmware/get_reply";
}

std::string block_reply_topic(const DeviceKey& device) {
    return ota::make_file_download_topics(device.product_key, device.device_name).reply;
}

DecodeResult decode_device_message(std::string_view topic, std::string_view payload) {
    DeviceMessage m;
    const std::vector<std::string_view> lv = split_levels(topic);
    if (lv.size() == 6 && lv[0].empty() && lv[1] == "ota" && lv[2] == "device" &&
        (lv[3] == "inform" || lv[3] == "progress")) {
        m.kind = lv[3] == "inform" ? DeviceMessageKind::inform : DeviceMessageKind::progress;
        m.device = DeviceKey{std::string(lv[4]), std::string(lv[5])};
    } else if (lv.size() == 8 && lv[0].empty() && lv[1] == "sys" && lv[4] == "thing" &&
               lv[5] == "ota" && lv[6] == "firmware" && lv[7] == "get") {
        m.kind = DeviceMessageKind::firmware_get;
        m.device = DeviceKey{std::string(lv[2]), std::string(lv[3])};
    } else if (lv.size() == 7 && lv[0].empty() && lv[1] == "sys" && lv[4] == "thing" &&
               lv[5] == "file" && lv[6] == "download") {
        m.kind = DeviceMessageKind::block_request;
        m.device = DeviceKey{std::string(lv[2]), std::string(lv[3])};
    } else {
        return refuse("not a device topic of the console");
    }
    if (!valid_name(m.device.product_key) || !valid_name(m.device.device_name)) {
        return refuse("bad product key or device name in the topic");
    }
    if (payload.size() > kMaxDeviceMessageBytes) return refuse("payload larger than 64 KiB");
    if (m.kind == DeviceMessageKind::block_request) {
        std::string why;
        std::optional<ota::BlockRequest> req = ota::decode_block_request(payload, &why);
        if (!req) return refuse("block request: " + why);
        m.block = std::move(*req);
        m.request_id = m.block.id;
        DecodeResult out;
        out.message = std::move(m);
        return out;
    }

    const json doc = json::parse(payload.begin(), payload.end(), nullptr, false);
    if (doc.is_discarded()) return refuse("payload is not JSON");
    if (!doc.is_object()) return refuse("payload is not a JSON object");
    if (const auto id = doc.find("id"); id != doc.end()) {
        if (id->is_string()) {
            m.request_id = id->get<std::string>();
            if (m.request_id.size() > kMaxVersionLength) return refuse("id too long");
        } else if (id->is_number_integer()) {
            m.request_id = id->dump();
        } else if (!id->is_null()) {
            return refuse("id is neither a string nor an integer");
        }
    }
    const auto params = doc.find("params");
    if (params == doc.end() || !params->is_object()) return refuse("params is not an object");
    if (const auto mod = params->find("module"); mod != params->end()) {
        if (!mod->is_string() || !valid_label(mod->get<std::string>())) {
            return refuse("module is not a string of 1..64 characters");
        }
        m.module = mod->get<std::string>();
    }

    switch (m.kind) {
        case DeviceMessageKind::inform: {
            const auto v = params->find("version");
            if (v == params->end() || !v->is_string() || !valid_label(v->get<std::string>())) {
                return refuse("version is not a string of 1..64 characters");
            }
            m.version = v->get<std::string>();
            break;
        }
        case DeviceMessageKind::progress: {
            const auto s = params->find("step");
            std::optional<std::int64_t> step;
            if (s != params->end() && s->is_string()) {
                step = parse_integer(s->get<std::string>());
            } else if (s != params->end() && s->is_number_integer()) {
                step = s->is_number_unsigned()
                           ? (s->get<std::uint64_t>() > 1000 ? std::int64_t{1000}
                                                             : s->get<std::int64_t>())
                           : s->get<std::int64_t>();
            }
            if (!step || *step < -4 || *step > 100) {
                return refuse("step is not an integer from -4 to 100");
            }
            m.step = static_cast<int>(*step);
            if (const auto d = params->find("desc"); d != params->end() && !d->is_null()) {
                if (!d->is_string()) return refuse("desc is not a string");
                m.desc = cut_utf8(d->get<std::string>(), kMaxDescLength);
            }
            break;
        }
        case DeviceMessageKind::firmware_get:
        case DeviceMessageKind::block_request:  // decoded above
            break;
    }
    DecodeResult r;
    r.message = std::move(m);
    return r;
}

}  // namespace ota_tools
