// CurlByteSource against the lab's real nginx (HTTPS + Range) and, for request details nginx
// cannot show, a tiny scripted HTTP server on 127.0.0.1.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lab.hpp"
#include "ota/curl/curl_byte_source.hpp"
#include "ota/log.hpp"
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

std::string read_text(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A loopback TCP listener; never accepts unless used by ScriptedServer.
class Listener {
  public:
    Listener() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = 0;
        socklen_t len = sizeof a;
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::listen(fd_, 8) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
            ADD_FAILURE() << "cannot listen on 127.0.0.1";
            return;
        }
        port_ = ntohs(a.sin_port);
    }
    ~Listener() { close(); }
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    int fd() const { return fd_; }
    std::uint16_t port() const { return port_; }

  private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
};

// A port on 127.0.0.1 that nobody listens on (bound, then released).
std::uint16_t closed_port() {
    Listener l;
    const auto p = l.port();
    l.close();
    return p;
}

// Plain-HTTP server on 127.0.0.1 answering each request with the next scripted response (the
// last one repeats) and recording the requests. Serves one connection at a time.
class ScriptedServer {
  public:
    explicit ScriptedServer(std::vector<std::string> responses)
        : responses_(std::move(responses)), thread_([this] { serve(); }) {}
    ~ScriptedServer() {
        stop_ = true;
        thread_.join();
    }
    ScriptedServer(const ScriptedServer&) = delete;
    ScriptedServer& operator=(const ScriptedServer&) = delete;

    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(listener_.port()) + path;
    }
    std::vector<std::string> requests() const {
        std::lock_guard<std::mutex> lock(mu_);
        return requests_;
    }

  private:
    bool wait_readable(int fd) const {
        pollfd p{fd, POLLIN, 0};
        return ::poll(&p, 1, 50) > 0;
    }

    void serve() {
        const auto deadline = Clock::now() + 60s;
        std::size_t next = 0;
        while (!stop_ && Clock::now() < deadline) {
            if (!wait_readable(listener_.fd())) continue;
            const int conn = ::accept(listener_.fd(), nullptr, nullptr);
            if (conn < 0) continue;
            std::string pending;
            bool open = true;
            while (open && !stop_ && Clock::now() < deadline) {
                const auto end = pending.find("\r\n\r\n");
                if (end != std::string::npos) {
                    {
                        std::lock_guard<std::mutex> lock(mu_);
                        requests_.push_back(pending.substr(0, end + 4));
                    }
                    pending.erase(0, end + 4);
                    const std::string& resp = responses_[std::min(next++, responses_.size() - 1)];
                    ::send(conn, resp.data(), resp.size(), MSG_NOSIGNAL);
                    if (resp.find("Connection: close") != std::string::npos) open = false;
                    continue;
                }
                if (!wait_readable(conn)) continue;
                char buf[4096];
                const ssize_t n = ::recv(conn, buf, sizeof buf, 0);
                if (n <= 0) {
                    open = false;
                } else {
                    pending.append(buf, static_cast<std::size_t>(n));
                }
            }
            ::close(conn);
        }
    }

    std::vector<std::string> responses_;
    Listener listener_;
    mutable std::mutex mu_;
    std::vector<std::string> requests_;
    std::atomic<bool> stop_{false};
    std::thread thread_;  // last: starts after every other member is ready
};

std::string header_of(const std::string& request, const std::string& name) {
    std::istringstream in(request);
    std::string line;
    while (std::getline(in, line)) {
        if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
            line[name.size()] == ':') {
            auto v = line.substr(name.size() + 1);
            while (!v.empty() && (v.front() == ' ')) v.erase(0, 1);
            while (!v.empty() && (v.back() == '\r' || v.back() == ' ')) v.pop_back();
            return v;
        }
    }
    return {};
}

bool has_header(const std::string& request, const std::string& name) {
    std::string lower_req = request;
    std::string lower_name = name + ":";
    for (auto* s : {&lower_req, &lower_name}) {
        std::transform(s->begin(), s->end(), s->begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    }
    return lower_req.find("\n" + lower_name) != std::string::npos;
}

TEST(CurlByteSource, FullDownloadIsByteExactForSmallAndLargeCallerBuffers) {
    const auto& lab = Lab::get();
    const auto data = publish("fetch/full.bin", 3 * 1024 * 1024 + 17, 1);
    for (const std::size_t ring : {std::size_t{16 * 1024}, HttpOptions{}.buffer_size}) {
        for (const std::size_t chunk :
             {std::size_t{997}, std::size_t{64 * 1024}, std::size_t{1024 * 1024 + 3}}) {
            SCOPED_TRACE("ring " + std::to_string(ring) + " chunk " + std::to_string(chunk));
            HttpOptions o = lab_http_options();
            o.buffer_size = ring;
            CurlByteSource src(o);
            ASSERT_TRUE(src.open(lab.https_url("fetch/full.bin"), 0).ok());
            const Drained d = drain(src, chunk);
            EXPECT_EQ(d.status, Status::ok) << src.last_error_detail();
            EXPECT_TRUE(d.end);
            EXPECT_TRUE(d.bytes == data) << "got " << d.bytes.size() << " of " << data.size();
            EXPECT_EQ(src.http_status(), 200);
            EXPECT_EQ(src.content_length(), std::optional<std::uint64_t>(data.size()));
            EXPECT_TRUE(src.content_range().empty());
            EXPECT_TRUE(src.last_error_detail().empty());
            // The end is sticky: later reads keep saying so and return nothing.
            std::uint8_t b[8];
            const ReadResult again = src.read(b, sizeof b, 10ms);
            EXPECT_EQ(again.status, Status::ok);
            EXPECT_EQ(again.bytes, 0u);
            EXPECT_TRUE(again.end_of_body);
        }
    }
}

TEST(CurlByteSource, EveryBufferProfileDownloadsByteExactOverHttpsAndPlainHttp) {
    const auto& lab = Lab::get();
    const auto data = publish("fetch/profiles.bin", 2 * 1024 * 1024 + 333, 21);
    // The smallest receive buffer libcurl takes, too: over plain HTTP it is filled to the brim.
    BufferProfile tiny = BufferProfile::low_memory();
    tiny.receive_buffer = HttpOptions::kMinReceiveBufferSize;
    for (const BufferProfile& p : {BufferProfile::standard(), BufferProfile::low_memory(), tiny}) {
        for (const bool https : {true, false}) {
            SCOPED_TRACE("ring " + std::to_string(p.download_ring) + " receive " +
                         std::to_string(p.receive_buffer) + (https ? " https" : " http"));
            HttpOptions o = lab_http_options().with_buffers(p);
            o.allow_http = !https;
            CurlByteSource src(o);
            const std::string url =
                https ? lab.https_url("fetch/profiles.bin") : lab.http_url("fetch/profiles.bin");
            ASSERT_TRUE(src.open(url, 0).ok()) << src.last_error_detail();
            const Drained d = drain(src, p.fetch_buffer);
            EXPECT_EQ(d.status, Status::ok) << src.last_error_detail();
            EXPECT_TRUE(d.end);
            EXPECT_TRUE(d.bytes == data) << "got " << d.bytes.size() << " of " << data.size();
        }
    }
}

TEST(CurlByteSource, ReceiveBufferSizeOutOfRangeIsRefusedByOpen) {
    HttpOptions o = lab_http_options();
    o.receive_buffer_size = HttpOptions::kMaxReceiveBufferSize + 1;
    CurlByteSource src(o);
    const Error e = src.open(Lab::get().https_url("fetch/profiles.bin"), 0);
    EXPECT_EQ(e.status, Status::invalid_argument);
    EXPECT_NE(e.detail.find("receive_buffer_size"), std::string::npos) << e.detail;
}

TEST(CurlByteSource, RangeFromOffsetReturnsTheTailWith206) {
    const auto& lab = Lab::get();
    const auto data = publish("fetch/range.bin", 2 * 1024 * 1024 + 5, 2);
    const std::uint64_t offset = 1234567;
    CurlByteSource src(lab_http_options());
    ASSERT_TRUE(src.open(lab.https_url("fetch/range.bin"), offset).ok());
    const Drained d = drain(src, 32 * 1024);
    EXPECT_EQ(d.status, Status::ok) << src.last_error_detail();
    EXPECT_TRUE(d.end);
    EXPECT_EQ(src.http_status(), 206);
    EXPECT_EQ(src.content_range(), "bytes 1234567-" + std::to_string(data.size() - 1) + "/" +
                                       std::to_string(data.size()));
    EXPECT_EQ(src.content_length(), std::optional<std::uint64_t>(data.size() - offset));
    EXPECT_TRUE(std::equal(d.bytes.begin(), d.bytes.end(), data.begin() + offset, data.end()) &&
                d.bytes.size() == data.size() - offset);
}

TEST(CurlByteSource, OffsetBeyond4GiBIsSentUntruncatedAnd416BodyIsDropped) {
    const auto& lab = Lab::get();
    publish("fetch/small.bin", 1000, 3);
    const std::uint64_t offset = 5ULL * 1024 * 1024 * 1024 + 7;  // 5368709127
    CurlByteSource src(lab_http_options());
    ASSERT_TRUE(src.open(lab.https_url("fetch/small.bin?probe=range5g"), offset).ok());
    const Drained d = drain(src, 4096);
    EXPECT_EQ(d.status, Status::ok);
    EXPECT_TRUE(d.end);
    EXPECT_TRUE(d.bytes.empty());
    EXPECT_EQ(src.http_status(), 416);
    // nginx writes the access log line after the response went out: give it a moment.
    std::string log;
    for (int i = 0; i < 100; ++i) {
        log = read_text(lab.dir / "nginx-access.log");
        if (log.find("probe=range5g") != std::string::npos) break;
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_NE(log.find("probe=range5g HTTP/1.1\" 416 "), std::string::npos) << log;
    EXPECT_NE(log.find("range=\"bytes=5368709127-\""), std::string::npos) << log;
}

TEST(CurlByteSource, ErrorStatusBodiesAreNeverDeliveredAsImageBytes) {
    const auto& lab = Lab::get();
    const struct {
        const char* path;
        int status;
    } cases[] = {{"status/404", 404}, {"status/500", 500}, {"fetch/does-not-exist.bin", 404}};
    CurlByteSource src(lab_http_options());  // one source reused for all: also tests re-open
    for (const auto& c : cases) {
        SCOPED_TRACE(c.path);
        ASSERT_TRUE(src.open(lab.https_url(c.path), 0).ok());
        const Drained d = drain(src, 4096);
        EXPECT_EQ(d.status, Status::ok) << src.last_error_detail();
        EXPECT_TRUE(d.end);
        EXPECT_TRUE(d.bytes.empty()) << std::string(d.bytes.begin(), d.bytes.end());
        EXPECT_EQ(src.http_status(), c.status);
    }
}

TEST(CurlByteSource, ClosedPortFailsWithClearDetailAndNoQuery) {
    CurlByteSource src(lab_http_options());
    const std::string url =
        "https://127.0.0.1:" + std::to_string(closed_port()) + "/fw.bin?Expires=1&" + kSecret;
    ASSERT_TRUE(src.open(url, 0).ok());
    const Drained d = drain(src, 4096);
    EXPECT_EQ(d.status, Status::fetch_failed);
    EXPECT_TRUE(d.bytes.empty());
    EXPECT_EQ(src.http_status(), 0);
    const std::string detail = src.last_error_detail();
    EXPECT_NE(detail.find("127.0.0.1"), std::string::npos) << detail;
    EXPECT_NE(detail.find("/fw.bin"), std::string::npos) << detail;
    EXPECT_EQ(detail.find("TOPSECRET"), std::string::npos) << detail;
    EXPECT_EQ(detail.find("Expires"), std::string::npos) << detail;
}

TEST(CurlByteSource, UnrelatedCaFailsVerificationAndHidesTheQuery) {
    const auto& lab = Lab::get();
    publish("fetch/tls.bin", 4096, 4);
    const std::string url = lab.https_url("fetch/tls.bin?") + kSecret;
    HttpOptions other = lab_http_options();
    other.ca_file = lab.other_ca_file;
    CurlByteSource src(other);
    ASSERT_TRUE(src.open(url, 0).ok());
    const Drained d = drain(src, 4096);
    // Permanent (issue 10): the same certificate fails the same way on every attempt.
    EXPECT_EQ(d.status, Status::fetch_refused);
    EXPECT_TRUE(d.bytes.empty());
    const std::string detail = src.last_error_detail();
    EXPECT_NE(detail.find("TLS verification failed: "), std::string::npos) << detail;
    EXPECT_NE(detail.find("certificate"), std::string::npos) << detail;
    EXPECT_EQ(detail.find("TOPSECRET"), std::string::npos) << detail;

    // Without a CA file the system bundle is used, which does not know the lab's CA either.
    CurlByteSource system_ca{HttpOptions{}};
    ASSERT_TRUE(system_ca.open(url, 0).ok());
    EXPECT_EQ(drain(system_ca, 4096).status, Status::fetch_refused);
}

TEST(CurlByteSource, WrongHostNameFailsVerificationAsRefused) {
    // The lab's certificate names 127.0.0.1 and localhost; 127.0.0.2 reaches the same loopback
    // interface through a listener of this test that forwards the bytes to nginx.
    const auto& lab = Lab::get();
    publish("fetch/host.bin", 4096, 12);
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7F000002);  // 127.0.0.2
    a.sin_port = 0;
    socklen_t len = sizeof a;
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(fd, 4), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    std::atomic<int> accepted{0};
    std::thread relay([&] {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 10000) <= 0) return;
        const int in = ::accept(fd, nullptr, nullptr);
        if (in < 0) return;
        ++accepted;
        const int out = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in t{};
        t.sin_family = AF_INET;
        t.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        t.sin_port = htons(lab.https_port);
        if (::connect(out, reinterpret_cast<sockaddr*>(&t), sizeof t) == 0) {
            pollfd ps[2] = {{in, POLLIN, 0}, {out, POLLIN, 0}};
            char buf[16384];
            for (bool open = true; open && ::poll(ps, 2, 10000) > 0;) {
                for (int i = 0; i < 2 && open; ++i) {
                    if (ps[i].revents == 0) continue;
                    const ssize_t n = ::recv(ps[i].fd, buf, sizeof buf, 0);
                    open = n > 0 && ::send(ps[1 - i].fd, buf, static_cast<std::size_t>(n),
                                           MSG_NOSIGNAL) == n;
                }
            }
        }
        ::close(out);
        ::close(in);
    });
    CurlByteSource src(lab_http_options());
    ASSERT_TRUE(
        src.open("https://127.0.0.2:" + std::to_string(ntohs(a.sin_port)) + "/fetch/host.bin", 0)
            .ok());
    const Drained d = drain(src, 4096);
    relay.join();
    ::close(fd);
    EXPECT_EQ(accepted.load(), 1);
    EXPECT_EQ(d.status, Status::fetch_refused);
    EXPECT_TRUE(d.bytes.empty());
    const std::string detail = src.last_error_detail();
    EXPECT_NE(detail.find("TLS verification failed: "), std::string::npos) << detail;
    EXPECT_NE(detail.find("127.0.0.2"), std::string::npos) << detail;
}

TEST(CurlByteSource, InsecureSkipVerifyConnectsAndWarns) {
    const auto& lab = Lab::get();
    const auto data = publish("fetch/insecure.bin", 10000, 5);
    std::vector<std::string> warnings;
    std::mutex mu;
    set_log_sink([&](LogLevel level, std::string_view msg) {
        std::lock_guard<std::mutex> lock(mu);
        if (level == LogLevel::warning) warnings.emplace_back(msg);
    });
    HttpOptions o;
    o.ca_file = lab.other_ca_file;
    o.insecure_skip_verify = true;
    {
        CurlByteSource src(o);
        ASSERT_TRUE(src.open(lab.https_url("fetch/insecure.bin"), 0).ok());
        const Drained d = drain(src, 4096);
        EXPECT_EQ(d.status, Status::ok) << src.last_error_detail();
        EXPECT_TRUE(d.bytes == data);
    }
    set_log_sink({});
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("insecure_skip_verify"), std::string::npos);
}

TEST(CurlByteSource, PlainHttpOnlyWhenAllowed) {
    const auto& lab = Lab::get();
    const auto data = publish("fetch/plain.bin", 300000, 6);
    CurlByteSource strict(lab_http_options());
    const Error e = strict.open(lab.http_url("fetch/plain.bin"), 0);
    EXPECT_EQ(e.status, Status::invalid_argument);
    EXPECT_NE(e.detail.find("allow_http"), std::string::npos) << e.detail;
    EXPECT_EQ(strict.last_error_detail(), e.detail);
    std::uint8_t b[16];
    EXPECT_EQ(strict.read(b, sizeof b, 10ms).status, Status::invalid_state);

    HttpOptions o = lab_http_options();
    o.allow_http = true;
    CurlByteSource relaxed(o);
    ASSERT_TRUE(relaxed.open(lab.http_url("fetch/plain.bin"), 0).ok());
    const Drained d = drain(relaxed, 8192);
    EXPECT_EQ(d.status, Status::ok) << relaxed.last_error_detail();
    EXPECT_TRUE(d.end);
    EXPECT_TRUE(d.bytes == data);
    EXPECT_EQ(relaxed.http_status(), 200);
}

TEST(CurlByteSource, MalformedUrlsAreRejectedByOpen) {
    CurlByteSource src(lab_http_options());
    for (const std::string& url :
         {std::string(), std::string("ftp://127.0.0.1/fw.bin"), std::string("127.0.0.1/fw.bin"),
          std::string("https://"), std::string("https://127.0.0.1/a b"),
          std::string("https://127.0.0.1:99999/fw.bin"),
          std::string("https://127.0.0.1/fw\0.bin", 25), std::string("file:///etc/passwd")}) {
        SCOPED_TRACE(url);
        const Error e = src.open(url, 0);
        EXPECT_EQ(e.status, Status::invalid_argument);
        EXPECT_FALSE(e.detail.empty());
    }
    const Error e = src.open(std::string("gopher://127.0.0.1/x?") + kSecret, 0);
    EXPECT_EQ(e.status, Status::invalid_argument);
    EXPECT_EQ(e.detail.find("TOPSECRET"), std::string::npos) << e.detail;
}

TEST(CurlByteSource, OptionsOutOfRangeAreRefusedByOpenNotClamped) {
    const auto& lab = Lab::get();
    publish("fetch/options.bin", 1000, 11);
    const struct {
        const char* field;
        void (*spoil)(HttpOptions&);
    } cases[] = {
        {"buffer_size", [](HttpOptions& o) { o.buffer_size = HttpOptions::kMinBufferSize - 1; }},
        {"buffer_size", [](HttpOptions& o) { o.buffer_size = HttpOptions::kMaxBufferSize + 1; }},
        {"connect_timeout", [](HttpOptions& o) { o.connect_timeout = 99ms; }},
        {"connect_timeout", [](HttpOptions& o) { o.connect_timeout = 120001ms; }},
        {"low_speed_window", [](HttpOptions& o) { o.low_speed_window = 0s; }},
        {"low_speed_window", [](HttpOptions& o) { o.low_speed_window = 3601s; }},
        {"max_redirects", [](HttpOptions& o) { o.max_redirects = -1; }},
        {"max_redirects", [](HttpOptions& o) { o.max_redirects = 21; }},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.field);
        HttpOptions o = lab_http_options();
        c.spoil(o);
        const Error expected = o.validate();
        ASSERT_EQ(expected.status, Status::invalid_argument);
        CurlByteSource src(o);
        const Error e = src.open(lab.https_url("fetch/options.bin"), 0);
        EXPECT_EQ(e.status, Status::invalid_argument);
        EXPECT_EQ(e.detail, expected.detail);
        EXPECT_NE(e.detail.find(std::string("HttpOptions::") + c.field), std::string::npos)
            << e.detail;
        EXPECT_EQ(src.last_error_detail(), e.detail);
        std::uint8_t b[4];
        EXPECT_EQ(src.read(b, sizeof b, 10ms).status, Status::invalid_state);
    }
    // The bounds themselves are accepted and fetch.
    HttpOptions edge = lab_http_options();
    edge.buffer_size = HttpOptions::kMinBufferSize;
    edge.connect_timeout = HttpOptions::kMaxConnectTimeout;
    edge.low_speed_window = HttpOptions::kMaxLowSpeedWindow;
    edge.max_redirects = HttpOptions::kMaxRedirectsLimit;
    CurlByteSource src(edge);
    ASSERT_TRUE(src.open(lab.https_url("fetch/options.bin"), 0).ok());
    const Drained d = drain(src, 4096);
    EXPECT_EQ(d.status, Status::ok) << src.last_error_detail();
    EXPECT_EQ(d.bytes.size(), 1000u);
}

TEST(CurlByteSource, ReadBeforeOpenIsInvalidState) {
    CurlByteSource src(lab_http_options());
    std::uint8_t b[4];
    EXPECT_EQ(src.read(b, sizeof b, 0ms).status, Status::invalid_state);
    EXPECT_EQ(src.http_status(), 0);
    src.close();
    src.close();
}

TEST(CurlByteSource, LongSignedUrlIsFetched) {
    const auto& lab = Lab::get();
    const auto data = publish("fetch/long.bin", 100000, 7);
    std::string url = lab.https_url("fetch/long.bin") + "?Expires=1&Signature=";
    while (url.size() < 8192 + 100) url += "AbCdEfGh";
    CurlByteSource src(lab_http_options());
    ASSERT_TRUE(src.open(url, 0).ok());
    const Drained d = drain(src, 8192);
    EXPECT_EQ(d.status, Status::ok) << src.last_error_detail();
    EXPECT_EQ(src.http_status(), 200);
    EXPECT_TRUE(d.bytes == data);

    // The same URL (and a 64-bit offset) sent from a resumed download: still intact.
    ASSERT_TRUE(src.open(url, 99999).ok());
    const Drained tail = drain(src, 8192);
    EXPECT_EQ(src.http_status(), 206);
    ASSERT_EQ(tail.bytes.size(), 1u);
    EXPECT_EQ(tail.bytes[0], data.back());
}

TEST(CurlByteSource, CloseMidTransferIsPromptAndReopenFromOffsetContinues) {
    const auto& lab = Lab::get();
    const auto data = publish("fetch/big.bin", 32 * 1024 * 1024, 8);
    HttpOptions o = lab_http_options();
    o.buffer_size = 64 * 1024;
    CurlByteSource src(o);
    ASSERT_TRUE(src.open(lab.https_url("fetch/big.bin"), 0).ok());
    const Drained first = drain(src, 10000, 1024 * 1024 + 123);
    ASSERT_EQ(first.status, Status::ok);
    ASSERT_EQ(first.bytes.size(), 1024u * 1024 + 123);
    const auto t0 = Clock::now();
    src.close();
    EXPECT_LT(Clock::now() - t0, 5s);
    std::uint8_t b[4];
    EXPECT_EQ(src.read(b, sizeof b, 0ms).status, Status::invalid_state);

    ASSERT_TRUE(src.open(lab.https_url("fetch/big.bin"), first.bytes.size()).ok());
    const Drained rest = drain(src, 256 * 1024);
    EXPECT_EQ(rest.status, Status::ok) << src.last_error_detail();
    EXPECT_TRUE(rest.end);
    EXPECT_EQ(src.http_status(), 206);
    std::vector<std::uint8_t> joined = first.bytes;
    joined.insert(joined.end(), rest.bytes.begin(), rest.bytes.end());
    EXPECT_TRUE(joined == data) << "joined " << joined.size() << " of " << data.size();

    // Re-opening while a transfer is still running replaces it.
    ASSERT_TRUE(src.open(lab.https_url("fetch/big.bin"), 0).ok());
    ASSERT_EQ(drain(src, 4096, 4096).bytes.size(), 4096u);
    ASSERT_TRUE(src.open(lab.https_url("fetch/big.bin"), data.size() - 10).ok());
    const Drained last = drain(src, 4096);
    EXPECT_TRUE(last.end);
    EXPECT_TRUE(std::equal(last.bytes.begin(), last.bytes.end(), data.end() - 10) &&
                last.bytes.size() == 10);
    // Destroying a source in the middle of a transfer is just as prompt.
    {
        CurlByteSource busy(o);
        ASSERT_TRUE(busy.open(lab.https_url("fetch/big.bin"), 0).ok());
        ASSERT_EQ(drain(busy, 1000, 1000).bytes.size(), 1000u);
        std::this_thread::sleep_for(50ms);  // let the ring fill and the transfer block
    }
}

TEST(CurlByteSource, SlowConsumerWithSmallBufferGetsEveryByte) {
    const auto& lab = Lab::get();
    const auto data = publish("fetch/slow.bin", 512 * 1024 + 1, 9);
    HttpOptions o = lab_http_options();
    o.buffer_size = HttpOptions::kMinBufferSize;  // the smallest ring allowed
    CurlByteSource src(o);
    ASSERT_TRUE(src.open(lab.https_url("fetch/slow.bin"), 0).ok());
    const Drained d = drain(src, 3000, SIZE_MAX, 2ms);
    EXPECT_EQ(d.status, Status::ok) << src.last_error_detail();
    EXPECT_TRUE(d.end);
    EXPECT_TRUE(d.bytes == data) << "got " << d.bytes.size() << " of " << data.size();
}

TEST(CurlByteSource, ReadTimesOutWhileServerStallsAndCloseInterruptsIt) {
    Listener silent;  // completes TCP handshakes but never answers the TLS hello
    CurlByteSource src(lab_http_options());
    ASSERT_TRUE(src.open("https://127.0.0.1:" + std::to_string(silent.port()) + "/fw.bin", 0).ok());
    std::uint8_t b[64];
    const auto t0 = Clock::now();
    const ReadResult r = src.read(b, sizeof b, 300ms);
    const auto waited = Clock::now() - t0;
    EXPECT_EQ(r.status, Status::ok);
    EXPECT_EQ(r.bytes, 0u);
    EXPECT_FALSE(r.end_of_body);
    EXPECT_GE(waited, 250ms);
    EXPECT_LT(waited, 5s);
    EXPECT_EQ(src.http_status(), 0);
    const auto t1 = Clock::now();
    src.close();
    EXPECT_LT(Clock::now() - t1, 5s);
}

TEST(CurlByteSource, ConnectTimeoutIsReportedAsTimeout) {
    Listener silent;
    HttpOptions o = lab_http_options();
    o.connect_timeout = 500ms;
    CurlByteSource src(o);
    ASSERT_TRUE(src.open("https://127.0.0.1:" + std::to_string(silent.port()) + "/fw.bin", 0).ok());
    const auto t0 = Clock::now();
    const Drained d = drain(src, 64);
    EXPECT_EQ(d.status, Status::timeout);
    EXPECT_LT(Clock::now() - t0, 30s);
    EXPECT_FALSE(src.last_error_detail().empty());
}

TEST(CurlByteSource, RequestAsksForNoCompressionAndSendsTheRange) {
    const std::string body = "0123456789";
    ScriptedServer server(
        {"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 3-9/10\r\n"
         "Content-Length: 7\r\n\r\n" +
         body.substr(3)});
    HttpOptions o;
    o.allow_http = true;
    CurlByteSource src(o);
    ASSERT_TRUE(src.open(server.url("/fw.bin"), 3).ok());
    const Drained d = drain(src, 64);
    EXPECT_EQ(d.status, Status::ok) << src.last_error_detail();
    EXPECT_EQ(std::string(d.bytes.begin(), d.bytes.end()), "3456789");
    EXPECT_EQ(src.http_status(), 206);
    EXPECT_EQ(src.content_range(), "bytes 3-9/10");
    const auto reqs = server.requests();
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(reqs[0].rfind("GET /fw.bin HTTP/1.1\r\n", 0), 0u) << reqs[0];
    EXPECT_EQ(header_of(reqs[0], "Range"), "bytes=3-") << reqs[0];
    EXPECT_FALSE(has_header(reqs[0], "Accept-Encoding")) << reqs[0];
}

// Reads one attempt to its end and returns every ReadResult::head seen (copied), in order.
std::vector<ResponseHead> heads_of_attempt(ByteSource& src, std::size_t chunk,
                                           std::string* body = nullptr) {
    std::vector<ResponseHead> heads;
    std::vector<std::uint8_t> buf(chunk);
    const auto deadline = Clock::now() + 60s;
    while (Clock::now() < deadline) {
        const ReadResult r = src.read(buf.data(), buf.size(), 1000ms);
        if (r.head != nullptr) heads.push_back(*r.head);
        if (r.status != Status::ok) break;
        if (body != nullptr) body->append(buf.begin(), buf.begin() + static_cast<long>(r.bytes));
        if (r.end_of_body) {
            // Later results of the same attempt never carry the head again.
            const ReadResult again = src.read(buf.data(), buf.size(), 10ms);
            EXPECT_EQ(again.head, nullptr);
            EXPECT_TRUE(again.end_of_body);
            break;
        }
    }
    return heads;
}

TEST(CurlByteSource, ResponseHeadComesOnceWithTheFirstBytesOrTheEndOfEachAttempt) {
    ScriptedServer server(
        {"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n",
         "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 3-9/10\r\n"
         "Content-Length: 7\r\n\r\n3456789",
         "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"});
    HttpOptions o;
    o.allow_http = true;
    CurlByteSource src(o);

    // A bodiless 503: the head comes with end_of_body.
    ASSERT_TRUE(src.open(server.url("/fw.bin"), 3).ok());
    std::vector<ResponseHead> heads = heads_of_attempt(src, 4);
    ASSERT_EQ(heads.size(), 1u);
    EXPECT_EQ(heads[0].http_status, 503);
    EXPECT_EQ(heads[0].retry_after, std::optional<std::chrono::seconds>(7s));
    EXPECT_EQ(heads[0].content_length, std::optional<std::uint64_t>(0));
    EXPECT_TRUE(heads[0].content_range.empty());
    EXPECT_EQ(src.http_status(), 503);  // the old getters keep working meanwhile

    // A 206 read in 2-byte steps: the head comes with the first bytes only.
    ASSERT_TRUE(src.open(server.url("/fw.bin"), 3).ok());
    std::string body;
    heads = heads_of_attempt(src, 2, &body);
    EXPECT_EQ(body, "3456789");
    ASSERT_EQ(heads.size(), 1u);
    EXPECT_EQ(heads[0].http_status, 206);
    EXPECT_EQ(heads[0].content_range, "bytes 3-9/10");
    EXPECT_EQ(heads[0].content_length, std::optional<std::uint64_t>(7));
    EXPECT_EQ(heads[0].retry_after, std::nullopt);  // the 503's value is not carried over
    EXPECT_EQ(src.content_range(), "bytes 3-9/10");

    // A new attempt on the same source gets its own head again.
    ASSERT_TRUE(src.open(server.url("/fw.bin"), 0).ok());
    body.clear();
    heads = heads_of_attempt(src, 64, &body);
    EXPECT_EQ(body, "0123456789");
    ASSERT_EQ(heads.size(), 1u);
    EXPECT_EQ(heads[0].http_status, 200);
    EXPECT_TRUE(heads[0].content_range.empty());
    EXPECT_EQ(heads[0].content_length, std::optional<std::uint64_t>(10));
}

TEST(CurlByteSource, NoResponseHeadWhenTheAttemptFailsBeforeAnyResponse) {
    CurlByteSource src(lab_http_options());
    ASSERT_TRUE(src.open("https://127.0.0.1:" + std::to_string(closed_port()) + "/fw.bin", 0).ok());
    EXPECT_TRUE(heads_of_attempt(src, 64).empty());
}

TEST(CurlByteSource, HeadersAreThoseOfTheFinalResponseAfterRedirects) {
    const auto& lab = Lab::get();
    const auto data = publish("fetch/redirected.bin", 50000, 10);
    ScriptedServer server(
        {"HTTP/1.1 302 Found\r\nLocation: " + lab.https_url("fetch/redirected.bin") +
         "\r\nContent-Range: bytes 0-0/1\r\nContent-Length: 0\r\n\r\n"});
    HttpOptions o = lab_http_options();
    o.allow_http = true;
    CurlByteSource src(o);
    ASSERT_TRUE(src.open(server.url("/start"), 0).ok());
    const Drained d = drain(src, 8192);
    EXPECT_EQ(d.status, Status::ok) << src.last_error_detail();
    EXPECT_TRUE(d.bytes == data);
    EXPECT_EQ(src.http_status(), 200);
    EXPECT_TRUE(src.content_range().empty()) << src.content_range();
    EXPECT_EQ(src.content_length(), std::optional<std::uint64_t>(data.size()));
}

TEST(CurlByteSource, RedirectLoopsStopAtMaxRedirects) {
    ScriptedServer server({"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n"});
    HttpOptions o;
    o.allow_http = true;
    o.max_redirects = 2;
    CurlByteSource src(o);
    ASSERT_TRUE(src.open(server.url("/start"), 0).ok());
    const Drained d = drain(src, 64);
    EXPECT_EQ(d.status, Status::fetch_failed);
    EXPECT_TRUE(d.bytes.empty());
    EXPECT_EQ(server.requests().size(), 3u);
}

TEST(CurlByteSource, RedirectToARefusedSchemeIsRefused) {
    const auto& lab = Lab::get();
    // https -> plain http while http is off: nginx answers /redirect/to-http with a 302.
    CurlByteSource strict(lab_http_options());
    ASSERT_TRUE(strict.open(lab.https_url("redirect/to-http?") + kSecret, 0).ok());
    Drained d = drain(strict, 4096);
    EXPECT_EQ(d.status, Status::fetch_refused);
    EXPECT_TRUE(d.bytes.empty());
    std::string detail = strict.last_error_detail();
    EXPECT_NE(detail.find("redirect to " + lab.http_url("redirect/target.bin") +
                          " refused: only https is allowed (HttpOptions::allow_http is off)"),
              std::string::npos)
        << detail;
    EXPECT_EQ(detail.find("TOPSECRET"), std::string::npos) << detail;

    // Schemes that are never fetched, even with plain http allowed.
    for (const std::string& target : {std::string("ftp://127.0.0.1/fw.bin?token=OTHERSECRET"),
                                      std::string("file:///etc/passwd")}) {
        SCOPED_TRACE(target);
        ScriptedServer server(
            {"HTTP/1.1 302 Found\r\nLocation: " + target + "\r\nContent-Length: 0\r\n\r\n"});
        HttpOptions o;
        o.allow_http = true;
        CurlByteSource src(o);
        ASSERT_TRUE(src.open(server.url("/fw.bin"), 0).ok());
        d = drain(src, 64);
        EXPECT_EQ(d.status, Status::fetch_refused);
        EXPECT_TRUE(d.bytes.empty());
        detail = src.last_error_detail();
        EXPECT_NE(detail.find("refused: only https and http are allowed"), std::string::npos)
            << detail;
        EXPECT_NE(detail.find("redirect to " + target.substr(0, target.find('?'))),
                  std::string::npos)
            << detail;
        EXPECT_EQ(detail.find("OTHERSECRET"), std::string::npos) << detail;
        EXPECT_EQ(server.requests().size(), 1u);
    }
}

// A response head that will not be smaller on the next attempt: refused with a clear reason,
// whether one line passes libcurl's own limit or many lines add up past the source's.
TEST(CurlByteSource, OversizedResponseHeadIsRefusedAsTooLarge) {
    const std::string one_line = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(300 * 1024, 'a') +
                                 "\r\nContent-Length: 5\r\n\r\nhello";
    std::string many_lines = "HTTP/1.1 200 OK\r\n";
    for (int i = 0; i < 300; ++i) {
        many_lines += "X-H" + std::to_string(i) + ": " + std::string(1000, 'b') + "\r\n";
    }
    many_lines += "Content-Length: 5\r\n\r\nhello";
    for (const auto& [name, response] :
         {std::pair<std::string, std::string>{"one 300 KB line", one_line},
          std::pair<std::string, std::string>{"300 lines of 1 KB", many_lines}}) {
        SCOPED_TRACE(name);
        ScriptedServer server({response});
        HttpOptions o;
        o.allow_http = true;
        CurlByteSource src(o);
        ASSERT_TRUE(src.open(server.url("/fw.bin?") + kSecret, 0).ok());
        const Drained d = drain(src, 64);
        EXPECT_EQ(d.status, Status::fetch_refused);
        EXPECT_TRUE(d.bytes.empty());
        const std::string detail = src.last_error_detail();
        EXPECT_NE(detail.find("failed: response header too large ("), std::string::npos) << detail;
        EXPECT_EQ(detail.find("TOPSECRET"), std::string::npos) << detail;
    }

    // Large but below the limit (60 lines of 1 KB): fetched as usual.
    std::string large = "HTTP/1.1 200 OK\r\n";
    for (int i = 0; i < 60; ++i) {
        large += "X-H" + std::to_string(i) + ": " + std::string(1000, 'c') + "\r\n";
    }
    ScriptedServer server({large + "Content-Length: 5\r\n\r\nhello"});
    HttpOptions o;
    o.allow_http = true;
    CurlByteSource src(o);
    ASSERT_TRUE(src.open(server.url("/fw.bin"), 0).ok());
    const Drained d = drain(src, 64);
    EXPECT_EQ(d.status, Status::ok) << src.last_error_detail();
    EXPECT_EQ(std::string(d.bytes.begin(), d.bytes.end()), "hello");
}

TEST(CurlByteSource, ChunkedBodyWithoutContentLength) {
    ScriptedServer server(
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"});
    HttpOptions o;
    o.allow_http = true;
    CurlByteSource src(o);
    ASSERT_TRUE(src.open(server.url("/fw.bin"), 0).ok());
    const Drained d = drain(src, 3);
    EXPECT_EQ(d.status, Status::ok) << src.last_error_detail();
    EXPECT_TRUE(d.end);
    EXPECT_EQ(std::string(d.bytes.begin(), d.bytes.end()), "hello world");
    EXPECT_EQ(src.content_length(), std::nullopt);
}

TEST(CurlByteSource, TruncatedBodyFailsAfterDeliveringWhatArrived) {
    ScriptedServer server(
        {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n"
         "only-twenty-bytes..."});
    HttpOptions o;
    o.allow_http = true;
    CurlByteSource src(o);
    ASSERT_TRUE(src.open(server.url("/fw.bin"), 0).ok());
    const Drained d = drain(src, 64);
    EXPECT_EQ(d.status, Status::fetch_failed);
    EXPECT_EQ(std::string(d.bytes.begin(), d.bytes.end()), "only-twenty-bytes...");
    EXPECT_FALSE(src.last_error_detail().empty());
}

}  // namespace
}  // namespace ota
