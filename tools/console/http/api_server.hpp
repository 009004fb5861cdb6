// The console's HTTP(S) side: the REST API under /api/v1, the firmware files at signed URLs,
// server-sent events, Prometheus metrics and the web page.
//
// Why one class with its own threads: main() only builds the parts and starts them; the server
// runs on cpp-httplib's thread pool (sized for long-lived /events streams) and stop() ends every
// request, including open event streams, within a fraction of a second. Handlers never call the
// engine inside a store transaction (lock order engine, then store).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/engine.hpp"
#include "model/metrics.hpp"
#include "store/store.hpp"

namespace console {

class UrlSigner;

/// How the HTTP side is set up (ota_console's --http-*, --tls-*, ... options).
struct HttpOptions {
    std::string bind = "127.0.0.1";
    int port = 8443;  ///< 0 = a random free port (see ApiServer::port())
    bool tls = true;
    /// PEM files of the server certificate and key; both empty = a self-signed certificate
    /// generated into <data_dir>/tls/ (see tls_cert.hpp).
    std::string tls_cert_file;
    std::string tls_key_file;
    /// The bearer token every /api/v1 request (except /health) must carry.
    std::string token;
    /// Firmware files go to <data_dir>/files/<sha256>; the URL secret is <data_dir>/url-secret.
    std::string data_dir;
    /// When set, pushes carry <public_base_url>/<sha256> (files served by nginx or a CDN).
    std::string public_base_url;
    Millis url_ttl_ms = 86400LL * 1000;
    std::uint64_t max_upload_bytes = 1024ULL * 1024 * 1024;
    /// Unencrypted PEM private key (EC P-256 or RSA) to sign uploaded images with; "" = none.
    std::string signing_key_file;
    /// The signature's "keyId" ("" = none).
    std::string signing_key_id;
    /// A device counts as online when its last message is at most this old.
    Millis online_window_ms = 10 * 60 * 1000;
    /// Worker threads; each open /events stream holds one.
    std::size_t threads = 32;
    /// A `: ping` comment goes to each /events stream after this long without an event.
    Millis sse_ping_ms = 15000;
    /// The signer the engine's UrlFor uses (share it: make it first, give the engine
    /// [signer](const Firmware& f) { return signer->url_for(f); }). Null = the server makes its
    /// own from data_dir, url_ttl_ms and public_base_url. start() sets its base to this
    /// server's https://<bind>:<port> unless a base was set before.
    std::shared_ptr<UrlSigner> url_signer;
};

/// The HTTP(S) server. Construct, start(), and stop() (or destroy) it.
class ApiServer {
  public:
    /// Nothing is opened yet; throws std::runtime_error when the options are unusable (no
    /// data_dir, no token, unreadable signing key).
    ApiServer(Store& store, Engine& engine, Metrics& metrics, const WallClock& clock,
              HttpOptions options);
    ~ApiServer();
    ApiServer(const ApiServer&) = delete;
    ApiServer& operator=(const ApiServer&) = delete;

    /// Loads or generates the certificate, binds and starts serving on the server's own
    /// threads. Throws std::runtime_error with the reason (bad certificate, address in use, ...).
    void start();
    /// The bound port (after start()).
    [[nodiscard]] int port() const;
    /// "https://127.0.0.1:<port>" (http:// without TLS; the bind address unless it is a
    /// wildcard).
    [[nodiscard]] std::string base_url() const;
    /// The certificate served (the generated one when none was given); "" without TLS.
    [[nodiscard]] std::string tls_cert_file() const;
    /// The signer of firmware URLs (the one given in the options, or the server's own).
    [[nodiscard]] UrlSigner& url_signer();
    /// Stops serving: open event streams end, the threads are joined. Idempotent.
    void stop();

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace console
