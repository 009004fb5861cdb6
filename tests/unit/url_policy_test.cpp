// The image-URL scheme rule shared by job admission and the HTTPS byte source.
#include "common/url_policy.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ota::detail {
namespace {

TEST(ImageUrlScheme, RecognisesHttpsAndHttpInAnyCase) {
    EXPECT_EQ(image_url_scheme("https://fw.example.com/a.bin"), UrlScheme::https);
    EXPECT_EQ(image_url_scheme("HTTPS://FW.EXAMPLE.COM/a.bin"), UrlScheme::https);
    EXPECT_EQ(image_url_scheme("http://10.0.0.2:8080/a.bin"), UrlScheme::http);
    EXPECT_EQ(image_url_scheme("hTtP://h/a.bin"), UrlScheme::http);
}

TEST(ImageUrlScheme, EverythingElseIsOther) {
    for (const char* url : {"", "https:/h/a.bin", "ftp://h/a.bin", "file:///etc/passwd",
                            " https://h/a.bin", "httpss://h/a.bin", "https", "//h/a.bin"}) {
        EXPECT_EQ(image_url_scheme(url), UrlScheme::other) << '"' << url << '"';
    }
}

TEST(CheckImageUrlScheme, HttpsAlwaysHttpOnlyWhenAllowed) {
    EXPECT_TRUE(check_image_url_scheme("https://h/a.bin", false).ok());
    EXPECT_TRUE(check_image_url_scheme("https://h/a.bin", true).ok());
    EXPECT_TRUE(check_image_url_scheme("http://h/a.bin", true).ok());

    const Error refused = check_image_url_scheme("http://h/a.bin?Signature=SECRET", false);
    EXPECT_EQ(refused.status, Status::invalid_argument);
    EXPECT_NE(refused.detail.find("https required"), std::string::npos) << refused.detail;
    EXPECT_NE(refused.detail.find("plain http"), std::string::npos) << refused.detail;
    EXPECT_EQ(refused.detail.find("SECRET"), std::string::npos) << "the URL is never echoed";
}

TEST(CheckImageUrlScheme, OtherSchemesAreRefusedEvenWithHttpAllowed) {
    for (const bool allow_http : {false, true}) {
        const Error e = check_image_url_scheme("ftp://h/a.bin?token=SECRET", allow_http);
        EXPECT_EQ(e.status, Status::invalid_argument) << allow_http;
        EXPECT_NE(e.detail.find("unsupported image URL scheme"), std::string::npos) << e.detail;
        EXPECT_EQ(e.detail.find("SECRET"), std::string::npos) << e.detail;
    }
}

}  // namespace
}  // namespace ota::detail
