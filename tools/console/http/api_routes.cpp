// The REST routes of /api/v1: firmware, rollouts, tasks, devices, versions. Each handler checks
// its query parameters and body completely before it changes anything, so a refused request
// leaves the store as it was.
#include <algorithm>
#include <set>

#include "http/api_impl.hpp"
#include "http/request.hpp"
#include "model/json.hpp"

namespace console {

using nlohmann::json;
using namespace console::http;

namespace {

/// How much of a refused upload is read before the answer (see upload_firmware).
constexpr std::uint64_t kDrainBytes = 8 * 1024 * 1024;

[[noreturn]] void not_found(const std::string& what) {
    throw ApiError(404, "not_found", what);
}

void only_fields(const json& body, const std::string& where, std::set<std::string> known) {
    for (const auto& item : body.items()) {
        if (known.count(item.key()) == 0) {
            throw ApiError(400, "invalid_argument", where + "." + item.key() + ": unknown field");
        }
    }
}

std::string text_field(const json& j, const char* key, const std::string& where, bool required,
                       std::size_t max_len) {
    if (!j.contains(key)) {
        if (required) throw ApiError(400, "invalid_argument", where + "." + key + ": required");
        return {};
    }
    if (!j.at(key).is_string()) {
        throw ApiError(400, "invalid_argument", where + "." + key + ": must be a string");
    }
    std::string value = j.at(key).get<std::string>();
    check_name(value, where + "." + key, max_len);
    return value;
}

std::optional<std::string> next_id_cursor(std::size_t got, std::size_t limit, std::int64_t last) {
    if (got < limit || got == 0) return std::nullopt;
    return encode_cursor("id:" + std::to_string(last));
}

json counts_json(const Rollout& r, const TaskCounts& counts) {
    const auto empty_states = [] {
        json by = json::object();
        for (const TaskState s : kAllTaskStates) by[to_string(s)] = 0;
        return by;
    };
    json by_state = empty_states();
    std::int64_t total = 0;
    std::vector<json> phases;
    for (std::size_t i = 0; i < r.phases.size(); ++i) {
        phases.push_back(json{{"phase", i}, {"total", 0}, {"by_state", empty_states()}});
    }
    for (const auto& [key, n] : counts) {
        const auto& [phase, state] = key;
        total += n;
        by_state[to_string(state)] = by_state[to_string(state)].get<std::int64_t>() + n;
        while (phases.size() <= phase) {
            phases.push_back(
                json{{"phase", phases.size()}, {"total", 0}, {"by_state", empty_states()}});
        }
        json& p = phases[phase];
        p["total"] = p["total"].get<std::int64_t>() + n;
        p["by_state"][to_string(state)] = p["by_state"][to_string(state)].get<std::int64_t>() + n;
    }
    return json{{"total", total}, {"by_state", by_state}, {"phases", phases}};
}

}  // namespace

std::optional<ApiError> ApiServer::Impl::upload_conflict(const httplib::Request& req) {
    const std::string pk = param(req, "product_key");
    const std::string version = param(req, "version");
    std::string module = param(req, "module");
    if (module.empty()) module = kDefaultModule;
    if (pk.empty() || version.empty()) return std::nullopt;  // the handler says what is missing
    Page page{0, 1000};
    for (int guard_pages = 0; guard_pages < 10000; ++guard_pages) {
        const auto batch = store.list_firmware(pk, page);
        for (const Firmware& f : batch) {
            if (f.version == version && f.module == module) {
                return ApiError(409, "conflict",
                                "firmware " + pk + " " + module + " " + version +
                                    " exists already (id " + std::to_string(f.id) + ")");
            }
        }
        if (batch.size() < page.limit) break;
        page.after = batch.back().id;
    }
    return std::nullopt;
}

std::optional<ApiError> ApiServer::Impl::body_refused(const httplib::Request& req) {
    const bool upload = req.method == "POST" && req.path == "/api/v1/firmware";
    const std::uint64_t limit = upload ? options.max_upload_bytes : kMaxJsonBody;
    const std::string cl = req.get_header_value("Content-Length");
    if (!cl.empty() && (cl.size() > 18 || !all_digits(cl) || std::stoull(cl) > limit)) {
        return ApiError(413, "payload_too_large",
                        std::string(upload ? "the image" : "the body") +
                            " is larger than the console's limit of " + std::to_string(limit) +
                            " bytes" + (upload ? " (--max-upload-mib)" : ""));
    }
    if (upload) return upload_conflict(req);
    return std::nullopt;
}

bool ApiServer::Impl::file_referenced(const std::string& sha256) {
    Page page{0, 1000};
    for (int guard_pages = 0; guard_pages < 10000; ++guard_pages) {
        const auto batch = store.list_firmware("", page);
        for (const Firmware& f : batch) {
            if (f.sha256 == sha256) return true;
        }
        if (batch.size() < page.limit) break;
        page.after = batch.back().id;
    }
    return false;
}

void ApiServer::Impl::upload_firmware(const httplib::Request& req, httplib::Response& res,
                                      const httplib::ContentReader& reader) {
    guard(req, res, [&] {
        allow_params(req, {"product_key", "version", "module", "sign_method"});
        Firmware f;
        f.product_key = required_param(req, "product_key", 64);
        check_name(f.product_key, "product_key", 64);
        f.version = required_param(req, "version", 64);
        check_name(f.version, "version", 64);
        if (req.has_param("module")) {
            f.module = param(req, "module");
            check_name(f.module, "module", 64);
        }
        if (req.has_param("sign_method")) {
            f.sign_method = param(req, "sign_method");
            if (f.sign_method != "SHA256" && f.sign_method != "Md5") {
                throw ApiError(400, "invalid_argument", "sign_method: must be SHA256 or Md5");
            }
        }
        // Read (and drop) a few MiB of a refused upload so the client, still sending, sees the
        // answer instead of a reset connection; beyond that the connection is dropped.
        const auto drain = [&reader] {
            std::uint64_t drained = 0;
            (void)reader([&drained](const char*, std::size_t len) {
                drained += len;
                return drained <= kDrainBytes;
            });
        };
        const std::uint64_t max = options.max_upload_bytes;
        const std::string too_large = "the image is larger than the console's upload limit of " +
                                      std::to_string(max) + " bytes";
        if (req.has_header("Content-Length")) {
            const std::string cl = req.get_header_value("Content-Length");
            if (cl.empty() || cl.find_first_not_of("0123456789") != std::string::npos) {
                throw ApiError(400, "invalid_argument", "Content-Length: not a number");
            }
            if (cl.size() > 19 || std::stoull(cl) > max) {
                drain();
                throw ApiError(413, "payload_too_large", too_large);
            }
            if (std::stoull(cl) == 0) {
                throw ApiError(400, "invalid_argument", "body: the image is empty");
            }
        }
        // A version stored already: refused before the image is read.
        if (auto conflict = upload_conflict(req)) {
            drain();
            throw ApiError(std::move(*conflict));
        }
        const auto upload = files->begin();
        bool over = false;
        bool failed = false;
        const bool complete = reader([&](const char* data, std::size_t len) {
            if (upload->size() + len > max) {
                over = true;
                return false;
            }
            if (!upload->write(data, len)) {
                failed = true;
                return false;
            }
            return true;
        });
        if (over) throw ApiError(413, "payload_too_large", too_large);
        if (failed) throw std::runtime_error("cannot write the uploaded image to disk");
        if (!complete) throw ApiError(400, "invalid_argument", "body: the upload was cut off");
        if (upload->size() == 0)
            throw ApiError(400, "invalid_argument", "body: the image is empty");
        const std::lock_guard<std::mutex> publishing(publish_mutex);
        const StoredImage image = upload->commit();
        f.size = image.size;
        f.md5 = image.md5;
        f.sha256 = image.sha256;
        f.created_at = clock.now();
        try {
            if (image_signer) f.ext_data = image_signer->signed_ext_data(image.sha256_raw);
            store.transaction([&] {
                f.id = store.add_firmware(f);
                Event e;
                e.at = f.created_at;
                e.type = "firmware";
                e.json = to_json(f).dump();
                store.append_event(e);
            });
        } catch (...) {
            // Another record (another process's, or one stored since) may use the same bytes.
            bool referenced = true;
            try {
                referenced = file_referenced(image.sha256);
            } catch (...) {
            }
            if (!referenced) files->discard(image);
            throw;
        }
        send_json(res, 201, to_json(f));
    });
}

void ApiServer::Impl::add_api_routes() {
    server->Post("/api/v1/firmware", [this](const httplib::Request& req, httplib::Response& res,
                                            const httplib::ContentReader& reader) {
        upload_firmware(req, res, reader);
    });
    on("/api/v1/firmware",
       {{"GET", [this](const auto& req, auto& res) {
             allow_params(req, {"product_key", "limit", "cursor"});
             const Page page{id_cursor_param(req), limit_param(req)};
             const auto list = store.list_firmware(param(req, "product_key"), page);
             json items = json::array();
             for (const Firmware& f : list) items.push_back(to_json(f));
             send_json(res, 200,
                       page_json(items, next_id_cursor(list.size(), page.limit,
                                                       list.empty() ? 0 : list.back().id)));
         }}});
    on(R"(/api/v1/firmware/([^/]+))",
       {{"GET", [this](const auto& req, auto& res) {
             allow_params(req, {});
             const auto f = store.firmware(parse_id(req.matches[1], "firmware id"));
             if (!f) not_found("no firmware " + std::string(req.matches[1]));
             send_json(res, 200, to_json(*f));
         }}});
    on(R"(/api/v1/firmware/([^/]+)/verify)",
       {{"POST", [this](const auto& req, auto& res) {
             allow_params(req, {});
             const std::int64_t id = parse_id(req.matches[1], "firmware id");
             const json body = json_body(req);
             only_fields(body, "body", {"device_names", "policy", "name"});
             const auto fw = store.firmware(id);
             if (!fw) not_found("no firmware " + std::to_string(id));
             if (!body.contains("device_names") || !body.at("device_names").is_array() ||
                 body.at("device_names").empty() || body.at("device_names").size() > 10) {
                 throw ApiError(400, "invalid_argument",
                                "body.device_names: an array of 1 to 10 device names is required");
             }
             json spec{
                 {"firmware_id", id},
                 {"name", body.value("name", json("verify " + fw->version))},
                 {"kind", "verify"},
                 {"selection",
                  {{"product_key", fw->product_key}, {"device_names", body.at("device_names")}}},
                 {"phases", json::array({json::object()})}};
             if (body.contains("policy")) spec["policy"] = body.at("policy");
             const Rollout created = engine.create_rollout(rollout_from_json(spec));
             send_json(res, 201, to_json(created));
         }}});

    on("/api/v1/rollouts",
       {{"GET",
         [this](const auto& req, auto& res) {
             allow_params(req, {"limit", "cursor"});
             const Page page{id_cursor_param(req), limit_param(req)};
             const auto list = store.list_rollouts(page);
             json items = json::array();
             for (const Rollout& r : list) items.push_back(to_json(r));
             send_json(res, 200,
                       page_json(items, next_id_cursor(list.size(), page.limit,
                                                       list.empty() ? 0 : list.back().id)));
         }},
        {"POST", [this](const auto& req, auto& res) {
             allow_params(req, {});
             const Rollout created = engine.create_rollout(rollout_from_json(json_body(req)));
             send_json(res, 201, to_json(created));
         }}});
    on("/api/v1/rollouts/preview", {{"POST", [this](const auto& req, auto& res) {
                                         allow_params(req, {});
                                         const std::int64_t matching =
                                             engine.preview(rollout_from_json(json_body(req)));
                                         send_json(res, 200, json{{"matching", matching}});
                                     }}});
    on(R"(/api/v1/rollouts/([^/]+))",
       {{"GET", [this](const auto& req, auto& res) {
             allow_params(req, {});
             const std::int64_t id = parse_id(req.matches[1], "rollout id");
             if (!store.rollout(id)) not_found("no rollout " + std::to_string(id));
             const RolloutView view = engine.view(id);
             send_json(res, 200,
                       json{{"rollout", to_json(view.rollout)},
                            {"firmware", to_json(view.firmware)},
                            {"counts", counts_json(view.rollout, view.counts)},
                            {"failure_reasons", view.failure_reasons}});
         }}});
    on(R"(/api/v1/rollouts/([^/]+)/(pause|resume|cancel|retry-failed))",
       {{"POST", [this](const auto& req, auto& res) {
             allow_params(req, {});
             const std::int64_t id = parse_id(req.matches[1], "rollout id");
             empty_body(req);
             if (!store.rollout(id)) not_found("no rollout " + std::to_string(id));
             const std::string action = req.matches[2];
             const Rollout r = action == "pause"    ? engine.pause(id)
                               : action == "resume" ? engine.resume(id)
                               : action == "cancel" ? engine.cancel(id)
                                                    : engine.retry_failed(id);
             send_json(res, 200, to_json(r));
         }}});
    on(R"(/api/v1/rollouts/([^/]+)/tasks)",
       {{"GET", [this](const auto& req, auto& res) {
             allow_params(req, {"state", "phase", "limit", "cursor"});
             TaskFilter filter;
             filter.rollout_id = parse_id(req.matches[1], "rollout id");
             if (req.has_param("state")) {
                 filter.state = task_state_from(param(req, "state"));
                 if (!filter.state) {
                     throw ApiError(400, "invalid_argument",
                                    "state: must be queued, notified, in_progress, succeeded, "
                                    "failed, timed_out or canceled");
                 }
             }
             if (req.has_param("phase")) {
                 const std::string p = param(req, "phase");
                 if (!all_digits(p) || p.size() > 6) {
                     throw ApiError(400, "invalid_argument",
                                    "phase: must be a phase number (0, 1, ...)");
                 }
                 filter.phase = static_cast<std::uint32_t>(std::stoul(p));
             }
             const Page page{id_cursor_param(req), limit_param(req)};
             if (!store.rollout(filter.rollout_id)) {
                 not_found("no rollout " + std::to_string(filter.rollout_id));
             }
             const auto list = store.tasks(filter, page);
             json items = json::array();
             for (const Task& t : list) items.push_back(to_json(t));
             send_json(res, 200,
                       page_json(items, next_id_cursor(list.size(), page.limit,
                                                       list.empty() ? 0 : list.back().id)));
         }}});

    on("/api/v1/devices",
       {{"POST",
         [this](const auto& req, auto& res) {
             allow_params(req, {});
             const json body = json_body(req);
             only_fields(body, "body", {"devices"});
             if (!body.contains("devices") || !body.at("devices").is_array() ||
                 body.at("devices").empty() || body.at("devices").size() > 10000) {
                 throw ApiError(400, "invalid_argument",
                                "body.devices: an array of 1 to 10000 devices is required");
             }
             std::vector<Device> devices;
             const Millis now = clock.now();
             for (std::size_t i = 0; i < body.at("devices").size(); ++i) {
                 const json& item = body.at("devices").at(i);
                 const std::string where = "body.devices[" + std::to_string(i) + "]";
                 if (!item.is_object()) {
                     throw ApiError(400, "invalid_argument", where + ": must be an object");
                 }
                 only_fields(item, where, {"product_key", "device_name", "tags"});
                 Device d;
                 d.key.product_key = text_field(item, "product_key", where, true, 64);
                 d.key.device_name = text_field(item, "device_name", where, true, 128);
                 if (item.contains("tags")) {
                     const json& tags = item.at("tags");
                     if (!tags.is_array() || tags.size() > 32) {
                         throw ApiError(400, "invalid_argument",
                                        where + ".tags: must be an array of at most 32 tags");
                     }
                     std::set<std::string> sorted;
                     for (const json& t : tags) {
                         if (!t.is_string()) {
                             throw ApiError(400, "invalid_argument",
                                            where + ".tags: must hold strings");
                         }
                         check_name(t.get<std::string>(), where + ".tags", 64);
                         sorted.insert(t.get<std::string>());
                     }
                     d.tags.assign(sorted.begin(), sorted.end());
                 }
                 d.created_at = now;
                 devices.push_back(std::move(d));
             }
             std::int64_t created = 0;
             store.transaction([&] {
                 created = 0;
                 for (const Device& d : devices) created += store.add_device(d) ? 1 : 0;
             });
             send_json(res, 200,
                       json{{"created", created},
                            {"existing", static_cast<std::int64_t>(devices.size()) - created}});
         }},
        {"GET", [this](const auto& req, auto& res) {
             allow_params(req,
                          {"product_key", "module", "version", "online", "tag", "limit", "cursor"});
             DeviceFilter filter;
             filter.product_key = param(req, "product_key");
             if (req.has_param("module")) filter.module = param(req, "module");
             filter.version = param(req, "version");
             filter.tag = param(req, "tag");
             const Millis online_since = clock.now() - options.online_window_ms;
             if (req.has_param("online")) {
                 const std::string v = param(req, "online");
                 if (v != "true" && v != "false") {
                     throw ApiError(400, "invalid_argument", "online: must be true or false");
                 }
                 filter.online = v == "true";
                 filter.online_since = online_since;
             }
             const std::size_t limit = limit_param(req);
             std::optional<DeviceKey> after;
             if (const std::string c = cursor_param(req); !c.empty()) {
                 const json k = json::parse(c, nullptr, false);
                 if (k.is_discarded() || !k.is_array() || k.size() != 2 || !k[0].is_string() ||
                     !k[1].is_string()) {
                     throw ApiError(400, "invalid_argument",
                                    "cursor: not a cursor handed out by this list");
                 }
                 after = DeviceKey{k[0].get<std::string>(), k[1].get<std::string>()};
             }
             const auto list = store.list_devices(filter, after, limit);
             json items = json::array();
             for (const Device& d : list) items.push_back(to_json(d, online_since));
             std::optional<std::string> next;
             if (list.size() == limit) {
                 next = encode_cursor(
                     json::array({list.back().key.product_key, list.back().key.device_name})
                         .dump());
             }
             send_json(res, 200, page_json(items, next));
         }}});
    on(R"(/api/v1/devices/([^/]+)/([^/]+))",
       {{"GET", [this](const auto& req, auto& res) {
             allow_params(req, {});
             const DeviceKey key{req.matches[1], req.matches[2]};
             const auto device = store.device(key);
             if (!device) not_found("no device " + key.product_key + "/" + key.device_name);
             json tasks = json::array();
             for (const Task& t : store.device_tasks(key, 100)) tasks.push_back(to_json(t));
             send_json(res, 200,
                       json{{"device", to_json(*device, clock.now() - options.online_window_ms)},
                            {"tasks", tasks}});
         }}});
    on("/api/v1/versions",
       {{"GET", [this](const auto& req, auto& res) {
             allow_params(req, {"product_key", "module"});
             const std::string pk = required_param(req, "product_key", 64);
             std::string module = param(req, "module");
             if (module.empty()) module = kDefaultModule;
             json versions = json::object();
             for (const auto& [v, n] : store.version_distribution(pk, module)) {
                 versions[v.empty() ? "unknown" : v] = n;
             }
             send_json(res, 200,
                       json{{"product_key", pk}, {"module", module}, {"versions", versions}});
         }}});
}

}  // namespace console
