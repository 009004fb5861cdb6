// OtaClient with multi-file jobs (files[], PROTOCOL.md section 3): each file downloaded into its
// own sink, verified against its own digest and committed in turn; progress over the whole job.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ota/client.hpp"
#include "ota/digest.hpp"
#include "support/client_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ota::ClientOptions;
using ota::DigestAlgorithm;
using ota::Error;
using ota::FetchResult;
using ota::FirmwareSink;
using ota::JobFile;
using ota::OtaClient;
using ota::OtaState;
using ota::Status;
using namespace ota::test::client_fixture;

const std::vector<std::vector<std::uint8_t>> kFiles = {pattern(5000, 31, 7), pattern(1200, 13, 1),
                                                       pattern(8000, 7, 3)};

std::string url_of(std::size_t i) {
    return "https://ota.example.com/fw/part" + std::to_string(i) + ".bin?Signature=S";
}

std::string multi_push(int bad_digest_at = -1) {
    json files = json::array();
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < kFiles.size(); ++i) {
        std::string sign = md5_of(kFiles[i]);
        if (static_cast<int>(i) == bad_digest_at) sign = md5_of(pattern(10, 1, 1));
        files.push_back({{"fileName", "part" + std::to_string(i) + ".bin"},
                         {"fileSize", kFiles[i].size()},
                         {"fileUrl", url_of(i)},
                         {"fileSign", sign}});
        total += kFiles[i].size();
    }
    (void)total;
    json data = {{"version", "3.0.0"}, {"signMethod", "Md5"}, {"files", files}};
    return json{{"code", "1000"}, {"data", data}, {"id", 1}, {"message", "success"}}.dump();
}

/// One response per file, each honouring Range, in pieces of at most `chunk` bytes.
std::vector<ScriptedResponse> ranged_script(std::size_t chunk) {
    std::vector<ScriptedResponse> script;
    for (const auto& body : kFiles) {
        ScriptedResponse r;
        r.body = body;
        r.max_chunk = chunk;
        r.range_from_offset = true;
        script.push_back(r);
    }
    return script;
}

class MultiFileTest : public ClientHarness {
  protected:
    void SetUp() override {
        std::vector<ScriptedResponse> script;
        for (const auto& body : kFiles) {
            ScriptedResponse r;
            r.content_length = body.size();
            r.body = body;
            r.max_chunk = 700;
            script.push_back(r);
        }
        source.set_script(script);
        for (auto& s : sinks) s = std::make_unique<MemorySink>(1U << 14);
    }

    void make_client(bool multi = true, bool provider = true) {
        ClientOptions o = device_options();
        o.multi_file = multi;
        o.progress.min_points = 1;
        o.progress.min_interval = 0ms;
        create_client(o);
        if (provider) {
            client->set_file_sink_provider(
                [this](const JobFile& f, std::size_t index, std::size_t count) -> FirmwareSink* {
                    calls.push_back({f.name, index, count});
                    return sinks[index].get();
                });
        }
    }

    FetchResult fetch_all(std::vector<std::uint8_t>& bytes) {
        std::vector<std::uint8_t> buf(1000);
        FetchResult last;
        for (int i = 0; i < 10000 && client->is_fetching(); ++i) {
            last = client->fetch_yield(buf.data(), buf.size(), 100ms);
            if (last.status != Status::ok) break;
            bytes.insert(bytes.end(), buf.begin(),
                         buf.begin() + static_cast<std::ptrdiff_t>(last.bytes));
            clock.advance(10ms);
        }
        return last;
    }

    struct Call {
        std::string name;
        std::size_t index;
        std::size_t count;
    };

    std::unique_ptr<MemorySink> sinks[3];
    std::vector<Call> calls;
};

TEST_F(MultiFileTest, ThreeFilesCommittedInOrder) {
    make_client();
    broker.publish(kUpgradeTopic, multi_push());
    ASSERT_TRUE(client->poll(0ms).ok());
    ASSERT_EQ(client->state(), OtaState::pushed);
    EXPECT_EQ(client->file_count(), 3U);
    EXPECT_EQ(client->file_size(), 5000U + 1200U + 8000U);

    std::vector<std::uint8_t> bytes;
    const FetchResult last = fetch_all(bytes);
    EXPECT_EQ(last.status, Status::ok);
    EXPECT_EQ(client->state(), OtaState::fetched);
    EXPECT_EQ(client->fetched_size(), client->file_size());
    EXPECT_EQ(client->file_index(), 2U);

    std::vector<std::uint8_t> all;
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(sinks[i]->phase(), MemorySink::Phase::committed) << i;
        EXPECT_EQ(sinks[i]->data(), kFiles[i]) << i;
        all.insert(all.end(), kFiles[i].begin(), kFiles[i].end());
    }
    EXPECT_EQ(bytes, all);
    ASSERT_EQ(calls.size(), 3U);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(calls[i].index, i);
        EXPECT_EQ(calls[i].count, 3U);
        EXPECT_EQ(calls[i].name, "part" + std::to_string(i) + ".bin");
    }
    ASSERT_EQ(source.opens().size(), 3U);
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(source.opens()[i].url, url_of(i));

    const auto s = steps();
    ASSERT_GE(s.size(), 3U);
    EXPECT_EQ(s.front(), 0);
    EXPECT_EQ(s.back(), 100);
    for (std::size_t i = 1; i < s.size(); ++i) EXPECT_GT(s[i], s[i - 1]) << i;
    EXPECT_EQ(std::count(s.begin(), s.end(), 100), 1);

    bool valid = false;
    EXPECT_TRUE(client->check_firmware(valid).ok());
    EXPECT_TRUE(valid);
}

TEST_F(MultiFileTest, BadDigestOnSecondFileFailsAndThirdIsNeverFetched) {
    make_client();
    broker.publish(kUpgradeTopic, multi_push(1));
    ASSERT_TRUE(client->poll(0ms).ok());
    std::vector<std::uint8_t> bytes;
    const FetchResult last = fetch_all(bytes);
    EXPECT_EQ(last.status, Status::digest_mismatch);
    EXPECT_EQ(client->state(), OtaState::fetched);  // a failure ends in FETCHED
    EXPECT_EQ(sinks[0]->phase(), MemorySink::Phase::committed);
    EXPECT_EQ(sinks[1]->phase(), MemorySink::Phase::aborted);
    EXPECT_EQ(sinks[1]->commits, 0U);
    EXPECT_EQ(sinks[2]->begins, 0U);
    EXPECT_EQ(source.opens().size(), 2U);
    const auto s = steps();
    EXPECT_EQ(std::count_if(s.begin(), s.end(), [](int x) { return x < 0; }), 1);
    EXPECT_EQ(s.back(), -3);
}

// A transfer cut inside the third file resumes that file with Range from where it stopped; the
// files already committed are not fetched again, and the job ends with one 100 and no failure.
TEST_F(MultiFileTest, CutInTheThirdFileResumesThatFileWithRange) {
    std::vector<ScriptedResponse> script = ranged_script(700);
    script[2].fail_after = 3000;  // the first attempt at file 3 breaks after 3000 bytes
    ScriptedResponse rest = script[2];
    rest.fail_after.reset();
    script.push_back(rest);
    source.set_script(script);

    make_client();
    broker.publish(kUpgradeTopic, multi_push());
    ASSERT_TRUE(client->poll(0ms).ok());
    std::vector<std::uint8_t> bytes;
    for (int i = 0; i < 10000 && client->is_fetching(); ++i) {
        std::vector<std::uint8_t> buf(1000);
        const FetchResult r = client->fetch_yield(buf.data(), buf.size(), 100ms);
        ASSERT_EQ(r.status, Status::ok) << client->last_error().message();
        bytes.insert(bytes.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r.bytes));
        clock.advance(1s);  // lets the retry backoff run out
    }
    ASSERT_EQ(client->state(), OtaState::fetched);

    ASSERT_EQ(source.opens().size(), 4U);
    EXPECT_EQ(source.opens()[2].url, url_of(2));
    EXPECT_EQ(source.opens()[2].offset, 0U);
    EXPECT_EQ(source.opens()[3].url, url_of(2));
    EXPECT_EQ(source.opens()[3].offset, 3000U);
    std::vector<std::uint8_t> all;
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(sinks[i]->phase(), MemorySink::Phase::committed) << i;
        EXPECT_EQ(sinks[i]->data(), kFiles[i]) << i;
        EXPECT_EQ(sinks[i]->begins, 1U) << i;
        all.insert(all.end(), kFiles[i].begin(), kFiles[i].end());
    }
    EXPECT_EQ(bytes, all);  // every byte handed out once
    const auto s = steps();
    EXPECT_EQ(std::count(s.begin(), s.end(), 100), 1);
    EXPECT_EQ(std::count_if(s.begin(), s.end(), [](int x) { return x < 0; }), 0);
    bool valid = false;
    EXPECT_TRUE(client->check_firmware(valid).ok());
    EXPECT_TRUE(valid);
}

// A power cut inside the second file: the restarted job (same push) downloads the first file
// again (its record went with its commit), resumes the second from its last durable record, and
// fetches the third; every file ends committed and intact.
TEST_F(MultiFileTest, PowerCutInTheSecondFileResumesThatFileAfterARestart) {
    std::vector<ScriptedResponse> script = ranged_script(100);
    ClientOptions o = device_options();
    o.multi_file = true;
    o.resume.record_every_bytes = 400;
    o.resume.record_min_interval = 0ms;
    auto run = [&](std::unique_ptr<MemorySink>* with, std::uint64_t stop_at) {
        source = ScriptedSource();
        source.set_script(script);
        create_client(o);
        client->set_file_sink_provider(
            [with](const JobFile&, std::size_t index, std::size_t) -> FirmwareSink* {
                return with[index].get();
            });
        broker.publish(kUpgradeTopic, multi_push());
        ASSERT_TRUE(client->poll(0ms).ok());
        std::vector<std::uint8_t> buf(100);
        for (int i = 0; i < 10000 && client->is_fetching() && client->fetched_size() < stop_at;
             ++i) {
            ASSERT_EQ(client->fetch_yield(buf.data(), buf.size(), 100ms).status, Status::ok)
                << client->last_error().message();
            clock.advance(100ms);
        }
    };

    // First run: stop 900 bytes into file 2 (5000 + 900 bytes of the job), then cut the power.
    run(sinks, 5900);
    ASSERT_EQ(client->file_index(), 1U);
    const std::uint64_t client_fetched = client->fetched_size();
    std::unique_ptr<MemorySink> survivors[3];
    for (std::size_t i = 0; i < 3; ++i) {
        survivors[i] = std::make_unique<MemorySink>(*sinks[i]);
        survivors[i]->power_cycle();
    }
    client.reset();
    ASSERT_FALSE(survivors[1]->record().empty())
        << "saves " << sinks[1]->record_saves << " flushed " << sinks[1]->flushed() << " stored "
        << sinks[1]->stored() << " fetched " << client_fetched;

    run(survivors, ~std::uint64_t{0});
    ASSERT_EQ(client->state(), OtaState::fetched) << client->last_error().message();
    const auto& opens = source.opens();
    ASSERT_EQ(opens.size(), 3U);
    EXPECT_EQ(opens[0].url, url_of(0));
    EXPECT_EQ(opens[0].offset, 0U);
    EXPECT_EQ(opens[1].url, url_of(1));
    EXPECT_EQ(opens[1].offset, 800U);  // the last record before the cut (every 400 bytes)
    EXPECT_EQ(opens[2].url, url_of(2));
    EXPECT_EQ(opens[2].offset, 0U);
    EXPECT_EQ(survivors[1]->resumes, 1U);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(survivors[i]->phase(), MemorySink::Phase::committed) << i;
        EXPECT_EQ(survivors[i]->data(), kFiles[i]) << i;
        EXPECT_TRUE(survivors[i]->record().empty()) << i;
    }
    bool valid = false;
    EXPECT_TRUE(client->check_firmware(valid).ok());
    EXPECT_TRUE(valid);
}

// fetched_size() (IOT_OTAG_FETCHED_SIZE, progress) equals the bytes handed out so far after every
// call, also right after a file was committed and before the next one started.
TEST_F(MultiFileTest, FetchedSizeNeverRunsAheadOfTheBytesHandedOut) {
    make_client();
    broker.publish(kUpgradeTopic, multi_push());
    ASSERT_TRUE(client->poll(0ms).ok());
    std::uint64_t handed_out = 0;
    std::vector<std::uint8_t> buf(1000);
    for (int i = 0; i < 10000 && client->is_fetching(); ++i) {
        const FetchResult r = client->fetch_yield(buf.data(), buf.size(), 100ms);
        ASSERT_EQ(r.status, Status::ok);
        handed_out += r.bytes;
        ASSERT_EQ(client->fetched_size(), handed_out) << "after call " << i;
        clock.advance(10ms);
    }
    EXPECT_EQ(handed_out, 5000U + 1200U + 8000U);
}

TEST_F(MultiFileTest, RefusedWhenTheOptionIsOff) {
    make_client(false);
    broker.publish(kUpgradeTopic, multi_push());
    ASSERT_TRUE(client->poll(0ms).ok());
    EXPECT_EQ(client->state(), OtaState::inited);
    EXPECT_TRUE(source.opens().empty());
    ASSERT_EQ(steps().size(), 1U);
    EXPECT_EQ(steps()[0], -1);
}

TEST_F(MultiFileTest, RefusedWithoutAProvider) {
    make_client(true, false);
    broker.publish(kUpgradeTopic, multi_push());
    ASSERT_TRUE(client->poll(0ms).ok());
    EXPECT_EQ(client->state(), OtaState::inited);
    ASSERT_EQ(steps().size(), 1U);
    EXPECT_EQ(steps()[0], -1);
}

}  // namespace
