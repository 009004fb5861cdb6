// The console's two servers and what it advertises (review items 1, 2, 10, 11, 16, 17): firmware
// files on a port and a thread pool of their own (downloads never take the API's threads), the
// public URL in signed URLs and in the generated certificate, options refused at construction,
// bodies refused from their headers before they are sent (JSON routes above 16 MiB, an upload of
// a version stored already), and the device page reading only its newest tasks.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <thread>

#include "api_fixture.hpp"
#include "http/request.hpp"
#include "http/tls_cert.hpp"
#include "http/token.hpp"

namespace console::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

/// What a POST with "Expect: 100-continue" through libcurl gave.
struct CurlPost {
    long status = 0;
    std::string answer;
    std::size_t sent = 0;  ///< body bytes curl sent
};

/// POSTs `total` bytes of 'x' to `url` as curl does with large bodies (Expect: 100-continue).
CurlPost post_expecting_continue(const std::string& url, const std::string& ca, std::size_t total,
                                 const char* content_type) {
    struct Body {
        std::size_t total;
        std::size_t sent = 0;
    } body{total};
    CurlPost out;
    CURL* curl = curl_easy_init();
    curl_slist* headers = curl_slist_append(nullptr, "Expect: 100-continue");
    headers = curl_slist_append(headers, (std::string("Authorization: Bearer ") + kToken).c_str());
    headers = curl_slist_append(headers, (std::string("Content-Type: ") + content_type).c_str());
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CAINFO, ca.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(total));
    curl_easy_setopt(curl, CURLOPT_EXPECT_100_TIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_READDATA, &body);
    curl_easy_setopt(
        curl, CURLOPT_READFUNCTION,
        +[](char* buf, std::size_t size, std::size_t n, void* p) -> std::size_t {
            auto* b = static_cast<Body*>(p);
            const std::size_t len = std::min(size * n, b->total - b->sent);
            std::memset(buf, 'x', len);
            b->sent += len;
            return len;
        });
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out.answer);
    curl_easy_setopt(
        curl, CURLOPT_WRITEFUNCTION,
        +[](char* buf, std::size_t size, std::size_t n, void* p) -> std::size_t {
            static_cast<std::string*>(p)->append(buf, size * n);
            return size * n;
        });
    EXPECT_EQ(curl_easy_perform(curl), CURLE_OK);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out.status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    out.sent = body.sent;
    return out;
}

/// The path and query of a URL ("https://host:port/files/..." -> "/files/...").
std::string path_of(const std::string& url) {
    return url.substr(url.find('/', url.find("://") + 3));
}

class SplitServerTest : public ApiFixture {
  protected:
    void customize(HttpOptions& o) override {
        o.threads = 2;
        o.files_threads = 2;
    }
    /// A stored file of `size` bytes (sparse: zeros) and a firmware record pointing at it.
    Firmware big_file(std::size_t size) {
        Firmware f;
        f.id = 1;
        f.sha256 = std::string(64, 'b');
        std::filesystem::resize_file(
            (std::ofstream(data_dir_ + "/files/" + f.sha256), data_dir_ + "/files/" + f.sha256),
            size);
        return f;
    }
};

TEST_F(SplitServerTest, FilesAreServedOnTheirOwnPortOnly) {
    const Firmware f = big_file(1000);
    EXPECT_NE(server_->files_port(), server_->port());
    EXPECT_EQ(server_->files_base_url(),
              "https://127.0.0.1:" + std::to_string(server_->files_port()));
    const std::string url = signer_->url_for(f);
    ASSERT_EQ(url.rfind(server_->files_base_url() + "/files/" + f.sha256 + "?fw=1&", 0), 0U) << url;
    auto r = files_client()->Get(path_of(url).c_str());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, std::string(1000, '\0'));
    // Not on the API's port; and the files server answers nothing but files.
    EXPECT_API_ERROR(client(false)->Get(path_of(url).c_str()), 404, "not_found", "/files/");
    EXPECT_API_ERROR(files_client()->Get("/api/v1/health"), 404, "not_found", "only serves");
}

TEST_F(SplitServerTest, DownloadsInProgressDoNotStarveTheApi) {
    const Firmware f = big_file(512ULL * 1024 * 1024);
    const std::string path = path_of(signer_->url_for(f));
    // As many stalled downloads as the files server (and, before the split, the whole server)
    // has threads: each reader takes one piece and then waits.
    std::mutex mutex;
    std::condition_variable cv;
    int started = 0;
    bool release = false;
    std::vector<std::thread> readers;
    for (int i = 0; i < 2; ++i) {
        readers.emplace_back([&] {
            auto c = files_client();
            (void)c->Get(path.c_str(), [&](const char*, std::size_t) {
                std::unique_lock<std::mutex> lock(mutex);
                ++started;
                cv.notify_all();
                cv.wait_for(lock, 20s, [&] { return release; });
                return false;
            });
        });
    }
    {
        std::unique_lock<std::mutex> lock(mutex);
        ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return started >= 2; }));
    }
    auto api = client();
    api->set_read_timeout(3);
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = api->Get("/api/v1/firmware");
    EXPECT_TRUE(r) << "the API did not answer while two downloads were stalled";
    if (r) {
        EXPECT_EQ(r->status, 200);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
    {
        const std::lock_guard<std::mutex> lock(mutex);
        release = true;
    }
    cv.notify_all();
    for (auto& t : readers) t.join();
}

class IdleClientTest : public ApiFixture {
  protected:
    void customize(HttpOptions& o) override {
        o.threads = 2;
        o.io_timeout_s = 1;
    }
};

/// Connections that send nothing (dead or slow clients) hold a thread only until the I/O
/// timeout: with every API thread taken by one, the API answers again a second later.
TEST_F(IdleClientTest, SilentConnectionsFreeTheirThreads) {
    std::vector<int> silent;
    for (int i = 0; i < 2; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        ASSERT_GE(fd, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(server_->port()));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        silent.push_back(fd);
    }
    std::this_thread::sleep_for(200ms);  // both accepted, each on a thread
    auto c = client();
    c->set_read_timeout(6);
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = c->Get("/api/v1/health");
    ASSERT_TRUE(r) << "the API did not answer while silent connections were open";
    EXPECT_EQ(r->status, 200);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
    for (const int fd : silent) ::close(fd);
}

/// A JSON route refuses a body above 16 MiB from its Content-Length, before curl sends it.
TEST_F(SplitServerTest, OversizeJsonBodyIsRefusedBeforeItIsSent) {
    const json before = snapshot();
    const CurlPost r =
        post_expecting_continue(server_->base_url() + "/api/v1/devices", server_->tls_cert_file(),
                                http::kMaxJsonBody + 1, "application/json");
    EXPECT_EQ(r.status, 413) << r.answer;
    EXPECT_EQ(json::parse(r.answer, nullptr, false).value("code", ""), "payload_too_large");
    EXPECT_EQ(r.sent, 0U);
    EXPECT_EQ(snapshot(), before);
}

/// An upload of a version stored already is a 409 before its image is sent.
TEST_F(SplitServerTest, UploadOfAStoredVersionIsRefusedBeforeTheBody) {
    ASSERT_EQ(upload("first image", "product_key=pk&version=1.0.0")->status, 201);
    const json before = snapshot();
    const CurlPost r = post_expecting_continue(
        server_->base_url() + "/api/v1/firmware?product_key=pk&version=1.0.0",
        server_->tls_cert_file(), 2 * 1024 * 1024, "application/octet-stream");
    EXPECT_EQ(r.status, 409) << r.answer;
    EXPECT_NE(r.answer.find("exists already"), std::string::npos) << r.answer;
    EXPECT_EQ(r.sent, 0U);
    EXPECT_EQ(snapshot(), before);
    // Another module at the same version is not a conflict.
    EXPECT_EQ(upload("other image", "product_key=pk&version=1.0.0&module=mcu")->status, 201);
}

#ifndef OTA_HTTP_TEST_SQLITE  // counts the MemoryStore's queries
TEST_F(SplitServerTest, DevicePageReadsOnlyTheNewestTasks) {
    ASSERT_EQ(
        client()
            ->Post("/api/v1/devices", R"({"devices":[{"product_key":"pk","device_name":"d"}]})",
                   "application/json")
            ->status,
        200);
    std::vector<Task> tasks(150);
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        tasks[i].rollout_id = 1;
        tasks[i].device = DeviceKey{"pk", "d"};
        tasks[i].state = TaskState::succeeded;
        tasks[i].attempt = static_cast<std::uint32_t>(i);
    }
    store_->add_tasks(tasks);
    auto& locked = dynamic_cast<LockedStore&>(*store_);
    const int calls = locked.device_tasks_calls.load();
    const auto r = client()->Get("/api/v1/devices/pk/d");
    ASSERT_EQ(r->status, 200) << r->body;
    const json page = body_of(r);
    ASSERT_EQ(page["tasks"].size(), 100U);
    EXPECT_EQ(page["tasks"][0]["id"], tasks.back().id);
    EXPECT_EQ(page["tasks"][99]["id"], tasks[50].id);
    EXPECT_EQ(locked.device_tasks_calls.load(), calls + 1);
}
#endif

class PublicUrlTest : public ApiFixture {
  protected:
    void customize(HttpOptions& o) override { o.public_url = "https://console.example:8443/"; }
};

TEST_F(PublicUrlTest, AdvertisedInSignedUrlsAndNamedByTheCertificate) {
    EXPECT_EQ(server_->base_url(), "https://console.example:8443");
    EXPECT_EQ(server_->files_base_url(),
              "https://console.example:" + std::to_string(server_->files_port()));
    Firmware f;
    f.id = 2;
    f.sha256 = std::string(64, 'c');
    EXPECT_EQ(signer_->url_for(f).rfind(server_->files_base_url() + "/files/", 0), 0U);
    EXPECT_TRUE(certificate_names(server_->tls_cert_file(), "console.example"));
    EXPECT_TRUE(certificate_names(server_->tls_cert_file(), "127.0.0.1"));
    EXPECT_FALSE(certificate_names(server_->tls_cert_file(), "other.example"));
    // Local clients still verify it.
    EXPECT_EQ(client()->Get("/api/v1/health")->status, 200);
}

#ifndef OTA_HTTP_TEST_SQLITE  // store-independent: once is enough
TEST(ApiServerOptions, RefusesWildcardBindWithoutPublicUrlAndPlainHttpFiles) {
    char dir[] = "/tmp/ota_console_opts_XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    LockedStore store;
    FakeClock clock;
    RecordingPublisher publisher;
    Metrics metrics;
    Engine engine(store, clock, publisher, [](const Firmware&) { return std::string(); });
    const auto refused = [&](HttpOptions o, const std::string& mention) {
        o.data_dir = dir;
        o.token = kToken;
        o.port = 0;
        try {
            ApiServer server(store, engine, metrics, clock, o);
            ADD_FAILURE() << "accepted; expected a refusal mentioning " << mention;
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find(mention), std::string::npos) << e.what();
        }
    };
    HttpOptions o;
    o.bind = "0.0.0.0";
    refused(o, "--public-url");
    o.bind = "::";
    refused(o, "--public-url");
    o = HttpOptions{};
    o.public_url = "console.example:8443";
    refused(o, "--public-url");
    o = HttpOptions{};
    o.public_base_url = "http://cdn.example/ota";
    refused(o, "--allow-http-files");
    o.allow_http_files = true;
    o.data_dir = dir;
    o.token = kToken;
    EXPECT_NO_THROW(ApiServer(store, engine, metrics, clock, o));
    // With --public-url a wildcard bind is fine; a separate files URL is used as given.
    o = HttpOptions{};
    o.data_dir = dir;
    o.token = kToken;
    o.port = 0;
    o.bind = "0.0.0.0";
    o.public_url = "https://console.example:8443";
    o.public_files_url = "https://files.example/";
    ApiServer server(store, engine, metrics, clock, o);
    server.start();
    EXPECT_EQ(server.files_base_url(), "https://files.example");
    EXPECT_EQ(server.url_signer().base(), "https://files.example");
    EXPECT_TRUE(certificate_names(server.tls_cert_file(), "files.example"));
    server.stop();
    std::filesystem::remove_all(dir);
}

TEST(TlsCertificate, KeptUntilANewHostIsNeeded) {
    char dir[] = "/tmp/ota_console_cert_XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    const std::string tls = std::string(dir) + "/tls";
    const TlsFiles first = ensure_self_signed_certificate(tls);
    const std::string pem = read_small_file(first.cert_file, 65536);
    EXPECT_FALSE(certificate_names(first.cert_file, "console.example"));
    // Same hosts: the same certificate (clients that pinned it keep working).
    (void)ensure_self_signed_certificate(tls, {"127.0.0.1"});
    EXPECT_EQ(read_small_file(first.cert_file, 65536), pem);
    // A new public host: regenerated, naming it (and still 127.0.0.1).
    (void)ensure_self_signed_certificate(tls, {"console.example", "192.0.2.7"});
    EXPECT_NE(read_small_file(first.cert_file, 65536), pem);
    EXPECT_TRUE(certificate_names(first.cert_file, "console.example"));
    EXPECT_TRUE(certificate_names(first.cert_file, "192.0.2.7"));
    EXPECT_TRUE(certificate_names(first.cert_file, "127.0.0.1"));
    EXPECT_THROW((void)ensure_self_signed_certificate(tls, {"bad host"}), std::runtime_error);
    std::filesystem::remove_all(dir);
}

TEST(UrlSignerTest, SharedSecretSignsAlikeEverywhere) {
    FakeClock clock;
    const UrlSigner a(UrlSecret{std::string(64, 's')}, clock, 1000);
    const UrlSigner b(UrlSecret{std::string(64, 's')}, clock, 1000);
    const UrlSigner other(UrlSecret{std::string(64, 't')}, clock, 1000);
    const std::string sha(64, 'a');
    const Millis exp = clock.now() + 1000;
    EXPECT_EQ(b.check(sha, 3, exp, a.signature(sha, 3, exp)), UrlSigner::Check::ok);
    EXPECT_EQ(other.check(sha, 3, exp, a.signature(sha, 3, exp)), UrlSigner::Check::bad_signature);
    EXPECT_THROW(UrlSigner(UrlSecret{"short"}, clock, 1000), std::runtime_error);
    // The secret a store keeps is the one every console gets.
    LockedStore store;
    const std::string s1 = store.shared_secret(kUrlSecretSetting, [] { return random_hex(32); });
    const std::string s2 = store.shared_secret(kUrlSecretSetting, [] { return random_hex(32); });
    EXPECT_EQ(s1, s2);
}

TEST(UrlBaseTest, ParsesHostsAndPorts) {
    const auto a = parse_url_base("https://console.example:8443/x");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->scheme, "https");
    EXPECT_EQ(a->host, "console.example");
    EXPECT_EQ(a->port, 8443);
    const auto b = parse_url_base("http://[::1]");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->host, "::1");
    EXPECT_EQ(b->port, 0);
    for (const char* bad :
         {"", "console.example", "ftp://x", "https://", "https://:1", "https://u@h", "https://h:0",
          "https://h:70000", "https://h:", "https://[::1"}) {
        EXPECT_FALSE(parse_url_base(bad)) << bad;
    }
}
#endif

}  // namespace
}  // namespace console::test
