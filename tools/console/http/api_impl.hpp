// ApiServer's insides, shared by api_server.cpp (server, auth, files, events, metrics, page)
// and api_routes.cpp (the REST routes). Private to ota_console_http.
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <memory>
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
    std::string cert_file;
    std::thread thread;
    std::atomic<bool> stopping{false};
    std::atomic<bool> started{false};
    int port = 0;

    /// Registers `methods` (e.g. {{"GET", h}}) for `pattern`; the other methods answer 405.
    /// Handlers run inside guard().
    void on(const std::string& pattern, std::vector<std::pair<std::string, Handler>> methods);
    /// Runs a handler, turning ApiError into its answer and anything else into 500.
    void guard(const httplib::Request& req, httplib::Response& res,
               const std::function<void()>& fn);

    // api_routes.cpp
    void add_api_routes();
    void upload_firmware(const httplib::Request& req, httplib::Response& res,
                         const httplib::ContentReader& reader);

    // api_server.cpp
    void add_infra_routes();
    void serve_file(const httplib::Request& req, httplib::Response& res);
    void serve_events(const httplib::Request& req, httplib::Response& res);
    void serve_metrics(httplib::Response& res);
};

}  // namespace console
