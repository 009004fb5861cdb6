// Statistics: nearest-rank percentiles, aggregates, JSON round trip, merge, CSV, the report.
#include "core/stats.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace ota::fleet {
namespace {

TEST(FleetOutcome, NamesRoundTrip) {
    for (Outcome o : kAllOutcomes) EXPECT_EQ(outcome_from_string(to_string(o)), o);
    EXPECT_STREQ(to_string(Outcome::never_returned), "never_returned");
    EXPECT_FALSE(outcome_from_string("Updated"));
    EXPECT_FALSE(outcome_from_string(""));
}

TEST(FleetSampleSet, NearestRankOnKnownData) {
    SampleSet s;
    // 1..100 in a scrambled order: the p-th percentile is p itself (rank ceil(p * 100 / 100)).
    for (int i = 0; i < 100; ++i) s.add(static_cast<double>((i * 37) % 100 + 1));
    EXPECT_EQ(s.count(), 100u);
    EXPECT_EQ(s.percentile(50), 50);
    EXPECT_EQ(s.percentile(90), 90);
    EXPECT_EQ(s.percentile(99), 99);
    EXPECT_EQ(s.percentile(100), 100);
    EXPECT_EQ(s.percentile(0), 1);
    EXPECT_EQ(s.percentile(0.5), 1);
    EXPECT_EQ(s.percentile(50.5), 51);
    EXPECT_EQ(s.max(), 100);
    EXPECT_EQ(s.mean(), 50.5);
}

TEST(FleetSampleSet, SmallSetsPickMeasuredValues) {
    SampleSet s;
    for (double v : {15.0, 20.0, 35.0, 40.0, 50.0}) s.add(v);
    // The classic nearest-rank example: p30 -> rank 2 (20), p40 -> rank 2 (20), p50 -> 35.
    EXPECT_EQ(s.percentile(30), 20);
    EXPECT_EQ(s.percentile(40), 20);
    EXPECT_EQ(s.percentile(50), 35);
    EXPECT_EQ(s.percentile(100), 50);
    // 10 samples: p90 is the 9th, not the 10th (the p * n / 100 rounding).
    SampleSet ten;
    for (int i = 1; i <= 10; ++i) ten.add(i);
    EXPECT_EQ(ten.percentile(90), 9);
    EXPECT_EQ(ten.percentile(99), 10);
    SampleSet one;
    one.add(7);
    EXPECT_EQ(one.percentile(50), 7);
    EXPECT_EQ(one.percentile(99), 7);
}

TEST(FleetSampleSet, EmptyAndNaN) {
    SampleSet s;
    EXPECT_FALSE(s.percentile(50));
    EXPECT_FALSE(s.max());
    EXPECT_FALSE(s.mean());
    s.add(std::numeric_limits<double>::quiet_NaN());
    EXPECT_EQ(s.count(), 0u);
    const SampleSummary sum = summarize(s);
    EXPECT_EQ(sum.count, 0u);
    EXPECT_FALSE(sum.p50);
}

TEST(FleetSampleSet, MergeEqualsOneSet) {
    SampleSet a, b, all;
    for (int i = 0; i < 500; ++i) {
        const double v = (i * 7919) % 1000;
        (i % 3 == 0 ? a : b).add(v);
        all.add(v);
    }
    a.merge(b);
    for (double p : {0.0, 10.0, 50.0, 90.0, 99.0, 100.0})
        EXPECT_EQ(a.percentile(p), all.percentile(p));
}

DeviceRecord device(std::uint64_t index, Outcome outcome) {
    DeviceRecord d;
    d.index = index;
    d.device_name = "sim-" + std::to_string(index);
    d.outcome = outcome;
    d.expected = outcome;
    d.cloud_outcome = outcome;
    d.connects = 1;
    d.connect_latency_ms = 10.0 + static_cast<double>(index);
    d.connected_at_ms = 100.0 + static_cast<double>(index);
    d.push_to_progress_ms = 5.0 + static_cast<double>(index % 10);
    d.download_bytes = 1048576;
    d.download_ms = 500;
    d.job_ms = 2000.0 + static_cast<double>(index);
    return d;
}

FleetSummary sample_summary(std::uint64_t first, std::uint64_t count) {
    FleetSummary s;
    s.seed = 42;
    s.mix = "cut=5";
    s.link = "10%:64k";
    ProcessRecord p;
    p.first = first;
    p.count = count;
    p.threads = 2;
    p.host = "box";
    p.started_unix_ms = 1000000;
    p.ended_unix_ms = 1010000;
    p.connect_first_unix_ms = 1000000;
    p.connect_last_unix_ms = 1002000;  // 2 s
    p.download_first_unix_ms = 1003000;
    p.download_last_unix_ms = 1004000;  // 1 s
    p.rss_base_kib = 10000;
    p.rss_idle_kib = 10000 + 50 * count;
    p.rss_peak_kib = 30000;
    p.cpu_user_s = 1.5;
    p.cpu_system_s = 0.5;
    p.waker_subscribes = 321;
    s.processes.push_back(p);
    for (std::uint64_t i = first; i < first + count; ++i) {
        s.devices.push_back(device(i, i % 10 == 0 ? Outcome::digest_mismatch : Outcome::updated));
    }
    return s;
}

TEST(FleetSummary, Aggregate) {
    FleetSummary s = sample_summary(0, 100);
    s.devices[1].outcome = Outcome::stopped;  // device view differs from the cloud's
    s.devices[2].connects = 0;
    const FleetAggregate a = s.aggregate();
    EXPECT_EQ(a.devices, 100u);
    EXPECT_EQ(a.outcomes[static_cast<std::size_t>(Outcome::updated)], 89u);
    EXPECT_EQ(a.outcomes[static_cast<std::size_t>(Outcome::digest_mismatch)], 10u);
    EXPECT_EQ(a.outcomes[static_cast<std::size_t>(Outcome::stopped)], 1u);
    EXPECT_EQ(a.cloud_outcomes[static_cast<std::size_t>(Outcome::updated)], 90u);
    EXPECT_EQ(a.expected[static_cast<std::size_t>(Outcome::digest_mismatch)], 10u);
    EXPECT_EQ(a.connected, 99u);
    ASSERT_TRUE(a.connects_per_s);
    EXPECT_DOUBLE_EQ(*a.connects_per_s, 99 / 2.0);
    EXPECT_EQ(a.connect_latency_ms.p50, 59);
    EXPECT_EQ(a.connect_latency_ms.p99, 108);
    EXPECT_EQ(a.connect_latency_ms.max, 109);
    EXPECT_EQ(a.download_bytes, 100u * 1048576u);
    ASSERT_TRUE(a.total_download_mib_per_s);
    EXPECT_DOUBLE_EQ(*a.total_download_mib_per_s, 100.0);
    EXPECT_EQ(a.download_mib_per_s.p50, 2.0);
    ASSERT_TRUE(a.rss_per_device_kib);
    EXPECT_DOUBLE_EQ(*a.rss_per_device_kib, 50.0);
    EXPECT_DOUBLE_EQ(a.cpu_s, 2.0);
}

TEST(FleetSummary, AggregateWithoutWindowsHasNoRates) {
    FleetSummary s;
    s.processes.emplace_back();
    s.devices.push_back(DeviceRecord{});
    const FleetAggregate a = s.aggregate();
    EXPECT_FALSE(a.connects_per_s);
    EXPECT_FALSE(a.total_download_mib_per_s);
    EXPECT_FALSE(a.rss_per_device_kib);
    EXPECT_EQ(a.outcomes[static_cast<std::size_t>(Outcome::stopped)], 1u);
}

void expect_same(const FleetSummary& a, const FleetSummary& b) {
    // The JSON text is a complete rendering of both: equal text, equal summaries.
    EXPECT_TRUE(a.to_json() == b.to_json());
    ASSERT_EQ(a.devices.size(), b.devices.size());
    for (std::size_t i = 0; i < a.devices.size(); ++i) {
        EXPECT_EQ(a.devices[i].index, b.devices[i].index);
        EXPECT_EQ(a.devices[i].outcome, b.devices[i].outcome);
        EXPECT_EQ(a.devices[i].cloud_outcome, b.devices[i].cloud_outcome);
        EXPECT_EQ(a.devices[i].job_ms, b.devices[i].job_ms);
    }
}

TEST(FleetSummary, JsonRoundTrip) {
    FleetSummary s = sample_summary(0, 20);
    s.devices[3].detail = "fetch failed: \"HTTP 500\", line\nbreak";
    s.devices[4].cloud_outcome.reset();
    s.devices[4].expected.reset();
    s.devices[5].job_ms.reset();
    s.devices[5].connect_latency_ms = 0.125;
    s.devices[6].download_bytes = 0xFFFFFFFFFFFFULL;
    const std::string text = s.to_json();
    FleetSummary back;
    ASSERT_TRUE(FleetSummary::from_json(text, back).ok());
    expect_same(s, back);
    EXPECT_EQ(back.seed, 42u);
    EXPECT_EQ(back.mix, "cut=5");
    EXPECT_EQ(back.link, "10%:64k");
    EXPECT_EQ(back.devices[3].detail, s.devices[3].detail);
    EXPECT_FALSE(back.devices[4].cloud_outcome);
    EXPECT_FALSE(back.devices[5].job_ms);
    EXPECT_EQ(back.devices[5].connect_latency_ms, 0.125);
    EXPECT_EQ(back.devices[6].download_bytes, 0xFFFFFFFFFFFFULL);
    EXPECT_EQ(back.processes.at(0).host, "box");
    EXPECT_EQ(back.processes.at(0).rss_idle_kib, 11000u);
    // One line per device, and the aggregate a reader can use directly.
    const auto j = nlohmann::json::parse(text);
    EXPECT_EQ(j["format"], "ota_fleet-summary/1");
    EXPECT_EQ(j["aggregate"]["outcomes"]["digest_mismatch"], 2);
    EXPECT_EQ(j["aggregate"]["devices"], 20);
    EXPECT_NE(text.find("\n    {\"cloud_outcome\""), std::string::npos);
}

TEST(FleetSummary, EmptyRoundTrip) {
    FleetSummary s;
    FleetSummary back;
    back.seed = 9;
    ASSERT_TRUE(FleetSummary::from_json(s.to_json(), back).ok());
    expect_same(s, back);
    EXPECT_EQ(back.seed, 0u);
}

TEST(FleetSummary, FromJsonErrorsNameTheField) {
    const auto error = [](const std::string& text) {
        FleetSummary out;
        Error e = FleetSummary::from_json(text, out);
        EXPECT_EQ(e.status, Status::malformed_message) << text;
        return e.detail;
    };
    EXPECT_EQ(error("{"), "summary: not valid JSON");
    EXPECT_EQ(error("[]"), "summary: not a JSON object");
    EXPECT_EQ(error(R"({"seed":1})"), "summary.format: missing");
    EXPECT_EQ(error(R"({"format":"x/2","seed":1})"),
              "summary.format: 'x/2' is not ota_fleet-summary/1");
    const std::string head = R"({"format":"ota_fleet-summary/1","seed":1,"processes":[],)";
    EXPECT_EQ(error(head + R"("devices":{}})"), "summary.devices: not an array");
    EXPECT_EQ(error(head + R"("devices":[{"index":1,"name":"a","outcome":"nope"}]})"),
              "summary.devices[0].outcome: unknown outcome 'nope'");
    EXPECT_EQ(error(head + R"("devices":[{"index":-1,"name":"a","outcome":"updated"}]})"),
              "summary.devices[0].index: not an unsigned integer");
    EXPECT_EQ(error(head + R"("devices":[{"index":1,"name":"a","outcome":"updated",)"
                           R"("connects":5000000000}]})"),
              "summary.devices[0].connects: out of range");
    EXPECT_EQ(error(head + R"("devices":[{"index":1,"name":"a","outcome":"updated",)"
                           R"("job_ms":"x"}]})"),
              "summary.devices[0].job_ms: not a number");
    EXPECT_EQ(error(R"({"format":"ota_fleet-summary/1","seed":1,"devices":[],)"
                    R"("processes":[{"first":0}]})"),
              "summary.processes[0].count: missing");
}

TEST(FleetMerge, DisjointRangesEqualOneRun) {
    const FleetSummary whole = sample_summary(0, 300);
    FleetSummary a = sample_summary(0, 100);
    FleetSummary b = sample_summary(100, 200);
    // The second process ran 1 s later; the merged connect window is 1000000..1003000.
    for (auto* t :
         {&b.processes[0].connect_first_unix_ms, &b.processes[0].connect_last_unix_ms,
          &b.processes[0].download_first_unix_ms, &b.processes[0].download_last_unix_ms}) {
        *t += 1000;
    }
    FleetSummary merged;
    ASSERT_TRUE(merge({b, a}, merged).ok());  // any order
    ASSERT_EQ(merged.processes.size(), 2u);
    EXPECT_EQ(merged.processes[0].first, 0u);  // sorted by range
    ASSERT_EQ(merged.devices.size(), 300u);
    for (std::size_t i = 0; i < 300; ++i) EXPECT_EQ(merged.devices[i].index, i);
    const FleetAggregate m = merged.aggregate();
    const FleetAggregate w = whole.aggregate();
    EXPECT_EQ(m.outcomes, w.outcomes);
    EXPECT_EQ(m.cloud_outcomes, w.cloud_outcomes);
    EXPECT_EQ(m.expected, w.expected);
    EXPECT_EQ(m.connect_latency_ms.p50, w.connect_latency_ms.p50);
    EXPECT_EQ(m.connect_latency_ms.p90, w.connect_latency_ms.p90);
    EXPECT_EQ(m.connect_latency_ms.p99, w.connect_latency_ms.p99);
    EXPECT_EQ(m.job_ms.p99, w.job_ms.p99);
    EXPECT_EQ(m.job_ms.max, w.job_ms.max);
    EXPECT_EQ(m.download_bytes, w.download_bytes);
    ASSERT_TRUE(m.connects_per_s);
    EXPECT_DOUBLE_EQ(*m.connects_per_s, 300 / 3.0);
    EXPECT_DOUBLE_EQ(*m.total_download_mib_per_s, 300 / 2.0);
    EXPECT_DOUBLE_EQ(*m.rss_per_device_kib, 50.0);
    EXPECT_DOUBLE_EQ(m.cpu_s, 4.0);
    // Through JSON, as ota_fleet merge does it.
    FleetSummary a2, b2, merged2;
    ASSERT_TRUE(FleetSummary::from_json(a.to_json(), a2).ok());
    ASSERT_TRUE(FleetSummary::from_json(b.to_json(), b2).ok());
    ASSERT_TRUE(merge({a2, b2}, merged2).ok());
    EXPECT_TRUE(merged2.to_json() == merged.to_json());  // (no 100 kB diff on failure)
}

TEST(FleetMerge, Refusals) {
    FleetSummary out;
    EXPECT_EQ(merge({}, out).status, Status::invalid_argument);
    FleetSummary a = sample_summary(0, 10);
    FleetSummary b = sample_summary(5, 10);
    Error e = merge({a, b}, out);
    EXPECT_EQ(e.status, Status::invalid_argument);
    EXPECT_NE(e.detail.find("repeats device 5"), std::string::npos) << e.detail;
    FleetSummary c = sample_summary(10, 10);
    c.seed = 43;
    e = merge({a, c}, out);
    EXPECT_NE(e.detail.find("seed 43"), std::string::npos) << e.detail;
    FleetSummary d = sample_summary(10, 10);
    d.mix = "cut=6";
    e = merge({a, d}, out);
    EXPECT_NE(e.detail.find("another --mix"), std::string::npos) << e.detail;
}

TEST(FleetDeviceCsv, HeaderAndRows) {
    FleetSummary s = sample_summary(0, 3);
    std::swap(s.devices[0], s.devices[2]);  // written in index order anyway
    s.devices[1].detail = "a,b \"c\"";
    s.devices[1].job_ms.reset();
    s.devices[1].cloud_outcome.reset();
    const std::string csv = device_csv(s);
    const std::string header =
        "index,device_name,outcome,cloud_outcome,expected,connect_latency_ms,connected_at_ms,"
        "connects,connect_failures,push_to_progress_ms,download_bytes,download_ms,"
        "download_mib_per_s,job_ms,detail\n";
    EXPECT_EQ(csv, header +
                       "0,sim-0,digest_mismatch,digest_mismatch,digest_mismatch,10.000,100.000,1,0,"
                       "5.000,1048576,500.000,2.000,2000.000,\n"
                       "1,sim-1,updated,,updated,11.000,101.000,1,0,6.000,1048576,500.000,2.000,,"
                       "\"a,b \"\"c\"\"\"\n"
                       "2,sim-2,updated,updated,updated,12.000,102.000,1,0,7.000,1048576,500.000,"
                       "2.000,2002.000,\n");
}

TEST(FleetReport, NamesOutcomesAndFigures) {
    const std::string r = format_report(sample_summary(0, 100));
    EXPECT_NE(r.find("devices 100 in 1 process(es), connected 100, seed 42"), std::string::npos)
        << r;
    EXPECT_NE(r.find("outcomes (device): updated 90 digest_mismatch 10"), std::string::npos) << r;
    EXPECT_NE(r.find("outcomes (cloud): updated 90 digest_mismatch 10"), std::string::npos) << r;
    EXPECT_NE(r.find("connects/s: 50.0"), std::string::npos) << r;
    EXPECT_NE(r.find("job completion (ms, n=100): p50 2049.0  p90 2089.0  p99 2098.0  max 2099.0"),
              std::string::npos)
        << r;
    EXPECT_NE(r.find("RSS per idle device: 50.0 KiB"), std::string::npos) << r;
    FleetSummary empty;
    const std::string e = format_report(empty);
    EXPECT_NE(e.find("outcomes (device): -"), std::string::npos) << e;
    EXPECT_EQ(e.find("outcomes (cloud)"), std::string::npos) << e;
}

TEST(FleetTextFiles, WriteReadAndErrors) {
    char dir[] = "/tmp/ota_fleet_stats_XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string path = std::string(dir) + "/s.json";
    ASSERT_TRUE(write_text_file(path, "hello\n").ok());
    std::string text;
    ASSERT_TRUE(read_text_file(path, text).ok());
    EXPECT_EQ(text, "hello\n");
    Error e = read_text_file(std::string(dir) + "/missing", text);
    EXPECT_EQ(e.status, Status::storage_failed);
    EXPECT_NE(e.detail.find("/missing"), std::string::npos);
    e = write_text_file(std::string(dir) + "/no/such/dir", "x");
    EXPECT_EQ(e.status, Status::storage_failed);
    // Replaced through a temporary file: the new content, and nothing else left in the dir.
    ASSERT_TRUE(write_text_file(path, "second\n").ok());
    ASSERT_TRUE(read_text_file(path, text).ok());
    EXPECT_EQ(text, "second\n");
    // check_writable: a good path leaves nothing behind, a bad one is named.
    EXPECT_TRUE(check_writable(std::string(dir) + "/later.json").ok());
    e = check_writable(std::string(dir) + "/no/such/dir/x.json");
    EXPECT_EQ(e.status, Status::storage_failed);
    EXPECT_NE(e.detail.find("/no/such/dir/x.json"), std::string::npos);
    std::remove(path.c_str());
    EXPECT_EQ(rmdir(dir), 0) << "a temporary file was left behind";
}

}  // namespace
}  // namespace ota::fleet
