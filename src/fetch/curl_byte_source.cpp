// CurlByteSource: libcurl on a transfer thread of its own, feeding a bounded ring buffer.
//
// Why a thread and a ring: the client pulls bytes with read(buf, len, timeout) while libcurl
// pushes them from its write callback. Running the transfer on its own thread lets TLS decryption
// overlap with the client's hashing and storage, and the ring (one allocation per source) bounds
// memory: when it is full the write callback blocks until read() frees space, which throttles
// the download to the consumer's speed. The multi interface is used (rather than
// curl_easy_perform) only so that close() can interrupt a transfer blocked on the network at once
// with curl_multi_wakeup().
//
// Ownership of the shared state: `m` guards the ring indices, the completion fields and the
// published flag. The transfer thread writes the header fields (`tracker`) only before it publishes
// them; after that only the caller thread reads them, so they need no lock of their own. The
// ring bytes themselves are copied outside the lock: the writer only touches the free region and
// the reader only the filled one.
#include "ota/curl/curl_byte_source.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>
#include <utility>

#include "fetch/body_ring.hpp"
#include "fetch/curl_handles.hpp"
#include "fetch/download_url.hpp"
#include "fetch/transfer_setup.hpp"

namespace ota {
namespace {

using detail::EasyHandle;
using detail::global_init;
using detail::HeaderList;
using detail::MultiHandle;
using detail::status_from_curl;

// Upper bound of one curl_multi_poll() wait; close() wakes it earlier.
constexpr int kPollMs = 1000;
// A waiting side is woken once 1/kWakeFraction of the ring can be read (or written).
constexpr std::size_t kWakeFraction = 4;
// read() waits at most this long per call, whatever the caller asks (avoids clock overflow).
constexpr std::chrono::hours kMaxReadWait{24};

}  // namespace

struct CurlByteSource::Impl {
    explicit Impl(HttpOptions o) : opts(std::move(o)) {}
    ~Impl() { close(); }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
    Impl(Impl&&) = delete;
    Impl& operator=(Impl&&) = delete;

    const HttpOptions opts;

    // libcurl handles: created by the first open(); used by the transfer thread while one runs
    // and by open() (between transfers) otherwise.
    MultiHandle multi;
    EasyHandle easy;
    HeaderList request_headers;
    char errbuf[CURL_ERROR_SIZE] = {};
    std::string url;  // the current URL, kept for redaction of error texts

    // The ring is allocated by the first open(), once the options were accepted
    // (HttpOptions::validate); its indices are guarded by m.
    detail::BodyRing ring;

    std::mutex m;
    std::condition_variable data_cv;   // transfer -> reader: bytes or completion
    std::condition_variable space_cv;  // reader/close -> transfer: space freed or abort
    std::atomic<bool> abort{false};
    // Guarded by m.
    // Wake-up thresholds of a waiting reader / writer (0 = not waiting): each side signals the
    // other only once the waiter can make real progress, which keeps thread hand-offs (the main
    // cost on a loaded two-core device) to a few per ring's worth of data.
    std::size_t reader_want = 0;
    std::size_t writer_want = 0;
    bool headers_ready = false;
    bool finished = false;
    Status final_status = Status::ok;
    std::string final_detail;

    // Transfer thread only (read by the caller after headers_ready, see the file comment).
    detail::HeadTracker tracker;

    // Caller thread only.
    std::thread worker;
    bool opened = false;
    detail::HeadHandover handover;  // the head as read() took it over; the getters read it
    std::string error_detail;

    Error prepare();
    Error configure();
    void run() noexcept;
    void finish(CURLcode rc, CURLMcode mc) noexcept;
    void publish_locked() noexcept;
    std::size_t on_body(const char* data, std::size_t n) noexcept;
    void close() noexcept;

    static std::size_t header_trampoline(char* data, std::size_t size, std::size_t nitems,
                                         void* self) noexcept {
        return static_cast<Impl*>(self)->tracker.on_header(data, size * nitems);
    }
    static std::size_t write_trampoline(char* data, std::size_t size, std::size_t nmemb,
                                        void* self) noexcept {
        return static_cast<Impl*>(self)->on_body(data, size * nmemb);
    }
};

Error CurlByteSource::Impl::prepare() {
    if (const CURLcode rc = global_init(); rc != CURLE_OK) {
        return {status_from_curl(rc),
                std::string("curl_global_init failed: ") + curl_easy_strerror(rc)};
    }
    if (!ring.allocate(opts.buffer_size)) {
        return {Status::no_memory, "cannot allocate the download buffer"};
    }
    if (!easy) {
        if (Error e = configure(); !e.ok()) {
            easy.reset();
            multi.reset();
            request_headers.reset();
            return e;
        }
    }
    return {};
}

// Options that stay the same for every transfer of this source.
Error CurlByteSource::Impl::configure() {
    multi.reset(curl_multi_init());
    easy.reset(curl_easy_init());
    request_headers.reset(detail::make_request_headers());
    if (!multi || !easy || !request_headers) {
        return {Status::no_memory, "cannot create libcurl handles"};
    }
    return detail::configure_download(easy.get(), opts, errbuf, request_headers.get(),
                                      &Impl::header_trampoline, &Impl::write_trampoline, this);
}

// Called with m held: makes the header fields visible to read().
void CurlByteSource::Impl::publish_locked() noexcept {
    headers_ready = true;
}

std::size_t CurlByteSource::Impl::on_body(const char* data, std::size_t n) noexcept {
    if (abort.load(std::memory_order_relaxed)) return CURL_WRITEFUNC_ERROR;
    try {
        const bool head_done = !tracker.published;
        const bool reject = tracker.begin_body();
        if (head_done) {
            // The header phase is over: everything read() needs is known now.
            std::lock_guard<std::mutex> lock(m);
            publish_locked();
        }
        if (reject) {
            // An error page is never image data: stop the transfer; finish() treats this as the
            // normal end of a non-2xx response.
            return CURL_WRITEFUNC_ERROR;
        }
        std::size_t done = 0;
        while (done < n) {
            std::size_t tail = 0;
            std::size_t room = 0;
            {
                std::unique_lock<std::mutex> lock(m);
                if (ring.room() == 0) {
                    // Full: sleep until a good share is free, not just a few bytes, so a slow
                    // reader does not wake this thread for every read.
                    writer_want = std::min(n - done, ring.cap / kWakeFraction);
                    space_cv.wait(lock, [&] { return ring.room() >= writer_want || abort.load(); });
                    writer_want = 0;
                }
                if (abort.load()) return CURL_WRITEFUNC_ERROR;
                tail = ring.tail();
                room = ring.room();
            }
            // Copy into the free region (possibly wrapping) without holding the lock.
            const std::size_t k = std::min(room, n - done);
            ring.put(tail, data + done, k);
            bool wake = false;
            {
                std::lock_guard<std::mutex> lock(m);
                ring.count += k;
                wake = reader_want != 0 && ring.count >= reader_want;
            }
            if (wake) data_cv.notify_one();
            done += k;
        }
        return n;
    } catch (...) {
        return CURL_WRITEFUNC_ERROR;
    }
}

void CurlByteSource::Impl::run() noexcept {
    CURLcode rc = CURLE_OK;
    CURLMcode mc = curl_multi_add_handle(multi.get(), easy.get());
    if (mc == CURLM_OK) {
        // Ends when the transfer completes or fails (curl's own timeouts bound it) or on close().
        for (;;) {
            int running = 0;
            mc = curl_multi_perform(multi.get(), &running);
            if (mc != CURLM_OK || running == 0 || abort.load()) break;
            mc = curl_multi_poll(multi.get(), nullptr, 0, kPollMs, nullptr);
            if (mc != CURLM_OK) break;
        }
        int left = 0;
        while (const CURLMsg* msg = curl_multi_info_read(multi.get(), &left)) {
            if (msg->msg == CURLMSG_DONE) rc = msg->data.result;
        }
        curl_multi_remove_handle(multi.get(), easy.get());
    }
    finish(rc, mc);
}

void CurlByteSource::Impl::finish(CURLcode rc, CURLMcode mc) noexcept {
    Error e = tracker.outcome(rc, mc, easy.get(), errbuf, url, opts.allow_http);
    {
        std::lock_guard<std::mutex> lock(m);
        publish_locked();
        finished = true;
        final_status = e.status;
        final_detail = std::move(e.detail);
    }
    data_cv.notify_one();
}

void CurlByteSource::Impl::close() noexcept {
    if (worker.joinable()) {
        {
            std::lock_guard<std::mutex> lock(m);
            abort.store(true);
        }
        space_cv.notify_all();
        curl_multi_wakeup(multi.get());
        try {
            worker.join();
        } catch (...) {
            // join() only throws for a thread that is not joinable or is this thread.
        }
    }
    opened = false;
}

CurlByteSource::CurlByteSource(HttpOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

CurlByteSource::~CurlByteSource() = default;

Error CurlByteSource::open(std::string_view url, std::uint64_t offset) {
    Impl& s = *impl_;
    s.close();
    s.handover.reset();
    s.error_detail.clear();

    // Options out of range are refused rather than clamped, so a configuration mistake shows.
    if (Error e = s.opts.validate(); !e.ok()) {
        s.error_detail = e.detail;
        return e;
    }
    if (Error e = detail::check_download_url(url, s.opts.allow_http); !e.ok()) {
        s.error_detail = e.detail;
        return e;
    }
    if (Error e = s.prepare(); !e.ok()) {
        s.error_detail = e.detail;
        return e;
    }

    s.url.assign(url);
    if (Error e = detail::set_download_target(s.easy.get(), s.url, offset); !e.ok()) {
        s.error_detail = e.detail;
        return e;
    }

    s.errbuf[0] = '\0';
    s.tracker.reset();
    {
        std::lock_guard<std::mutex> lock(s.m);
        s.abort.store(false);
        s.ring.clear();
        s.headers_ready = false;
        s.finished = false;
        s.final_status = Status::ok;
        s.final_detail.clear();
    }
    try {
        s.worker = std::thread([&s] { s.run(); });
    } catch (const std::system_error& ex) {
        Error e{Status::internal, std::string("cannot start the download thread: ") + ex.what()};
        s.error_detail = e.detail;
        return e;
    }
    s.opened = true;
    return {};
}

ReadResult CurlByteSource::read(std::uint8_t* buf, std::size_t len,
                                std::chrono::milliseconds timeout) {
    Impl& s = *impl_;
    if (!s.opened) return ReadResult{Status::invalid_state, 0, false};
    if (buf == nullptr && len > 0) return ReadResult{Status::invalid_argument, 0, false};

    const auto deadline = std::chrono::steady_clock::now() +
                          std::clamp<std::chrono::milliseconds>(
                              timeout, std::chrono::milliseconds::zero(), kMaxReadWait);
    std::unique_lock<std::mutex> lock(s.m);
    if (s.ring.count == 0 && !s.finished) {
        const std::size_t want = std::clamp<std::size_t>(len, 1, s.ring.cap / kWakeFraction);
        detail::wait_for_body(lock, s.data_cv, s.ring, s.finished, s.reader_want, want, deadline);
        if (s.ring.count == 0 && !s.finished) return ReadResult{};
    }
    s.handover.take_once(s.tracker, s.headers_ready);
    if (s.ring.count > 0) {
        if (len == 0) return ReadResult{};
        const std::size_t head = s.ring.head;
        const std::size_t k = std::min(len, s.ring.count);
        lock.unlock();
        s.ring.take(head, buf, k);  // the filled region is the reader's
        lock.lock();
        s.ring.consumed(k);
        const bool end = s.finished && s.ring.count == 0 && s.final_status == Status::ok;
        const bool wake = s.writer_want != 0 && s.ring.room() >= s.writer_want;
        lock.unlock();
        if (wake) s.space_cv.notify_one();
        return s.handover.attach(ReadResult{Status::ok, k, end});
    }
    // Finished and drained.
    if (s.final_status != Status::ok) {
        s.error_detail = s.final_detail;
        return ReadResult{s.final_status, 0, false};
    }
    return s.handover.attach(ReadResult{Status::ok, 0, true});
}

int CurlByteSource::http_status() const noexcept {
    return impl_->handover.response.http_status;
}

std::string_view CurlByteSource::content_range() const noexcept {
    return impl_->handover.response.content_range;
}

std::optional<std::uint64_t> CurlByteSource::content_length() const noexcept {
    return impl_->handover.response.content_length;
}

std::optional<std::chrono::seconds> CurlByteSource::retry_after() const noexcept {
    return impl_->handover.response.retry_after;
}

std::string CurlByteSource::last_error_detail() const {
    return impl_->error_detail;
}

void CurlByteSource::close() noexcept {
    impl_->close();
}

}  // namespace ota
