// make_c_sink over a C-style in-memory persistence HAL: plain functions, a context struct, and
// injectable return codes, as a C application would write it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ota/c_api/c_sink_adapter.hpp"
#include "ota/log.hpp"
#include "ota/status.hpp"

namespace {

// The HAL's context: the "flash" contents, call counters and the code each hook returns next.
struct MemFlash {
    std::vector<std::uint8_t> staging;    // the partial image
    std::vector<std::uint8_t> committed;  // the published image
    std::uint64_t last_begin_size = 0;
    int begin_calls = 0, write_calls = 0, read_calls = 0, flush_calls = 0, commit_calls = 0,
        abort_calls = 0;
    int begin_rc = OTA_PERSIST_OK, write_rc = OTA_PERSIST_OK, read_rc = OTA_PERSIST_OK,
        flush_rc = OTA_PERSIST_OK, commit_rc = OTA_PERSIST_OK;
};

MemFlash* flash_of(void* ctx) {
    return static_cast<MemFlash*>(ctx);
}

int mem_begin(void* ctx, uint64_t expected_size) {
    MemFlash* f = flash_of(ctx);
    ++f->begin_calls;
    f->last_begin_size = expected_size;
    if (f->begin_rc != OTA_PERSIST_OK) return f->begin_rc;
    f->staging.assign(static_cast<std::size_t>(expected_size), 0);
    return OTA_PERSIST_OK;
}

int mem_write(void* ctx, uint64_t offset, const uint8_t* buf, size_t len) {
    MemFlash* f = flash_of(ctx);
    ++f->write_calls;
    if (f->write_rc != OTA_PERSIST_OK) return f->write_rc;
    if (offset + len > f->staging.size()) return OTA_PERSIST_ERR_IO;
    if (len > 0) std::memcpy(f->staging.data() + offset, buf, len);
    return OTA_PERSIST_OK;
}

int mem_read(void* ctx, uint64_t offset, uint8_t* buf, size_t len) {
    MemFlash* f = flash_of(ctx);
    ++f->read_calls;
    if (f->read_rc != OTA_PERSIST_OK) return f->read_rc;
    if (offset + len > f->staging.size()) return OTA_PERSIST_ERR_IO;
    if (len > 0) std::memcpy(buf, f->staging.data() + offset, len);
    return OTA_PERSIST_OK;
}

int mem_flush(void* ctx) {
    MemFlash* f = flash_of(ctx);
    ++f->flush_calls;
    return f->flush_rc;
}

int mem_commit(void* ctx) {
    MemFlash* f = flash_of(ctx);
    ++f->commit_calls;
    if (f->commit_rc != OTA_PERSIST_OK) return f->commit_rc;
    f->committed = std::move(f->staging);
    f->staging.clear();
    return OTA_PERSIST_OK;
}

void mem_abort(void* ctx) {
    MemFlash* f = flash_of(ctx);
    ++f->abort_calls;
    f->staging.clear();
}

ota_persistence_hal_t full_hal(MemFlash* f, uint64_t capacity = 0) {
    ota_persistence_hal_t hal;
    std::memset(&hal, 0, sizeof hal);
    hal.ctx = f;
    hal.begin = mem_begin;
    hal.write = mem_write;
    hal.read = mem_read;
    hal.flush = mem_flush;
    hal.commit = mem_commit;
    hal.abort = mem_abort;
    hal.capacity = capacity;
    return hal;
}

std::vector<std::uint8_t> bytes(std::size_t n, std::uint8_t first) {
    std::vector<std::uint8_t> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(first + i * 7);
    return out;
}

std::unique_ptr<ota::FirmwareSink> make_sink(const ota_persistence_hal_t& hal) {
    std::string why;
    auto sink = ota::make_c_sink(hal, &why);
    EXPECT_NE(sink, nullptr) << why;
    EXPECT_TRUE(why.empty()) << why;
    return sink;
}

TEST(CSinkTest, MissingRequiredHookIsRefusedWithReason) {
    MemFlash f;
    struct Case {
        const char* hook;
        void (*clear)(ota_persistence_hal_t&);
    };
    const Case cases[] = {
        {"begin", [](ota_persistence_hal_t& h) { h.begin = nullptr; }},
        {"write", [](ota_persistence_hal_t& h) { h.write = nullptr; }},
        {"commit", [](ota_persistence_hal_t& h) { h.commit = nullptr; }},
    };
    for (const Case& c : cases) {
        ota_persistence_hal_t hal = full_hal(&f);
        c.clear(hal);
        std::string why;
        EXPECT_EQ(ota::make_c_sink(hal, &why), nullptr) << c.hook;
        EXPECT_NE(why.find(c.hook), std::string::npos) << why;
        EXPECT_EQ(ota::make_c_sink(hal), nullptr) << c.hook << " without a why pointer";
    }
    EXPECT_EQ(f.abort_calls + f.begin_calls, 0);
}

TEST(CSinkTest, OnlyRequiredHooksAreEnough) {
    MemFlash f;
    ota_persistence_hal_t hal = full_hal(&f);
    hal.read = nullptr;
    hal.flush = nullptr;
    hal.abort = nullptr;
    std::string why = "stale text";
    EXPECT_NE(ota::make_c_sink(hal, &why), nullptr);
    EXPECT_TRUE(why.empty()) << why;
}

TEST(CSinkTest, FullJobGoesThroughTheHooks) {
    MemFlash f;
    auto sink = make_sink(full_hal(&f));
    ASSERT_NE(sink, nullptr);
    const auto image = bytes(100, 3);

    ASSERT_EQ(sink->begin(image.size()), ota::Status::ok);
    EXPECT_EQ(f.last_begin_size, 100u);
    ASSERT_EQ(sink->write(60, image.data() + 60, 40), ota::Status::ok);  // out of order is fine
    ASSERT_EQ(sink->write(0, image.data(), 60), ota::Status::ok);
    ASSERT_EQ(sink->flush(), ota::Status::ok);
    std::vector<std::uint8_t> back(30);
    ASSERT_EQ(sink->read(50, back.data(), back.size()), ota::Status::ok);
    EXPECT_EQ(back, std::vector<std::uint8_t>(image.begin() + 50, image.begin() + 80));
    ASSERT_EQ(sink->commit(), ota::Status::ok);

    EXPECT_EQ(f.committed, image);
    EXPECT_EQ(f.begin_calls, 1);
    EXPECT_EQ(f.write_calls, 2);
    EXPECT_EQ(f.read_calls, 1);
    EXPECT_EQ(f.flush_calls, 1);
    EXPECT_EQ(f.commit_calls, 1);
    EXPECT_EQ(f.abort_calls, 0);

    // Reusable after commit; the committed job is not aborted by the destructor.
    ASSERT_EQ(sink->begin(5), ota::Status::ok);
    EXPECT_EQ(f.begin_calls, 2);
}

TEST(CSinkTest, DestructorAfterCommitDoesNotAbort) {
    MemFlash f;
    {
        auto sink = make_sink(full_hal(&f));
        ASSERT_NE(sink, nullptr);
        ASSERT_EQ(sink->begin(1), ota::Status::ok);
        const std::uint8_t b = 42;
        ASSERT_EQ(sink->write(0, &b, 1), ota::Status::ok);
        ASSERT_EQ(sink->commit(), ota::Status::ok);
    }
    EXPECT_EQ(f.abort_calls, 0);
    EXPECT_EQ(f.committed, std::vector<std::uint8_t>{42});
}

TEST(CSinkTest, WriteHookResultsAreMapped) {
    MemFlash f;
    auto sink = make_sink(full_hal(&f));
    ASSERT_NE(sink, nullptr);
    ASSERT_EQ(sink->begin(10), ota::Status::ok);
    const auto data = bytes(10, 1);

    const std::pair<int, ota::Status> cases[] = {
        {OTA_PERSIST_ERR_IO, ota::Status::storage_failed},
        {OTA_PERSIST_ERR_FULL, ota::Status::storage_full},
        {-77, ota::Status::storage_failed},
        {std::numeric_limits<int>::min(), ota::Status::storage_failed},
        {OTA_PERSIST_OK, ota::Status::ok},
    };
    for (const auto& [rc, expected] : cases) {
        f.write_rc = rc;
        EXPECT_EQ(sink->write(0, data.data(), data.size()), expected) << "hook returned " << rc;
    }
    EXPECT_EQ(f.write_calls, 5);
}

TEST(CSinkTest, PositiveHookResultIsAFailureAndLogged) {
    std::vector<std::string> warnings;
    ota::set_log_sink([&warnings](ota::LogLevel level, std::string_view msg) {
        if (level == ota::LogLevel::warning) warnings.emplace_back(msg);
    });
    MemFlash f;
    auto sink = make_sink(full_hal(&f));
    ASSERT_NE(sink, nullptr);
    ASSERT_EQ(sink->begin(4), ota::Status::ok);
    f.write_rc = 4;  // e.g. a HAL that returns "bytes written"
    const auto data = bytes(4, 9);
    const ota::Status s = sink->write(0, data.data(), data.size());
    ota::set_log_sink({});
    EXPECT_EQ(s, ota::Status::storage_failed);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("write"), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find("4"), std::string::npos) << warnings[0];
}

TEST(CSinkTest, OtherHookFailuresAreMapped) {
    MemFlash f;
    auto sink = make_sink(full_hal(&f));
    ASSERT_NE(sink, nullptr);
    ASSERT_EQ(sink->begin(8), ota::Status::ok);
    std::vector<std::uint8_t> out(8);

    f.read_rc = OTA_PERSIST_ERR_IO;
    EXPECT_EQ(sink->read(0, out.data(), out.size()), ota::Status::storage_failed);
    f.flush_rc = OTA_PERSIST_ERR_FULL;
    EXPECT_EQ(sink->flush(), ota::Status::storage_full);
    f.flush_rc = -5;
    EXPECT_EQ(sink->flush(), ota::Status::storage_failed);

    const auto data = bytes(8, 2);
    ASSERT_EQ(sink->write(0, data.data(), data.size()), ota::Status::ok);
    f.commit_rc = OTA_PERSIST_ERR_IO;
    EXPECT_EQ(sink->commit(), ota::Status::storage_failed);
    EXPECT_TRUE(f.committed.empty());
    // A failed commit leaves the job open: the caller may retry or abort.
    f.commit_rc = OTA_PERSIST_OK;
    EXPECT_EQ(sink->commit(), ota::Status::ok);
    EXPECT_EQ(f.committed, data);
}

TEST(CSinkTest, FailedBeginLeavesNoJobButAbortStillReachesTheHal) {
    MemFlash f;
    auto sink = make_sink(full_hal(&f));
    ASSERT_NE(sink, nullptr);
    f.begin_rc = OTA_PERSIST_ERR_FULL;
    EXPECT_EQ(sink->begin(10), ota::Status::storage_full);
    f.begin_rc = OTA_PERSIST_ERR_IO;
    EXPECT_EQ(sink->begin(10), ota::Status::storage_failed);
    const auto data = bytes(1, 0);
    EXPECT_EQ(sink->write(0, data.data(), 1), ota::Status::invalid_state);
    EXPECT_EQ(sink->commit(), ota::Status::invalid_state);
    EXPECT_EQ(f.write_calls, 0);
    EXPECT_EQ(f.commit_calls, 0);
    // The HAL may have prepared something before failing, so abort() lets it clean up.
    const int aborts_before = f.abort_calls;
    sink->abort();
    EXPECT_EQ(f.abort_calls, aborts_before + 1);
}

TEST(CSinkTest, CapacityIsEnforcedWithoutCallingTheHook) {
    MemFlash f;
    auto sink = make_sink(full_hal(&f, 64));
    ASSERT_NE(sink, nullptr);
    EXPECT_EQ(sink->capacity(), 64u);
    EXPECT_EQ(sink->begin(65), ota::Status::storage_full);
    EXPECT_EQ(f.begin_calls, 0);
    EXPECT_EQ(sink->begin(64), ota::Status::ok);
    EXPECT_EQ(f.begin_calls, 1);
}

TEST(CSinkTest, ZeroCapacityMeansUnlimited) {
    MemFlash f;
    ota_persistence_hal_t hal = full_hal(&f, 0);
    hal.begin = [](void* ctx, uint64_t size) -> int {  // records the size without allocating it
        flash_of(ctx)->last_begin_size = size;
        return OTA_PERSIST_OK;
    };
    auto sink = make_sink(hal);
    ASSERT_NE(sink, nullptr);
    EXPECT_EQ(sink->capacity(), std::numeric_limits<std::uint64_t>::max());
    const std::uint64_t huge = std::uint64_t{1} << 62;
    EXPECT_EQ(sink->begin(huge), ota::Status::ok);
    EXPECT_EQ(f.last_begin_size, huge);
}

TEST(CSinkTest, CallsOutsideAJobAreInvalidStateAndNeverReachTheHal) {
    MemFlash f;
    auto sink = make_sink(full_hal(&f));
    ASSERT_NE(sink, nullptr);
    const auto data = bytes(4, 5);
    std::vector<std::uint8_t> out(4);
    EXPECT_EQ(sink->write(0, data.data(), data.size()), ota::Status::invalid_state);
    EXPECT_EQ(sink->read(0, out.data(), out.size()), ota::Status::invalid_state);
    EXPECT_EQ(sink->flush(), ota::Status::invalid_state);
    EXPECT_EQ(sink->commit(), ota::Status::invalid_state);
    EXPECT_EQ(f.write_calls + f.read_calls + f.flush_calls + f.commit_calls, 0);
}

TEST(CSinkTest, OutOfRangeWritesAndReadsNeverReachTheHal) {
    MemFlash f;
    auto sink = make_sink(full_hal(&f));
    ASSERT_NE(sink, nullptr);
    ASSERT_EQ(sink->begin(16), ota::Status::ok);
    const auto data = bytes(16, 6);
    std::vector<std::uint8_t> out(16);
    EXPECT_EQ(sink->write(1, data.data(), 16), ota::Status::invalid_argument);
    EXPECT_EQ(sink->write(std::numeric_limits<std::uint64_t>::max(), data.data(), 2),
              ota::Status::invalid_argument);
    EXPECT_EQ(sink->write(0, nullptr, 1), ota::Status::invalid_argument);
    EXPECT_EQ(sink->read(10, out.data(), 7), ota::Status::invalid_argument);
    EXPECT_EQ(sink->read(0, nullptr, 1), ota::Status::invalid_argument);
    EXPECT_EQ(f.write_calls + f.read_calls, 0);
    EXPECT_EQ(sink->write(0, data.data(), 16), ota::Status::ok);
    EXPECT_EQ(f.write_calls, 1);
}

TEST(CSinkTest, NullOptionalHooksBehaveAsDocumented) {
    MemFlash f;
    ota_persistence_hal_t hal = full_hal(&f);
    hal.read = nullptr;
    hal.flush = nullptr;
    hal.abort = nullptr;
    auto sink = make_sink(hal);
    ASSERT_NE(sink, nullptr);
    ASSERT_EQ(sink->begin(4), ota::Status::ok);
    std::vector<std::uint8_t> out(4);
    EXPECT_EQ(sink->read(0, out.data(), out.size()), ota::Status::invalid_state);  // no read-back
    EXPECT_EQ(sink->flush(), ota::Status::ok);                                     // nothing to do
    sink->abort();                                                                 // no hook: no-op
    const auto data = bytes(4, 7);
    EXPECT_EQ(sink->write(0, data.data(), data.size()), ota::Status::invalid_state);
    EXPECT_EQ(f.read_calls + f.flush_calls + f.abort_calls + f.write_calls, 0);
}

TEST(CSinkTest, AbortCallsTheHookOncePerJob) {
    MemFlash f;
    auto sink = make_sink(full_hal(&f));
    ASSERT_NE(sink, nullptr);
    sink->abort();  // nothing begun: the HAL is not bothered
    EXPECT_EQ(f.abort_calls, 0);
    ASSERT_EQ(sink->begin(8), ota::Status::ok);
    const auto data = bytes(8, 8);
    ASSERT_EQ(sink->write(0, data.data(), data.size()), ota::Status::ok);
    sink->abort();
    EXPECT_EQ(f.abort_calls, 1);
    EXPECT_TRUE(f.staging.empty());
    sink->abort();
    EXPECT_EQ(f.abort_calls, 1);
    EXPECT_EQ(sink->write(0, data.data(), data.size()), ota::Status::invalid_state);
    EXPECT_EQ(sink->commit(), ota::Status::invalid_state);
    EXPECT_TRUE(f.committed.empty());
}

TEST(CSinkTest, SecondBeginAbortsTheFirstJob) {
    MemFlash f;
    auto sink = make_sink(full_hal(&f, 100));
    ASSERT_NE(sink, nullptr);
    ASSERT_EQ(sink->begin(8), ota::Status::ok);
    ASSERT_EQ(sink->begin(4), ota::Status::ok);
    EXPECT_EQ(f.abort_calls, 1);
    EXPECT_EQ(f.begin_calls, 2);
    const auto data = bytes(8, 1);
    EXPECT_EQ(sink->write(0, data.data(), 8), ota::Status::invalid_argument);  // new size rules
    // A refused begin also ends the open job.
    EXPECT_EQ(sink->begin(101), ota::Status::storage_full);
    EXPECT_EQ(f.abort_calls, 2);
    EXPECT_EQ(f.begin_calls, 2);
    EXPECT_EQ(sink->write(0, data.data(), 1), ota::Status::invalid_state);
}

TEST(CSinkTest, DestructorAbortsAnOpenJob) {
    MemFlash f;
    {
        auto sink = make_sink(full_hal(&f));
        ASSERT_NE(sink, nullptr);
        ASSERT_EQ(sink->begin(8), ota::Status::ok);
    }
    EXPECT_EQ(f.abort_calls, 1);
    EXPECT_TRUE(f.committed.empty());
}

// issue 10: a stop (suspend) keeps a resumable HAL's partial image: no abort hook, also not from
// the destructor; a HAL without resume hooks is aborted as before.
TEST(CSinkTest, SuspendKeepsAResumableHalsImageAndAbortsOtherwise) {
    MemFlash f;
    {
        auto sink = make_sink(full_hal(&f));
        ASSERT_NE(sink, nullptr);
        ASSERT_EQ(sink->begin(8), ota::Status::ok);
        sink->suspend();
        EXPECT_EQ(f.abort_calls, 1);
    }
    EXPECT_EQ(f.abort_calls, 1);
}

TEST(CSinkTest, HalStructIsCopied) {
    MemFlash f;
    MemFlash other;
    ota_persistence_hal_t hal = full_hal(&f, 10);
    auto sink = make_sink(hal);
    ASSERT_NE(sink, nullptr);
    hal.ctx = &other;
    hal.capacity = 1;
    hal.begin = nullptr;
    EXPECT_EQ(sink->capacity(), 10u);
    ASSERT_EQ(sink->begin(5), ota::Status::ok);
    EXPECT_EQ(f.begin_calls, 1);
    EXPECT_EQ(other.begin_calls, 0);
}

// ---- crash-resume hooks ------------------------------------------------------------------------

// A "flash" that also survives restarts: the partial image's length and the resume record.
struct ResumableFlash {
    MemFlash flash;
    std::uint64_t partial_length = 0;  // bytes the partial image holds
    bool has_partial = false;
    std::vector<std::uint8_t> record;
    int resume_calls = 0, save_calls = 0, load_calls = 0, clear_calls = 0;
    int resume_rc = OTA_PERSIST_OK, save_rc = OTA_PERSIST_OK, load_rc = OTA_PERSIST_OK;
    std::size_t load_len_override = 0;  // > 0: report this length (a buggy HAL)
};

ResumableFlash* resumable_of(void* ctx) {
    return static_cast<ResumableFlash*>(ctx);
}

int rf_begin(void* ctx, uint64_t expected_size) {
    ResumableFlash* r = resumable_of(ctx);
    r->has_partial = true;
    r->partial_length = 0;
    return mem_begin(&r->flash, expected_size);
}
int rf_write(void* ctx, uint64_t offset, const uint8_t* buf, size_t len) {
    ResumableFlash* r = resumable_of(ctx);
    const int rc = mem_write(&r->flash, offset, buf, len);
    if (rc == OTA_PERSIST_OK && offset + len > r->partial_length) r->partial_length = offset + len;
    return rc;
}
int rf_read(void* ctx, uint64_t offset, uint8_t* buf, size_t len) {
    return mem_read(&resumable_of(ctx)->flash, offset, buf, len);
}
int rf_commit(void* ctx) {
    ResumableFlash* r = resumable_of(ctx);
    r->has_partial = false;
    return mem_commit(&r->flash);
}
void rf_abort(void* ctx) {
    ResumableFlash* r = resumable_of(ctx);
    r->has_partial = false;
    mem_abort(&r->flash);
}
int rf_resume(void* ctx, uint64_t expected_size, uint64_t* stored) {
    ResumableFlash* r = resumable_of(ctx);
    ++r->resume_calls;
    if (r->resume_rc != OTA_PERSIST_OK) return r->resume_rc;
    if (!r->has_partial) return OTA_PERSIST_ERR_IO;
    r->flash.staging.resize(static_cast<std::size_t>(expected_size));
    *stored = r->partial_length;
    return OTA_PERSIST_OK;
}
int rf_save(void* ctx, const uint8_t* buf, size_t len) {
    ResumableFlash* r = resumable_of(ctx);
    ++r->save_calls;
    if (r->save_rc != OTA_PERSIST_OK) return r->save_rc;
    r->record.assign(buf, buf + len);
    return OTA_PERSIST_OK;
}
int rf_load(void* ctx, uint8_t* buf, size_t cap, size_t* len) {
    ResumableFlash* r = resumable_of(ctx);
    ++r->load_calls;
    if (r->load_rc != OTA_PERSIST_OK) return r->load_rc;
    if (r->record.size() > cap) return OTA_PERSIST_ERR_IO;
    if (!r->record.empty()) std::memcpy(buf, r->record.data(), r->record.size());
    *len = r->load_len_override > 0 ? r->load_len_override : r->record.size();
    return OTA_PERSIST_OK;
}
void rf_clear(void* ctx) {
    ResumableFlash* r = resumable_of(ctx);
    ++r->clear_calls;
    r->record.clear();
}

ota_persistence_hal_t resumable_hal(ResumableFlash* r) {
    ota_persistence_hal_t hal;
    std::memset(&hal, 0, sizeof hal);
    hal.ctx = r;
    hal.begin = rf_begin;
    hal.write = rf_write;
    hal.read = rf_read;
    hal.commit = rf_commit;
    hal.abort = rf_abort;
    hal.resume = rf_resume;
    hal.save_record = rf_save;
    hal.load_record = rf_load;
    hal.clear_record = rf_clear;
    return hal;
}

TEST(CSinkTest, ZeroedResumeHooksMeanNotSupported) {
    MemFlash f;
    auto sink = make_sink(full_hal(&f));  // memset to zero, resume hooks never set
    ASSERT_NE(sink, nullptr);
    std::uint64_t stored = 7;
    EXPECT_EQ(sink->resume(8, stored), ota::Status::invalid_state);
    EXPECT_EQ(stored, 0U);
    std::vector<std::uint8_t> record{1, 2, 3};
    EXPECT_EQ(sink->save_record(record.data(), record.size()), ota::Status::invalid_state);
    EXPECT_EQ(sink->load_record(record), ota::Status::invalid_state);
    EXPECT_TRUE(record.empty());
    sink->clear_record();  // harmless
    EXPECT_EQ(f.begin_calls + f.abort_calls, 0);
}

TEST(CSinkTest, ResumeNeedsEveryResumeHookAndRead) {
    for (int missing = 0; missing < 5; ++missing) {
        ResumableFlash r;
        ota_persistence_hal_t hal = resumable_hal(&r);
        switch (missing) {
            case 0:
                hal.resume = nullptr;
                break;
            case 1:
                hal.save_record = nullptr;
                break;
            case 2:
                hal.load_record = nullptr;
                break;
            case 3:
                hal.clear_record = nullptr;
                break;
            default:
                hal.read = nullptr;
                break;
        }
        auto sink = make_sink(hal);
        ASSERT_NE(sink, nullptr);
        std::vector<std::uint8_t> record;
        EXPECT_EQ(sink->load_record(record), ota::Status::invalid_state) << missing;
        std::uint64_t stored = 0;
        EXPECT_EQ(sink->resume(8, stored), ota::Status::invalid_state) << missing;
        EXPECT_EQ(r.resume_calls + r.load_calls, 0) << missing;
    }
}

TEST(CSinkTest, RecordAndResumeReachTheHal) {
    ResumableFlash r;
    ResumableFlash saved;
    const auto image = bytes(100, 3);
    {
        auto sink = make_sink(resumable_hal(&r));
        ASSERT_NE(sink, nullptr);
        std::vector<std::uint8_t> loaded{9};
        ASSERT_EQ(sink->load_record(loaded), ota::Status::ok);
        EXPECT_TRUE(loaded.empty());
        ASSERT_EQ(sink->begin(image.size()), ota::Status::ok);
        ASSERT_EQ(sink->write(0, image.data(), 40), ota::Status::ok);
        const std::vector<std::uint8_t> record{'r', 'e', 'c'};
        ASSERT_EQ(sink->save_record(record.data(), record.size()), ota::Status::ok);
        ASSERT_EQ(sink->load_record(loaded), ota::Status::ok);
        EXPECT_EQ(loaded, record);
        saved = r;  // what a crash leaves: the destructor's abort never runs on a device
    }
    r = saved;
    auto sink = make_sink(resumable_hal(&r));
    ASSERT_NE(sink, nullptr);
    std::uint64_t stored = 0;
    ASSERT_EQ(sink->resume(image.size(), stored), ota::Status::ok);
    EXPECT_EQ(stored, 40U);
    std::vector<std::uint8_t> back(40);
    ASSERT_EQ(sink->read(0, back.data(), back.size()), ota::Status::ok);
    EXPECT_TRUE(std::equal(back.begin(), back.end(), image.begin()));
    ASSERT_EQ(sink->write(40, image.data() + 40, 60), ota::Status::ok);
    ASSERT_EQ(sink->commit(), ota::Status::ok);
    EXPECT_EQ(r.flash.committed, image);
    sink->clear_record();
    EXPECT_EQ(r.clear_calls, 1);
    EXPECT_TRUE(r.record.empty());
}

TEST(CSinkTest, ResumeFailuresAndBadHalAnswers) {
    ResumableFlash r;
    auto sink = make_sink(resumable_hal(&r));
    ASSERT_NE(sink, nullptr);
    std::uint64_t stored = 0;
    EXPECT_EQ(sink->resume(50, stored), ota::Status::storage_failed) << "no partial image";
    r.has_partial = true;
    r.partial_length = 80;
    EXPECT_EQ(sink->resume(50, stored), ota::Status::invalid_argument) << "longer than expected";
    EXPECT_GE(r.flash.abort_calls, 1) << "the HAL is told to drop what it reopened";
    EXPECT_EQ(sink->write(0, bytes(1, 1).data(), 1), ota::Status::invalid_state);

    r.has_partial = true;
    r.resume_rc = OTA_PERSIST_ERR_FULL;
    EXPECT_EQ(sink->resume(50, stored), ota::Status::storage_full);

    ResumableFlash capped;
    ota_persistence_hal_t hal = resumable_hal(&capped);
    hal.capacity = 10;
    auto small = make_sink(hal);
    EXPECT_EQ(small->resume(11, stored), ota::Status::storage_full);
    EXPECT_EQ(capped.resume_calls, 0);

    std::vector<std::uint8_t> loaded;
    r.record = {1, 2, 3};
    r.load_len_override = ota::FirmwareSink::kMaxResumeRecordSize + 1;  // claims too much
    EXPECT_EQ(sink->load_record(loaded), ota::Status::storage_failed);
    EXPECT_TRUE(loaded.empty());
    r.load_len_override = 0;
    r.load_rc = OTA_PERSIST_ERR_IO;
    EXPECT_EQ(sink->load_record(loaded), ota::Status::storage_failed);
    r.save_rc = OTA_PERSIST_ERR_FULL;
    EXPECT_EQ(sink->save_record(loaded.data(), 0), ota::Status::storage_full);
    const std::vector<std::uint8_t> huge(ota::FirmwareSink::kMaxResumeRecordSize + 1);
    EXPECT_EQ(sink->save_record(huge.data(), huge.size()), ota::Status::invalid_argument);
}

TEST(CSinkTest, SuspendOfAResumableHalNeverCallsTheAbortHook) {
    ResumableFlash r;
    const auto image = bytes(100, 5);
    {
        auto sink = make_sink(resumable_hal(&r));
        ASSERT_NE(sink, nullptr);
        ASSERT_EQ(sink->begin(image.size()), ota::Status::ok);
        ASSERT_EQ(sink->write(0, image.data(), 40), ota::Status::ok);
        const std::vector<std::uint8_t> record{'r'};
        ASSERT_EQ(sink->save_record(record.data(), record.size()), ota::Status::ok);
        sink->suspend();
        EXPECT_EQ(sink->write(40, image.data() + 40, 10), ota::Status::invalid_state);
    }
    EXPECT_EQ(r.flash.abort_calls, 0);
    EXPECT_EQ(r.clear_calls, 0);
    auto sink = make_sink(resumable_hal(&r));
    std::uint64_t stored = 0;
    ASSERT_EQ(sink->resume(image.size(), stored), ota::Status::ok);
    EXPECT_EQ(stored, 40U);
}

}  // namespace
