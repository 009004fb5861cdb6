// Parsing of the response head that libcurl hands over line by line: the status line and the
// three headers the client judges (Content-Range, Content-Length, Retry-After). Pure code, so
// the rules can be read (and tested) apart from the transfer. Private to the fetch layer.
#pragma once

#include <string_view>

#include "ota/byte_source.hpp"

namespace ota::detail {

/// `s` without leading blanks and without trailing blanks and line ends.
[[nodiscard]] std::string_view trim_header_text(std::string_view s) noexcept;

/// The value (trimmed) of header `name` (ASCII case ignored) when `raw_line` is that header;
/// empty otherwise.
[[nodiscard]] std::string_view header_value(std::string_view raw_line,
                                            std::string_view name) noexcept;

/// Applies one raw header line to `head`. A status line ("HTTP/...") starts a new response (after
/// a redirect or a 1xx) and forgets the previous one's fields; header names compare without
/// regard to ASCII case; other lines are ignored. May throw std::bad_alloc.
void parse_header_line(std::string_view raw_line, ResponseHead& head);

}  // namespace ota::detail
