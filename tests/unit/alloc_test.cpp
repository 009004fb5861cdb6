// Counts heap allocations on the fetch hot path. This binary replaces the global operator
// new/delete, so it must stay a test binary of its own.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ota/client.hpp"
#include "ota/digest.hpp"
#include "support/client_fixture.hpp"

namespace {

std::atomic<bool> g_counting{false};
std::atomic<std::size_t> g_allocations{0};
std::atomic<std::size_t> g_bytes{0};

void* counted_alloc(std::size_t size, std::size_t align, bool nothrow) {
    if (g_counting.load(std::memory_order_relaxed)) {
        g_allocations.fetch_add(1, std::memory_order_relaxed);
        g_bytes.fetch_add(size, std::memory_order_relaxed);
    }
    if (size == 0) size = 1;
    void* p = nullptr;
    if (align <= alignof(std::max_align_t)) {
        p = std::malloc(size);
    } else if (posix_memalign(&p, align, size) != 0) {
        p = nullptr;
    }
    if (p == nullptr && !nothrow) throw std::bad_alloc();
    return p;
}

/// Starts counting on construction; stop() (or destruction) ends it.
class AllocationWindow {
  public:
    AllocationWindow() noexcept {
        g_allocations.store(0);
        g_bytes.store(0);
        g_counting.store(true);
    }
    ~AllocationWindow() { g_counting.store(false); }
    void stop() noexcept { g_counting.store(false); }
    [[nodiscard]] std::size_t allocations() const noexcept { return g_allocations.load(); }
    [[nodiscard]] std::size_t bytes() const noexcept { return g_bytes.load(); }
};

}  // namespace

// ---- the replaced global allocation functions ----------------------------------------------

void* operator new(std::size_t size) {
    return counted_alloc(size, 0, false);
}
void* operator new[](std::size_t size) {
    return counted_alloc(size, 0, false);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    return counted_alloc(size, 0, true);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    return counted_alloc(size, 0, true);
}
void* operator new(std::size_t size, std::align_val_t al) {
    return counted_alloc(size, static_cast<std::size_t>(al), false);
}
void* operator new[](std::size_t size, std::align_val_t al) {
    return counted_alloc(size, static_cast<std::size_t>(al), false);
}
void* operator new(std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
    return counted_alloc(size, static_cast<std::size_t>(al), true);
}
void* operator new[](std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
    return counted_alloc(size, static_cast<std::size_t>(al), true);
}

void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    std::free(p);
}

namespace {

using namespace std::chrono_literals;
using ota::ClientOptions;
using ota::FetchResult;
using ota::OtaClient;
using ota::OtaState;
using ota::Status;
using namespace ota::test::client_fixture;

constexpr std::size_t kChunk = 4096;

std::vector<std::uint8_t> make_body(std::size_t size) {
    std::vector<std::uint8_t> body(size);
    for (std::size_t i = 0; i < size; ++i) body[i] = static_cast<std::uint8_t>((i * 131U) >> 3);
    return body;
}

TEST(AllocationCounter, CountsOnlyInsideTheWindow) {
    std::size_t inside = 0;
    {
        AllocationWindow w;
        auto* p = new int(7);
        auto* a = new int[3];
        w.stop();
        inside = w.allocations();
        delete p;
        delete[] a;
    }
    EXPECT_EQ(inside, 2U);
    auto* q = new int(1);
    delete q;
    EXPECT_EQ(g_allocations.load(), 2U);
}

/// One device, one job of `chunks` x 4 KiB, all fakes preallocated before counting starts.
class Rig {
  public:
    /// `record_every_chunk`: save a resume record after every chunk (flush + save).
    Rig(std::size_t chunks, bool auto_progress, bool record_every_chunk = false)
        : body_(make_body(chunks * kChunk)),
          sink_(body_.size()),
          buf_(kChunk),
          channel_(broker_, "dev") {
        ScriptedResponse r;
        r.status = 200;
        r.content_length = body_.size();
        r.body = body_;
        r.max_chunk = kChunk;
        source_.set_response(std::move(r));
        std::string md5;
        EXPECT_TRUE(
            ota::digest_hex(ota::DigestAlgorithm::md5, body_.data(), body_.size(), md5).ok());
        push_ = nlohmann::json{{"code", "1000"},
                               {"data",
                                {{"size", body_.size()},
                                 {"version", "2.0.0"},
                                 {"url", "https://ota.example.com/fw.bin?Signature=x"},
                                 {"md5", md5}}},
                               {"id", 1},
                               {"message", "success"}}
                    .dump();
        ClientOptions o = device_options();
        o.auto_progress = auto_progress;
        if (record_every_chunk) {
            o.resume.record_every_bytes = kChunk;
            o.resume.record_min_interval = 0ms;
        }
        client_ = std::make_unique<OtaClient>(channel_, source_, o, clock_);
        EXPECT_TRUE(client_->init().ok());
        EXPECT_TRUE(client_->set_sink(&sink_).ok());
    }

    void push() {
        broker_.publish(kUpgradeTopic, push_);
        EXPECT_TRUE(client_->poll(0ms).ok());
        EXPECT_EQ(client_->state(), OtaState::pushed);
    }

    /// One fetch_yield; the clock moves 1 ms per call.
    FetchResult step() {
        const FetchResult r = client_->fetch_yield(buf_.data(), buf_.size(), 0ms);
        clock_.advance(1ms);
        return r;
    }

    FakeBroker& broker() { return broker_; }
    FakeChannel& channel() { return channel_; }
    OtaClient& client() { return *client_; }
    MemorySink& sink() { return sink_; }
    const std::vector<std::uint8_t>& body() const { return body_; }

  private:
    std::vector<std::uint8_t> body_;
    MemorySink sink_;
    std::vector<std::uint8_t> buf_;
    FakeBroker broker_;
    FakeChannel channel_;
    ScriptedSource source_;
    ManualClock clock_;
    std::string push_;
    std::unique_ptr<OtaClient> client_;
};

TEST(FetchAllocations, ZeroAllocationsPerChunkInSteadyState) {
    constexpr std::size_t kChunks = 1000;
    Rig rig(kChunks, /*auto_progress=*/false);
    rig.push();
    const std::size_t sink_capacity = rig.sink().buffer_capacity();

    std::size_t bytes_returned = 0;
    std::size_t bad_results = 0;
    g_allocations.store(0);
    for (std::size_t i = 0; i < kChunks; ++i) {
        const bool steady = i >= 10 && i < 990;
        if (steady) g_counting.store(true);
        const FetchResult r = rig.step();
        if (steady) g_counting.store(false);
        if (r.status != Status::ok || r.bytes != kChunk) ++bad_results;
        bytes_returned += r.bytes;
    }
    const std::size_t steady_allocations = g_allocations.load();
    EXPECT_EQ(bad_results, 0U);
    EXPECT_EQ(steady_allocations, 0U) << "allocations between chunk 10 and chunk 990";
    EXPECT_EQ(bytes_returned, kChunks * kChunk);
    EXPECT_EQ(rig.client().state(), OtaState::fetched);
    bool valid = false;
    ASSERT_TRUE(rig.client().check_firmware(valid).ok());
    EXPECT_TRUE(valid);
    EXPECT_EQ(rig.sink().data(), rig.body());
    EXPECT_EQ(rig.sink().buffer_capacity(), sink_capacity);  // the preallocated sink never grew
}

/// Steady-state chunks with the expensive extras switched on: a resume record saved after every
/// chunk, and auto progress while the broker is away (reports are then dropped, not composed).
TEST(FetchAllocations, ZeroAllocationsPerChunkWithRecordsAndBrokerDown) {
    constexpr std::size_t kChunks = 300;
    Rig rig(kChunks, /*auto_progress=*/true, /*record_every_chunk=*/true);
    rig.push();
    std::size_t bad_results = 0;
    g_allocations.store(0);
    for (std::size_t i = 0; i < kChunks; ++i) {
        if (i == 5) rig.channel().disconnect();
        const bool steady = i >= 10 && i < 290;
        if (steady) g_counting.store(true);
        const FetchResult r = rig.step();
        if (steady) g_counting.store(false);
        if (r.status != Status::ok || r.bytes != kChunk) ++bad_results;
    }
    EXPECT_EQ(bad_results, 0U);
    EXPECT_EQ(g_allocations.load(), 0U) << "allocations between chunk 10 and chunk 290";
    EXPECT_GE(rig.sink().record_saves, 280U);  // the record path really ran
    EXPECT_EQ(rig.client().state(), OtaState::fetched);
    rig.channel().reconnect();
    EXPECT_TRUE(rig.client().poll(0ms).ok());
    bool valid = false;
    ASSERT_TRUE(rig.client().check_firmware(valid).ok());
    EXPECT_TRUE(valid);
}

struct JobCost {
    std::size_t allocations = 0;
    std::size_t bytes = 0;
    std::size_t progress_reports = 0;
    bool valid = false;
};

/// Allocations from the first fetch_yield to the verified, committed image.
JobCost run_job(std::size_t chunks) {
    Rig rig(chunks, /*auto_progress=*/true);
    rig.push();
    JobCost cost;
    std::size_t calls = 0;
    {
        AllocationWindow window;
        while (rig.client().is_fetching() && calls < chunks + 10) {
            const FetchResult r = rig.step();
            ++calls;
            if (r.status != Status::ok) break;
        }
        bool valid = false;
        const bool ok = rig.client().check_firmware(valid).ok();
        window.stop();
        cost.allocations = window.allocations();
        cost.bytes = window.bytes();
        cost.valid = ok && valid;
    }
    for (const auto& m : rig.broker().published()) {
        if (m.topic.rfind("/ota/device/progress/", 0) == 0) ++cost.progress_reports;
    }
    return cost;
}

TEST(FetchAllocations, AllocationsDoNotGrowWithTheNumberOfChunks) {
    const JobCost small = run_job(1000);
    const JobCost large = run_job(2000);
    ASSERT_TRUE(small.valid);
    ASSERT_TRUE(large.valid);
    // The same 21 reports (0, 5, ..., 95, 100) in both jobs: the only allocations.
    EXPECT_EQ(small.progress_reports, 21U);
    EXPECT_EQ(large.progress_reports, 21U);
    EXPECT_GT(small.allocations, 0U);  // reports are composed on the heap: the counter sees them
    EXPECT_EQ(small.allocations, large.allocations);
    std::printf("allocations per job: %zu (1000 chunks), %zu (2000 chunks); bytes %zu / %zu\n",
                small.allocations, large.allocations, small.bytes, large.bytes);
}

TEST(FetchAllocations, MemoryDoesNotDependOnTheImageSize) {
    // 4 MiB and 8 MiB images: the client allocates the same small amount for either.
    const JobCost small = run_job(1000);
    const JobCost large = run_job(2000);
    constexpr std::size_t kBound = 64 * 1024;
    EXPECT_LT(small.bytes, kBound);
    EXPECT_LT(large.bytes, kBound);
    EXPECT_EQ(small.bytes, large.bytes);
}

}  // namespace
