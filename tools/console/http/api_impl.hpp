// ApiServer's insides, shared by api_server.cpp (server, auth, files, events, metrics, page)
// and api_routes.cpp (the REST routes). Private to ota_console_http.
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "http/api_server.hpp"
#include "http/firmware_files.hpp"
#include "http/image_signer.hpp"
#include "http/url_signer.hpp"

namespace console {

struct ApiServer::Impl {
    using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
    using UploadHandler = std::function<void(const httplib::Request&, httplib::Response&,
                                             const httplib::ContentReader&)>;

    Impl(Store& s, Engine& e, Metrics& m, const WallClock& c, HttpOptions o)
        : store(s), engine(e), metrics(m), clock(c), options(std::move(o)) {}

    Store& store;
    Engine& engine;
    Metrics& metrics;
    const WallClock& clock;
    HttpOptions options;
    std::shared_ptr<UrlSigner> signer;
    std::unique_ptr<ImageSigner> image_signer;
    std::unique_ptr<FirmwareFiles> files;
    std::unique_ptr<httplib::Server> server;
    std::unique_ptr<httplib::Server> files_server;  ///< /files only, its own pool and port
    std::string cert_file;
    std::string key_file;
    std::thread thread;
    std::thread files_thread;
    std::atomic<bool> stopping{false};
    std::atomic<bool> started{false};
    std::atomic<std::size_t> event_streams{0};  ///< open /events streams (max_event_streams)
    int port = 0;
    int files_port = 0;

    /// What both servers share: pool size, socket options (SO_REUSEADDR only, TCP keepalive
    /// and user timeout so a vanished client frees its thread), TCP_NODELAY, the keep-alive and
    /// I/O timeouts, JSON error answers, request metrics.
    void configure(httplib::Server& svr, std::size_t threads);
    /// Binds `svr` to options.bind and `wanted` (0 = random); the bound port. Throws
    /// std::runtime_error naming the address.
    int bind(httplib::Server& svr, int wanted, const char* what);
    /// Registers `methods` (e.g. {{"GET", h}}) for `pattern`; the other methods answer 405.
    /// Handlers run inside guard().
    void on(const std::string& pattern, std::vector<std::pair<std::string, Handler>> methods);
    /// Runs a handler, turning ApiError into its answer and anything else into 500.
    void guard(const httplib::Request& req, httplib::Response& res,
               const std::function<void()>& fn);
    /// The token a request presents (Authorization: Bearer, or ?access_token= on /events);
    /// 401 answered and false when it is missing or wrong. Used before routing and before
    /// "100 Continue".
    bool authorized(const httplib::Request& req, httplib::Response& res);

    // api_routes.cpp
    void add_api_routes();
    /// Why a request's body is refused before it is read, from its headers alone: 413 when
    /// Content-Length is above the route's limit (an upload: max_upload_bytes; any other
    /// route: kMaxJsonBody), 409 for an upload of a product/module/version stored already.
    [[nodiscard]] std::optional<ApiError> body_refused(const httplib::Request& req);
    /// 409 when firmware of the upload's product, module and version exists already.
    [[nodiscard]] std::optional<ApiError> upload_conflict(const httplib::Request& req);
    /// True when a stored firmware record has this SHA-256 (its file must stay).
    [[nodiscard]] bool file_referenced(const std::string& sha256);
    /// Held from an upload's commit() to its record being stored (or its file discarded), so
    /// an identical upload's record is never left without its file.
    std::mutex publish_mutex;
    void upload_firmware(const httplib::Request& req, httplib::Response& res,
                         const httplib::ContentReader& reader);

    // api_server.cpp
    void add_infra_routes();
    // file_server.cpp
    /// Makes files_server (same certificate, own pool, timeouts) with its one route.
    void make_files_server();
    void serve_file(const httplib::Request& req, httplib::Response& res);
    void serve_events(const httplib::Request& req, httplib::Response& res);
    void serve_metrics(httplib::Response& res);
};

}  // namespace console
