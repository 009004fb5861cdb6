// Topics and JSON payloads of the OTA protocol (PROTOCOL.md sections 2-4).
//
// Decoding is defensive: the payload comes from the network, so every field is type-checked and
// bounded before it reaches an UpgradeJob, and no exception leaves this file. Error messages name
// the field but never echo values (a signed URL's query string is a credential).
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/ascii.hpp"
#include "ota/digest.hpp"
#include "ota/protocol.hpp"
#include "protocol/job_fields.hpp"

namespace ota {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

/// Deeper nesting is refused before parsing: no real push nests beyond four levels, and bounding
/// it keeps recursive dumping of `extData` cheap on small device stacks.
constexpr std::size_t kMaxNestingDepth = 32;
/// A file name of a multi-file job is handed to the application, which may use it as a path.
constexpr std::size_t kMaxFileNameLength = 255;
/// `id` is informational; longer texts are dropped rather than stored.
constexpr std::size_t kMaxMessageIdLength = 64;

using Failure = detail::DecodeFailure;

Failure fail(DecodeErrc code, std::string field, std::string_view what) {
    return detail::decode_failure(code, std::move(field), what);
}

const Json* member(const Json& obj, const char* key) {
    return detail::json_member(obj, key);
}

std::string path(std::string_view parent, std::string_view key) {
    std::string out(parent);
    out += '.';
    out += key;
    return out;
}

/// Counts bracket nesting outside string literals; malformed input is left to the parser.
bool nesting_within_limit(std::string_view text) {
    std::size_t depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (const char c : text) {
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > kMaxNestingDepth) return false;
        } else if ((c == '}' || c == ']') && depth > 0) {
            --depth;
        }
    }
    return true;
}

using detail::has_control_char;
using detail::iequals;
using detail::is_control;
using detail::istarts_with;

bool is_port(std::string_view s) {
    if (s.empty() || s.size() > 5) return false;
    unsigned value = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return false;
        value = value * 10U + static_cast<unsigned>(c - '0');
    }
    return value <= 65535U;
}

/// True for `http://` or `https://` (any case) followed by an authority with a non-empty host and
/// an optional numeric port. Whether plain http is acceptable is the client's decision.
bool looks_like_http_url(std::string_view url) {
    std::size_t scheme_len = 0;
    if (istarts_with(url, "https://")) {
        scheme_len = 8;
    } else if (istarts_with(url, "http://")) {
        scheme_len = 7;
    } else {
        return false;
    }
    std::string_view authority = url.substr(scheme_len);
    authority = authority.substr(0, authority.find_first_of("/?#"));
    const std::size_t at = authority.rfind('@');
    if (at != std::string_view::npos) authority.remove_prefix(at + 1);

    std::string_view host;
    std::string_view rest;
    if (!authority.empty() && authority.front() == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) return false;
        host = authority.substr(1, close - 1);
        rest = authority.substr(close + 1);
    } else {
        const std::size_t colon = authority.find(':');
        host = authority.substr(0, colon);
        rest = colon == std::string_view::npos ? std::string_view{} : authority.substr(colon);
    }
    if (host.empty()) return false;
    if (rest.empty()) return true;
    return rest.front() == ':' && is_port(rest.substr(1));
}

Failure read_string(const Json* v, const std::string& field, std::size_t max_len,
                    std::string& out) {
    if (v == nullptr) return fail(DecodeErrc::missing_field, field, "is missing");
    if (!v->is_string()) return fail(DecodeErrc::wrong_type, field, "must be a string");
    const auto& s = v->get_ref<const std::string&>();
    if (s.empty()) return fail(DecodeErrc::bad_value, field, "must not be empty");
    if (s.size() > max_len) {
        return fail(DecodeErrc::too_long, field,
                    "is longer than " + std::to_string(max_len) + " bytes");
    }
    out = s;
    return std::nullopt;
}

/// Version and module are NUL-terminated and logged by C callers: no control characters.
Failure read_label(const Json* v, const std::string& field, std::size_t max_len, std::string& out) {
    if (auto f = read_string(v, field, max_len, out)) return f;
    if (has_control_char(out)) {
        out.clear();
        return fail(DecodeErrc::bad_value, field, "must not contain control characters");
    }
    return std::nullopt;
}

Failure read_url(const Json* v, const std::string& field, std::string& out) {
    std::string url;
    if (auto f = read_string(v, field, kMaxUrlLength, url)) return f;
    bool clean = true;
    for (const char c : url) {
        if (c == ' ' || is_control(static_cast<unsigned char>(c))) clean = false;
    }
    if (!clean) {
        return fail(DecodeErrc::bad_value, field, "must not contain spaces or control characters");
    }
    if (!looks_like_http_url(url)) {
        return fail(DecodeErrc::bad_value, field, "must be an http:// or https:// URL with a host");
    }
    out = std::move(url);
    return std::nullopt;
}

/// Sizes come as numbers or, as Link SDK 4 accepts, decimal strings (detail::read_count).
Failure read_size(const Json* v, const std::string& field, std::uint64_t& out) {
    return detail::read_count(v, field, out);
}

Failure read_sign_method(const Json* v, const std::string& field, DigestAlgorithm& out) {
    if (v == nullptr) return fail(DecodeErrc::missing_field, field, "is missing");
    if (!v->is_string()) return fail(DecodeErrc::wrong_type, field, "must be a string");
    const auto& s = v->get_ref<const std::string&>();
    if (iequals(s, "md5")) {
        out = DigestAlgorithm::md5;
    } else if (iequals(s, "sha256")) {
        out = DigestAlgorithm::sha256;
    } else {
        return fail(DecodeErrc::bad_value, field, "must be Md5 or SHA256");
    }
    return std::nullopt;
}

Failure read_hex(const Json* v, const std::string& field, DigestAlgorithm alg,
                 ExpectedDigest& out) {
    if (v == nullptr) return fail(DecodeErrc::missing_field, field, "is missing");
    if (!v->is_string()) return fail(DecodeErrc::wrong_type, field, "must be a string");
    const auto& s = v->get_ref<const std::string&>();
    if (!is_hex_digest(s, alg)) {
        return fail(DecodeErrc::bad_value, field,
                    "must be " + std::to_string(digest_size(alg) * 2) + " hex digits for " +
                        to_string(alg));
    }
    out.algorithm = alg;
    out.hex = s;
    return std::nullopt;
}

/// `sign`+`signMethod` when signMethod is present, else `md5`. A `sign` without `signMethod` is
/// ambiguous: it is ignored when `md5` is there, otherwise signMethod is reported missing.
Failure read_digest(const Json& data, ExpectedDigest& out) {
    if (const Json* method = member(data, "signMethod")) {
        DigestAlgorithm alg = DigestAlgorithm::md5;
        if (auto f = read_sign_method(method, "data.signMethod", alg)) return f;
        return read_hex(member(data, "sign"), "data.sign", alg, out);
    }
    if (const Json* md5 = member(data, "md5")) {
        return read_hex(md5, "data.md5", DigestAlgorithm::md5, out);
    }
    if (member(data, "sign") != nullptr) {
        return fail(DecodeErrc::missing_field, "data.signMethod", "is missing next to data.sign");
    }
    return fail(DecodeErrc::missing_field, "data.md5", "is missing (no digest in the job)");
}

bool is_safe_file_name(std::string_view name) {
    if (name == "." || name == "..") return false;
    for (const char c : name) {
        if (c == '/' || c == '\\' || is_control(static_cast<unsigned char>(c))) return false;
    }
    return true;
}

Failure read_file(const Json& entry, const std::string& field, DigestAlgorithm alg, JobFile& out) {
    if (!entry.is_object()) return fail(DecodeErrc::wrong_type, field, "must be an object");
    const std::string name_field = path(field, "fileName");
    if (auto f = read_string(member(entry, "fileName"), name_field, kMaxFileNameLength, out.name)) {
        return f;
    }
    if (!is_safe_file_name(out.name)) {
        return fail(DecodeErrc::bad_value, name_field,
                    "must be a plain file name without path separators or control characters");
    }
    if (auto f = read_size(member(entry, "fileSize"), path(field, "fileSize"), out.size)) return f;
    if (auto f = read_url(member(entry, "fileUrl"), path(field, "fileUrl"), out.url)) return f;
    return read_hex(member(entry, "fileSign"), path(field, "fileSign"), alg, out.digest);
}

Failure read_files(const Json& files, const Json& data, UpgradeJob& job) {
    if (!files.is_array()) return fail(DecodeErrc::wrong_type, "data.files", "must be an array");
    if (files.empty()) return fail(DecodeErrc::bad_value, "data.files", "must not be empty");
    if (files.size() > kMaxFilesPerJob) {
        return fail(DecodeErrc::too_long, "data.files",
                    "has more than " + std::to_string(kMaxFilesPerJob) + " entries");
    }
    DigestAlgorithm alg = DigestAlgorithm::md5;
    if (auto f = read_sign_method(member(data, "signMethod"), "data.signMethod", alg)) return f;
    job.digest = ExpectedDigest{alg, {}};
    job.url.clear();
    job.size = 0;
    job.files.reserve(files.size());
    for (std::size_t i = 0; i < files.size(); ++i) {
        const std::string field = "data.files[" + std::to_string(i) + "]";
        JobFile file;
        if (auto f = read_file(files[i], field, alg, file)) return f;
        if (file.size > std::numeric_limits<std::uint64_t>::max() - job.size) {
            return fail(DecodeErrc::bad_value, path(field, "fileSize"),
                        "makes the total job size overflow 64 bits");
        }
        job.size += file.size;
        job.files.push_back(std::move(file));
    }
    return std::nullopt;
}

Failure read_optional_fields(const Json& data, UpgradeJob& job) {
    if (const Json* module = member(data, "module")) {
        if (!module->is_string())
            return fail(DecodeErrc::wrong_type, "data.module", "must be a string");
        if (!module->get_ref<const std::string&>().empty()) {
            if (auto f = read_label(module, "data.module", kMaxModuleLength, job.module)) return f;
        }
    }
    if (const Json* ext = member(data, "extData")) {
        // Any JSON value is passed through as text, like Link SDK 4 does: extData is the
        // application's business, and refusing the whole job over its shape would fail an
        // update the device can perform. Signature checks find no signature in a non-object.
        job.ext_data_json = ext->dump(-1, ' ', false, Json::error_handler_t::replace);
    }
    if (const Json* diff = member(data, "isDiff")) {
        std::uint64_t flag = 0;
        if (diff->is_boolean()) {
            job.is_diff = diff->get<bool>();
        } else if (auto f = detail::read_count(diff, "data.isDiff", flag)) {
            if (f->code == DecodeErrc::wrong_type) {
                return fail(DecodeErrc::wrong_type, "data.isDiff", "must be the number 0 or 1");
            }
            return fail(DecodeErrc::bad_value, "data.isDiff", "must be 0 or 1");
        } else if (flag > 1U) {
            return fail(DecodeErrc::bad_value, "data.isDiff", "must be 0 or 1");
        } else {
            job.is_diff = flag == 1U;
        }
    }
    return std::nullopt;
}

Failure read_job(const Json& data, UpgradeJob& job) {
    if (auto f =
            read_label(member(data, "version"), "data.version", kMaxVersionLength, job.version)) {
        return f;
    }
    if (auto f = detail::read_download_protocol(data, job)) return f;
    if (const Json* files = member(data, "files")) {
        if (auto f = read_files(*files, data, job)) return f;
    } else {
        // An MQTT job's url is left unread: the job has one source (job_fields.cpp).
        if (job.protocol == DownloadProtocol::https) {
            if (auto f = read_url(member(data, "url"), "data.url", job.url)) return f;
        }
        if (auto f = read_size(member(data, "size"), "data.size", job.size)) return f;
        if (auto f = read_digest(data, job.digest)) return f;
    }
    return read_optional_fields(data, job);
}

/// `id` is informational: numbers and short strings are kept as text, anything else dropped.
std::string message_id_of(const Json& root) {
    const Json* id = member(root, "id");
    if (id == nullptr) return {};
    if (id->is_number_unsigned()) return std::to_string(id->get<std::uint64_t>());
    if (id->is_number_integer()) return std::to_string(id->get<std::int64_t>());
    if (id->is_string()) {
        const auto& s = id->get_ref<const std::string&>();
        if (s.size() <= kMaxMessageIdLength && !has_control_char(s)) return s;
    }
    return {};
}

enum class Kind { push, get_reply };

DecodeResult decode_checked(std::string_view payload, Kind kind) {
    DecodeResult result;
    if (payload.size() > kMaxPayloadLength) {
        result.error = fail(DecodeErrc::too_large, {},
                            "is larger than " + std::to_string(kMaxPayloadLength) + " bytes");
        return result;
    }
    if (!nesting_within_limit(payload)) {
        result.error = fail(DecodeErrc::not_json, {},
                            "nests deeper than " + std::to_string(kMaxNestingDepth) + " levels");
        return result;
    }
    const Json root = Json::parse(payload.begin(), payload.end(), nullptr, false);
    if (root.is_discarded()) {
        result.error = fail(DecodeErrc::not_json, {}, "is not valid JSON");
        return result;
    }
    if (!root.is_object()) {
        result.error = fail(DecodeErrc::wrong_type, {}, "must be a JSON object");
        return result;
    }
    const Json* data = member(root, "data");
    if (data == nullptr || (data->is_object() && data->empty())) {
        if (kind == Kind::push) {
            result.error = fail(DecodeErrc::missing_field, "data", "is missing or empty");
        }
        return result;
    }
    if (!data->is_object()) {
        result.error = fail(DecodeErrc::wrong_type, "data", "must be an object");
        return result;
    }
    UpgradeJob job;
    if (auto f = read_job(*data, job)) {
        result.error = std::move(f);
        return result;
    }
    job.message_id = message_id_of(root);
    result.job = std::move(job);
    return result;
}

DecodeResult decode(std::string_view payload, Kind kind) {
    try {
        return decode_checked(payload, kind);
    } catch (const Json::exception&) {
        DecodeResult result;
        result.error = fail(DecodeErrc::not_json, {}, "could not be decoded");
        return result;
    } catch (const std::bad_alloc&) {
        DecodeResult result;
        result.error =
            DecodeError{DecodeErrc::too_large, {}, "Out of memory decoding the payload."};
        return result;
    }
}

std::string dump(const OrderedJson& j) {
    return j.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

OrderedJson request_head(std::uint64_t id) {
    OrderedJson j = OrderedJson::object();
    j["id"] = std::to_string(id);
    return j;
}

const char* sign_method_name(DigestAlgorithm alg) {
    return alg == DigestAlgorithm::sha256 ? "SHA256" : "Md5";
}

}  // namespace

Topics make_topics(std::string_view product_key, std::string_view device_name) {
    std::string pk(product_key);
    std::string dn(device_name);
    const std::string suffix = pk + "/" + dn;
    const std::string sys = "/sys/" + suffix + "/thing/ota/firmware/";
    return Topics{"/ota/device/inform/" + suffix, "/ota/device/progress/" + suffix,
                  "/ota/device/upgrade/" + suffix, sys + "get", sys + "get_reply"};
}

DecodeResult decode_upgrade_push(std::string_view payload) {
    return decode(payload, Kind::push);
}

DecodeResult decode_get_reply(std::string_view payload) {
    return decode(payload, Kind::get_reply);
}

std::string encode_inform(std::uint64_t id, std::string_view version, std::string_view module) {
    OrderedJson j = request_head(id);
    OrderedJson params = OrderedJson::object();
    params["version"] = std::string(version);
    if (!module.empty()) params["module"] = std::string(module);
    j["params"] = std::move(params);
    return dump(j);
}

std::string encode_progress(std::uint64_t id, int step, std::string_view desc,
                            std::string_view module) {
    OrderedJson j = request_head(id);
    OrderedJson params = OrderedJson::object();
    params["step"] = std::to_string(step);
    params["desc"] = std::string(desc);
    if (!module.empty()) params["module"] = std::string(module);
    j["params"] = std::move(params);
    return dump(j);
}

std::string encode_firmware_get(std::uint64_t id, std::string_view module) {
    OrderedJson j = request_head(id);
    OrderedJson params = OrderedJson::object();
    if (!module.empty()) params["module"] = std::string(module);
    j["params"] = std::move(params);
    return dump(j);
}

std::string encode_upgrade_push(const UpgradeJob& job, std::uint64_t id) {
    OrderedJson data = OrderedJson::object();
    data["size"] = job.size;
    data["version"] = job.version;
    if (!job.url.empty()) data["url"] = job.url;
    if (job.protocol == DownloadProtocol::mqtt) {
        data["dProtocol"] = to_string(job.protocol);
        data["streamId"] = job.stream_id;
        data["streamFileId"] = job.stream_file_id;
    }
    data["signMethod"] = sign_method_name(job.digest.algorithm);
    if (!job.digest.hex.empty()) {
        data["sign"] = job.digest.hex;
        if (job.digest.algorithm == DigestAlgorithm::md5) data["md5"] = job.digest.hex;
    }
    if (!job.module.empty()) data["module"] = job.module;
    if (!job.ext_data_json.empty()) {
        // Malformed text cannot be represented faithfully, so it is left out rather than guessed;
        // a null would read back as "no extData", so it is left out too.
        OrderedJson ext = OrderedJson::parse(job.ext_data_json, nullptr, false);
        if (!ext.is_discarded() && !ext.is_null()) data["extData"] = std::move(ext);
    }
    if (!job.files.empty()) {
        OrderedJson files = OrderedJson::array();
        for (const JobFile& file : job.files) {
            OrderedJson entry = OrderedJson::object();
            entry["fileName"] = file.name;
            entry["fileSize"] = file.size;
            entry["fileUrl"] = file.url;
            entry["fileSign"] = file.digest.hex;
            files.push_back(std::move(entry));
        }
        data["files"] = std::move(files);
    }
    if (job.is_diff) data["isDiff"] = 1;

    OrderedJson j = OrderedJson::object();
    j["code"] = "1000";
    j["data"] = std::move(data);
    j["id"] = id;
    j["message"] = "success";
    return dump(j);
}

}  // namespace ota
