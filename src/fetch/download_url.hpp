// The download URL: which ones the byte source accepts, and how it appears in messages (never
// with its query string, which carries the signature of a signed URL, nor with credentials).
// Private to the fetch layer.
#pragma once

#include <string>
#include <string_view>

#include "ota/status.hpp"

namespace ota::detail {

/// `url` for messages: query and fragment redacted, and user credentials (user:pass@) hidden.
[[nodiscard]] std::string describe_url(std::string_view url);

/// Removes every trace of `url`'s query string (and of any other URL's) from `text`.
[[nodiscard]] std::string scrub(std::string text, std::string_view url);

/// ok for a well-formed absolute URL with scheme https (or http when `allow_http`); otherwise
/// invalid_argument (no_memory when libcurl cannot parse at all) saying why, URL redacted.
[[nodiscard]] Error check_download_url(std::string_view url, bool allow_http);

}  // namespace ota::detail
