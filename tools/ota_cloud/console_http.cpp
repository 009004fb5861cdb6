// libcurl behind ConsoleHttp (see console_http.hpp). CURLcode is turned into text here only.
#include "console_http.hpp"

#include <curl/curl.h>
#include <sys/types.h>

#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>

namespace ota_cloud {

namespace {

struct CurlDeleter {
    void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
};
struct SlistDeleter {
    void operator()(curl_slist* s) const noexcept { curl_slist_free_all(s); }
};
struct FileCloser {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
    auto* out = static_cast<std::string*>(user);
    out->append(data, size * n);
    return size * n;
}

std::size_t on_read(char* data, std::size_t size, std::size_t n, void* user) {
    return std::fread(data, 1, size * n, static_cast<std::FILE*>(user));
}

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

struct ConsoleHttp::Impl {
    std::string base_url;
    std::string ca_file;
    std::string auth_header;
    long timeout_ms = 60000;
    std::unique_ptr<CURL, CurlDeleter> curl;
};

std::string describe_error(const HttpResponse& r) {
    if (r.status == 0) return "cannot reach the console: " + r.error;
    const auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("code") && j["code"].is_string()) {
        const std::string msg = j.contains("message") && j["message"].is_string()
                                    ? j["message"].get<std::string>()
                                    : "";
        return j["code"].get<std::string>() + ": " + msg;
    }
    std::string body = r.body.substr(0, 200);
    return "HTTP " + std::to_string(r.status) + (body.empty() ? "" : ": " + body);
}

ConsoleHttp::ConsoleHttp(std::string base_url, std::string ca_file, std::string token,
                         long timeout_ms)
    : impl_(std::make_unique<Impl>()) {
    global_init();
    impl_->base_url = std::move(base_url);
    impl_->ca_file = std::move(ca_file);
    impl_->auth_header = "Authorization: Bearer " + token;
    impl_->timeout_ms = timeout_ms;
    impl_->curl.reset(curl_easy_init());
}

ConsoleHttp::~ConsoleHttp() = default;

HttpResponse ConsoleHttp::send(const HttpRequest& request) {
    HttpResponse out;
    CURL* c = impl_->curl.get();
    if (c == nullptr) {
        out.error = "curl_easy_init failed";
        return out;
    }
    // Options are set afresh for each request; the connection cache of the handle stays.
    curl_easy_reset(c);
    const std::string url = impl_->base_url + request.path;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!impl_->ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, impl_->ca_file.c_str());
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, impl_->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out.body);
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    auto add_header = [&headers](const std::string& h) {
        curl_slist* next = curl_slist_append(headers.get(), h.c_str());
        if (next != nullptr) {
            (void)headers.release();
            headers.reset(next);
        }
    };
    add_header(impl_->auth_header);
    // No "Expect: 100-continue" round trip before uploads.
    add_header("Expect:");
    if (!request.content_type.empty()) add_header("Content-Type: " + request.content_type);
    std::unique_ptr<std::FILE, FileCloser> file;
    if (request.method == "POST") {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        if (!request.body_file.empty()) {
            file.reset(std::fopen(request.body_file.c_str(), "rb"));
            if (!file) {
                out.error = "cannot read " + request.body_file;
                return out;
            }
            // ftello: images above 2 GiB on 32-bit hosts too (_FILE_OFFSET_BITS=64).
            const bool sized = fseeko(file.get(), 0, SEEK_END) == 0;
            const off_t size = sized ? ftello(file.get()) : -1;
            (void)fseeko(file.get(), 0, SEEK_SET);
            if (size < 0) {
                out.error = "cannot read " + request.body_file;
                return out;
            }
            curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(c, CURLOPT_READDATA, file.get());
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(size));
        } else {
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                             static_cast<curl_off_t>(request.body.size()));
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.c_str());
        }
    } else if (request.method != "GET") {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    const CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        out.status = 0;
        out.error = std::string(curl_easy_strerror(rc)) + " (" + impl_->base_url + ")";
        return out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.status);
    return out;
}

}  // namespace ota_cloud
