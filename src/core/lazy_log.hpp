// Log records that are composed only when they would be emitted: the client's hot paths must not
// build strings for a record the log level drops. Internal.
#pragma once

#include "ota/log.hpp"

namespace ota::detail {

/// True when a record of `level` would reach the log sink.
[[nodiscard]] inline bool log_enabled(LogLevel level) noexcept {
    return static_cast<int>(level) >= static_cast<int>(log_level());
}

/// Logs `build()` at `level`, calling `build` only when the record would be emitted.
template <class Build>
void log_lazy(LogLevel level, Build&& build) {
    if (log_enabled(level)) log(level, build());
}

}  // namespace ota::detail
