// Firmware upload and download over real HTTPS: streamed upload with size, MD5 and SHA-256,
// content-addressed storage, the upload limit, image signing in the SDK's format, and the
// signed file URLs (valid, expired, tampered, Range 206, bad range 416).
#include <curl/curl.h>

#include <cstring>
#include <fstream>
#include <random>

#include "api_fixture.hpp"
#include "http/image_signer.hpp"
#include "http/token.hpp"
#include "ota/digest.hpp"
#include "ota/signature.hpp"

namespace console::test {
namespace {

using nlohmann::json;

std::string image_of(std::size_t size, unsigned seed) {
    std::mt19937 rng(seed);
    std::string out(size, '\0');
    for (char& c : out) c = static_cast<char>(rng() & 0xff);
    return out;
}

std::string hex_digest(ota::DigestAlgorithm alg, const std::string& data) {
    std::string out;
    EXPECT_TRUE(
        ota::digest_hex(alg, reinterpret_cast<const std::uint8_t*>(data.data()), data.size(), out)
            .ok());
    return out;
}

/// The path and query of a URL ("https://host:port/files/..." -> "/files/...").
std::string path_of(const std::string& url) {
    const auto scheme = url.find("://");
    return url.substr(url.find('/', scheme + 3));
}

class FilesTest : public ApiFixture {
  protected:
    void customize(HttpOptions& o) override { o.max_upload_bytes = 256 * 1024; }

    Firmware uploaded(const std::string& image, const std::string& version) {
        const auto r = upload(image, "product_key=pk&version=" + version);
        EXPECT_TRUE(r);
        EXPECT_EQ(r->status, 201) << r->body;
        const auto f = store_->firmware(body_of(r)["id"].get<std::int64_t>());
        EXPECT_TRUE(f);
        return f ? *f : Firmware{};
    }
    std::size_t stored_files() {
        std::size_t n = 0;
        for (const auto& e : std::filesystem::directory_iterator(data_dir_ + "/files")) {
            n += e.is_regular_file() ? 1 : 0;
        }
        return n;
    }
};

TEST_F(FilesTest, UploadComputesDigestsAndStoresByContent) {
    const std::string image = image_of(200 * 1024, 1);
    auto r = upload(image, "product_key=pk&version=1.0.1&module=mcu&sign_method=Md5");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    const json j = body_of(r);
    EXPECT_EQ(j["size"], image.size());
    EXPECT_EQ(j["md5"], hex_digest(ota::DigestAlgorithm::md5, image));
    EXPECT_EQ(j["sha256"], hex_digest(ota::DigestAlgorithm::sha256, image));
    EXPECT_EQ(j["module"], "mcu");
    EXPECT_EQ(j["sign_method"], "Md5");
    EXPECT_EQ(j["signed"], false);
    EXPECT_EQ(j["verified"], false);
    EXPECT_EQ(j["created_at"], clock_.now());
    std::ifstream stored(data_dir_ + "/files/" + j["sha256"].get<std::string>(), std::ios::binary);
    const std::string on_disk((std::istreambuf_iterator<char>(stored)),
                              std::istreambuf_iterator<char>());
    EXPECT_EQ(on_disk, image);

    // The same bytes as another version: one file.
    r = upload(image, "product_key=pk&version=1.0.2");
    ASSERT_EQ(r->status, 201) << r->body;
    EXPECT_EQ(stored_files(), 1U);
    EXPECT_TRUE(std::filesystem::is_empty(data_dir_ + "/files/tmp"));

    // Listed, paged, fetched one by one.
    r = client()->Get("/api/v1/firmware?product_key=pk&limit=1");
    ASSERT_EQ(r->status, 200);
    json page = body_of(r);
    ASSERT_EQ(page["items"].size(), 1U);
    EXPECT_EQ(page["items"][0]["version"], "1.0.1");
    r = client()->Get(
        ("/api/v1/firmware?product_key=pk&limit=1&cursor=" + page["next_cursor"].get<std::string>())
            .c_str());
    page = body_of(r);
    ASSERT_EQ(page["items"].size(), 1U);
    EXPECT_EQ(page["items"][0]["version"], "1.0.2");
    EXPECT_EQ(body_of(client()->Get("/api/v1/firmware?product_key=other"))["items"], json::array());
    r = client()->Get(("/api/v1/firmware/" + std::to_string(j["id"].get<int>())).c_str());
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(body_of(r), j);
    // The upload is an event for the page.
    const auto events = store_->events_after(0, 10);
    ASSERT_EQ(events.size(), 2U);
    EXPECT_EQ(events[0].type, "firmware");
}

TEST_F(FilesTest, RefusedUploadsStoreNothing) {
    ASSERT_EQ(uploaded("first", "1.0.0").version, "1.0.0");
    const json before = snapshot();
    EXPECT_API_ERROR(upload(image_of(256 * 1024 + 1, 2), "product_key=pk&version=2.0.0"), 413,
                     "payload_too_large", "upload limit");
    EXPECT_API_ERROR(upload("", "product_key=pk&version=2.0.0"), 400, "invalid_argument", "empty");
    EXPECT_API_ERROR(upload("x", "version=2.0.0"), 400, "invalid_argument", "product_key");
    EXPECT_API_ERROR(upload("x", "product_key=pk"), 400, "invalid_argument", "version");
    EXPECT_API_ERROR(upload("x", "product_key=pk&version=2&colour=red"), 400, "invalid_argument",
                     "\"colour\"");
    EXPECT_API_ERROR(upload("x", "product_key=pk&version=2&sign_method=CRC"), 400,
                     "invalid_argument", "sign_method");
    EXPECT_API_ERROR(upload("x", "product_key=p%2Fk&version=2"), 400, "invalid_argument",
                     "product_key");
    // The same version again: a conflict, and the new bytes are not kept.
    EXPECT_API_ERROR(upload("other bytes", "product_key=pk&version=1.0.0"), 409, "conflict",
                     "1.0.0");
    // Streamed without a length (chunked) and too large: cut off at the limit.
    const std::string big = image_of(300 * 1024, 3);
    const auto r = client()->Post(
        "/api/v1/firmware?product_key=pk&version=3.0.0",
        [&big](std::size_t offset, httplib::DataSink& sink) {
            const std::size_t n = std::min<std::size_t>(16 * 1024, big.size() - offset);
            sink.write(big.data() + offset, n);
            if (offset + n == big.size()) sink.done();
            return true;
        },
        "application/octet-stream");
    if (r) {  // the server may close the connection before the client reads the answer
        EXPECT_EQ(r->status, 413) << r->body;
    }
    EXPECT_EQ(snapshot(), before);
    EXPECT_TRUE(std::filesystem::is_empty(data_dir_ + "/files/tmp"));
}

/// curl sends "Expect: 100-continue" before large bodies: an oversize upload or a bad token is
/// refused before any byte of the image is sent.
TEST_F(FilesTest, ExpectContinueRefusesBeforeTheBody) {
    struct Sent {
        std::size_t bytes = 0;
        std::size_t total = 0;
    };
    const auto post = [this](const char* token, Sent& sent, std::string& answer) {
        CURL* curl = curl_easy_init();
        const std::string url = server_->base_url() + "/api/v1/firmware?product_key=pk&version=9";
        curl_slist* headers = curl_slist_append(nullptr, "Expect: 100-continue");
        headers =
            curl_slist_append(headers, (std::string("Authorization: Bearer ") + token).c_str());
        headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
        curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
        curl_easy_setopt(curl, CURLOPT_CAINFO, server_->tls_cert_file().c_str());
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(sent.total));
        curl_easy_setopt(curl, CURLOPT_EXPECT_100_TIMEOUT_MS, 5000L);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, 20L);
        curl_easy_setopt(curl, CURLOPT_READDATA, &sent);
        curl_easy_setopt(
            curl, CURLOPT_READFUNCTION,
            +[](char* buf, std::size_t size, std::size_t n, void* p) -> std::size_t {
                auto* s = static_cast<Sent*>(p);
                const std::size_t len = std::min(size * n, s->total - s->bytes);
                std::memset(buf, 'x', len);
                s->bytes += len;
                return len;
            });
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
        curl_easy_setopt(
            curl, CURLOPT_WRITEFUNCTION,
            +[](char* buf, std::size_t size, std::size_t n, void* p) -> std::size_t {
                static_cast<std::string*>(p)->append(buf, size * n);
                return size * n;
            });
        long status = 0;
        EXPECT_EQ(curl_easy_perform(curl), CURLE_OK);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(headers);
        curl_easy_cleanup(curl);
        return status;
    };
    const json before = snapshot();
    Sent big;
    big.total = 300 * 1024;
    std::string answer;
    EXPECT_EQ(post(kToken, big, answer), 413);
    EXPECT_EQ(json::parse(answer, nullptr, false).value("code", ""), "payload_too_large") << answer;
    EXPECT_EQ(big.bytes, 0U);
    Sent small;
    small.total = 1000;
    answer.clear();
    EXPECT_EQ(post("wrong", small, answer), 401);
    EXPECT_EQ(json::parse(answer, nullptr, false).value("code", ""), "unauthenticated") << answer;
    EXPECT_EQ(small.bytes, 0U);
    EXPECT_EQ(snapshot(), before);
    // Accepted: curl then sends the body.
    answer.clear();
    EXPECT_EQ(post(kToken, small, answer), 201) << answer;
    EXPECT_EQ(small.bytes, 1000U);
}

TEST_F(FilesTest, SignedUrlServesTheFileWithRanges) {
    const std::string image = image_of(100 * 1024, 4);
    const Firmware f = uploaded(image, "1.0.0");
    const std::string url = signer_->url_for(f);
    ASSERT_EQ(url.rfind(server_->files_base_url() + "/files/" + f.sha256 + "?fw=", 0), 0U) << url;
    auto c = files_client();
    auto r = c->Get(path_of(url).c_str(), {{"Accept-Encoding", "gzip, br"}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(r->body, image);
    EXPECT_EQ(r->get_header_value("Accept-Ranges"), "bytes");
    EXPECT_EQ(r->get_header_value("Content-Encoding"), "");

    r = c->Get(path_of(url).c_str(), {{"Range", "bytes=1000-1999"}, {"Accept-Encoding", "gzip"}});
    ASSERT_EQ(r->status, 206);
    EXPECT_EQ(r->body, image.substr(1000, 1000));
    EXPECT_EQ(r->get_header_value("Content-Range"), "bytes 1000-1999/102400");
    EXPECT_EQ(r->get_header_value("Content-Encoding"), "");
    r = c->Get(path_of(url).c_str(), {{"Range", "bytes=102000-"}});
    ASSERT_EQ(r->status, 206);
    EXPECT_EQ(r->body, image.substr(102000));
    r = c->Get(path_of(url).c_str(), {{"Range", "bytes=-10"}});
    ASSERT_EQ(r->status, 206);
    EXPECT_EQ(r->body, image.substr(image.size() - 10));
    r = c->Get(path_of(url).c_str(), {{"Range", "bytes=102400-"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 416);
    EXPECT_EQ(r->get_header_value("Content-Range"), "bytes */102400");
    r = c->Get(path_of(url).c_str(), {{"Range", "bytes=9-3"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 416);
    r = c->Get(path_of(url).c_str(), {{"Range", "pages=1-2"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 416);
}

TEST_F(FilesTest, TamperedExpiredAndUnsignedUrlsAreForbidden) {
    const Firmware f = uploaded(image_of(1000, 5), "1.0.0");
    const Firmware g = uploaded(image_of(1000, 6), "2.0.0");
    const std::string url = path_of(signer_->url_for(f));
    auto c = files_client();
    EXPECT_EQ(c->Get(url.c_str())->status, 200);
    std::string tampered = url;
    tampered.back() = tampered.back() == '0' ? '1' : '0';
    EXPECT_API_ERROR(c->Get(tampered.c_str()), 403, "forbidden", "signature");
    // The signature of one file does not open another.
    std::string other = url;
    other.replace(other.find(f.sha256), f.sha256.size(), g.sha256);
    EXPECT_API_ERROR(c->Get(other.c_str()), 403, "forbidden", "signature");
    std::string later = url;
    const auto exp = later.find("exp=") + 4;
    later.replace(exp, later.find('&', exp) - exp, std::to_string(clock_.now() + 999'999'999));
    EXPECT_API_ERROR(c->Get(later.c_str()), 403, "forbidden", "signature");
    EXPECT_API_ERROR(c->Get(("/files/" + f.sha256).c_str()), 403, "forbidden", "not signed");
    EXPECT_API_ERROR(c->Get((url + "&x=1").c_str()), 400, "invalid_argument", "\"x\"");
    clock_.advance(options_.url_ttl_ms + 1);
    EXPECT_API_ERROR(c->Get(url.c_str()), 403, "forbidden", "expired");
    // A fresh URL works again; a stored file that vanished is 404.
    EXPECT_EQ(c->Get(path_of(signer_->url_for(f)).c_str())->status, 200);
    std::filesystem::remove(data_dir_ + "/files/" + g.sha256);
    EXPECT_API_ERROR(c->Get(path_of(signer_->url_for(g)).c_str()), 404, "not_found", "file");
}

#ifndef OTA_HTTP_TEST_SQLITE  // store-independent: once is enough
TEST(UrlSignerTest, PublicBaseUrlAndSecretFile) {
    char dir[] = "/tmp/ota_console_url_XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    FakeClock clock;
    Firmware f;
    f.id = 3;
    f.sha256 = std::string(64, 'a');
    const UrlSigner cdn(dir, clock, 1000, "https://cdn.example.com/ota/");
    EXPECT_EQ(cdn.url_for(f), "https://cdn.example.com/ota/" + f.sha256);
    struct stat st {};
    ASSERT_EQ(::stat((std::string(dir) + "/url-secret").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600U);
    // Same secret after a restart: an old URL stays valid; another data dir's is not.
    UrlSigner a(dir, clock, 1000);
    a.set_base("https://h:1");
    const UrlSigner b(dir, clock, 1000);
    const Millis exp = clock.now() + 1000;
    EXPECT_EQ(b.check(f.sha256, 3, exp, a.signature(f.sha256, 3, exp)), UrlSigner::Check::ok);
    EXPECT_EQ(b.check(f.sha256, 4, exp, a.signature(f.sha256, 3, exp)),
              UrlSigner::Check::bad_signature);
    char other[] = "/tmp/ota_console_url_XXXXXX";
    ASSERT_NE(::mkdtemp(other), nullptr);
    const UrlSigner c(other, clock, 1000);
    EXPECT_EQ(c.check(f.sha256, 3, exp, a.signature(f.sha256, 3, exp)),
              UrlSigner::Check::bad_signature);
    std::filesystem::remove_all(dir);
    std::filesystem::remove_all(other);
}
#endif

#ifndef OTA_HTTP_TEST_SQLITE  // store-independent: once is enough
TEST(TokenTest, CreatedOnceWithMode0600AndComparedExactly) {
    char dir[] = "/tmp/ota_console_token_XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    const std::string path = std::string(dir) + "/sub/api-token";
    int printed = 0;
    std::string shown;
    const std::string token = load_or_create_token(path, [&](const std::string& t) {
        ++printed;
        shown = t;
    });
    EXPECT_EQ(token.size(), 64U);
    EXPECT_EQ(shown, token);
    EXPECT_EQ(load_or_create_token(path, [&](const std::string&) { ++printed; }), token);
    EXPECT_EQ(printed, 1);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600U);
    EXPECT_TRUE(secrets_equal(token, token));
    EXPECT_FALSE(secrets_equal(token, token.substr(1)));
    EXPECT_FALSE(secrets_equal(token, "x" + token.substr(1)));
    std::ofstream(std::string(dir) + "/empty").put('\n');
    EXPECT_THROW((void)load_or_create_token(std::string(dir) + "/empty", nullptr),
                 std::runtime_error);
    std::filesystem::remove_all(dir);
}
#endif

class SignedUploadTest : public FilesTest {
  protected:
    void customize(HttpOptions& o) override {
        o.signing_key_file = OTA_TEST_DATA_DIR "/ec_p256_private.pem";
        o.signing_key_id = "console-1";
    }
};

TEST_F(SignedUploadTest, ImagesCarryASignatureTheSdkVerifies) {
    const std::string image = image_of(5000, 7);
    const Firmware f = uploaded(image, "1.0.0");
    ASSERT_FALSE(f.ext_data.empty());
    const auto parsed = ota::parse_image_signature(f.ext_data);
    ASSERT_TRUE(parsed.signature) << f.ext_data;
    EXPECT_EQ(parsed.signature->algorithm, ota::kSignatureEcdsaP256Sha256);
    EXPECT_EQ(parsed.signature->key_id, "console-1");
    ota::SignatureVerifier verifier;
    ASSERT_TRUE(
        verifier.add_public_key(read_small_file(OTA_TEST_DATA_DIR "/ec_p256_public.pem", 65536))
            .ok());
    std::uint8_t sha[32];
    ota::Hasher h;
    ASSERT_EQ(h.start(ota::DigestAlgorithm::sha256), ota::Status::ok);
    ASSERT_EQ(h.update(reinterpret_cast<const std::uint8_t*>(image.data()), image.size()),
              ota::Status::ok);
    ASSERT_EQ(h.finish(sha, sizeof sha), ota::Status::ok);
    EXPECT_TRUE(verifier.verify(*parsed.signature, sha).ok());
    sha[0] ^= 1;
    EXPECT_FALSE(verifier.verify(*parsed.signature, sha).ok());
    EXPECT_EQ(
        body_of(client()->Get(("/api/v1/firmware/" + std::to_string(f.id)).c_str()))["signed"],
        true);
}

#ifndef OTA_HTTP_TEST_SQLITE  // store-independent: once is enough
TEST(ImageSignerTest, RefusesAKeyItCannotSignWith) {
    EXPECT_THROW(ImageSigner(OTA_TEST_DATA_DIR "/ec_p256_public.pem"), std::runtime_error);
    EXPECT_THROW(ImageSigner("/nonexistent/key.pem"), std::runtime_error);
}
#endif

}  // namespace
}  // namespace console::test
