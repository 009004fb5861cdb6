// ApiServer: the servers' life cycle, the bearer-token check, server-sent events, Prometheus
// metrics, /health and the page. The REST routes are in api_routes.cpp, the files server in
// file_server.cpp.
#include "http/api_server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>
#include <stdexcept>

#include "http/api_impl.hpp"
#include "http/request.hpp"
#include "http/tls_cert.hpp"
#include "http/token.hpp"
#include "web/assets.hpp"

namespace console {

using http::send_error;
using http::send_json;
using nlohmann::json;

namespace {

constexpr const char* kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

const char* code_for_status(int status) {
    switch (status) {
        case 400:
            return "invalid_argument";
        case 401:
            return "unauthenticated";
        case 403:
            return "forbidden";
        case 404:
            return "not_found";
        case 405:
            return "method_not_allowed";
        case 409:
            return "conflict";
        case 413:
            return "payload_too_large";
        case 416:
            return "range_not_satisfiable";
        default:
            return status >= 500 ? "internal" : "error";
    }
}

/// An answer sent instead of "100 Continue": cpp-httplib writes it without a length, and the
/// unsent body must not be read as the next request, so it gets both and the connection closes.
void finish_early(httplib::Response& res) {
    res.set_header("Content-Length", std::to_string(res.body.size()));
    res.set_header("Connection", "close");
}

}  // namespace

void ApiServer::Impl::guard(const httplib::Request& req, httplib::Response& res,
                            const std::function<void()>& fn) {
    try {
        fn();
    } catch (const ApiError& e) {
        send_error(res, e.http_status(), e.code(), e.what());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ota_console: %s %s failed: %s\n", req.method.c_str(),
                     req.path.c_str(), e.what());
        send_error(res, 500, "internal", "internal error (the console's log has the reason)");
    }
}

void ApiServer::Impl::on(const std::string& pattern,
                         std::vector<std::pair<std::string, Handler>> methods) {
    for (const char* method : kMethods) {
        Handler handler;
        for (const auto& [m, h] : methods) {
            if (m == method) handler = h;
        }
        const auto wrapped = [this, handler](const httplib::Request& req, httplib::Response& res) {
            if (!handler) {
                send_error(res, 405, "method_not_allowed",
                           req.method + " is not allowed on " + req.path);
                return;
            }
            guard(req, res, [&] { handler(req, res); });
        };
        const std::string m = method;
        if (m == "GET") server->Get(pattern, wrapped);
        if (m == "POST") server->Post(pattern, wrapped);
        if (m == "PUT") server->Put(pattern, wrapped);
        if (m == "PATCH") server->Patch(pattern, wrapped);
        if (m == "DELETE") server->Delete(pattern, wrapped);
    }
}

void ApiServer::Impl::serve_events(const httplib::Request& req, httplib::Response& res) {
    http::allow_params(req, {"after", "access_token"});
    std::int64_t after = -1;
    std::string from = http::param(req, "after");
    if (from.empty()) from = req.get_header_value("Last-Event-ID");
    if (!from.empty()) {
        if (!http::all_digits(from)) {
            throw ApiError(400, "invalid_argument", "after: must be an event id (an integer)");
        }
        after = std::stoll(from);
    } else {  // a new client: only what happens from now on
        after = store.last_event_seq();
    }
    // Each stream holds one of the API's threads: past the cap, a client is told to come back.
    if (event_streams.fetch_add(1) >= options.max_event_streams) {
        --event_streams;
        throw ApiError(503, "unavailable",
                       "too many open event streams (" + std::to_string(options.max_event_streams) +
                           "); try again later");
    }
    struct Stream {
        std::int64_t after = 0;
        bool first = true;
        std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
    };
    auto stream = std::make_shared<Stream>();
    stream->after = after;
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    ++metrics.sse_clients;
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, stream](std::size_t, httplib::DataSink& sink) {
            using namespace std::chrono;
            if (stopping) {
                sink.done();
                return true;
            }
            std::string out;
            if (stream->first) {
                out = "retry: 2000\n: connected\n\n";
                stream->first = false;
            }
            std::vector<Event> events;
            try {
                events = store.events_after(stream->after, 500);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "ota_console: /events: %s\n", e.what());
            }
            for (const Event& e : events) {
                std::string data = e.json;
                for (auto pos = data.find('\n'); pos != std::string::npos;
                     pos = data.find('\n', pos + 7)) {
                    data.replace(pos, 1, "\ndata: ");
                }
                out += "id: " + std::to_string(e.seq) + "\nevent: " + e.type + "\ndata: " + data +
                       "\n\n";
                stream->after = e.seq;
            }
            const auto now = steady_clock::now();
            if (out.empty() && now - stream->last_write >= milliseconds(options.sse_ping_ms)) {
                out = ": ping\n\n";
            }
            if (!out.empty()) {
                stream->last_write = now;
                return sink.write(out.data(), out.size());
            }
            for (int i = 0; i < 5 && !stopping; ++i) std::this_thread::sleep_for(milliseconds(50));
            return true;
        },
        [this](bool) {
            --metrics.sse_clients;
            --event_streams;
        });
}

void ApiServer::Impl::serve_metrics(httplib::Response& res) {
    std::ostringstream out;
    const auto put = [&out](const char* name, const char* type, std::int64_t value) {
        out << "# TYPE ota_console_" << name << ' ' << type << "\nota_console_" << name << ' '
            << value << '\n';
    };
    put("mqtt_connected", "gauge", metrics.mqtt_connected);
    put("mqtt_messages_received", "counter", metrics.mqtt_messages_received);
    put("mqtt_messages_processed", "counter", metrics.mqtt_messages_processed);
    put("mqtt_messages_malformed", "counter", metrics.mqtt_messages_malformed);
    put("mqtt_unknown_device", "counter", metrics.mqtt_unknown_device);
    put("mqtt_queue_depth", "gauge", metrics.mqtt_queue_depth);
    put("mqtt_messages_dropped", "counter", metrics.mqtt_messages_dropped);
    put("mqtt_batch_failures", "counter", metrics.mqtt_batch_failures);
    put("mqtt_published", "counter", metrics.mqtt_published);
    put("mqtt_publish_failures", "counter", metrics.mqtt_publish_failures);
    put("pushes_sent", "counter", metrics.pushes_sent);
    put("scheduler", "gauge", metrics.scheduler);
    put("ticks", "counter", metrics.ticks);
    put("http_requests", "counter", metrics.http_requests);
    put("http_unauthorized", "counter", metrics.http_unauthorized);
    put("http_errors", "counter", metrics.http_errors);
    put("sse_clients", "gauge", metrics.sse_clients);

    std::map<TaskState, std::int64_t> tasks;
    std::map<RolloutState, std::int64_t> rollouts;
    for (const TaskState s : kAllTaskStates) tasks[s] = 0;
    for (const RolloutState s :
         {RolloutState::scheduled, RolloutState::running, RolloutState::paused,
          RolloutState::canceling, RolloutState::completed, RolloutState::canceled}) {
        rollouts[s] = 0;
    }
    Page page{0, 1000};
    for (;;) {
        const auto batch = store.list_rollouts(page);
        for (const Rollout& r : batch) {
            ++rollouts[r.state];
            for (const auto& [key, n] : store.task_counts(r.id)) tasks[key.second] += n;
        }
        if (batch.size() < page.limit) break;
        page.after = batch.back().id;
    }
    out << "# TYPE ota_console_tasks gauge\n";
    for (const auto& [s, n] : tasks) {
        out << "ota_console_tasks{state=\"" << to_string(s) << "\"} " << n << '\n';
    }
    out << "# TYPE ota_console_rollouts gauge\n";
    for (const auto& [s, n] : rollouts) {
        out << "ota_console_rollouts{state=\"" << to_string(s) << "\"} " << n << '\n';
    }
    DeviceFilter online;
    online.module.clear();
    online.online = true;
    online.online_since = clock.now() - options.online_window_ms;
    std::int64_t devices_online = 0;
    std::optional<DeviceKey> after;
    for (;;) {
        const auto batch = store.list_devices(online, after, 1000);
        devices_online += static_cast<std::int64_t>(batch.size());
        if (batch.size() < 1000) break;
        after = batch.back().key;
    }
    put("devices_online", "gauge", devices_online);
    res.status = 200;
    res.set_content(out.str(), "text/plain; version=0.0.4; charset=utf-8");
}

void ApiServer::Impl::add_infra_routes() {
    on("/api/v1/events", {{"GET", [this](const auto& req, auto& res) { serve_events(req, res); }}});
    on("/api/v1/metrics", {{"GET", [this](const auto& req, auto& res) {
                                http::allow_params(req, {});
                                serve_metrics(res);
                            }}});
    on("/api/v1/health", {{"GET", [this](const auto& req, auto& res) {
                               http::allow_params(req, {});
                               send_json(res, 200,
                                         json{{"ok", true},
                                              {"store", store.kind()},
                                              {"scheduler", metrics.scheduler.load() == 1}});
                           }}});
    // Anything else: the page's files, or 404.
    const auto other = [](const httplib::Request& req, httplib::Response& res) {
        if (req.method == "GET" && req.path.rfind("/api/", 0) != 0) {
            if (const auto asset = web_asset(req.path)) {
                res.status = 200;
                res.set_content(std::string(asset->content), std::string(asset->content_type));
                return;
            }
        }
        send_error(res, 404, "not_found", "no such route: " + req.method + " " + req.path);
    };
    server->Get("/.*", other);
    server->Post("/.*", other);
    server->Put("/.*", other);
    server->Patch("/.*", other);
    server->Delete("/.*", other);
}

namespace {

bool is_wildcard(const std::string& host) {
    return host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]";
}

std::string bracketed(const std::string& host) {
    return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

}  // namespace

ApiServer::ApiServer(Store& store, Engine& engine, Metrics& metrics, const WallClock& clock,
                     HttpOptions options)
    : impl_(std::make_unique<Impl>(store, engine, metrics, clock, std::move(options))) {
    Impl& im = *impl_;
    const HttpOptions& o = im.options;
    if (o.data_dir.empty()) throw std::runtime_error("the HTTP server needs --data");
    if (o.token.empty()) throw std::runtime_error("the HTTP server needs an API token");
    if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
        throw std::runtime_error("--tls-cert and --tls-key go together");
    }
    if (is_wildcard(o.bind) && o.public_url.empty()) {
        throw std::runtime_error("listening on every address (--http-bind " + o.bind +
                                 ") needs --public-url: the address devices and browsers reach "
                                 "the console at");
    }
    for (const auto& [name, url] : {std::pair{"--public-url", &o.public_url},
                                    std::pair{"--public-files-url", &o.public_files_url},
                                    std::pair{"--public-base-url", &o.public_base_url}}) {
        if (!url->empty() && !parse_url_base(*url)) {
            throw std::runtime_error(std::string(name) + " " + *url +
                                     " is not an http(s)://host[:port][/path] URL");
        }
    }
    if (o.public_base_url.rfind("http://", 0) == 0 && !o.allow_http_files) {
        throw std::runtime_error("--public-base-url " + o.public_base_url +
                                 " is plain http: devices refuse it unless they allow http; "
                                 "give --allow-http-files to hand it out anyway");
    }
    im.files = std::make_unique<FirmwareFiles>(o.data_dir);
    im.signer = o.url_signer;
    if (!im.signer) {
        im.signer = std::make_shared<UrlSigner>(o.data_dir, clock, o.url_ttl_ms, o.public_base_url);
    }
    if (!o.signing_key_file.empty()) {
        im.image_signer = std::make_unique<ImageSigner>(o.signing_key_file, o.signing_key_id);
    }
}

ApiServer::~ApiServer() {
    stop();
}

void ApiServer::Impl::configure(httplib::Server& svr, std::size_t threads) {
    svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    // SO_REUSEADDR only: cpp-httplib's default also sets SO_REUSEPORT, which lets a second
    // console bind the same port silently and take half of the connections. Keepalive probes
    // and a user timeout (inherited by accepted sockets) end the connections of clients that
    // vanished, so their threads (an /events stream, a download) come free within a minute.
    svr.set_socket_options([](socket_t sock) {
        const int yes = 1;
        const int idle_s = 30;
        const int interval_s = 10;
        const int probes = 3;
        const unsigned user_timeout_ms = 60 * 1000;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        ::setsockopt(sock, SOL_SOCKET, SO_KEEPALIVE, &yes, sizeof yes);
        ::setsockopt(sock, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s);
        ::setsockopt(sock, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s, sizeof interval_s);
        ::setsockopt(sock, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
        ::setsockopt(sock, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
    });
    // Answers go out in two writes (headers, body); with Nagle on, the second waits for the
    // client's delayed ACK (~40 ms per request).
    svr.set_tcp_nodelay(true);
    svr.set_keep_alive_timeout(options.keep_alive_timeout_s);
    svr.set_read_timeout(options.io_timeout_s);
    svr.set_write_timeout(options.io_timeout_s);
    svr.set_error_handler(
        httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
            if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
            send_error(res, res.status, code_for_status(res.status),
                       res.status == 413   ? "the upload is larger than --max-upload-mib"
                       : res.status == 416 ? "the Range header is not valid"
                                           : "HTTP status " + std::to_string(res.status));
            return httplib::Server::HandlerResponse::Handled;
        }));
    svr.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
            send_error(res, 500, "internal", "internal error");
        });
    svr.set_logger([this](const httplib::Request&, const httplib::Response& res) {
        ++metrics.http_requests;
        if (res.status >= 400) ++metrics.http_errors;
    });
}

int ApiServer::Impl::bind(httplib::Server& svr, int wanted, const char* what) {
    const std::string& host = options.bind;
    errno = 0;
    int bound = 0;
    if (wanted == 0) {
        bound = svr.bind_to_any_port(host);
        if (bound <= 0) bound = 0;
    } else if (svr.bind_to_port(host, wanted)) {
        bound = wanted;
    }
    if (bound == 0) {
        const int err = errno;
        throw std::runtime_error(std::string("cannot listen (") + what + ") on " + host + ":" +
                                 std::to_string(wanted) +
                                 (err != 0 ? std::string(": ") + std::strerror(err) : ""));
    }
    return bound;
}

bool ApiServer::Impl::authorized(const httplib::Request& req, httplib::Response& res) {
    std::string presented;
    const std::string auth = req.get_header_value("Authorization");
    if (auth.rfind("Bearer ", 0) == 0) {
        presented = auth.substr(7);
    } else if (req.path == "/api/v1/events" && req.has_param("access_token")) {
        presented = req.get_param_value("access_token");
    }
    if (!presented.empty() && secrets_equal(presented, options.token)) return true;
    ++metrics.http_unauthorized;
    res.set_header("WWW-Authenticate", "Bearer");
    send_error(res, 401, "unauthenticated",
               presented.empty() ? "an API token is required (Authorization: Bearer ...)"
                                 : "the API token is not valid");
    return false;
}

void ApiServer::start() {
    Impl& im = *impl_;
    if (im.started) throw std::runtime_error("the HTTP server is started already");
    if (im.options.tls) {
        TlsFiles tls{im.options.tls_cert_file, im.options.tls_key_file};
        if (tls.cert_file.empty()) {
            // The generated certificate also names the hosts the console is advertised at.
            std::vector<std::string> hosts;
            for (const std::string* url : {&im.options.public_url, &im.options.public_files_url}) {
                if (const auto base = parse_url_base(*url)) hosts.push_back(base->host);
            }
            if (!is_wildcard(im.options.bind)) hosts.push_back(im.options.bind);
            tls = ensure_self_signed_certificate(im.options.data_dir + "/tls", hosts);
        }
        auto ssl =
            std::make_unique<httplib::SSLServer>(tls.cert_file.c_str(), tls.key_file.c_str());
        if (!ssl->is_valid()) {
            throw std::runtime_error("cannot use the TLS certificate " + tls.cert_file +
                                     " with key " + tls.key_file +
                                     " (unreadable, not PEM, or they do not match)");
        }
        im.cert_file = tls.cert_file;
        im.key_file = tls.key_file;
        im.server = std::move(ssl);
    } else {
        im.server = std::make_unique<httplib::Server>();
    }
    httplib::Server& svr = *im.server;
    im.configure(svr, im.options.threads);
    svr.set_payload_max_length(static_cast<std::size_t>(im.options.max_upload_bytes) + 4096);
    svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        Impl& self = *impl_;
        if (req.path.rfind("/api/", 0) != 0 || req.path == "/api/v1/health") {
            return httplib::Server::HandlerResponse::Unhandled;
        }
        // Refused before the body is read; the unread body must not become the next request.
        const bool has_body =
            req.has_header("Content-Length") || req.has_header("Transfer-Encoding");
        if (!self.authorized(req, res)) {
            if (has_body) res.set_header("Connection", "close");
            return httplib::Server::HandlerResponse::Handled;
        }
        // An upload checks its own limits (it drains a little so the client sees the answer).
        const bool upload = req.method == "POST" && req.path == "/api/v1/firmware";
        if (const auto refused = upload ? std::nullopt : self.body_refused(req)) {
            send_error(res, refused->http_status(), refused->code(), refused->what());
            if (has_body) res.set_header("Connection", "close");
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });
    // curl sends large bodies after "Expect: 100-continue": refuse an oversize body (or a
    // missing token) before the body is sent at all.
    svr.set_expect_100_continue_handler(
        [this](const httplib::Request& req, httplib::Response& res) {
            Impl& self = *impl_;
            if (req.path.rfind("/api/", 0) == 0 && !self.authorized(req, res)) {
                finish_early(res);
                return 401;
            }
            if (const auto refused = self.body_refused(req)) {
                send_error(res, refused->http_status(), refused->code(), refused->what());
                finish_early(res);
                return refused->http_status();
            }
            return 100;
        });
    im.add_api_routes();
    im.add_infra_routes();
    im.make_files_server();

    try {
        im.port = im.bind(svr, im.options.port, "API");
        im.files_port = im.bind(*im.files_server, im.options.files_port, "files");
    } catch (...) {
        im.server.reset();
        im.files_server.reset();
        throw;
    }
    if (im.signer->base().empty()) im.signer->set_base(files_base_url());
    im.stopping = false;
    im.started = true;
    const auto serve = [](httplib::Server* server) {
        try {
            server->listen_after_bind();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "ota_console: the HTTP server stopped: %s\n", e.what());
        }
    };
    im.thread = std::thread(serve, &svr);
    im.files_thread = std::thread(serve, im.files_server.get());
    // stop() only reaches a server whose accept loop runs: wait for both (bounded).
    for (int i = 0; i < 5000 && !(svr.is_running() && im.files_server->is_running()); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

int ApiServer::port() const {
    return impl_->port;
}

int ApiServer::files_port() const {
    return impl_->files_port;
}

std::string ApiServer::base_url() const {
    const HttpOptions& o = impl_->options;
    if (!o.public_url.empty()) return strip_trailing_slash(o.public_url);
    const std::string host = is_wildcard(o.bind) ? "127.0.0.1" : o.bind;
    return std::string(o.tls ? "https://" : "http://") + bracketed(host) + ":" +
           std::to_string(impl_->port);
}

std::string ApiServer::files_base_url() const {
    const HttpOptions& o = impl_->options;
    if (!o.public_files_url.empty()) return strip_trailing_slash(o.public_files_url);
    std::string host = is_wildcard(o.bind) ? "127.0.0.1" : o.bind;
    if (const auto base = parse_url_base(o.public_url)) host = base->host;
    return std::string(o.tls ? "https://" : "http://") + bracketed(host) + ":" +
           std::to_string(impl_->files_port);
}

std::string ApiServer::tls_cert_file() const {
    return impl_->cert_file;
}

UrlSigner& ApiServer::url_signer() {
    return *impl_->signer;
}

void ApiServer::stop() {
    Impl& im = *impl_;
    if (!im.started.exchange(false)) return;
    im.stopping = true;
    im.server->stop();
    im.files_server->stop();
    if (im.thread.joinable()) im.thread.join();
    if (im.files_thread.joinable()) im.files_thread.join();
}

}  // namespace console
