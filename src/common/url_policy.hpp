// The one rule for which image URLs are fetched: https always, plain http only when the
// application allowed it, nothing else. Job admission applies it to every URL of a job before
// anything is downloaded; the HTTPS byte source applies it again when it opens a URL (and libcurl
// to redirects), so a source used on its own keeps the same rule.
#pragma once

#include <string_view>

#include "ota/status.hpp"

namespace ota::detail {

/// The scheme of an image URL, compared without regard to ASCII case.
enum class UrlScheme { https, http, other };

/// The scheme of `url` from its first characters ("https://", "http://"), else other.
[[nodiscard]] UrlScheme image_url_scheme(std::string_view url) noexcept;

/// ok for https, and for http when `allow_http`; otherwise invalid_argument saying why.
[[nodiscard]] Error check_image_url_scheme(std::string_view url, bool allow_http);

}  // namespace ota::detail
