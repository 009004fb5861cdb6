// ApiServer: the server's life cycle, the bearer-token check, the signed file route with Range,
// server-sent events, Prometheus metrics, /health and the page. The REST routes are in
// api_routes.cpp.
#include "http/api_server.hpp"

#include <sys/stat.h>

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

bool digits_only(const std::string& s) {
    if (s.empty() || s.size() > 18) return false;
    for (const char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

/// The one byte range of a Range header against a file of `size` bytes: nullopt = serve it
/// all (no header, or several ranges, which a server may ignore); {start, end} inclusive; or
/// unsatisfiable when `ok` is false.
struct ByteRange {
    bool present = false;
    bool ok = true;
    std::uint64_t start = 0;
    std::uint64_t end = 0;
};

ByteRange parse_range(const std::string& header, std::uint64_t size) {
    ByteRange r;
    if (header.empty()) return r;
    if (header.rfind("bytes=", 0) != 0) {
        r.present = true;
        r.ok = false;
        return r;
    }
    const std::string spec = header.substr(6);
    if (spec.find(',') != std::string::npos) return r;
    r.present = true;
    const auto dash = spec.find('-');
    const std::string a = dash == std::string::npos ? spec : spec.substr(0, dash);
    const std::string b = dash == std::string::npos ? "" : spec.substr(dash + 1);
    if (dash == std::string::npos || (a.empty() && !digits_only(b)) ||
        (!a.empty() && !digits_only(a)) || (!b.empty() && !digits_only(b))) {
        r.ok = false;
        return r;
    }
    if (a.empty()) {  // suffix: the last b bytes
        const auto n = std::stoull(b);
        if (n == 0 || size == 0) {
            r.ok = false;
            return r;
        }
        r.start = n >= size ? 0 : size - n;
        r.end = size - 1;
        return r;
    }
    r.start = std::stoull(a);
    r.end = b.empty() ? size - 1 : std::min<std::uint64_t>(std::stoull(b), size - 1);
    r.ok = r.start < size && (b.empty() || std::stoull(b) >= r.start);
    return r;
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

void ApiServer::Impl::serve_file(const httplib::Request& req, httplib::Response& res) {
    // The range is handled here, whole: cpp-httplib would otherwise also cut error bodies.
    const std::string range_header = req.get_header_value("Range");
    const_cast<httplib::Request&>(req).ranges.clear();
    http::allow_params(req, {"fw", "exp", "sig"});
    const std::string sha256 = req.matches[1];
    const std::string exp = http::param(req, "exp");
    if (!req.has_param("fw") || !digits_only(exp) || http::param(req, "sig").empty()) {
        throw ApiError(403, "forbidden", "the URL is not signed (fw, exp and sig are required)");
    }
    const std::int64_t fw = http::parse_id(http::param(req, "fw"), "fw");
    switch (signer->check(sha256, fw, std::stoll(exp), http::param(req, "sig"))) {
        case UrlSigner::Check::bad_signature:
            throw ApiError(403, "forbidden", "the URL's signature is not valid");
        case UrlSigner::Check::expired:
            throw ApiError(403, "forbidden", "the URL has expired; ask for a new push");
        case UrlSigner::Check::ok:
            break;
    }
    std::FILE* raw = std::fopen(files->path_of(sha256).c_str(), "rb");
    if (raw == nullptr) throw ApiError(404, "not_found", "no such file");
    const std::shared_ptr<std::FILE> file(raw, [](std::FILE* f) { std::fclose(f); });
    struct stat st {};
    if (::fstat(::fileno(raw), &st) != 0 || st.st_size <= 0) {
        throw ApiError(404, "not_found", "no such file");
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    const ByteRange range = parse_range(range_header, size);
    res.set_header("Accept-Ranges", "bytes");
    if (!range.ok) {
        res.set_header("Content-Range", "bytes */" + std::to_string(size));
        send_error(res, 416, "range_not_satisfiable",
                   "the range is outside the file's " + std::to_string(size) + " bytes");
        return;
    }
    std::uint64_t start = 0;
    std::uint64_t length = size;
    res.status = 200;
    if (range.present) {
        start = range.start;
        length = range.end - range.start + 1;
        res.status = 206;
        res.set_header("Content-Range", "bytes " + std::to_string(range.start) + "-" +
                                            std::to_string(range.end) + "/" + std::to_string(size));
    }
    res.set_header("ETag", "\"" + sha256 + "\"");
    res.set_content_provider(
        static_cast<std::size_t>(length), "application/octet-stream",
        [file, start](std::size_t offset, std::size_t want, httplib::DataSink& sink) {
            char buf[64 * 1024];
            if (::fseeko(file.get(), static_cast<off_t>(start + offset), SEEK_SET) != 0) {
                return false;
            }
            const std::size_t n = std::fread(buf, 1, std::min(want, sizeof buf), file.get());
            return n > 0 && sink.write(buf, n);
        });
}

void ApiServer::Impl::serve_events(const httplib::Request& req, httplib::Response& res) {
    http::allow_params(req, {"after", "access_token"});
    std::int64_t after = -1;
    std::string from = http::param(req, "after");
    if (from.empty()) from = req.get_header_value("Last-Event-ID");
    if (!from.empty()) {
        if (!digits_only(from)) {
            throw ApiError(400, "invalid_argument", "after: must be an event id (an integer)");
        }
        after = std::stoll(from);
    } else {  // a new client: only what happens from now on
        after = 0;
        for (int guard_pages = 0; guard_pages < 100000; ++guard_pages) {
            const auto batch = store.events_after(after, 1000);
            if (batch.empty()) break;
            after = batch.back().seq;
            if (batch.size() < 1000) break;
        }
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
        [this](bool) { --metrics.sse_clients; });
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
    on(R"(/files/([0-9a-f]{64}))",
       {{"GET", [this](const auto& req, auto& res) { serve_file(req, res); }}});
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

ApiServer::ApiServer(Store& store, Engine& engine, Metrics& metrics, const WallClock& clock,
                     HttpOptions options)
    : impl_(std::make_unique<Impl>(store, engine, metrics, clock, std::move(options))) {
    Impl& im = *impl_;
    if (im.options.data_dir.empty()) throw std::runtime_error("the HTTP server needs --data");
    if (im.options.token.empty()) throw std::runtime_error("the HTTP server needs an API token");
    if (im.options.tls_cert_file.empty() != im.options.tls_key_file.empty()) {
        throw std::runtime_error("--tls-cert and --tls-key go together");
    }
    im.files = std::make_unique<FirmwareFiles>(im.options.data_dir);
    im.signer = im.options.url_signer;
    if (!im.signer) {
        im.signer = std::make_shared<UrlSigner>(im.options.data_dir, clock, im.options.url_ttl_ms,
                                                im.options.public_base_url);
    }
    if (!im.options.signing_key_file.empty()) {
        im.image_signer =
            std::make_unique<ImageSigner>(im.options.signing_key_file, im.options.signing_key_id);
    }
}

ApiServer::~ApiServer() {
    stop();
}

void ApiServer::start() {
    Impl& im = *impl_;
    if (im.started) throw std::runtime_error("the HTTP server is started already");
    if (im.options.tls) {
        TlsFiles tls{im.options.tls_cert_file, im.options.tls_key_file};
        if (tls.cert_file.empty())
            tls = ensure_self_signed_certificate(im.options.data_dir + "/tls");
        auto ssl =
            std::make_unique<httplib::SSLServer>(tls.cert_file.c_str(), tls.key_file.c_str());
        if (!ssl->is_valid()) {
            throw std::runtime_error("cannot use the TLS certificate " + tls.cert_file +
                                     " with key " + tls.key_file +
                                     " (unreadable, not PEM, or they do not match)");
        }
        im.cert_file = tls.cert_file;
        im.server = std::move(ssl);
    } else {
        im.server = std::make_unique<httplib::Server>();
    }
    httplib::Server& svr = *im.server;
    const std::size_t threads = im.options.threads;
    svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    // SO_REUSEADDR only: cpp-httplib's default also sets SO_REUSEPORT, which lets a second
    // console bind the same port silently and take half of the connections.
    svr.set_socket_options([](socket_t sock) {
        const int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    // Answers go out in two writes (headers, body); with Nagle on, the second waits for the
    // client's delayed ACK (~40 ms per request).
    svr.set_tcp_nodelay(true);
    svr.set_keep_alive_timeout(5);
    svr.set_read_timeout(30);
    svr.set_write_timeout(30);
    svr.set_payload_max_length(static_cast<std::size_t>(im.options.max_upload_bytes) + 4096);
    svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        Impl& self = *impl_;
        if (req.path.rfind("/api/", 0) != 0 || req.path == "/api/v1/health") {
            return httplib::Server::HandlerResponse::Unhandled;
        }
        std::string presented;
        const std::string auth = req.get_header_value("Authorization");
        if (auth.rfind("Bearer ", 0) == 0) {
            presented = auth.substr(7);
        } else if (req.path == "/api/v1/events" && req.has_param("access_token")) {
            presented = req.get_param_value("access_token");
        }
        if (presented.empty() || !secrets_equal(presented, self.options.token)) {
            ++self.metrics.http_unauthorized;
            res.set_header("WWW-Authenticate", "Bearer");
            send_error(res, 401, "unauthenticated",
                       presented.empty() ? "an API token is required (Authorization: Bearer ...)"
                                         : "the API token is not valid");
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });
    // curl sends large bodies after "Expect: 100-continue": refuse an oversize upload (or a
    // missing token) before the body is sent at all.
    svr.set_expect_100_continue_handler([this](const httplib::Request& req,
                                               httplib::Response& res) {
        const Impl& self = *impl_;
        const std::string auth = req.get_header_value("Authorization");
        if (req.path.rfind("/api/", 0) == 0 &&
            (auth.rfind("Bearer ", 0) != 0 || !secrets_equal(auth.substr(7), self.options.token))) {
            ++impl_->metrics.http_unauthorized;
            send_error(res, 401, "unauthenticated", "the API token is missing or not valid");
            finish_early(res);
            return 401;
        }
        const std::string cl = req.get_header_value("Content-Length");
        if (req.path == "/api/v1/firmware" && digits_only(cl) &&
            std::stoull(cl) > self.options.max_upload_bytes) {
            send_error(res, 413, "payload_too_large",
                       "the image is larger than the console's upload limit of " +
                           std::to_string(self.options.max_upload_bytes) + " bytes");
            finish_early(res);
            return 413;
        }
        return 100;
    });
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
        ++impl_->metrics.http_requests;
        if (res.status >= 400) ++impl_->metrics.http_errors;
    });
    im.add_api_routes();
    im.add_infra_routes();

    const std::string& host = im.options.bind;
    errno = 0;
    if (im.options.port == 0) {
        im.port = svr.bind_to_any_port(host);
        if (im.port <= 0) im.port = 0;
    } else if (svr.bind_to_port(host, im.options.port)) {
        im.port = im.options.port;
    }
    if (im.port == 0) {
        const int err = errno;
        im.server.reset();
        throw std::runtime_error("cannot listen on " + host + ":" +
                                 std::to_string(im.options.port) +
                                 (err != 0 ? std::string(": ") + std::strerror(err) : ""));
    }
    if (im.signer->base().empty()) im.signer->set_base(base_url());
    im.stopping = false;
    im.started = true;
    im.thread = std::thread([&svr] {
        try {
            svr.listen_after_bind();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "ota_console: the HTTP server stopped: %s\n", e.what());
        }
    });
    // stop() only reaches a server whose accept loop runs: wait for it (bounded).
    for (int i = 0; i < 5000 && !svr.is_running(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

int ApiServer::port() const {
    return impl_->port;
}

std::string ApiServer::base_url() const {
    std::string host = impl_->options.bind;
    if (host.empty() || host == "0.0.0.0" || host == "::") host = "127.0.0.1";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return std::string(impl_->options.tls ? "https://" : "http://") + host + ":" +
           std::to_string(impl_->port);
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
    if (im.thread.joinable()) im.thread.join();
}

}  // namespace console
