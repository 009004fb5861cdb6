// Which failed transfers the HTTPS byte source reports as permanent (Status::fetch_refused, the
// client then fails the download at once) and how it words them (src/fetch/transfer_error).
#include "fetch/transfer_error.hpp"

#include <gtest/gtest.h>

#include <string>

#include "fetch/http_head.hpp"

namespace ota::detail {
namespace {

constexpr const char* kUrl = "https://cdn.example.com/fw.bin?Expires=1&Signature=TOPSECRET";

TransferFailure failure(CURLcode rc, std::string_view text = "libcurl says so") {
    TransferFailure f;
    f.rc = rc;
    f.curl_text = text;
    return f;
}

void expect_no_secret(const Error& e) {
    EXPECT_EQ(e.detail.find("TOPSECRET"), std::string::npos) << e.detail;
    EXPECT_NE(e.detail.find("https://cdn.example.com/fw.bin"), std::string::npos) << e.detail;
}

TEST(TransferError, TlsVerificationFailuresAreRefusedWithTheReason) {
    for (const CURLcode rc :
         {CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CRL_BADFILE,
          CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS}) {
        SCOPED_TRACE(static_cast<int>(rc));
        const Error e = transfer_error(
            failure(rc, "SSL certificate problem: unable to get local issuer certificate"), kUrl);
        EXPECT_EQ(e.status, Status::fetch_refused);
        EXPECT_NE(e.detail.find("TLS verification failed: SSL certificate problem: unable to get "
                                "local issuer certificate (curl error " +
                                std::to_string(static_cast<int>(rc)) + ")"),
                  std::string::npos)
            << e.detail;
        expect_no_secret(e);
    }
}

TEST(TransferError, NetworkErrorsStayRetryable) {
    // A handshake cut short, a reset, a refused connection, a name that does not resolve (yet),
    // a redirect loop: the next attempt may succeed.
    for (const CURLcode rc : {CURLE_SSL_CONNECT_ERROR, CURLE_RECV_ERROR, CURLE_SEND_ERROR,
                              CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_PARTIAL_FILE,
                              CURLE_GOT_NOTHING, CURLE_TOO_MANY_REDIRECTS}) {
        SCOPED_TRACE(static_cast<int>(rc));
        TransferFailure f = failure(rc);
        f.reading_head = true;
        const Error e = transfer_error(f, kUrl);
        EXPECT_EQ(e.status, Status::fetch_failed);
        EXPECT_NE(e.detail.find("failed: libcurl says so (curl error " +
                                std::to_string(static_cast<int>(rc)) + ")"),
                  std::string::npos)
            << e.detail;
        expect_no_secret(e);
    }
    EXPECT_EQ(transfer_error(failure(CURLE_OPERATION_TIMEDOUT), kUrl).status, Status::timeout);
}

TEST(TransferError, AnOversizedResponseHeadIsRefused) {
    // The source's own limit (its header callback stopped the transfer: a write error).
    TransferFailure f = failure(CURLE_WRITE_ERROR, "Failed writing header");
    f.reading_head = true;
    f.head_over_limit = true;
    Error e = transfer_error(f, kUrl);
    EXPECT_EQ(e.status, Status::fetch_refused);
    EXPECT_NE(e.detail.find("failed: response header too large (more than " +
                            std::to_string(kMaxResponseHeadBytes) + " bytes)"),
              std::string::npos)
        << e.detail;
    expect_no_secret(e);

    // libcurl's limit for one header line, which it reports as running out of memory.
    f = failure(CURLE_OUT_OF_MEMORY, "Out of memory");
    f.reading_head = true;
    e = transfer_error(f, kUrl);
    EXPECT_EQ(e.status, Status::fetch_refused);
    EXPECT_NE(e.detail.find("failed: response header too large (a header line over libcurl's "
                            "limit of " +
                            std::to_string(CURL_MAX_HTTP_HEADER) + " bytes) (curl error 27)"),
              std::string::npos)
        << e.detail;
    EXPECT_EQ(e.detail.find("memory"), std::string::npos) << e.detail;
}

TEST(TransferError, OutOfMemoryOutsideTheHeadIsOutOfMemory) {
    const Error e = transfer_error(failure(CURLE_OUT_OF_MEMORY, "Out of memory"), kUrl);
    EXPECT_EQ(e.status, Status::no_memory);
    EXPECT_EQ(e.detail.find("header"), std::string::npos) << e.detail;
}

TEST(TransferError, ARedirectToARefusedSchemeIsRefusedAndNamesTheTarget) {
    TransferFailure f =
        failure(CURLE_UNSUPPORTED_PROTOCOL, "Protocol \"http\" not supported or disabled");
    f.location = "http://mirror.example.com/fw.bin?token=OTHERSECRET";
    Error e = transfer_error(f, kUrl);
    EXPECT_EQ(e.status, Status::fetch_refused);
    EXPECT_NE(e.detail.find("redirect to http://mirror.example.com/fw.bin?<redacted> refused: "
                            "only https is allowed (HttpOptions::allow_http is off)"),
              std::string::npos)
        << e.detail;
    EXPECT_EQ(e.detail.find("OTHERSECRET"), std::string::npos) << e.detail;
    expect_no_secret(e);

    f.location = "ftp://user:pw@mirror.example.com/fw.bin";
    f.allow_http = true;
    e = transfer_error(f, kUrl);
    EXPECT_EQ(e.status, Status::fetch_refused);
    EXPECT_NE(e.detail.find("redirect to ftp://<redacted>@mirror.example.com/fw.bin refused: "
                            "only https and http are allowed"),
              std::string::npos)
        << e.detail;
    EXPECT_EQ(e.detail.find("pw@"), std::string::npos) << e.detail;

    f.location = {};
    e = transfer_error(f, kUrl);
    EXPECT_EQ(e.status, Status::fetch_refused);
    EXPECT_NE(e.detail.find("redirect to another scheme refused"), std::string::npos) << e.detail;
}

TEST(HttpHead, HeaderValueMatchesTheNameWithoutRegardToCase) {
    EXPECT_EQ(header_value("location:  ftp://x/y \r\n", "Location"), "ftp://x/y");
    EXPECT_EQ(header_value("Content-Location: /z\r\n", "Location"), "");
    EXPECT_EQ(header_value("HTTP/1.1 302 Found\r\n", "Location"), "");
    EXPECT_EQ(header_value("\r\n", "Location"), "");
}

}  // namespace
}  // namespace ota::detail
