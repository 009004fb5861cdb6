// ota_console's options about how it is reached (review items 1, 2, 16): --files-port,
// --public-url (required with a wildcard --http-bind), --public-files-url, and an http://
// --public-base-url only with --allow-http-files.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "app/options.hpp"

namespace console {
namespace {

std::string parse(std::vector<const char*> extra, ConsoleOptions& o) {
    std::vector<const char*> args = {"ota_console",   "--data",        "/tmp/d",
                                     "--broker-host", "127.0.0.1",     "--broker-port",
                                     "8883",          "--broker-user", "cloud"};
    args.insert(args.end(), extra.begin(), extra.end());
    return parse_console_options(static_cast<int>(args.size()), args.data(), o);
}

TEST(ConsolePublicOptions, DefaultsAndValues) {
    ConsoleOptions o;
    ASSERT_EQ(parse({}, o), "");
    EXPECT_EQ(o.files_port, 0);
    EXPECT_EQ(o.public_url, "");
    EXPECT_FALSE(o.allow_http_files);
    ConsoleOptions p;
    ASSERT_EQ(parse({"--files-port", "8444", "--http-bind", "0.0.0.0", "--public-url",
                     "https://console.example:8443", "--public-files-url", "https://files.example",
                     "--public-base-url", "http://cdn.local/ota", "--allow-http-files"},
                    p),
              "");
    EXPECT_EQ(p.files_port, 8444);
    EXPECT_EQ(p.public_url, "https://console.example:8443");
    EXPECT_EQ(p.public_files_url, "https://files.example");
    EXPECT_TRUE(p.allow_http_files);
}

TEST(ConsolePublicOptions, UsageErrors) {
    const std::vector<std::pair<std::vector<const char*>, std::string>> cases = {
        {{"--http-bind", "0.0.0.0"}, "--http-bind 0.0.0.0 (every address) needs --public-url"},
        {{"--http-bind", "::"}, "--http-bind :: (every address) needs --public-url"},
        {{"--public-base-url", "http://cdn/x"}, "give --allow-http-files"},
        {{"--public-base-url", "ftp://x"}, "--public-base-url must start with https://"},
        {{"--public-url", "console.example"}, "--public-url must start with https://"},
        {{"--public-files-url", "files"}, "--public-files-url must start with https://"},
        {{"--files-port", "70000"}, "--files-port needs a whole number from 0 to 65535"},
    };
    for (const auto& [extra, expected] : cases) {
        ConsoleOptions o;
        const std::string err = parse(extra, o);
        EXPECT_NE(err.find(expected), std::string::npos) << err << " / wanted: " << expected;
    }
}

}  // namespace
}  // namespace console
