#include "ota/log.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>
#include <utility>

namespace ota {
namespace {

std::mutex& sink_mutex() {
    static std::mutex m;
    return m;
}

LogSink& current_sink() {
    static LogSink sink;
    return sink;
}

std::atomic<int> g_min_level{static_cast<int>(LogLevel::warning)};

void default_sink(LogLevel level, std::string_view message) {
    std::fprintf(stderr, "ota %s: %.*s\n", to_string(level), static_cast<int>(message.size()),
                 message.data());
}

}  // namespace

const char* to_string(LogLevel level) noexcept {
    switch (level) {
        case LogLevel::debug:
            return "debug";
        case LogLevel::info:
            return "info";
        case LogLevel::warning:
            return "warning";
        case LogLevel::error:
            return "error";
    }
    return "unknown";
}

void set_log_sink(LogSink sink) {
    std::lock_guard<std::mutex> lock(sink_mutex());
    current_sink() = std::move(sink);
}

void set_log_level(LogLevel level) noexcept {
    g_min_level.store(static_cast<int>(level));
}

LogLevel log_level() noexcept {
    return static_cast<LogLevel>(g_min_level.load());
}

void log(LogLevel level, std::string_view message) {
    if (static_cast<int>(level) < g_min_level.load()) return;
    std::lock_guard<std::mutex> lock(sink_mutex());
    if (current_sink()) {
        current_sink()(level, message);
    } else {
        default_sink(level, message);
    }
}

std::string redact_url(std::string_view url) {
    const auto cut = url.find_first_of("?#");
    if (cut == std::string_view::npos) return std::string(url);
    std::string out(url.substr(0, cut));
    out += "?<redacted>";
    return out;
}

}  // namespace ota
