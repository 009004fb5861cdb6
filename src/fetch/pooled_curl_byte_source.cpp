// PooledCurlByteSource: the ByteSource side of a transfer that runs on a CurlTransferPool worker.
//
// The worker copies body bytes into the source's ring from libcurl's write callback; when the
// next chunk does not fit it pauses the transfer (CURL_WRITEFUNC_PAUSE: libcurl keeps that chunk
// and stops reading the socket). read() copies out of the ring and, once enough room is free,
// asks the worker to resume the transfer. Nothing blocks the worker thread, so one thread serves
// any number of sources. See pool_internal.hpp for who owns which field when.
#include <curl/curl.h>

#include <algorithm>
#include <new>
#include <utility>

#include "fetch/download_url.hpp"
#include "fetch/pool_internal.hpp"
#include "ota/curl/curl_transfer_pool.hpp"

namespace ota {
namespace {

// libcurl hands the write callback at most CURL_MAX_WRITE_SIZE bytes at a time (also when it
// replays a chunk it held while paused), so any valid ring can take a chunk once it is empty.
static_assert(CURL_MAX_WRITE_SIZE <= HttpOptions::kMinBufferSize,
              "a write callback chunk must fit into the smallest ring");

// A paused transfer is resumed once this share of the ring is free (or the held chunk, if more).
constexpr std::size_t kResumeFraction = 4;
// read() waits at most this long per call, whatever the caller asks (avoids clock overflow).
constexpr std::chrono::hours kMaxReadWait{24};

}  // namespace

using Impl = PooledCurlByteSource::Impl;

Error Impl::prepare() {
    if (!ring.allocate(opts.buffer_size)) {
        return {Status::no_memory, "cannot allocate the download buffer"};
    }
    if (!easy) {
        easy.reset(curl_easy_init());
        request_headers.reset(detail::make_request_headers());
        Error e;
        if (!easy || !request_headers) {
            e = {Status::no_memory, "cannot create libcurl handles"};
        } else {
            e = detail::configure_download(easy.get(), opts, errbuf, request_headers.get(),
                                           &Impl::header_trampoline, &Impl::write_trampoline, this);
        }
        CURLcode rc = CURLE_OK;
        if (e.ok()) rc = curl_easy_setopt(easy.get(), CURLOPT_PRIVATE, static_cast<void*>(this));
        if (e.ok() && rc != CURLE_OK) {
            e = {detail::status_from_curl(rc),
                 std::string("cannot set up the download: ") + curl_easy_strerror(rc)};
        }
        if (!e.ok()) {
            easy.reset();
            request_headers.reset();
            return e;
        }
    }
    return {};
}

std::size_t Impl::on_body(const char* data, std::size_t n) noexcept {
    const bool first = !tracker.published;
    const bool reject = tracker.begin_body();
    if (first) {
        std::lock_guard<std::mutex> lock(m);
        headers_ready = true;
    }
    // An error page is never image data: stop the transfer; the worker reports this as the
    // normal end of a non-2xx response (HeadTracker::outcome).
    if (reject) return CURL_WRITEFUNC_ERROR;
    if (n == 0) return 0;
    std::size_t tail = 0;
    {
        std::lock_guard<std::mutex> lock(m);
        if (ring.room() < n) {
            paused = true;
            pending = n;
            return CURL_WRITEFUNC_PAUSE;
        }
        tail = ring.tail();
    }
    // Copy into the free region (possibly wrapping) without holding the lock.
    ring.put(tail, data, n);
    bool fire = false;
    bool wake = false;
    {
        std::lock_guard<std::mutex> lock(m);
        ring.count += n;
        wake = reader_want != 0 && ring.count >= reader_want;
        fire = armed;
        armed = false;
    }
    if (wake) cv.notify_all();
    if (fire && ready) ready();
    return n;
}

PooledCurlByteSource::PooledCurlByteSource(CurlTransferPool& pool, HttpOptions options)
    : impl_(std::make_shared<Impl>(*pool.impl_, std::move(options))) {}

PooledCurlByteSource::~PooledCurlByteSource() {
    close();
}

Error PooledCurlByteSource::open(std::string_view url, std::uint64_t offset) {
    Impl& s = *impl_;
    close();
    s.handover.reset();
    s.error_detail.clear();

    const auto fail = [&s](Error e) {
        s.error_detail = e.detail;
        return e;
    };
    // Options out of range are refused rather than clamped, so a configuration mistake shows.
    if (Error e = s.opts.validate(); !e.ok()) return fail(std::move(e));
    if (Error e = detail::check_download_url(url, s.opts.allow_http); !e.ok()) {
        return fail(std::move(e));
    }
    if (Error e = s.pool.start(); !e.ok()) return fail(std::move(e));
    if (Error e = s.prepare(); !e.ok()) return fail(std::move(e));
    s.url.assign(url);
    if (Error e = detail::set_download_target(s.easy.get(), s.url, offset); !e.ok()) {
        return fail(std::move(e));
    }
    // The share is set per transfer and taken off again when the worker lets go of the transfer,
    // so a source never refers to a pool's share outside a transfer (see ~CurlTransferPool).
    if (s.pool.share != nullptr) {
        if (const CURLcode rc = curl_easy_setopt(s.easy.get(), CURLOPT_SHARE, s.pool.share);
            rc != CURLE_OK) {
            return fail({detail::status_from_curl(rc),
                         std::string("cannot set up the download: ") + curl_easy_strerror(rc)});
        }
    }
    s.errbuf[0] = '\0';
    s.tracker.reset();

    detail::PoolWorker& w = s.pool.pick();
    std::uint64_t generation = 0;
    {
        std::lock_guard<std::mutex> lock(s.m);
        s.ring.clear();
        s.reader_want = 0;
        s.headers_ready = false;
        s.finished = false;
        s.final_status = Status::ok;
        s.final_detail.clear();
        s.paused = false;
        s.pending = 0;
        s.resume_queued = false;
        s.armed = true;
        s.attached = true;
        s.worker = &w;
        generation = ++s.generation;
    }
    w.active.fetch_add(1, std::memory_order_relaxed);
    try {
        w.post({detail::PoolWorker::Op::add, impl_, generation});
    } catch (const std::bad_alloc&) {
        {
            std::lock_guard<std::mutex> lock(s.m);
            s.attached = false;
        }
        w.active.fetch_sub(1, std::memory_order_relaxed);
        curl_easy_setopt(s.easy.get(), CURLOPT_SHARE, static_cast<CURLSH*>(nullptr));
        return fail({Status::no_memory, "cannot queue the download"});
    }
    s.opened = true;
    return {};
}

ReadResult PooledCurlByteSource::read(std::uint8_t* buf, std::size_t len,
                                      std::chrono::milliseconds timeout) {
    Impl& s = *impl_;
    if (!s.opened) return ReadResult{Status::invalid_state, 0, false};
    if (buf == nullptr && len > 0) return ReadResult{Status::invalid_argument, 0, false};

    std::unique_lock<std::mutex> lock(s.m);
    s.armed = true;
    if (s.ring.count == 0 && !s.finished && timeout > std::chrono::milliseconds::zero()) {
        const auto deadline = std::chrono::steady_clock::now() +
                              std::min<std::chrono::milliseconds>(timeout, kMaxReadWait);
        const std::size_t want = std::clamp<std::size_t>(len, 1, s.ring.cap / kResumeFraction);
        detail::wait_for_body(lock, s.cv, s.ring, s.finished, s.reader_want, want, deadline);
    }
    if (s.ring.count == 0 && !s.finished) return ReadResult{};
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
        bool resume = false;
        if (s.paused && !s.resume_queued && s.attached &&
            s.ring.room() >= std::max(s.pending, s.ring.cap / kResumeFraction)) {
            s.resume_queued = true;
            resume = true;
        }
        detail::PoolWorker* w = s.worker;
        const std::uint64_t generation = s.generation;
        lock.unlock();
        if (resume) {
            try {
                w->post({detail::PoolWorker::Op::resume, impl_, generation});
            } catch (const std::bad_alloc&) {
                // Tried again by the next read().
                std::lock_guard<std::mutex> relock(s.m);
                s.resume_queued = false;
            }
        }
        return s.handover.attach(ReadResult{Status::ok, k, end});
    }
    // Finished and drained.
    if (s.final_status != Status::ok) {
        s.error_detail = s.final_detail;
        return ReadResult{s.final_status, 0, false};
    }
    return s.handover.attach(ReadResult{Status::ok, 0, true});
}

std::string PooledCurlByteSource::last_error_detail() const {
    return impl_->error_detail;
}

void PooledCurlByteSource::close() noexcept {
    Impl& s = *impl_;
    std::unique_lock<std::mutex> lock(s.m);
    if (s.attached) {
        detail::PoolWorker* w = s.worker;
        const std::uint64_t generation = s.generation;
        lock.unlock();
        // Posting allocates only when the queue grows; under memory pressure try again.
        for (;;) {
            try {
                w->post({detail::PoolWorker::Op::remove, impl_, generation});
                break;
            } catch (...) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        }
        lock.lock();
        s.cv.wait(lock, [&s] { return !s.attached; });
    }
    s.opened = false;
}

void PooledCurlByteSource::release_buffers() noexcept {
    close();
    Impl& s = *impl_;
    // Detached now: the worker no longer touches the ring or the easy handle.
    std::lock_guard<std::mutex> lock(s.m);
    s.ring.release();
    s.easy.reset();
    s.request_headers.reset();
}

void PooledCurlByteSource::set_ready_callback(std::function<void()> callback) {
    impl_->ready = std::move(callback);
}

int PooledCurlByteSource::http_status() const noexcept {
    return impl_->handover.response.http_status;
}

std::optional<std::uint64_t> PooledCurlByteSource::content_length() const noexcept {
    return impl_->handover.response.content_length;
}

std::string_view PooledCurlByteSource::content_range() const noexcept {
    return impl_->handover.response.content_range;
}

std::optional<std::chrono::seconds> PooledCurlByteSource::retry_after() const noexcept {
    return impl_->handover.response.retry_after;
}

std::size_t PooledCurlByteSource::buffer_bytes() const noexcept {
    return impl_->ring.cap;
}

}  // namespace ota
