// The parts of the HTTPS byte sources that need no network: the response-head tracking both
// sources share (src/fetch/transfer_setup), and CurlTransferPool's option checks and the errors
// PooledCurlByteSource reports before any transfer starts.
#include "fetch/transfer_setup.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "fetch/transfer_error.hpp"
#include "ota/curl/curl_transfer_pool.hpp"

namespace ota {
namespace {

using namespace std::chrono_literals;

constexpr const char* kUrl = "https://cdn.example.com/fw.bin?Expires=1&Signature=TOPSECRET";

std::size_t feed(detail::HeadTracker& t, const std::string& line) {
    return t.on_header(line.data(), line.size());
}

TEST(HeadTracker, FinalResponseAfterARedirectIsTheOneKept) {
    detail::HeadTracker t;
    EXPECT_EQ(feed(t, "HTTP/1.1 302 Found\r\n"), 20u);
    feed(t, "Location: https://other.example.com/fw.bin\r\n");
    feed(t, "Content-Length: 5\r\n");
    EXPECT_EQ(t.location, "https://other.example.com/fw.bin");
    feed(t, "HTTP/1.1 206 Partial Content\r\n");
    EXPECT_TRUE(t.location.empty());
    feed(t, "Content-Range: bytes 10-99/100\r\n");
    feed(t, "content-length: 90\r\n");
    EXPECT_EQ(t.head.http_status, 206);
    EXPECT_EQ(t.head.content_range, "bytes 10-99/100");
    EXPECT_EQ(t.head.content_length, std::optional<std::uint64_t>(90));
    EXPECT_FALSE(t.begin_body());
    EXPECT_TRUE(t.published);
    // Trailers after the body do not change the head.
    feed(t, "Content-Length: 1\r\n");
    EXPECT_EQ(t.head.content_length, std::optional<std::uint64_t>(90));
    Error ok = t.outcome(CURLE_OK, CURLM_OK, nullptr, "", kUrl, false);
    EXPECT_TRUE(ok.ok()) << ok.detail;
}

TEST(HeadTracker, ErrorStatusBodyIsRejectedAndEndsAsOk) {
    detail::HeadTracker t;
    feed(t, "HTTP/1.1 404 Not Found\r\n");
    EXPECT_TRUE(t.begin_body());
    EXPECT_TRUE(t.body_rejected);
    const Error e = t.outcome(CURLE_WRITE_ERROR, CURLM_OK, nullptr, "", kUrl, false);
    EXPECT_TRUE(e.ok()) << e.detail;
    t.reset();
    EXPECT_FALSE(t.published);
    EXPECT_EQ(t.head.http_status, 0);
}

TEST(HeadTracker, OversizedHeadStopsTheTransferAndIsRefused) {
    detail::HeadTracker t;
    feed(t, "HTTP/1.1 200 OK\r\n");
    const std::string big = "X-Filler: " + std::string(detail::kMaxResponseHeadBytes, 'a') + "\r\n";
    EXPECT_EQ(feed(t, big), static_cast<std::size_t>(CURL_WRITEFUNC_ERROR));
    EXPECT_TRUE(t.head_over_limit);
    const Error e = t.outcome(CURLE_WRITE_ERROR, CURLM_OK, nullptr, "", kUrl, false);
    EXPECT_EQ(e.status, Status::fetch_refused);
    EXPECT_NE(e.detail.find("response header too large"), std::string::npos) << e.detail;
    EXPECT_EQ(e.detail.find("TOPSECRET"), std::string::npos) << e.detail;
}

TEST(HeadTracker, MultiErrorsAreInternalAndNameTheUrlWithoutItsQuery) {
    detail::HeadTracker t;
    const Error e = t.outcome(CURLE_OK, CURLM_INTERNAL_ERROR, nullptr, "", kUrl, false);
    EXPECT_EQ(e.status, Status::internal);
    EXPECT_NE(e.detail.find("libcurl multi error"), std::string::npos) << e.detail;
    EXPECT_NE(e.detail.find("https://cdn.example.com/fw.bin"), std::string::npos) << e.detail;
    EXPECT_EQ(e.detail.find("TOPSECRET"), std::string::npos) << e.detail;
    EXPECT_EQ(t.outcome(CURLE_OK, CURLM_OUT_OF_MEMORY, nullptr, "", kUrl, false).status,
              Status::no_memory);
}

TEST(CurlPoolOptions, ThreadsOutsideTheirRangeAreRefusedByStart) {
    EXPECT_TRUE(CurlPoolOptions{}.validate().ok());
    for (const std::size_t n : {std::size_t{0}, CurlPoolOptions::kMaxThreads + 1}) {
        CurlPoolOptions o;
        o.threads = n;
        const Error e = o.validate();
        EXPECT_EQ(e.status, Status::invalid_argument);
        EXPECT_NE(e.detail.find("threads"), std::string::npos) << e.detail;
        CurlTransferPool pool(o);
        EXPECT_EQ(pool.start().status, Status::invalid_argument);
        EXPECT_EQ(pool.active_transfers(), 0u);
    }
    CurlPoolOptions most;
    most.threads = CurlPoolOptions::kMaxThreads;
    EXPECT_TRUE(most.validate().ok());
}

TEST(CurlPoolOptions, IdleConnectionsOutsideTheirRangeAreRefused) {
    EXPECT_EQ(CurlPoolOptions{}.max_idle_connections, 8u);
    for (const std::size_t n : {std::size_t{0}, CurlPoolOptions::kMaxIdleConnections + 1}) {
        CurlPoolOptions o;
        o.max_idle_connections = n;
        const Error e = o.validate();
        EXPECT_EQ(e.status, Status::invalid_argument);
        EXPECT_NE(e.detail.find("max_idle_connections"), std::string::npos) << e.detail;
        CurlTransferPool pool(o);
        EXPECT_EQ(pool.start().status, Status::invalid_argument);
    }
    CurlPoolOptions one;
    one.max_idle_connections = 1;
    EXPECT_TRUE(one.validate().ok());
}

TEST(PooledCurlByteSource, ReleaseBuffersBeforeAnyOpenIsHarmless) {
    CurlTransferPool pool;
    PooledCurlByteSource src(pool);
    src.release_buffers();
    EXPECT_EQ(src.buffer_bytes(), 0u);
    std::uint8_t b[8];
    EXPECT_EQ(src.read(b, sizeof b, 0ms).status, Status::invalid_state);
}

TEST(PooledCurlByteSource, RefusesBadInputsBeforeAnyTransfer) {
    CurlPoolOptions po;
    po.threads = 2;
    CurlTransferPool pool(po);
    EXPECT_EQ(pool.options().threads, 2u);
    PooledCurlByteSource src(pool);
    std::uint8_t b[8];
    EXPECT_EQ(src.read(b, sizeof b, 0ms).status, Status::invalid_state);
    EXPECT_EQ(src.open("", 0).status, Status::invalid_argument);
    EXPECT_EQ(src.open("not a url", 0).status, Status::invalid_argument);
    const Error http = src.open("http://127.0.0.1/fw.bin", 0);
    EXPECT_EQ(http.status, Status::invalid_argument);
    EXPECT_EQ(src.last_error_detail(), http.detail);
    EXPECT_EQ(src.read(b, sizeof b, 0ms).status, Status::invalid_state);
    EXPECT_EQ(src.http_status(), 0);
    EXPECT_EQ(src.buffer_bytes(), 0u);  // nothing allocated for a refused open()
    HttpOptions bad;
    bad.buffer_size = HttpOptions::kMaxBufferSize + 1;
    PooledCurlByteSource big(pool, bad);
    const Error e = big.open("https://127.0.0.1/fw.bin", 0);
    EXPECT_EQ(e.status, Status::invalid_argument);
    EXPECT_NE(e.detail.find("buffer_size"), std::string::npos) << e.detail;
    src.close();
    src.close();  // repeatable
    EXPECT_EQ(pool.active_transfers(), 0u);
}

}  // namespace
}  // namespace ota
