// What one MQTT connect attempt of PahoChannel needs besides the channel itself: paho's connect
// options from MqttOptions, the CA file check, and the ota::Error for a failed attempt. Shared
// by connect() and start_connect(). Private to the channel.
#pragma once

#include <mqtt/async_client.h>

#include <chrono>
#include <string>

#include "ota/options.hpp"
#include "ota/status.hpp"

namespace ota::detail {

/// Paho counts its connect timeout and retry intervals in whole seconds, and zero would mean "no
/// timeout" or "retry at once in a loop": `d` rounded up to whole seconds, at least one.
[[nodiscard]] std::chrono::seconds whole_seconds_at_least_one(std::chrono::milliseconds d);

/// "<n> ms", for messages.
[[nodiscard]] std::string to_ms_text(std::chrono::milliseconds d);

/// The CA file, when TLS uses one: readable and holding a PEM certificate. Checked here rather
/// than in MqttOptions::validate() (which stays free of file I/O) so that a wrong path fails the
/// connect with a message naming the field instead of paho's bare TLS failure.
[[nodiscard]] Error check_ca_file(const MqttOptions& o);

/// Paho's connect options for `o`: MQTT 3.1.1, keepalive, session, connect timeout, automatic
/// reconnect with back-off, credentials, and TLS (verification against o.ca_file or the system
/// store unless o.insecure_skip_verify).
[[nodiscard]] mqtt::connect_options make_connect_options(const MqttOptions& o);

/// Where a connect attempt went, for its error message.
struct ConnectTarget {
    const MqttOptions& options;
    const std::string& endpoint;  // host:port
    const std::string& trust;     // what the broker certificate is verified against
};

/// The error of a connect attempt that did not answer within options.connect_timeout.
[[nodiscard]] Error connect_timeout_error(const ConnectTarget& target);

/// The error of a connect attempt that paho reports as failed with `e` after `elapsed`: the
/// broker's CONNACK refusal, a TLS or TCP failure (explained by a short TCP probe of the broker's
/// address when paho gives no reason), or a timeout when elapsed reached connect_timeout (paho's
/// own timeout, whole seconds). Never contains the password.
[[nodiscard]] Error connect_failure_error(const std::exception& e, const ConnectTarget& target,
                                          std::chrono::milliseconds elapsed);

}  // namespace ota::detail
