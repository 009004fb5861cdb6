// Internals shared by CurlTransferPool (curl_transfer_pool.cpp) and PooledCurlByteSource
// (pooled_curl_byte_source.cpp). Private to the fetch layer.
//
// Threads and ownership: a source's easy handle, its HeadTracker and its write callback belong
// to the pool thread ("worker") from the moment open() posts the `add` command until the worker
// sets `attached` to false (transfer done, or removed on close()); before and after, to the
// caller thread. `m` of the source guards the ring indices, the completion fields, the pause
// state and `attached`; the ring bytes are copied outside it (writer: free region only, reader:
// filled region only). Commands carry the transfer's generation so that one left over from an
// earlier transfer of the same source does nothing.
#pragma once

#include <curl/curl.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "fetch/body_ring.hpp"
#include "fetch/curl_handles.hpp"
#include "fetch/transfer_setup.hpp"
#include "ota/curl/curl_transfer_pool.hpp"

namespace ota {
namespace detail {

/// One libcurl multi handle and the thread that drives it with epoll.
class PoolWorker {
  public:
    /// What a source asks of the worker.
    enum class Op { add, remove, resume };
    /// One request, for one transfer (`generation`) of `source`.
    struct Command {
        Op op = Op::add;
        std::shared_ptr<PooledCurlByteSource::Impl> source;
        std::uint64_t generation = 0;
    };

    PoolWorker() = default;
    ~PoolWorker();
    PoolWorker(const PoolWorker&) = delete;
    PoolWorker& operator=(const PoolWorker&) = delete;
    PoolWorker(PoolWorker&&) = delete;
    PoolWorker& operator=(PoolWorker&&) = delete;

    /// Creates the multi handle (keeping at most `max_idle_connections` connections after use),
    /// the epoll set and the wake-up eventfd, then the thread.
    [[nodiscard]] Error start(std::size_t max_idle_connections);
    /// Stops and joins the thread; transfers still on it end as fetch_failed.
    void stop() noexcept;
    /// Queues `c` and wakes the thread. May throw std::bad_alloc.
    void post(Command c);

    /// Transfers added (or about to be) and not yet detached.
    std::atomic<std::size_t> active{0};

  private:
    void run() noexcept;
    void wake() noexcept;
    void process_commands() noexcept;
    void on_add(const Command& c) noexcept;
    void on_remove(const Command& c) noexcept;
    void on_resume(const Command& c) noexcept;
    void collect_done() noexcept;
    void detach(PooledCurlByteSource::Impl& s, const Error& outcome, bool publish) noexcept;
    void socket_action(curl_socket_t fd, int flags) noexcept;

    static int socket_callback(CURL* easy, curl_socket_t fd, int what, void* self,
                               void* socket_data) noexcept;
    static int timer_callback(CURLM* multi, long timeout_ms, void* self) noexcept;

    MultiHandle multi_;
    int epoll_fd_ = -1;
    int wake_fd_ = -1;
    std::thread thread_;

    std::mutex queue_m_;
    std::vector<Command> queue_;  // guarded by queue_m_
    bool stopping_ = false;       // guarded by queue_m_

    // Worker thread only.
    std::optional<std::chrono::steady_clock::time_point> deadline_;
    std::unordered_map<PooledCurlByteSource::Impl*, std::shared_ptr<PooledCurlByteSource::Impl>>
        live_;
};

}  // namespace detail

struct CurlTransferPool::Impl {
    explicit Impl(CurlPoolOptions o) : options(o) {}
    ~Impl();
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
    Impl(Impl&&) = delete;
    Impl& operator=(Impl&&) = delete;

    const CurlPoolOptions options;

    std::mutex start_m;
    std::atomic<bool> started{false};
    std::vector<std::unique_ptr<detail::PoolWorker>> workers;  // fixed once started

    // The CURLSH of TLS sessions and DNS (nullptr when not shared) and its locks.
    CURLSH* share = nullptr;
    std::array<std::mutex, CURL_LOCK_DATA_LAST> share_locks;

    Error start();
    /// The worker with the fewest transfers (the pool is started).
    detail::PoolWorker& pick() noexcept;
};

struct PooledCurlByteSource::Impl {
    Impl(CurlTransferPool::Impl& p, HttpOptions o) : pool(p), opts(std::move(o)) {}
    ~Impl() = default;
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
    Impl(Impl&&) = delete;
    Impl& operator=(Impl&&) = delete;

    CurlTransferPool::Impl& pool;
    const HttpOptions opts;

    // libcurl state (see the file comment for who may touch it when).
    detail::EasyHandle easy;
    detail::HeaderList request_headers;
    char errbuf[CURL_ERROR_SIZE] = {};
    std::string url;
    detail::BodyRing ring;  // allocated by the first open(); indices guarded by m
    std::function<void()> ready;
    detail::HeadTracker tracker;
    bool in_multi = false;  // worker thread only

    std::mutex m;
    std::condition_variable cv;  // bytes/completion for read(), detach for close()
    // Guarded by m.
    std::size_t reader_want = 0;  // a read() waits for this many bytes (0: none waits)
    bool headers_ready = false;
    bool finished = false;
    Status final_status = Status::ok;
    std::string final_detail;
    bool paused = false;         // the write callback returned CURL_WRITEFUNC_PAUSE
    std::size_t pending = 0;     // size of the chunk libcurl holds while paused
    bool resume_queued = false;  // a resume command is on its way
    bool armed = false;          // the ready callback may fire
    bool attached = false;       // the worker owns the transfer
    std::uint64_t generation = 0;
    detail::PoolWorker* worker = nullptr;

    // Caller thread only.
    bool opened = false;
    detail::HeadHandover handover;
    std::string error_detail;

    /// Ring, libcurl handles and options, on the first open().
    Error prepare();
    /// libcurl's write callback on the worker thread.
    std::size_t on_body(const char* data, std::size_t n) noexcept;

    static std::size_t header_trampoline(char* data, std::size_t size, std::size_t nitems,
                                         void* self) noexcept {
        return static_cast<Impl*>(self)->tracker.on_header(data, size * nitems);
    }
    static std::size_t write_trampoline(char* data, std::size_t size, std::size_t nmemb,
                                        void* self) noexcept {
        return static_cast<Impl*>(self)->on_body(data, size * nmemb);
    }
};

}  // namespace ota
