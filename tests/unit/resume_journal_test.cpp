// The resume journal: open (fresh or resumed), save under the policy, restart, discard, close.
#include "core/resume_journal.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/resume_record.hpp"
#include "support/fake_broker.hpp"
#include "support/memory_sink.hpp"

namespace {

using namespace std::chrono_literals;
using ota::Status;
using ota::detail::DownloadTarget;
using ota::detail::ResumeJournal;
using ota::test::ManualClock;
using ota::test::MemorySink;

DownloadTarget target() {
    DownloadTarget t;
    t.url = "https://ota.example.com/fw.bin?Signature=secret";
    t.size = 1000;
    t.digest.hex = "00112233445566778899aabbccddeeff";
    return t;
}

std::vector<std::uint8_t> bytes(std::size_t n) {
    return std::vector<std::uint8_t>(n, 0x5A);
}

class JournalTest : public ::testing::Test {
  protected:
    ota::ResumePolicy policy_;
    ManualClock clock_;
    MemorySink sink_;
};

TEST_F(JournalTest, SavesUnderThePolicyAndResumesTheSameTarget) {
    policy_.record_every_bytes = 100;
    policy_.record_min_interval = 1s;
    ResumeJournal j(policy_);
    std::uint64_t from = 99;
    ASSERT_EQ(j.open(sink_, target(), "2.0.0", "", clock_.now(), from), Status::ok);
    EXPECT_EQ(from, 0U);
    EXPECT_TRUE(j.supported());
    EXPECT_EQ(sink_.begins, 1U);
    const auto data = bytes(300);
    ASSERT_EQ(sink_.write(0, data.data(), data.size()), Status::ok);
    EXPECT_EQ(j.save(sink_, 300, clock_.now(), false), Status::ok);
    EXPECT_EQ(sink_.record_saves, 0U);  // too soon
    clock_.advance(1s);
    EXPECT_EQ(j.save(sink_, 300, clock_.now(), false), Status::ok);
    EXPECT_EQ(sink_.record_saves, 1U);
    EXPECT_EQ(sink_.flushes, 1U);
    EXPECT_EQ(j.save(sink_, 300, clock_.now(), true), Status::ok);  // nothing new
    EXPECT_EQ(sink_.record_saves, 1U);
    // The record names the target without the URL's query string.
    const std::string rec(sink_.record().begin(), sink_.record().end());
    EXPECT_EQ(rec.find("secret"), std::string::npos);
    EXPECT_EQ(
        ota::detail::parse_resume_record(
            rec, ota::detail::resume_identity("2.0.0", 1000, target().digest, target().url, "")),
        std::optional<std::uint64_t>(300));

    MemorySink after = sink_;
    after.power_cycle();
    ResumeJournal again(policy_);
    ASSERT_EQ(again.open(after, target(), "2.0.0", "", clock_.now(), from), Status::ok);
    EXPECT_EQ(from, 300U);
    EXPECT_EQ(after.begins, 1U);  // resumed, not begun again

    MemorySink other = sink_;
    other.power_cycle();
    ResumeJournal third(policy_);
    ASSERT_EQ(third.open(other, target(), "2.0.1", "", clock_.now(), from), Status::ok);
    EXPECT_EQ(from, 0U);  // another job: the record is discarded
    EXPECT_TRUE(other.record().empty());
}

TEST_F(JournalTest, DisabledOrUnsupportedMeansNoRecords) {
    policy_.enabled = false;
    ResumeJournal j(policy_);
    std::uint64_t from = 0;
    ASSERT_EQ(j.open(sink_, target(), "2.0.0", "", clock_.now(), from), Status::ok);
    EXPECT_FALSE(j.supported());
    EXPECT_EQ(j.save(sink_, 500, clock_.now(), true), Status::ok);
    EXPECT_EQ(sink_.record_saves, 0U);
    EXPECT_EQ(sink_.record_loads, 0U);

    policy_.enabled = true;
    MemorySink plain;
    plain.resume_supported = false;
    ResumeJournal k(policy_);
    ASSERT_EQ(k.open(plain, target(), "2.0.0", "", clock_.now(), from), Status::ok);
    EXPECT_FALSE(k.supported());
    k.close(plain);
    EXPECT_EQ(plain.record_clears, 0U);
}

TEST_F(JournalTest, AFailingSaveStopsRecordsAFailingFlushIsAnError) {
    ResumeJournal j(policy_);
    std::uint64_t from = 0;
    ASSERT_EQ(j.open(sink_, target(), "2.0.0", "", clock_.now(), from), Status::ok);
    sink_.save_status = Status::storage_failed;
    EXPECT_EQ(j.save(sink_, 10, clock_.now(), true), Status::ok);
    sink_.save_status = Status::ok;
    EXPECT_EQ(j.save(sink_, 20, clock_.now(), true), Status::ok);
    EXPECT_EQ(sink_.record_saves, 1U);  // off for the rest of this download

    ResumeJournal k(policy_);
    ASSERT_EQ(k.open(sink_, target(), "2.0.0", "", clock_.now(), from), Status::ok);
    sink_.flush_status = Status::storage_failed;
    EXPECT_EQ(k.save(sink_, 10, clock_.now(), true), Status::storage_failed);
}

TEST_F(JournalTest, RestartDiscardAndCloseRemoveTheRecord) {
    ResumeJournal j(policy_);
    std::uint64_t from = 0;
    ASSERT_EQ(j.open(sink_, target(), "2.0.0", "", clock_.now(), from), Status::ok);
    ASSERT_EQ(j.save(sink_, 10, clock_.now(), true), Status::ok);
    EXPECT_FALSE(sink_.record().empty());
    j.restart(sink_, clock_.now());
    EXPECT_TRUE(sink_.record().empty());
    ASSERT_EQ(j.save(sink_, 5, clock_.now(), true), Status::ok);  // counts from 0 again
    EXPECT_FALSE(sink_.record().empty());
    j.discard(sink_);
    EXPECT_TRUE(sink_.record().empty());
    ASSERT_EQ(j.save(sink_, 5, clock_.now(), true), Status::ok);
    j.close(sink_);
    EXPECT_TRUE(sink_.record().empty());
    EXPECT_FALSE(j.supported());
    const auto saves = sink_.record_saves;
    EXPECT_EQ(j.save(sink_, 50, clock_.now(), true), Status::ok);
    EXPECT_EQ(sink_.record_saves, saves);
}

}  // namespace
