// How failures of Eclipse Paho become an ota::Error: the one place where mqtt::exception (and
// anything else thrown while using paho) is mapped, and the TCP probe that explains a bare
// connect failure. Private to the channel.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "ota/status.hpp"

namespace ota::detail {

/// The MQTT operation that failed; names it in the error.
enum class Operation { connect, subscribe, publish, yield };

/// What a plain TCP probe found out about the broker's address (see probe_tcp).
/// no_descriptors: the probe could not even open a socket (RLIMIT_NOFILE or the system's file
/// table is exhausted), which is then also why paho's connect failed.
enum class Reachability { unknown, unresolved, unreachable, reachable, no_descriptors };

/// What was being attempted when paho failed; used to phrase the error.
struct FailureContext {
    FailureContext(Operation op, std::string_view ep, std::string_view subj = {}) noexcept
        : operation(op), endpoint(ep), subject(subj) {}

    Operation operation;
    std::string_view endpoint;  // "host:port"
    std::string_view subject;   // topic or topic filter, if any
    std::string_view trust;     // what the broker certificate is verified against
    bool use_tls = false;
    bool verify = true;  // certificate verification on (not insecure_skip_verify)
    Reachability reachability = Reachability::unknown;  // probed after an unexplained failure
};

/// The only place where exceptions from paho (and anything else thrown while using it) become an
/// ota::Error. Never echoes the password: paho's messages do not contain it and neither do ours.
[[nodiscard]] Error map_paho_error(const std::exception& e, const FailureContext& ctx);

/// "this process is out of file descriptors (RLIMIT_NOFILE <n>; raise `ulimit -n`, ...)": the
/// explanation used whenever the process hit its descriptor limit (EMFILE/ENFILE).
[[nodiscard]] std::string out_of_descriptors_text();

/// Whether a plain TCP connection to host:port can be opened within `timeout`. Used only to
/// explain a connect that paho reports as a bare failure (no CONNACK code, no OpenSSL reason).
[[nodiscard]] Reachability probe_tcp(const std::string& host, std::uint16_t port,
                                     std::chrono::milliseconds timeout) noexcept;

}  // namespace ota::detail
