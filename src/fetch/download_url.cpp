// Download URL rules and redaction (see download_url.hpp).
#include "fetch/download_url.hpp"

#include "common/url_policy.hpp"
#include "fetch/curl_handles.hpp"
#include "ota/log.hpp"

namespace ota::detail {
namespace {

void replace_all(std::string& text, std::string_view what, std::string_view with) {
    if (what.empty()) return;
    std::size_t pos = 0;
    while ((pos = text.find(what, pos)) != std::string::npos) {
        text.replace(pos, what.size(), with);
        pos += with.size();
    }
}

}  // namespace

std::string describe_url(std::string_view url) {
    std::string out = redact_url(url);
    const auto scheme_end = out.find("://");
    if (scheme_end != std::string::npos) {
        const auto auth_start = scheme_end + 3;
        const auto auth_end = out.find_first_of("/?", auth_start);
        const auto at = out.rfind('@', auth_end == std::string::npos ? out.size() : auth_end);
        if (at != std::string::npos && at >= auth_start) {
            out.replace(auth_start, at - auth_start, "<redacted>");
        }
    }
    return out;
}

/// Removes every trace of `url`'s query string (and of any other URL's) from `text`.
std::string scrub(std::string text, std::string_view url) {
    replace_all(text, url, describe_url(url));
    const auto q = url.find_first_of("?#");
    if (q != std::string_view::npos && url.size() - q > 1) {
        replace_all(text, url.substr(q), "?<redacted>");
    }
    // Any other URL in the message (a redirect target, say) loses its query too.
    std::size_t pos = 0;
    while ((pos = text.find("://", pos)) != std::string::npos) {
        const auto end = text.find_first_of(" \t\r\n\"'<>", pos);
        const auto stop = end == std::string::npos ? text.size() : end;
        const auto cut = text.find_first_of("?#", pos);
        if (cut != std::string::npos && cut < stop && text.compare(cut, 11, "?<redacted>") != 0) {
            text.replace(cut, stop - cut, "?<redacted>");
        }
        pos += 3;
    }
    return text;
}

Error check_download_url(std::string_view u, bool allow_http) {
    if (u.empty()) return {Status::invalid_argument, "empty download URL"};
    if (u.find('\0') != std::string_view::npos) {
        return {Status::invalid_argument, "download URL contains a NUL byte"};
    }
    UrlHandle parsed(curl_url());
    if (!parsed) return {Status::no_memory, "cannot parse the download URL"};
    const std::string copy(u);
    const CURLUcode uc = curl_url_set(parsed.get(), CURLUPART_URL, copy.c_str(), 0);
    if (uc != CURLUE_OK) {
        return {Status::invalid_argument,
                "malformed download URL " + describe_url(u) + ": " + curl_url_strerror(uc)};
    }
    char* raw_scheme = nullptr;
    if (curl_url_get(parsed.get(), CURLUPART_SCHEME, &raw_scheme, 0) != CURLUE_OK) {
        return {Status::invalid_argument, "download URL without a scheme: " + describe_url(u)};
    }
    const CurlString scheme(raw_scheme);
    // The decision is the one image-URL rule (url_policy.hpp); the messages add this source's
    // context (the switch to turn on, the redacted URL).
    if (check_image_url_scheme(u, allow_http).ok()) return {};
    const std::string_view s(scheme.get());
    if (image_url_scheme(u) == UrlScheme::http) {
        return {
            Status::invalid_argument,
            "plain http download URL refused (HttpOptions::allow_http is off): " + describe_url(u)};
    }
    return {Status::invalid_argument,
            "unsupported download URL scheme \"" + std::string(s) + "\" (https only)"};
}

}  // namespace ota::detail
