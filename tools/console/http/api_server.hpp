// The console's HTTP(S) side: the REST API under /api/v1, the firmware files at signed URLs,
// server-sent events, Prometheus metrics and the web page.
//
// Why one class with its own threads: main() only builds the parts and starts them; the API
// runs on one cpp-httplib thread pool and the firmware files on a second server with a pool and
// a port of their own, so long downloads never take the threads the API answers with; open
// /events streams are capped (each holds a thread) and idle or dead connections time out.
// stop() ends every request, including open event streams, within a fraction of a second.
// Handlers never call the engine inside a store transaction (lock order engine, then store).
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
    /// Address of both servers (API and files). A wildcard (0.0.0.0, ::, "") needs public_url.
    std::string bind = "127.0.0.1";
    int port = 8443;  ///< 0 = a random free port (see ApiServer::port())
    /// Port of the files server (signed firmware downloads); 0 = a random free port.
    int files_port = 0;
    /// The base the console is reached at from outside ("https://console.example:8443"): what
    /// base_url() answers (page, ready file) and whose host the signed file URLs use (with the
    /// files server's port). "" = https://<bind>:<port>.
    std::string public_url;
    /// The base of signed file URLs when the files server is reached some other way (a proxy or
    /// load balancer in front of it): "https://files.example:443". "" = public_url's host (or
    /// the bind address) with the files server's port.
    std::string public_files_url;
    bool tls = true;
    /// PEM files of the server certificate and key; both empty = a self-signed certificate
    /// generated into <data_dir>/tls/ (see tls_cert.hpp).
    std::string tls_cert_file;
    std::string tls_key_file;
    /// The bearer token every /api/v1 request (except /health) must carry.
    std::string token;
    /// Firmware files go to <data_dir>/files/<sha256>; the URL secret is <data_dir>/url-secret.
    std::string data_dir;
    /// When set, pushes carry unsigned <public_base_url>/<sha256> URLs (files served by nginx
    /// or a CDN, which does the access control). Must be https:// unless allow_http_files.
    std::string public_base_url;
    /// Accept an http:// public_base_url (explicit opt-in, as the SDK's allow_http).
    bool allow_http_files = false;
    Millis url_ttl_ms = 86400LL * 1000;
    std::uint64_t max_upload_bytes = 1024ULL * 1024 * 1024;
    /// Unencrypted PEM private key (EC P-256 or RSA) to sign uploaded images with; "" = none.
    std::string signing_key_file;
    /// The signature's "keyId" ("" = none).
    std::string signing_key_id;
    /// A device counts as online when its last message is at most this old.
    Millis online_window_ms = 10 * 60 * 1000;
    /// Worker threads of the API; each open /events stream holds one.
    std::size_t threads = 32;
    /// At most this many /events streams at once; one more is refused with 503 "unavailable".
    std::size_t max_event_streams = 16;
    /// Worker threads of the files server (concurrent downloads; more wait for a thread).
    std::size_t files_threads = 32;
    /// A connection idle this long between requests is closed (keep-alive), seconds.
    int keep_alive_timeout_s = 5;
    /// A request (or the next piece of its body) not received within this long is dropped; an
    /// answer the client does not take within it neither. Seconds.
    int io_timeout_s = 20;
    /// A `: ping` comment goes to each /events stream after this long without an event.
    Millis sse_ping_ms = 15000;
    /// The signer the engine's UrlFor uses (share it: make it first, give the engine
    /// [signer](const Firmware& f) { return signer->url_for(f); }). Null = the server makes its
    /// own from data_dir, url_ttl_ms and public_base_url. start() sets its base to
    /// files_base_url() unless a base was set before.
    std::shared_ptr<UrlSigner> url_signer;
};

/// The HTTP(S) server. Construct, start(), and stop() (or destroy) it.
class ApiServer {
  public:
    /// Nothing is opened yet; throws std::runtime_error when the options are unusable (no
    /// data_dir, no token, unreadable signing key, a wildcard bind without public_url, an
    /// http:// public_base_url without allow_http_files, a malformed public URL).
    ApiServer(Store& store, Engine& engine, Metrics& metrics, const WallClock& clock,
              HttpOptions options);
    ~ApiServer();
    ApiServer(const ApiServer&) = delete;
    ApiServer& operator=(const ApiServer&) = delete;

    /// Loads or generates the certificate, binds both servers and starts serving on their own
    /// threads. Throws std::runtime_error with the reason (bad certificate, address in use, ...).
    void start();
    /// The bound port of the API (after start()).
    [[nodiscard]] int port() const;
    /// The bound port of the files server (after start()).
    [[nodiscard]] int files_port() const;
    /// public_url when set, else "https://<bind>:<port>" (http:// without TLS).
    [[nodiscard]] std::string base_url() const;
    /// Where the files server is reached: public_files_url, else the scheme and host of
    /// base_url() with files_port().
    [[nodiscard]] std::string files_base_url() const;
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
