// A small HTTPS client of the console's REST API over libcurl: one connection kept alive per
// object, TLS always verified, the bearer token set on every request and never shown.
//
// Why its own class: `ota_cloud console` and the load generator (tools/console/load) both call
// the API, the generator from several threads (one ConsoleHttp per thread; libcurl easy handles
// are not shared).
#pragma once

#include <memory>
#include <string>

#include "console_args.hpp"

namespace ota_cloud {

/// An answer: the HTTP status and body, or `error` (transport failure) with status 0.
struct HttpResponse {
    long status = 0;
    std::string body;
    std::string error;  ///< what went wrong before an answer (connection, TLS, timeout)

    /// A 2xx answer.
    [[nodiscard]] bool ok() const { return status >= 200 && status < 300; }
};

/// The `code: message` line of an error answer (the API's {"code","message"}), or a
/// description of the transport error / unexpected body.
[[nodiscard]] std::string describe_error(const HttpResponse& r);

/// One keep-alive connection to a console.
class ConsoleHttp {
  public:
    /// `base_url` like https://127.0.0.1:8443; `ca_file` empty = the system's CAs.
    ConsoleHttp(std::string base_url, std::string ca_file, std::string token,
                long timeout_ms = 60000);
    ~ConsoleHttp();
    ConsoleHttp(const ConsoleHttp&) = delete;
    ConsoleHttp& operator=(const ConsoleHttp&) = delete;

    /// Sends one request and waits for the whole answer. Never throws for network errors.
    [[nodiscard]] HttpResponse send(const HttpRequest& request);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ota_cloud
