// ota_console_load's figures without a console: its options, the latency percentiles, the
// /metrics parser and the backlog verdict the benchmark's "keeps up" rests on.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "load_core.hpp"

namespace {

using console_load::Sample;

std::vector<std::string> base_args() {
    return {"--url", "https://127.0.0.1:9443", "--broker-port", "1883", "--broker-user", "cloud"};
}

TEST(LoadOptions, DefaultsAndRequiredOptions) {
    std::string err;
    const auto o = console_load::parse_load_args(base_args(), err);
    ASSERT_TRUE(o) << err;
    EXPECT_EQ(o->broker_port, 1883);
    EXPECT_EQ(o->connections, 8U);
    EXPECT_EQ(o->push_devices, 1000U);
    EXPECT_EQ(o->progress_devices, 2000U);
    EXPECT_EQ(o->duration_s, 20U);
    EXPECT_TRUE(o->broker_tls);
    EXPECT_EQ(o->scenario, "both");
    EXPECT_FALSE(console_load::parse_load_args({"--broker-port", "1", "--broker-user", "u"}, err));
    EXPECT_EQ(err, "--url https://HOST:PORT is required");
}

TEST(LoadOptions, RefusesBadValues) {
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--connections", "0"}, "--connections needs a whole number from 1 to 64 (got \"0\")"},
        {{"--duration", "601"}, "--duration needs a whole number from 1 to 600 (got \"601\")"},
        {{"--scenario", "soak"}, "--scenario is push, progress or both"},
        {{"--broker-no-tls", "--broker-ca", "ca.pem"},
         "--broker-ca and --broker-no-tls exclude each other"},
        {{"--product-key", "a/b"}, "--product-key must not hold '/', '+', '#' or spaces"},
        {{"--speed", "3"}, "unknown option --speed"},
        {{"--url", "https://x"}, "--url given twice"},
        {{"--duration"}, "--duration needs a value"},
    };
    for (const auto& [extra, expected] : cases) {
        auto args = base_args();
        args.insert(args.end(), extra.begin(), extra.end());
        std::string err;
        EXPECT_FALSE(console_load::parse_load_args(args, err)) << extra[0];
        EXPECT_EQ(err, expected);
    }
}

TEST(LoadStats, NearestRankPercentiles) {
    std::vector<double> ms;
    for (int i = 100; i >= 1; --i) ms.push_back(i);
    const auto p = console_load::percentiles(ms);
    EXPECT_EQ(p.n, 100U);
    EXPECT_DOUBLE_EQ(p.p50_ms, 50);
    EXPECT_DOUBLE_EQ(p.p99_ms, 99);
    EXPECT_DOUBLE_EQ(p.max_ms, 100);
    const auto one = console_load::percentiles({7});
    EXPECT_DOUBLE_EQ(one.p50_ms, 7);
    EXPECT_DOUBLE_EQ(one.p99_ms, 7);
    EXPECT_EQ(console_load::percentiles({}).n, 0U);
}

TEST(LoadStats, ParsesPrometheusText) {
    const auto m = console_load::parse_metrics(
        "# HELP ota_console_mqtt_messages_received device messages taken in\n"
        "# TYPE ota_console_mqtt_messages_received counter\n"
        "ota_console_mqtt_messages_received 12345\n"
        "ota_console_tasks{state=\"queued\"} 3\n"
        "broken line\n"
        "ota_console_mqtt_queue_depth 0\n");
    EXPECT_EQ(m.size(), 3U);
    EXPECT_DOUBLE_EQ(m.at("ota_console_mqtt_messages_received"), 12345);
    EXPECT_DOUBLE_EQ(m.at("ota_console_tasks{state=\"queued\"}"), 3);
    EXPECT_DOUBLE_EQ(m.at("ota_console_mqtt_queue_depth"), 0);
}

// Samples of a 10 s run at 2,000 messages/s where the console processes `keep` per second.
std::vector<Sample> run_at(double keep_per_s, std::int64_t jitter) {
    std::vector<Sample> out;
    for (int t = 1; t <= 10; ++t) {
        Sample s;
        s.t_s = t;
        s.published = 2000 * t;
        s.processed = static_cast<std::int64_t>(keep_per_s * t) - 150 + (t % 2 ? jitter : -jitter);
        s.received = s.processed + 50;
        s.queue_depth = 50;
        s.baseline = s.published - 10;
        out.push_back(s);
    }
    return out;
}

TEST(LoadStats, BacklogOfAConsoleThatKeepsUp) {
    const auto b = console_load::backlog_of(run_at(2000, 60), 2000);
    EXPECT_FALSE(b.growing);
    EXPECT_EQ(b.lag_end, 210);  // 150 behind, and the last sample 60 lower
    EXPECT_LT(b.lag_slope_per_s, 20);
    EXPECT_EQ(b.max_queue_depth, 50);
    EXPECT_EQ(console_load::baseline_lag(run_at(2000, 0)), 10);
}

TEST(LoadStats, BacklogOfAConsoleThatFallsBehind) {
    // 3 % slower than the flow: 600 messages behind after 10 s, but still under one second's
    // worth at the end; the slope gives it away.
    auto b = console_load::backlog_of(run_at(1940, 0), 2000);
    EXPECT_TRUE(b.growing);
    EXPECT_NEAR(b.lag_slope_per_s, 60, 1);
    // Far behind: the lag at the end alone.
    b = console_load::backlog_of(run_at(1500, 0), 2000);
    EXPECT_TRUE(b.growing);
    EXPECT_GT(b.lag_end, 2000);
    EXPECT_FALSE(console_load::backlog_of({}, 2000).growing);
}

}  // namespace
