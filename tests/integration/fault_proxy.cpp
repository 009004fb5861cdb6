#include "fault_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ota::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kPipeSize = 64 * 1024;
constexpr std::size_t kMaxConnections = 32;
constexpr auto kMaxLifetime = std::chrono::minutes(10);
constexpr milliseconds kMaxPollWait{50};

bool set_nonblocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    return a;
}

// Connects to 127.0.0.1:port (immediate on loopback); -1 when refused.
int connect_target(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    const sockaddr_in a = loopback(port);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 ||
        !set_nonblocking(fd)) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Makes close() send a RST instead of a FIN.
void abort_on_close(int fd) {
    linger l{};
    l.l_onoff = 1;
    l.l_linger = 0;
    (void)::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

bool would_block(int err) {
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

// One direction of a connection: a bounded byte queue plus its end-of-stream state.
struct Pipe {
    std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(kPipeSize);
    std::size_t begin = 0;
    std::size_t end = 0;
    bool eof = false;   // the source closed its sending side
    bool shut = false;  // the destination's receiving side was shut down by us

    std::size_t size() const { return end - begin; }
    std::size_t space() const { return buf.size() - size(); }

    // Reads what fits from `fd`. false on a hard error.
    bool fill(int fd) {
        if (eof || space() == 0) return true;
        if (begin > 0) {
            std::memmove(buf.data(), buf.data() + begin, size());
            end -= begin;
            begin = 0;
        }
        const ssize_t n = ::recv(fd, buf.data() + end, buf.size() - end, 0);
        if (n > 0) {
            end += static_cast<std::size_t>(n);
        } else if (n == 0) {
            eof = true;
        } else if (!would_block(errno)) {
            return false;
        }
        return true;
    }

    // Writes up to `limit` queued bytes to `fd`; returns the bytes written or -1 on a hard error.
    long drain(int fd, std::size_t limit) {
        const std::size_t len = std::min(limit, size());
        if (len == 0) return 0;
        const ssize_t n = ::send(fd, buf.data() + begin, len, MSG_NOSIGNAL);
        if (n < 0) return would_block(errno) ? 0 : -1;
        begin += static_cast<std::size_t>(n);
        return static_cast<long>(n);
    }
};

}  // namespace

std::string Fault::describe() const {
    switch (kind) {
        case Kind::pass:
            return "pass";
        case Kind::cut:
            return "cut after " + std::to_string(after) + " bytes";
        case Kind::reset:
            return "reset after " + std::to_string(after) + " bytes";
        case Kind::stall:
            return "stall " + std::to_string(duration.count()) + " ms after " +
                   std::to_string(after) + " bytes";
        case Kind::delay:
            return "delay " + std::to_string(duration.count()) + " ms per " +
                   std::to_string(chunk) + " bytes";
        case Kind::drop_tail:
            return "cut " + std::to_string(after) + " bytes before the end";
    }
    return "?";
}

struct FaultProxy::Conn {
    int cfd = -1;  // the client's side
    int sfd = -1;  // the server's side
    std::size_t index = 0;
    Fault fault;
    Pipe up;    // client -> server
    Pipe down;  // server -> client
    std::uint64_t sent_down = 0;
    std::uint64_t sent_up = 0;
    bool fired = false;
    bool reset = false;
    Clock::time_point stall_until{};
    Clock::time_point next_chunk{};
    Clock::time_point last_server_data{};

    Conn() = default;
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;
    ~Conn() {
        if (reset) abort_on_close(cfd);
        if (cfd >= 0) ::close(cfd);
        if (sfd >= 0) ::close(sfd);
    }

    bool stalled(Clock::time_point now) const {
        return fault.kind == Fault::Kind::stall && fired && now < stall_until;
    }

    // Bytes that may go to the client right now.
    std::size_t allowed_down(Clock::time_point now) const {
        if (stalled(now)) return 0;
        switch (fault.kind) {
            case Fault::Kind::cut:
            case Fault::Kind::reset:
            case Fault::Kind::stall:
                if (fired) return SIZE_MAX;
                return static_cast<std::size_t>(
                    std::min<std::uint64_t>(fault.after - sent_down, SIZE_MAX));
            case Fault::Kind::delay:
                return now < next_chunk ? 0 : fault.chunk;
            case Fault::Kind::drop_tail: {
                const std::size_t queued = down.size();
                const std::size_t above_tail =
                    queued > fault.after ? queued - static_cast<std::size_t>(fault.after) : 0;
                const std::size_t before_start =
                    sent_down < Fault::kDropTailStart
                        ? static_cast<std::size_t>(Fault::kDropTailStart - sent_down)
                        : 0;
                return std::max(above_tail, before_start);
            }
            case Fault::Kind::pass:
                break;
        }
        return SIZE_MAX;
    }
};

FaultProxy::FaultProxy(std::uint16_t target_port, Fault default_fault)
    : target_port_(target_port), default_fault_(default_fault) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0 ||
        !set_nonblocking(listen_fd_)) {
        if (listen_fd_ >= 0) ::close(listen_fd_);
        listen_fd_ = -1;
        return;
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
}

FaultProxy::~FaultProxy() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    conns_.clear();
    if (listen_fd_ >= 0) ::close(listen_fd_);
}

std::string FaultProxy::https_url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(port_) + "/" + path;
}

std::string FaultProxy::http_url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + path;
}

void FaultProxy::push(std::initializer_list<Fault> faults) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.insert(queue_.end(), faults.begin(), faults.end());
}

void FaultProxy::push(const Fault& fault) {
    push({fault});
}

void FaultProxy::set_default(const Fault& fault) {
    std::lock_guard<std::mutex> lock(mu_);
    default_fault_ = fault;
}

std::size_t FaultProxy::connections() const {
    std::lock_guard<std::mutex> lock(mu_);
    return records_.size();
}

std::uint64_t FaultProxy::bytes_down() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::uint64_t total = 0;
    for (const auto& r : records_) total += r.bytes_down;
    return total;
}

std::uint64_t FaultProxy::bytes_up() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::uint64_t total = 0;
    for (const auto& r : records_) total += r.bytes_up;
    return total;
}

std::vector<ConnectionRecord> FaultProxy::records() const {
    std::lock_guard<std::mutex> lock(mu_);
    return records_;
}

bool FaultProxy::wait_for_connections(std::size_t n, std::chrono::milliseconds timeout) const {
    const auto deadline = Clock::now() + timeout;
    while (connections() < n) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(milliseconds(10));
    }
    return true;
}

void FaultProxy::accept_one() {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (conns_.size() >= kMaxConnections) {
        ::close(fd);
        return;
    }
    auto c = std::make_unique<Conn>();
    c->cfd = fd;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (queue_.empty()) {
            c->fault = default_fault_;
        } else {
            c->fault = queue_.front();
            queue_.pop_front();
        }
        c->index = records_.size();
        ConnectionRecord rec;
        rec.fault = c->fault;
        rec.accepted_at = Clock::now();
        records_.push_back(rec);
    }
    const bool drop_now =
        (c->fault.kind == Fault::Kind::cut || c->fault.kind == Fault::Kind::reset) &&
        c->fault.after == 0;
    if (drop_now) {
        c->reset = c->fault.kind == Fault::Kind::reset;
        std::lock_guard<std::mutex> lock(mu_);
        records_[c->index].fault_fired = true;
        return;  // ~Conn closes the client side
    }
    c->sfd = connect_target(target_port_);
    if (c->sfd < 0) {
        std::lock_guard<std::mutex> lock(mu_);
        records_[c->index].server_refused = true;
        return;
    }
    conns_.push_back(std::move(c));
}

bool FaultProxy::pump(Conn& c) {
    auto now = Clock::now();
    if (c.stalled(now)) {
        // Forward nothing, but notice a client that gave up.
        std::uint8_t probe = 0;
        const ssize_t n = ::recv(c.cfd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
        return n > 0 || (n < 0 && would_block(errno));
    }
    if (!c.up.fill(c.cfd)) return false;
    const long up = c.up.drain(c.sfd, SIZE_MAX);
    if (up < 0) return false;
    c.sent_up += static_cast<std::uint64_t>(up);
    if (c.up.eof && c.up.size() == 0 && !c.up.shut) {
        ::shutdown(c.sfd, SHUT_WR);
        c.up.shut = true;
    }

    const std::size_t queued_before = c.down.size();
    if (!c.down.fill(c.sfd)) return false;
    now = Clock::now();
    if (c.down.size() > queued_before) c.last_server_data = now;
    const long down = c.down.drain(c.cfd, c.allowed_down(now));
    if (down < 0) return false;
    c.sent_down += static_cast<std::uint64_t>(down);
    if (c.fault.kind == Fault::Kind::delay && down > 0) c.next_chunk = now + c.fault.duration;
    if (c.down.eof && c.down.size() == 0 && !c.down.shut) {
        ::shutdown(c.cfd, SHUT_WR);
        c.down.shut = true;
    }

    {
        std::lock_guard<std::mutex> lock(mu_);
        records_[c.index].bytes_down = c.sent_down;
        records_[c.index].bytes_up = c.sent_up;
    }
    // drop_tail: what is still held back once the server went quiet (or closed) is the tail.
    if (c.fault.kind == Fault::Kind::drop_tail && !c.fired && c.down.size() > 0 &&
        c.sent_down >= Fault::kDropTailStart &&
        (c.down.eof || now - c.last_server_data >= c.fault.duration)) {
        c.fired = true;
        std::lock_guard<std::mutex> lock(mu_);
        records_[c.index].fault_fired = true;
        return false;
    }
    const bool limited = c.fault.kind == Fault::Kind::cut || c.fault.kind == Fault::Kind::reset ||
                         c.fault.kind == Fault::Kind::stall;
    if (limited && !c.fired && c.sent_down >= c.fault.after) {
        c.fired = true;
        {
            std::lock_guard<std::mutex> lock(mu_);
            records_[c.index].fault_fired = true;
        }
        if (c.fault.kind == Fault::Kind::stall) {
            c.stall_until = now + c.fault.duration;
        } else {
            c.reset = c.fault.kind == Fault::Kind::reset;
            return false;
        }
    }
    return !(c.up.shut && c.down.shut);
}

void FaultProxy::run() {
    const auto end_of_life = Clock::now() + kMaxLifetime;
    std::vector<pollfd> fds;
    while (!stop_ && Clock::now() < end_of_life) {
        const auto now = Clock::now();
        auto wait = kMaxPollWait;
        fds.clear();
        fds.push_back({listen_fd_, POLLIN, 0});
        for (const auto& c : conns_) {
            short cev = 0;
            short sev = 0;
            if (c->stalled(now)) {
                cev = POLLRDHUP;
                wait = std::min(wait, std::chrono::ceil<milliseconds>(c->stall_until - now));
            } else {
                if (!c->up.eof && c->up.space() > 0) cev |= POLLIN;
                if (c->up.size() > 0) sev |= POLLOUT;
                if (!c->down.eof && c->down.space() > 0) sev |= POLLIN;
                if (c->down.size() > 0) {
                    if (c->allowed_down(now) > 0) {
                        cev |= POLLOUT;
                    } else if (c->fault.kind == Fault::Kind::delay) {
                        wait = std::min(wait, std::chrono::ceil<milliseconds>(c->next_chunk - now));
                    }
                    if (c->fault.kind == Fault::Kind::drop_tail && !c->fired) {
                        wait = std::min(wait, std::chrono::ceil<milliseconds>(
                                                  c->last_server_data + c->fault.duration - now));
                    }
                }
            }
            // A negative fd is ignored by poll(): no wake-ups for a direction with nothing to do.
            fds.push_back({cev != 0 ? c->cfd : -1, cev, 0});
            fds.push_back({sev != 0 ? c->sfd : -1, sev, 0});
        }
        wait = std::max(wait, milliseconds(0));
        const int n = ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
        if (n < 0 && errno != EINTR) break;
        if (n > 0 && (fds[0].revents & POLLIN) != 0) accept_one();
        // Every connection gets a non-blocking turn; finished ones are dropped.
        for (std::size_t i = 0; i < conns_.size();) {
            if (pump(*conns_[i])) {
                ++i;
            } else {
                conns_.erase(conns_.begin() + static_cast<long>(i));
            }
        }
    }
}

}  // namespace ota::test
