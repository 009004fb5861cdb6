#include "common/url_policy.hpp"

#include "common/ascii.hpp"

namespace ota::detail {

UrlScheme image_url_scheme(std::string_view url) noexcept {
    if (istarts_with(url, "https://")) return UrlScheme::https;
    if (istarts_with(url, "http://")) return UrlScheme::http;
    return UrlScheme::other;
}

Error check_image_url_scheme(std::string_view url, bool allow_http) {
    switch (image_url_scheme(url)) {
        case UrlScheme::https:
            return {};
        case UrlScheme::http:
            if (allow_http) return {};
            return {Status::invalid_argument,
                    "plain http image URLs are not allowed (https required)"};
        case UrlScheme::other:
            break;
    }
    return {Status::invalid_argument, "unsupported image URL scheme (https required)"};
}

}  // namespace ota::detail
