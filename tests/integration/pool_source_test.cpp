// PooledCurlByteSource on a CurlTransferPool against the lab's real nginx: many transfers on two
// threads, the CurlByteSource contract (range, error statuses, TLS refusal, errors of open()),
// the ring bound, pausing and prompt close, and the ready callback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lab.hpp"
#include "ota/curl/curl_transfer_pool.hpp"
#include "source_drain.hpp"

namespace ota {
namespace {

using namespace std::chrono_literals;
using test::drain;
using test::Drained;
using test::Lab;
using test::lab_http_options;
using test::publish;
using Clock = std::chrono::steady_clock;

constexpr const char* kSecret = "Signature=TOPSECRETsig0123456789";

// Small buffers, as a fleet of thousands of sources would use them.
HttpOptions fleet_options() {
    HttpOptions o = lab_http_options();
    o.buffer_size = 64 * 1024;
    o.receive_buffer_size = 16 * 1024;
    return o;
}

// A port on 127.0.0.1 that nobody listens on (bound, then released).
std::uint16_t closed_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    ::close(fd);
    return ntohs(a.sin_port);
}

// Wakes the test thread when any source's ready callback fires.
struct Doorbell {
    std::mutex m;
    std::condition_variable cv;
    std::uint64_t rings = 0;
    void ring() {
        {
            std::lock_guard<std::mutex> lock(m);
            ++rings;
        }
        cv.notify_one();
    }
    // Waits until a ring after `seen` or `timeout`; returns the ring count.
    std::uint64_t wait(std::uint64_t seen, std::chrono::milliseconds timeout) {
        std::unique_lock<std::mutex> lock(m);
        cv.wait_for(lock, timeout, [&] { return rings != seen; });
        return rings;
    }
};

TEST(PooledCurlByteSource, TwoHundredConcurrentSourcesOnTwoThreadsAllGetEveryByte) {
    const auto& lab = Lab::get();
    constexpr std::size_t kSources = 200;
    const auto data = publish("pool/many.bin", 256 * 1024 + 17, 21);
    CurlPoolOptions po;
    po.threads = 2;
    CurlTransferPool pool(po);
    ASSERT_TRUE(pool.start().ok());
    ASSERT_TRUE(pool.start().ok());  // idempotent

    Doorbell bell;
    struct Slot {
        std::unique_ptr<PooledCurlByteSource> src;
        std::size_t got = 0;
        bool done = false;
        bool mismatch = false;
        Status status = Status::ok;
    };
    std::vector<Slot> slots(kSources);
    for (auto& s : slots) {
        s.src = std::make_unique<PooledCurlByteSource>(pool, fleet_options());
        s.src->set_ready_callback([&bell] { bell.ring(); });
        ASSERT_TRUE(s.src->open(lab.https_url("pool/many.bin"), 0).ok());
    }
    std::size_t max_active = pool.active_transfers();
    EXPECT_LE(max_active, kSources);
    // One consumer thread for all sources: read with a zero timeout, sleep on the doorbell.
    std::vector<std::uint8_t> buf(32 * 1024);
    std::size_t finished = 0;
    std::uint64_t seen = 0;
    const auto deadline = Clock::now() + 90s;
    while (finished < kSources && Clock::now() < deadline) {
        seen = bell.wait(seen, 100ms);
        max_active = std::max(max_active, pool.active_transfers());
        for (auto& s : slots) {
            while (!s.done) {
                const auto t0 = Clock::now();
                const ReadResult r = s.src->read(buf.data(), buf.size(), 0ms);
                // Generous: the machine may be busy; a blocking read would wait for the network.
                EXPECT_LT(Clock::now() - t0, 500ms) << "read() with timeout 0 blocked";
                if (r.status != Status::ok) {
                    s.status = r.status;
                    s.done = true;
                    ++finished;
                    break;
                }
                if (r.bytes > 0) {
                    if (s.got + r.bytes > data.size() ||
                        !std::equal(buf.begin(), buf.begin() + static_cast<long>(r.bytes),
                                    data.begin() + static_cast<long>(s.got))) {
                        s.mismatch = true;
                    }
                    s.got += r.bytes;
                }
                if (r.end_of_body) {
                    s.done = true;
                    ++finished;
                }
                if (r.bytes == 0) break;
            }
        }
    }
    ASSERT_EQ(finished, kSources) << "timed out";
    for (std::size_t i = 0; i < kSources; ++i) {
        SCOPED_TRACE("source " + std::to_string(i));
        EXPECT_EQ(slots[i].status, Status::ok) << slots[i].src->last_error_detail();
        EXPECT_FALSE(slots[i].mismatch);
        EXPECT_EQ(slots[i].got, data.size());
        EXPECT_EQ(slots[i].src->http_status(), 200);
        EXPECT_EQ(slots[i].src->buffer_bytes(), 64u * 1024);
    }
    EXPECT_EQ(pool.active_transfers(), 0u);
    std::printf("[pool] %zu sources, 2 threads: max %zu transfers active at once\n", kSources,
                max_active);
}

TEST(PooledCurlByteSource, RangeResumeAfterCloseReturnsTheTailWith206) {
    const auto& lab = Lab::get();
    const auto data = publish("pool/range.bin", 2 * 1024 * 1024 + 5, 22);
    CurlTransferPool pool;
    PooledCurlByteSource src(pool, lab_http_options());
    ASSERT_TRUE(src.open(lab.https_url("pool/range.bin"), 0).ok());
    const Drained first = drain(src, 10000, 1024 * 1024 + 123);
    ASSERT_EQ(first.bytes.size(), 1024u * 1024 + 123);
    src.close();
    std::uint8_t b[4];
    EXPECT_EQ(src.read(b, sizeof b, 0ms).status, Status::invalid_state);
    ASSERT_TRUE(src.open(lab.https_url("pool/range.bin"), first.bytes.size()).ok());
    ReadResult r{};
    std::vector<std::uint8_t> rest;
    std::vector<std::uint8_t> buf(64 * 1024);
    const ResponseHead* head = nullptr;
    for (auto deadline = Clock::now() + 30s; !r.end_of_body && Clock::now() < deadline;) {
        r = src.read(buf.data(), buf.size(), 1000ms);
        ASSERT_EQ(r.status, Status::ok) << src.last_error_detail();
        if (r.head != nullptr) {
            EXPECT_EQ(head, nullptr) << "head handed out twice";
            head = r.head;
        }
        rest.insert(rest.end(), buf.begin(), buf.begin() + static_cast<long>(r.bytes));
    }
    ASSERT_NE(head, nullptr);
    EXPECT_EQ(head->http_status, 206);
    EXPECT_EQ(head->content_range, "bytes " + std::to_string(first.bytes.size()) + "-" +
                                       std::to_string(data.size() - 1) + "/" +
                                       std::to_string(data.size()));
    EXPECT_EQ(src.content_range(), head->content_range);
    EXPECT_FALSE(src.retry_after().has_value());
    EXPECT_EQ(src.content_length(), std::optional<std::uint64_t>(data.size() - first.bytes.size()));
    std::vector<std::uint8_t> joined = first.bytes;
    joined.insert(joined.end(), rest.begin(), rest.end());
    EXPECT_TRUE(joined == data) << "joined " << joined.size() << " of " << data.size();
}

// Sockets this process has open (the pool's idle connections among them).
int open_sockets() {
    int n = 0;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
        std::error_code lec;
        const auto target = std::filesystem::read_symlink(e.path(), lec);
        if (!lec && target.string().rfind("socket:", 0) == 0) ++n;
    }
    return n;
}

// After many concurrent downloads finished, the pool keeps at most max_idle_connections per
// thread open, and release_buffers() gives the ring back; the next open() works as before.
TEST(PooledCurlByteSource, FinishedTransfersLeaveBoundedIdleConnectionsAndReleasableBuffers) {
    const auto& lab = Lab::get();
    const auto data = publish("pool/idle.bin", 300 * 1024, 23);
    constexpr int kSources = 20;
    CurlPoolOptions po;
    po.max_idle_connections = 2;
    CurlTransferPool pool(po);
    ASSERT_TRUE(pool.start().ok());
    const int before = open_sockets();
    std::vector<std::unique_ptr<PooledCurlByteSource>> sources;
    for (int i = 0; i < kSources; ++i) {
        sources.push_back(std::make_unique<PooledCurlByteSource>(pool, fleet_options()));
        ASSERT_TRUE(sources.back()->open(lab.https_url("pool/idle.bin"), 0).ok());
    }
    // Read a little from each first, so that all transfers are running at the same time.
    for (auto& s : sources) {
        const Drained d = drain(*s, 1000, 1000);
        ASSERT_EQ(d.bytes.size(), 1000u) << s->last_error_detail();
    }
    for (auto& s : sources) {
        const Drained d = drain(*s, 64 * 1024);
        ASSERT_TRUE(d.end) << s->last_error_detail();
        ASSERT_EQ(d.bytes.size() + 1000, data.size());
    }
    for (auto& s : sources) s->close();
    EXPECT_EQ(pool.active_transfers(), 0u);
    const int idle = open_sockets() - before;
    EXPECT_LE(idle, 2) << "idle connections kept after " << kSources << " transfers";
    for (auto& s : sources) {
        EXPECT_EQ(s->buffer_bytes(), 64u * 1024);
        s->release_buffers();
        EXPECT_EQ(s->buffer_bytes(), 0u);
        EXPECT_EQ(s->http_status(), 200);  // the getters keep their values
    }
    // A released source downloads again (buffers allocated anew).
    PooledCurlByteSource& again = *sources.front();
    ASSERT_TRUE(again.open(lab.https_url("pool/idle.bin"), 100).ok());
    EXPECT_EQ(again.buffer_bytes(), 64u * 1024);
    const Drained d = drain(again, 64 * 1024);
    ASSERT_TRUE(d.end) << again.last_error_detail();
    EXPECT_TRUE(std::equal(d.bytes.begin(), d.bytes.end(), data.begin() + 100) &&
                d.bytes.size() + 100 == data.size());
    again.release_buffers();
    again.release_buffers();  // twice is harmless
    EXPECT_EQ(again.buffer_bytes(), 0u);
}

TEST(PooledCurlByteSource, ErrorStatusBodiesAreNeverDeliveredAsImageBytes) {
    const auto& lab = Lab::get();
    const struct {
        const char* path;
        int status;
    } cases[] = {{"status/404", 404}, {"status/500", 500}, {"pool/does-not-exist.bin", 404}};
    CurlTransferPool pool;
    PooledCurlByteSource src(pool, lab_http_options());  // one source reused: also tests re-open
    for (const auto& c : cases) {
        SCOPED_TRACE(c.path);
        ASSERT_TRUE(src.open(lab.https_url(c.path), 0).ok());
        const Drained d = drain(src, 4096);
        EXPECT_EQ(d.status, Status::ok) << src.last_error_detail();
        EXPECT_TRUE(d.end);
        EXPECT_TRUE(d.bytes.empty());
        EXPECT_EQ(src.http_status(), c.status);
    }
}

TEST(PooledCurlByteSource, UnrelatedCaIsRefusedWithTheSameTextAsCurlByteSource) {
    const auto& lab = Lab::get();
    publish("pool/tls.bin", 4096, 23);
    HttpOptions other = lab_http_options();
    other.ca_file = lab.other_ca_file;
    CurlTransferPool pool;
    PooledCurlByteSource src(pool, other);
    ASSERT_TRUE(src.open(lab.https_url("pool/tls.bin?") + kSecret, 0).ok());
    const Drained d = drain(src, 4096);
    EXPECT_EQ(d.status, Status::fetch_refused);
    EXPECT_TRUE(d.bytes.empty());
    const std::string detail = src.last_error_detail();
    EXPECT_NE(detail.find("TLS verification failed: "), std::string::npos) << detail;
    EXPECT_EQ(detail.find("TOPSECRET"), std::string::npos) << detail;
}

TEST(PooledCurlByteSource, TransportFailureAndBadInputsAsCurlByteSource) {
    CurlTransferPool pool;
    PooledCurlByteSource src(pool, lab_http_options());
    std::uint8_t b[16];
    EXPECT_EQ(src.read(b, sizeof b, 0ms).status, Status::invalid_state);
    EXPECT_EQ(src.open("", 0).status, Status::invalid_argument);
    EXPECT_EQ(src.open("ftp://127.0.0.1/x", 0).status, Status::invalid_argument);
    const Error http = src.open("http://127.0.0.1/x", 0);
    EXPECT_EQ(http.status, Status::invalid_argument);
    EXPECT_NE(http.detail.find("allow_http"), std::string::npos) << http.detail;
    EXPECT_EQ(pool.active_transfers(), 0u);

    const std::string url =
        "https://127.0.0.1:" + std::to_string(closed_port()) + "/fw.bin?Expires=1&" + kSecret;
    ASSERT_TRUE(src.open(url, 0).ok());
    const Drained d = drain(src, 4096);
    EXPECT_EQ(d.status, Status::fetch_failed);
    const std::string detail = src.last_error_detail();
    EXPECT_NE(detail.find("/fw.bin"), std::string::npos) << detail;
    EXPECT_EQ(detail.find("TOPSECRET"), std::string::npos) << detail;

    HttpOptions bad = lab_http_options();
    bad.buffer_size = HttpOptions::kMinBufferSize - 1;
    PooledCurlByteSource small(pool, bad);
    EXPECT_EQ(small.open(Lab::get().https_url("pool/tls.bin"), 0).status, Status::invalid_argument);
    EXPECT_EQ(small.buffer_bytes(), 0u);

    CurlPoolOptions none;
    none.threads = 0;
    CurlTransferPool bad_pool(none);
    const Error e = bad_pool.start();
    EXPECT_EQ(e.status, Status::invalid_argument);
    EXPECT_NE(e.detail.find("threads"), std::string::npos) << e.detail;
    PooledCurlByteSource orphan(bad_pool, lab_http_options());
    EXPECT_EQ(orphan.open(Lab::get().https_url("pool/tls.bin"), 0).status,
              Status::invalid_argument);
}

TEST(PooledCurlByteSource, RingBoundsWhatIsBufferedAndCloseWhilePausedIsPrompt) {
    const auto& lab = Lab::get();
    const auto data = publish("pool/big.bin", 8 * 1024 * 1024, 24);
    HttpOptions o = lab_http_options();
    o.buffer_size = HttpOptions::kMinBufferSize;
    o.receive_buffer_size = 16 * 1024;
    CurlTransferPool pool;
    PooledCurlByteSource src(pool, o);
    ASSERT_TRUE(src.open(lab.https_url("pool/big.bin"), 0).ok());
    std::vector<std::uint8_t> buf(1024 * 1024);
    // Nothing is read for a while: the ring fills and the transfer pauses.
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(pool.active_transfers(), 1u);
    EXPECT_EQ(src.buffer_bytes(), HttpOptions::kMinBufferSize);
    const ReadResult r = src.read(buf.data(), buf.size(), 0ms);
    ASSERT_EQ(r.status, Status::ok);
    // What was buffered while nobody read: at most the ring (a chunk that did not fit waits in
    // libcurl, with the socket no longer read).
    EXPECT_GT(r.bytes, 0u);
    EXPECT_LE(r.bytes, HttpOptions::kMinBufferSize);
    EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + static_cast<long>(r.bytes), data.begin()));
    // The transfer resumes after that read, fills the ring again and pauses again.
    std::this_thread::sleep_for(300ms);
    const ReadResult again = src.read(buf.data(), buf.size(), 0ms);
    EXPECT_GT(again.bytes, 0u);
    EXPECT_LE(again.bytes, HttpOptions::kMinBufferSize);
    EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + static_cast<long>(again.bytes),
                           data.begin() + static_cast<long>(r.bytes)));
    std::this_thread::sleep_for(100ms);
    const auto t0 = Clock::now();
    src.close();
    EXPECT_LT(Clock::now() - t0, 1s);
    EXPECT_EQ(pool.active_transfers(), 0u);

    // The same source downloads the rest afterwards, slowly consumed through the small ring.
    const std::size_t offset = r.bytes + again.bytes;
    ASSERT_TRUE(src.open(lab.https_url("pool/big.bin"), offset).ok());
    const Drained d = drain(src, 3000);
    EXPECT_EQ(d.status, Status::ok) << src.last_error_detail();
    EXPECT_TRUE(d.end);
    EXPECT_TRUE(d.bytes.size() == data.size() - offset &&
                std::equal(d.bytes.begin(), d.bytes.end(), data.begin() + offset));
}

TEST(PooledCurlByteSource, CloseWhileConnectingAndDestroyMidTransferArePrompt) {
    // A listener that completes TCP handshakes but never answers the TLS hello.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(fd, 8), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    CurlTransferPool pool;
    {
        PooledCurlByteSource src(pool, lab_http_options());
        ASSERT_TRUE(
            src.open("https://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/x", 0).ok());
        std::uint8_t b[64];
        const auto t0 = Clock::now();
        const ReadResult r = src.read(b, sizeof b, 300ms);
        EXPECT_EQ(r.status, Status::ok);
        EXPECT_EQ(r.bytes, 0u);
        EXPECT_GE(Clock::now() - t0, 250ms);
        const auto t1 = Clock::now();
        src.close();
        EXPECT_LT(Clock::now() - t1, 1s);
    }
    ::close(fd);
    publish("pool/mid.bin", 4 * 1024 * 1024, 25);
    const auto t2 = Clock::now();
    {
        PooledCurlByteSource busy(pool, lab_http_options());
        ASSERT_TRUE(busy.open(Lab::get().https_url("pool/mid.bin"), 0).ok());
        ASSERT_EQ(drain(busy, 1000, 1000).bytes.size(), 1000u);
    }
    EXPECT_LT(Clock::now() - t2, 5s);
    EXPECT_EQ(pool.active_transfers(), 0u);
}

TEST(PooledCurlByteSource, ReadyCallbackFiresOncePerReadAndForTheEnd) {
    const auto& lab = Lab::get();
    const auto data = publish("pool/ready.bin", 300 * 1024, 26);
    CurlTransferPool pool;
    PooledCurlByteSource src(pool, fleet_options());
    Doorbell bell;
    src.set_ready_callback([&bell] { bell.ring(); });
    ASSERT_TRUE(src.open(lab.https_url("pool/ready.bin"), 0).ok());
    std::vector<std::uint8_t> got;
    std::vector<std::uint8_t> buf(16 * 1024);
    std::uint64_t seen = 0;
    std::size_t reads = 0;
    bool end = false;
    for (auto deadline = Clock::now() + 30s; !end && Clock::now() < deadline;) {
        // Only ever woken by the callback (the 5 s bound is a safety net, not a poll).
        const std::uint64_t now = bell.wait(seen, 5s);
        ASSERT_NE(now, seen) << "no callback although the transfer was not over";
        seen = now;
        for (;;) {
            const ReadResult r = src.read(buf.data(), buf.size(), 0ms);
            ++reads;
            ASSERT_EQ(r.status, Status::ok);
            got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(r.bytes));
            if (r.end_of_body) end = true;
            if (r.bytes == 0 || end) break;
            // Read again only until the ring is empty: the callback then announces what comes.
        }
    }
    EXPECT_TRUE(end);
    EXPECT_TRUE(got == data) << got.size() << " of " << data.size();
    // Armed by open() and by each read(), fired at most once per arming.
    EXPECT_LE(seen, reads + 1);
    std::printf("[pool] ready callback: %llu calls for %zu reads\n",
                static_cast<unsigned long long>(seen), reads);
}

TEST(PooledCurlByteSource, PoolDestroyedFirstEndsOpenSourcesAsFailed) {
    const auto& lab = Lab::get();
    const auto data = publish("pool/orphan.bin", 4 * 1024 * 1024, 27);
    HttpOptions o = lab_http_options();
    o.buffer_size = HttpOptions::kMinBufferSize;
    auto pool = std::make_unique<CurlTransferPool>();
    PooledCurlByteSource idle(*pool, o);  // opened and closed before the pool goes
    ASSERT_TRUE(idle.open(lab.https_url("pool/orphan.bin"), 0).ok());
    ASSERT_EQ(drain(idle, 1000, 1000).bytes.size(), 1000u);
    idle.close();
    PooledCurlByteSource open_src(*pool, o);
    ASSERT_TRUE(open_src.open(lab.https_url("pool/orphan.bin"), 0).ok());
    ASSERT_EQ(drain(open_src, 1000, 1000).bytes.size(), 1000u);
    const auto t0 = Clock::now();
    pool.reset();
    EXPECT_LT(Clock::now() - t0, 2s);
    const Drained rest = drain(open_src, 64 * 1024);
    EXPECT_EQ(rest.status, Status::fetch_failed);
    EXPECT_LE(rest.bytes.size(), HttpOptions::kMinBufferSize);  // what the ring still held
    EXPECT_NE(open_src.last_error_detail().find("the transfer pool was stopped"), std::string::npos)
        << open_src.last_error_detail();
    open_src.close();
}

TEST(PooledCurlByteSource, PlainHttpWhenAllowedAndRefusedRedirectAsCurlByteSource) {
    const auto& lab = Lab::get();
    const auto data = publish("pool/plain.bin", 300 * 1024 + 3, 28);
    CurlTransferPool pool;
    HttpOptions o = fleet_options();
    o.allow_http = true;
    PooledCurlByteSource plain(pool, o);
    ASSERT_TRUE(plain.open(lab.http_url("pool/plain.bin"), 0).ok());
    const Drained d = drain(plain, 5000);
    EXPECT_EQ(d.status, Status::ok) << plain.last_error_detail();
    EXPECT_TRUE(d.end);
    EXPECT_TRUE(d.bytes == data);

    // https -> plain http while http is off: nginx answers /redirect/to-http with a 302.
    PooledCurlByteSource strict(pool, lab_http_options());
    ASSERT_TRUE(strict.open(lab.https_url("redirect/to-http?") + kSecret, 0).ok());
    const Drained r = drain(strict, 4096);
    EXPECT_EQ(r.status, Status::fetch_refused);
    EXPECT_TRUE(r.bytes.empty());
    const std::string detail = strict.last_error_detail();
    EXPECT_NE(detail.find("redirect to " + lab.http_url("redirect/target.bin") +
                          " refused: only https is allowed (HttpOptions::allow_http is off)"),
              std::string::npos)
        << detail;
    EXPECT_EQ(detail.find("TOPSECRET"), std::string::npos) << detail;
}

TEST(PooledCurlByteSource, ConnectTimeoutIsReportedAsTimeoutByThePoolsTimers) {
    // libcurl's timeouts reach it only through the pool's timer handling: a server that accepts
    // TCP but never answers the TLS hello must end as timeout after connect_timeout.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(fd, 8), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    HttpOptions o = lab_http_options();
    o.connect_timeout = 500ms;
    CurlTransferPool pool;
    PooledCurlByteSource src(pool, o);
    ASSERT_TRUE(
        src.open("https://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/fw.bin", 0).ok());
    const auto t0 = Clock::now();
    const Drained d = drain(src, 64);
    const auto took = Clock::now() - t0;
    EXPECT_EQ(d.status, Status::timeout) << src.last_error_detail();
    EXPECT_GE(took, 400ms);
    EXPECT_LT(took, 5s);
    EXPECT_FALSE(src.last_error_detail().empty());
    ::close(fd);
}

}  // namespace
}  // namespace ota
