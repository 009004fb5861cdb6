// Pluggable log sink. The library logs nothing but through this sink, and never a secret.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace ota {

/// Severity of a log record.
enum class LogLevel : int { debug = 0, info = 1, warning = 2, error = 3 };

/// Name of a level ("debug", "info", "warning", "error").
[[nodiscard]] const char* to_string(LogLevel level) noexcept;

/// Receives every record at or above the configured level. Called on whichever thread logged;
/// the sink must be thread-safe if the application logs from several threads.
using LogSink = std::function<void(LogLevel level, std::string_view message)>;

/// Replaces the process-wide sink. An empty function restores the default sink, which writes
/// warnings and errors to stderr as "ota <level>: <message>".
void set_log_sink(LogSink sink);

/// Drops records below `level` before they reach the sink. Default: LogLevel::warning.
void set_log_level(LogLevel level) noexcept;

/// The current minimum level.
[[nodiscard]] LogLevel log_level() noexcept;

/// Sends one record to the sink (if `level` passes the filter). Thread-safe.
void log(LogLevel level, std::string_view message);

/// `url` with its query string and fragment replaced by "?<redacted>" so a signed URL can be
/// logged without its signature; URLs without a query are returned unchanged.
[[nodiscard]] std::string redact_url(std::string_view url);

}  // namespace ota
