// libFuzzer target: URL handling. The input is one URL, fed to
// 1. ota::redact_url: everything from the first '?' or '#' must be replaced by "?<redacted>" and
//    the part before it kept byte for byte;
// 2. the push decoder, as data.url of an otherwise valid push and as files[0].fileUrl of a
//    multi-file push: both must give the same verdict, an accepted URL must come back unchanged
//    and satisfy the documented rules (http/https, no spaces or control characters, at most
//    kMaxUrlLength bytes), and an error must name the field without echoing a query string;
// 3. CurlByteSource::open, but only when it cannot touch the network: the fuzzer parses the URL
//    with libcurl exactly as open() does and skips every URL whose scheme is http or https (the
//    only ones open() accepts). For the rest open() must fail with invalid_argument before any
//    transfer starts, and its error text must not depend on the query string.
#include <curl/curl.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "ota/curl/curl_byte_source.hpp"
#include "ota/log.hpp"
#include "ota/protocol.hpp"

namespace {

using Json = nlohmann::json;

constexpr const char* kMd5 = "0123456789abcdef0123456789abcdef";
constexpr std::string_view kRedacted = "?<redacted>";

void check(bool ok) {
    if (!ok) std::abort();
}

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (lower(s[i]) != prefix[i]) return false;
    }
    return true;
}

void check_redact(std::string_view url) {
    const std::string out = ota::redact_url(url);
    const std::size_t cut = url.find_first_of("?#");
    if (cut == std::string_view::npos) {
        check(out == url);
        return;
    }
    check(out.size() == cut + kRedacted.size());
    check(std::string_view(out).substr(0, cut) == url.substr(0, cut));
    check(std::string_view(out).substr(cut) == kRedacted);
}

/// The JSON text of a push, or empty when `url` is not valid UTF-8 (such bytes cannot appear in a
/// JSON string, so the decoder can never see them).
std::string payload_for(const Json& push) {
    try {
        return push.dump();
    } catch (const Json::exception&) {
        return {};
    }
}

/// Decodes `url` as data.url and as files[0].fileUrl and checks both verdicts.
void check_codec(const std::string& url) {
    const Json single = {{"code", "1000"},
                         {"data", {{"version", "1"}, {"size", 1}, {"url", url}, {"md5", kMd5}}}};
    const Json multi = {
        {"code", "1000"},
        {"data",
         {{"version", "1"},
          {"signMethod", "Md5"},
          {"files",
           {{{"fileName", "a.bin"}, {"fileSize", 1}, {"fileUrl", url}, {"fileSign", kMd5}}}}}}};
    const std::string p1 = payload_for(single);
    const std::string p2 = payload_for(multi);
    if (p1.empty() || p2.empty()) return;

    const ota::DecodeResult r1 = ota::decode_upgrade_push(p1);
    const ota::DecodeResult r2 = ota::decode_upgrade_push(p2);
    check(r1.job.has_value() == r2.job.has_value());
    if (r1.job) {
        check(r1.job->url == url);
        check(r2.job->files.size() == 1 && r2.job->files[0].url == url);
        check(url.size() <= ota::kMaxUrlLength);
        check(starts_with_nocase(url, "https://") || starts_with_nocase(url, "http://"));
        for (const char c : url) {
            const auto u = static_cast<unsigned char>(c);
            check(u > 0x20 && u != 0x7F);
        }
        return;
    }
    check(r1.error && r2.error);
    check(r1.error->field == "data.url");
    check(r2.error->field == "data.files[0].fileUrl");
    check(r1.error->code == r2.error->code);
    check(r1.error->message.find('?') == std::string::npos);
    check(r2.error->message.find('?') == std::string::npos);
}

struct CurlUrlDeleter {
    void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};
struct CurlFree {
    void operator()(char* s) const noexcept { curl_free(s); }
};

/// How libcurl's URL parser sees `url`, with the same call and flags as CurlByteSource's
/// validation: "nul" for an embedded NUL (refused before parsing), "error <code>" when parsing
/// fails, else the scheme as libcurl reports it (lower case).
std::string curl_verdict(const std::string& url) {
    if (url.find('\0') != std::string::npos) return "nul";
    const std::unique_ptr<CURLU, CurlUrlDeleter> parsed(curl_url());
    check(parsed != nullptr);
    const CURLUcode rc = curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0);
    if (rc != CURLUE_OK) return "error " + std::to_string(static_cast<int>(rc));
    char* raw = nullptr;
    if (curl_url_get(parsed.get(), CURLUPART_SCHEME, &raw, 0) != CURLUE_OK) return "no scheme";
    const std::unique_ptr<char, CurlFree> scheme(raw);
    return std::string("scheme ") + scheme.get();
}

/// True when open() would start a transfer: libcurl parses an http or https URL (anything whose
/// scheme even starts with "http" is skipped, to be safe).
bool open_could_connect(const std::string& verdict) {
    return verdict.rfind("scheme http", 0) == 0;
}

ota::Error open_offline(const std::string& url) {
    ota::CurlByteSource source;  // https only; no network activity until a URL is accepted
    const ota::Error e = source.open(url, 0);
    check(e.status == ota::Status::invalid_argument);
    check(!e.detail.empty());
    check(source.last_error_detail() == e.detail);
    source.close();
    return e;
}

/// open() must refuse every URL that is not http(s), and its error text must not depend on the
/// query string: the same URL with the query replaced by 'x's (when libcurl judges it the same
/// way) must produce the identical text. That catches any echo of the query, however it is
/// spelled, without guessing which substrings of the message are fixed text.
void check_open(const std::string& url) {
    const std::string verdict = curl_verdict(url);
    if (open_could_connect(verdict)) return;
    const ota::Error e = open_offline(url);

    const std::size_t cut = url.find_first_of("?#");
    if (cut == std::string::npos || url.size() - cut < 2) return;
    const std::string other = url.substr(0, cut + 1) + std::string(url.size() - cut - 1, 'x');
    if (other == url || curl_verdict(other) != verdict) return;
    check(open_offline(other).detail == e.detail);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string url(reinterpret_cast<const char*>(data), size);
    check_redact(url);
    check_codec(url);
    check_open(url);
    return 0;
}
