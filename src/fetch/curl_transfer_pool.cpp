// CurlTransferPool: a few threads, each driving one libcurl multi handle with epoll through
// libcurl's socket interface (curl_multi_socket_action), so a thread's work follows the sockets
// with activity rather than the number of transfers it holds.
//
// A worker's loop: run the queued commands of the sources (add a transfer, remove it on close(),
// resume a paused one), wait on epoll for socket events, the wake-up eventfd or libcurl's next
// timeout, tell libcurl what happened, and hand finished transfers back to their sources.
// curl_easy_pause() must be called on the thread that drives the transfer, which is why read()
// asks the worker to resume instead of resuming itself.
#include "ota/curl/curl_transfer_pool.hpp"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>

#include "fetch/download_url.hpp"
#include "fetch/pool_internal.hpp"

namespace ota {
namespace detail {
namespace {

// Upper bound of one epoll wait; commands and libcurl's timers wake the thread earlier.
constexpr int kMaxWaitMs = 1000;
constexpr int kMaxEvents = 64;

}  // namespace

PoolWorker::~PoolWorker() {
    stop();
}

Error PoolWorker::start(std::size_t max_idle_connections) {
    multi_.reset(curl_multi_init());
    if (!multi_) return {Status::no_memory, "cannot create a libcurl multi handle"};
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd_ < 0 || wake_fd_ < 0) {
        return {Status::internal,
                std::string("cannot create the pool's epoll set: ") + std::strerror(errno)};
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd_;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
        return {Status::internal, std::string("epoll_ctl failed: ") + std::strerror(errno)};
    }
    CURLM* m = multi_.get();
    CURLMcode mc = curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, &PoolWorker::socket_callback);
    if (mc == CURLM_OK) mc = curl_multi_setopt(m, CURLMOPT_SOCKETDATA, this);
    if (mc == CURLM_OK) {
        mc = curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, &PoolWorker::timer_callback);
    }
    if (mc == CURLM_OK) mc = curl_multi_setopt(m, CURLMOPT_TIMERDATA, this);
    // No HTTP/2 multiplexing of different sources on one connection: a source paused by a full
    // ring would hold back the others sharing its connection.
    if (mc == CURLM_OK) mc = curl_multi_setopt(m, CURLMOPT_PIPELINING, CURLPIPE_NOTHING);
    // Bounds the idle connections kept after finished transfers (libcurl's default grows with
    // the number of transfers running, see CurlPoolOptions::max_idle_connections).
    if (mc == CURLM_OK) {
        mc = curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, static_cast<long>(max_idle_connections));
    }
    if (mc != CURLM_OK) {
        return {Status::internal,
                std::string("cannot set up the libcurl multi handle: ") + curl_multi_strerror(mc)};
    }
    try {
        thread_ = std::thread([this] { run(); });
    } catch (const std::system_error& ex) {
        return {Status::internal, std::string("cannot start a transfer pool thread: ") + ex.what()};
    }
    return {};
}

void PoolWorker::stop() noexcept {
    if (thread_.joinable()) {
        {
            std::lock_guard<std::mutex> lock(queue_m_);
            stopping_ = true;
        }
        wake();
        try {
            thread_.join();
        } catch (...) {
            // join() only throws for a thread that is not joinable or is this thread.
        }
    }
    if (wake_fd_ >= 0) ::close(wake_fd_);
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    wake_fd_ = -1;
    epoll_fd_ = -1;
    multi_.reset();
}

void PoolWorker::post(Command c) {
    {
        std::lock_guard<std::mutex> lock(queue_m_);
        queue_.push_back(std::move(c));
    }
    wake();
}

void PoolWorker::wake() noexcept {
    const std::uint64_t one = 1;
    // A full counter (never in practice) still leaves the fd readable: the wake-up is not lost.
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

int PoolWorker::socket_callback(CURL* /*easy*/, curl_socket_t fd, int what, void* self,
                                void* /*socket_data*/) noexcept {
    auto* w = static_cast<PoolWorker*>(self);
    if (what == CURL_POLL_REMOVE) {
        // Fails harmlessly when libcurl already closed the socket (epoll forgot it then).
        ::epoll_ctl(w->epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
        return 0;
    }
    epoll_event ev{};
    ev.events =
        ((what & CURL_POLL_IN) != 0 ? EPOLLIN : 0U) | ((what & CURL_POLL_OUT) != 0 ? EPOLLOUT : 0U);
    ev.data.fd = fd;
    if (::epoll_ctl(w->epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT) {
        ::epoll_ctl(w->epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    }
    return 0;
}

int PoolWorker::timer_callback(CURLM* /*multi*/, long timeout_ms, void* self) noexcept {
    auto* w = static_cast<PoolWorker*>(self);
    if (timeout_ms < 0) {
        w->deadline_.reset();
    } else {
        w->deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    }
    return 0;
}

void PoolWorker::socket_action(curl_socket_t fd, int flags) noexcept {
    int running = 0;
    curl_multi_socket_action(multi_.get(), fd, flags, &running);
}

void PoolWorker::run() noexcept {
    epoll_event events[kMaxEvents];
    for (;;) {
        process_commands();
        {
            std::lock_guard<std::mutex> lock(queue_m_);
            if (stopping_) break;
        }
        int wait_ms = kMaxWaitMs;
        if (deadline_) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(
                *deadline_ - std::chrono::steady_clock::now());
            wait_ms = static_cast<int>(std::clamp<long long>(left.count(), 0, kMaxWaitMs));
        }
        const int n = ::epoll_wait(epoll_fd_, events, kMaxEvents, wait_ms);
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            if (fd == wake_fd_) {
                std::uint64_t v = 0;
                [[maybe_unused]] const ssize_t r = ::read(wake_fd_, &v, sizeof v);
                continue;
            }
            int flags = 0;
            if ((events[i].events & EPOLLIN) != 0) flags |= CURL_CSELECT_IN;
            if ((events[i].events & EPOLLOUT) != 0) flags |= CURL_CSELECT_OUT;
            if ((events[i].events & (EPOLLERR | EPOLLHUP)) != 0) flags |= CURL_CSELECT_ERR;
            socket_action(fd, flags);
        }
        if (deadline_ && std::chrono::steady_clock::now() >= *deadline_) {
            deadline_.reset();
            socket_action(CURL_SOCKET_TIMEOUT, 0);
        }
        collect_done();
    }
    // Stopping: whatever is still running or queued ends here (the sources read fetch_failed).
    std::vector<Command> rest;
    {
        std::lock_guard<std::mutex> lock(queue_m_);
        rest.swap(queue_);
    }
    for (const Command& c : rest) {
        if (c.op == Op::add) {
            try {
                live_.emplace(c.source.get(), c.source);
            } catch (...) {
                // detach() below still releases the source.
            }
            detach(*c.source, Error{Status::fetch_failed, "the transfer pool was stopped"}, true);
        }
    }
    while (!live_.empty()) {
        auto it = live_.begin();
        const auto source = it->second;
        Error e{Status::fetch_failed};
        try {
            e.detail = "download of " + describe_url(source->url) +
                       " failed: the transfer pool was stopped";
        } catch (...) {
            // The status alone then.
        }
        detach(*source, e, true);
    }
}

void PoolWorker::process_commands() noexcept {
    std::vector<Command> batch;
    {
        std::lock_guard<std::mutex> lock(queue_m_);
        batch.swap(queue_);
    }
    for (const Command& c : batch) {
        switch (c.op) {
            case Op::add:
                on_add(c);
                break;
            case Op::remove:
                on_remove(c);
                break;
            case Op::resume:
                on_resume(c);
                break;
        }
    }
    // Give the (now empty) vector back so its capacity is reused by the next posts.
    std::lock_guard<std::mutex> lock(queue_m_);
    if (queue_.empty()) {
        batch.clear();
        queue_.swap(batch);
    }
}

void PoolWorker::on_add(const Command& c) noexcept {
    PooledCurlByteSource::Impl& s = *c.source;
    try {
        live_.emplace(&s, c.source);
    } catch (...) {
        detach(s, Error{Status::no_memory, "cannot track the transfer"}, true);
        return;
    }
    const CURLMcode mc = curl_multi_add_handle(multi_.get(), s.easy.get());
    if (mc != CURLM_OK) {
        detach(s, s.tracker.outcome(CURLE_OK, mc, s.easy.get(), s.errbuf, s.url, s.opts.allow_http),
               true);
        return;
    }
    s.in_multi = true;
}

void PoolWorker::on_remove(const Command& c) noexcept {
    PooledCurlByteSource::Impl& s = *c.source;
    {
        std::lock_guard<std::mutex> lock(s.m);
        if (!s.attached || s.generation != c.generation || s.worker != this) return;
    }
    detach(s, Error{}, false);
}

void PoolWorker::on_resume(const Command& c) noexcept {
    PooledCurlByteSource::Impl& s = *c.source;
    {
        std::lock_guard<std::mutex> lock(s.m);
        if (!s.attached || s.generation != c.generation || s.worker != this) return;
        s.resume_queued = false;
        if (!s.paused) return;
        // Cleared first: if the held chunk still does not fit, the write callback pauses again.
        s.paused = false;
    }
    if (s.in_multi) curl_easy_pause(s.easy.get(), CURLPAUSE_CONT);
}

void PoolWorker::collect_done() noexcept {
    int left = 0;
    while (const CURLMsg* msg = curl_multi_info_read(multi_.get(), &left)) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL* easy = msg->easy_handle;
        const CURLcode rc = msg->data.result;
        char* priv = nullptr;
        if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) != CURLE_OK || priv == nullptr) {
            curl_multi_remove_handle(multi_.get(), easy);
            continue;
        }
        auto& s = *reinterpret_cast<PooledCurlByteSource::Impl*>(priv);
        detach(s, s.tracker.outcome(rc, CURLM_OK, easy, s.errbuf, s.url, s.opts.allow_http), true);
    }
}

// Takes the transfer off the multi handle and gives the source back to its caller thread; with
// `publish`, first makes `outcome` the transfer's end for read() and fires the ready callback.
void PoolWorker::detach(PooledCurlByteSource::Impl& s, const Error& outcome,
                        bool publish) noexcept {
    if (s.in_multi) {
        curl_multi_remove_handle(multi_.get(), s.easy.get());
        s.in_multi = false;
    }
    // Counted down before read() can see the end or close() return, so neither sees the
    // transfer still counted in active_transfers().
    active.fetch_sub(1, std::memory_order_relaxed);
    // Between transfers a source does not hold on to the pool's share (open() sets it again).
    curl_easy_setopt(s.easy.get(), CURLOPT_SHARE, static_cast<CURLSH*>(nullptr));
    // Keeps the source alive until the end of this function, whatever the caller does.
    std::shared_ptr<PooledCurlByteSource::Impl> keep;
    if (const auto it = live_.find(&s); it != live_.end()) {
        keep = std::move(it->second);
        live_.erase(it);
    }
    if (publish) {
        bool fire = false;
        {
            std::lock_guard<std::mutex> lock(s.m);
            s.headers_ready = true;
            s.finished = true;
            s.final_status = outcome.status;
            try {
                s.final_detail = outcome.detail;
            } catch (...) {
                s.final_detail.clear();
            }
            fire = s.armed;
            s.armed = false;
        }
        s.cv.notify_all();
        if (fire && s.ready) s.ready();
    }
    {
        std::lock_guard<std::mutex> lock(s.m);
        s.attached = false;
    }
    s.cv.notify_all();
}

}  // namespace detail

// ---- CurlTransferPool ----

namespace {

void share_lock(CURL* /*easy*/, curl_lock_data data, curl_lock_access /*access*/,
                void* pool) noexcept {
    auto& p = *static_cast<CurlTransferPool::Impl*>(pool);
    p.share_locks[static_cast<std::size_t>(data) % p.share_locks.size()].lock();
}

void share_unlock(CURL* /*easy*/, curl_lock_data data, void* pool) noexcept {
    auto& p = *static_cast<CurlTransferPool::Impl*>(pool);
    p.share_locks[static_cast<std::size_t>(data) % p.share_locks.size()].unlock();
}

}  // namespace

Error CurlPoolOptions::validate() const {
    if (threads < kMinThreads || threads > kMaxThreads) {
        return {Status::invalid_argument,
                "CurlPoolOptions::threads must be " + std::to_string(kMinThreads) + ".." +
                    std::to_string(kMaxThreads) + ", not " + std::to_string(threads)};
    }
    if (max_idle_connections < 1 || max_idle_connections > kMaxIdleConnections) {
        return {Status::invalid_argument, "CurlPoolOptions::max_idle_connections must be 1.." +
                                              std::to_string(kMaxIdleConnections) + ", not " +
                                              std::to_string(max_idle_connections)};
    }
    return {};
}

CurlTransferPool::Impl::~Impl() {
    for (auto& w : workers) w->stop();
    workers.clear();
    if (share != nullptr) curl_share_cleanup(share);
}

Error CurlTransferPool::Impl::start() {
    std::lock_guard<std::mutex> lock(start_m);
    if (started.load()) return {};
    if (Error e = options.validate(); !e.ok()) return e;
    if (const CURLcode rc = detail::global_init(); rc != CURLE_OK) {
        return {detail::status_from_curl(rc),
                std::string("curl_global_init failed: ") + curl_easy_strerror(rc)};
    }
    if (options.share_tls_sessions && share == nullptr) {
        share = curl_share_init();
        if (share == nullptr) return {Status::no_memory, "cannot create a libcurl share"};
        CURLSHcode sc = curl_share_setopt(share, CURLSHOPT_LOCKFUNC, &share_lock);
        if (sc == CURLSHE_OK) sc = curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, &share_unlock);
        if (sc == CURLSHE_OK) sc = curl_share_setopt(share, CURLSHOPT_USERDATA, this);
        if (sc == CURLSHE_OK) {
            sc = curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        }
        if (sc == CURLSHE_OK) sc = curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        if (sc != CURLSHE_OK) {
            curl_share_cleanup(share);
            share = nullptr;
            return {Status::internal,
                    std::string("cannot set up the libcurl share: ") + curl_share_strerror(sc)};
        }
    }
    try {
        std::vector<std::unique_ptr<detail::PoolWorker>> fresh;
        for (std::size_t i = 0; i < options.threads; ++i) {
            fresh.push_back(std::make_unique<detail::PoolWorker>());
            if (Error e = fresh.back()->start(options.max_idle_connections); !e.ok())
                return e;  // fresh stops them
        }
        workers = std::move(fresh);
    } catch (const std::bad_alloc&) {
        return {Status::no_memory, "cannot allocate the transfer pool"};
    }
    started.store(true);
    return {};
}

detail::PoolWorker& CurlTransferPool::Impl::pick() noexcept {
    detail::PoolWorker* best = workers.front().get();
    for (const auto& w : workers) {
        if (w->active.load(std::memory_order_relaxed) <
            best->active.load(std::memory_order_relaxed)) {
            best = w.get();
        }
    }
    return *best;
}

CurlTransferPool::CurlTransferPool(CurlPoolOptions options)
    : impl_(std::make_unique<Impl>(options)) {}

CurlTransferPool::~CurlTransferPool() = default;

Error CurlTransferPool::start() {
    return impl_->start();
}

std::size_t CurlTransferPool::active_transfers() const noexcept {
    if (!impl_->started.load()) return 0;
    std::size_t n = 0;
    for (const auto& w : impl_->workers) n += w->active.load(std::memory_order_relaxed);
    return n;
}

const CurlPoolOptions& CurlTransferPool::options() const noexcept {
    return impl_->options;
}

}  // namespace ota
