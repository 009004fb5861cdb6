// The web page's files (HTML, CSS, JavaScript), embedded in the binary at build time.
#pragma once

#include <optional>
#include <string_view>

namespace console {

struct WebAsset {
    std::string_view content;
    std::string_view content_type;  ///< e.g. "text/html; charset=utf-8"
};

/// The asset served at `path` ("/" is the page, "/app.js", "/style.css", ...), if any.
[[nodiscard]] std::optional<WebAsset> web_asset(std::string_view path);

}  // namespace console
