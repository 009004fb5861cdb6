// ota_console's command line: the required options, the exclusive pairs, ranges, and defaults.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "app/options.hpp"

namespace console {
namespace {

std::string parse(std::vector<const char*> args, ConsoleOptions& o) {
    args.insert(args.begin(), "ota_console");
    return parse_console_options(static_cast<int>(args.size()), args.data(), o);
}

const std::vector<const char*> kMinimal = {"--data",        "/tmp/d", "--broker-host", "127.0.0.1",
                                           "--broker-port", "8883",   "--broker-user", "cloud"};

TEST(ConsoleOptions, MinimalCommandLineGetsTheDefaults) {
    ConsoleOptions o;
    ASSERT_EQ(parse(kMinimal, o), "");
    EXPECT_EQ(o.broker_port, 8883);
    EXPECT_EQ(o.http_port, 8443);
    EXPECT_EQ(o.http_bind, "127.0.0.1");
    EXPECT_EQ(o.token_file, "/tmp/d/api-token");
    EXPECT_EQ(o.url_ttl_s, 86400);
    EXPECT_EQ(o.max_upload_mib, 1024);
    EXPECT_EQ(o.online_window_s, 600);
    EXPECT_EQ(o.share_group, "ota_console");
    EXPECT_FALSE(o.broker_no_tls);
    EXPECT_FALSE(o.http_no_tls);
}

TEST(ConsoleOptions, EveryOption) {
    std::vector<const char*> a = kMinimal;
    for (const char* s : {"--db",
                          "postgresql://u@127.0.0.1:5/db",
                          "--broker-ca",
                          "ca.pem",
                          "--http-port",
                          "0",
                          "--tls-cert",
                          "c.pem",
                          "--tls-key",
                          "k.pem",
                          "--token-file",
                          "tok",
                          "--public-base-url",
                          "https://cdn/x",
                          "--url-ttl-s",
                          "600",
                          "--signing-key",
                          "s.pem",
                          "--max-upload-mib",
                          "5",
                          "--online-window-s",
                          "30",
                          "--share-group",
                          "g",
                          "--ready-file",
                          "r.json",
                          "--broker-password-file",
                          "pw",
                          "--http-bind",
                          "0.0.0.0",
                          "--public-url",
                          "https://console.example:8443"}) {
        a.push_back(s);
    }
    ConsoleOptions o;
    ASSERT_EQ(parse(a, o), "");
    EXPECT_EQ(o.http_port, 0);
    EXPECT_EQ(o.db_url, "postgresql://u@127.0.0.1:5/db");
    EXPECT_EQ(o.token_file, "tok");
    EXPECT_EQ(o.max_upload_mib, 5);
    EXPECT_EQ(o.ready_file, "r.json");
}

TEST(ConsoleOptions, UsageErrorsNameTheOption) {
    struct Case {
        std::vector<const char*> extra;
        std::string expected;
    };
    const std::vector<Case> cases = {
        {{"--bogus"}, "unknown option --bogus"},
        {{"--http-port", "70000"}, "--http-port needs a whole number from 0 to 65535"},
        {{"--http-port", "12x"}, "--http-port needs a whole number from 0 to 65535"},
        {{"--url-ttl-s"}, "--url-ttl-s needs a value"},
        {{"--broker-no-tls", "--broker-ca", "x"},
         "--broker-ca and --broker-no-tls exclude each other"},
        {{"--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
        {{"--http-no-tls", "--tls-cert", "c", "--tls-key", "k"},
         "--tls-cert/--tls-key and --http-no-tls exclude each other"},
        {{"--db", "mysql://x"}, "--db must be a postgresql:// URL"},
        {{"--public-base-url", "ftp://x"}, "--public-base-url must start with https:// or http://"},
        {{"--share-group", "a/b"}, "--share-group must not contain '/', '+' or '#'"},
        {{"--max-upload-mib", "0"}, "--max-upload-mib needs a whole number from 1 to 1048576"},
    };
    for (const Case& c : cases) {
        std::vector<const char*> a = kMinimal;
        a.insert(a.end(), c.extra.begin(), c.extra.end());
        ConsoleOptions o;
        EXPECT_EQ(parse(a, o), c.expected);
    }
    auto fresh = [](std::vector<const char*> args) {
        ConsoleOptions o;
        return parse(std::move(args), o);
    };
    EXPECT_EQ(fresh({"--broker-host", "h", "--broker-port", "1", "--broker-user", "u"}),
              "--data is required");
    EXPECT_EQ(fresh({"--data", "d", "--broker-port", "1", "--broker-user", "u"}),
              "--broker-host is required");
    EXPECT_EQ(fresh({"--data", "d", "--broker-host", "h", "--broker-user", "u"}),
              "--broker-port is required");
    EXPECT_EQ(fresh({"--data", "d", "--broker-host", "h", "--broker-port", "1"}),
              "--broker-user is required");
    EXPECT_EQ(fresh({"--help"}), "help");
}

}  // namespace
}  // namespace console
