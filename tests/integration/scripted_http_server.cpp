#include "scripted_http_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <sstream>

namespace ota::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxConnections = 16;
constexpr std::size_t kMaxHead = 64 * 1024;
constexpr auto kMaxLifetime = std::chrono::minutes(10);

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

const char* reason(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 206:
            return "Partial Content";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 416:
            return "Range Not Satisfiable";
        case 429:
            return "Too Many Requests";
        case 500:
            return "Internal Server Error";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        default:
            return "Scripted";
    }
}

bool would_block(int err) {
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

}  // namespace

std::string HttpRequest::header(std::string_view name) const {
    const std::string want = lower(name) + ":";
    std::istringstream in(head);
    std::string line;
    while (std::getline(in, line)) {
        if (lower(line.substr(0, want.size())) != want) continue;
        std::string v = line.substr(want.size());
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.erase(0, 1);
        while (!v.empty() && (v.back() == '\r' || v.back() == ' ')) v.pop_back();
        return v;
    }
    return {};
}

std::optional<std::uint64_t> HttpRequest::range_start() const {
    const std::string r = header("Range");
    const std::string prefix = "bytes=";
    if (r.size() < prefix.size() + 2 || r.compare(0, prefix.size(), prefix) != 0 ||
        r.back() != '-') {
        return std::nullopt;
    }
    const std::string digits = r.substr(prefix.size(), r.size() - prefix.size() - 1);
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(),
                                       [](unsigned char c) { return std::isdigit(c) != 0; })) {
        return std::nullopt;
    }
    return std::strtoull(digits.c_str(), nullptr, 10);
}

HttpResponse HttpResponse::status_only(int status,
                                       std::vector<std::pair<std::string, std::string>> headers) {
    HttpResponse r;
    r.status = status;
    r.headers = std::move(headers);
    return r;
}

HttpResponse serve_file(const std::vector<std::uint8_t>& file, const HttpRequest& request) {
    HttpResponse r;
    const auto from = request.range_start();
    if (!from) {
        r.body = file;
        return r;
    }
    if (*from >= file.size()) {
        r = HttpResponse::status_only(
            416, {{"Content-Range", "bytes */" + std::to_string(file.size())}});
        return r;
    }
    r.status = 206;
    r.headers.emplace_back("Content-Range", "bytes " + std::to_string(*from) + "-" +
                                                std::to_string(file.size() - 1) + "/" +
                                                std::to_string(file.size()));
    r.body.assign(file.begin() + static_cast<long>(*from), file.end());
    return r;
}

struct ScriptedHttpServer::Conn {
    int fd = -1;
    std::string in;                 // bytes of the next request head
    std::vector<std::uint8_t> out;  // the response being sent
    std::size_t out_pos = 0;
    std::size_t head_len = 0;  // bytes of `out` that are the response head
    bool close_after = false;

    Conn() = default;
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;
    ~Conn() {
        if (fd >= 0) ::close(fd);
    }
    bool sending() const { return out_pos < out.size(); }
};

ScriptedHttpServer::ScriptedHttpServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        if (listen_fd_ >= 0) ::close(listen_fd_);
        listen_fd_ = -1;
        return;
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
}

ScriptedHttpServer::~ScriptedHttpServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
}

std::string ScriptedHttpServer::url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + path;
}

std::vector<HttpRequest> ScriptedHttpServer::requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
}

std::size_t ScriptedHttpServer::request_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_.size();
}

std::uint64_t ScriptedHttpServer::body_bytes_sent() const {
    std::lock_guard<std::mutex> lock(mu_);
    return body_bytes_;
}

bool ScriptedHttpServer::pump(Conn& c) {
    if (c.sending()) {
        const ssize_t n =
            ::send(c.fd, c.out.data() + c.out_pos, c.out.size() - c.out_pos, MSG_NOSIGNAL);
        if (n < 0) return would_block(errno);
        const std::size_t before = c.out_pos;
        c.out_pos += static_cast<std::size_t>(n);
        const std::size_t body_before = std::max(before, c.head_len);
        if (c.out_pos > body_before) {
            std::lock_guard<std::mutex> lock(mu_);
            body_bytes_ += c.out_pos - body_before;
        }
        if (c.sending()) return true;
        if (c.close_after) return false;
    }
    const auto end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) {
        if (c.in.size() > kMaxHead) return false;
        char buf[4096];
        const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n == 0) return false;
        if (n < 0) return would_block(errno);
        c.in.append(buf, static_cast<std::size_t>(n));
        return true;
    }

    HttpRequest req;
    req.head = c.in.substr(0, end + 4);
    c.in.erase(0, end + 4);
    req.received_at = Clock::now();
    std::istringstream line(req.head.substr(0, req.head.find("\r\n")));
    line >> req.method >> req.target;
    std::size_t index = 0;
    {
        std::lock_guard<std::mutex> lock(mu_);
        index = requests_.size();
        requests_.push_back(req);
    }
    const HttpResponse resp = handler_(req, index);

    std::string head =
        "HTTP/1.1 " + std::to_string(resp.status) + " " + reason(resp.status) + "\r\n";
    for (const auto& [name, value] : resp.headers) head += name + ": " + value + "\r\n";
    if (resp.content_length) head += "Content-Length: " + std::to_string(resp.body.size()) + "\r\n";
    c.close_after = resp.close || !resp.content_length || resp.cut_after.has_value();
    if (c.close_after) head += "Connection: close\r\n";
    head += "\r\n";
    const std::size_t body_len = std::min(resp.body.size(), resp.cut_after.value_or(SIZE_MAX));
    c.out.assign(head.begin(), head.end());
    c.out.insert(c.out.end(), resp.body.begin(), resp.body.begin() + static_cast<long>(body_len));
    c.out_pos = 0;
    c.head_len = head.size();
    return true;
}

void ScriptedHttpServer::run() {
    const auto end_of_life = Clock::now() + kMaxLifetime;
    std::vector<std::unique_ptr<Conn>> conns;
    std::vector<pollfd> fds;
    while (!stop_ && Clock::now() < end_of_life) {
        fds.clear();
        fds.push_back({listen_fd_, POLLIN, 0});
        for (const auto& c : conns) {
            const bool parse_ready = c->in.find("\r\n\r\n") != std::string::npos;
            fds.push_back({c->fd,
                           static_cast<short>(c->sending() ? POLLOUT : (parse_ready ? 0 : POLLIN)),
                           0});
        }
        // A connection with a complete request head waiting gets its turn without a wake-up.
        const bool ready = std::any_of(conns.begin(), conns.end(), [](const auto& c) {
            return !c->sending() && c->in.find("\r\n\r\n") != std::string::npos;
        });
        const int n = ::poll(fds.data(), fds.size(), ready ? 0 : 50);
        if (n < 0 && errno != EINTR) break;
        if (n > 0 && (fds[0].revents & POLLIN) != 0) {
            const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd >= 0 && conns.size() < kMaxConnections) {
                auto c = std::make_unique<Conn>();
                c->fd = fd;
                conns.push_back(std::move(c));
            } else if (fd >= 0) {
                ::close(fd);
            }
        }
        for (std::size_t i = 0; i < conns.size();) {
            if (pump(*conns[i])) {
                ++i;
            } else {
                conns.erase(conns.begin() + static_cast<long>(i));
            }
        }
    }
}

}  // namespace ota::test
