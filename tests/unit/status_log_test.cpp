// Status names, Error::message(), the pluggable log sink and URL redaction.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ota/log.hpp"
#include "ota/status.hpp"

namespace ota {
namespace {

const std::vector<Status> kAllStatuses = {
    Status::ok,
    Status::invalid_argument,
    Status::invalid_state,
    Status::buffer_too_small,
    Status::malformed_message,
    Status::not_connected,
    Status::timeout,
    Status::fetch_failed,
    Status::size_mismatch,
    Status::digest_mismatch,
    Status::storage_failed,
    Status::storage_full,
    Status::crypto_failed,
    Status::no_memory,
    Status::internal,
    Status::fetch_refused,
};

TEST(StatusNames, EveryStatusHasADistinctNonEmptyName) {
    std::set<std::string> seen;
    for (Status s : kAllStatuses) {
        const char* name = to_string(s);
        ASSERT_NE(name, nullptr);
        EXPECT_GT(std::strlen(name), 0U) << static_cast<int>(s);
        EXPECT_TRUE(seen.insert(name).second) << "duplicate name " << name;
    }
    EXPECT_EQ(seen.size(), kAllStatuses.size());
    // The enum is contiguous from 0; the list above must not miss any value.
    EXPECT_EQ(static_cast<int>(Status::fetch_refused) + 1, static_cast<int>(kAllStatuses.size()));
}

TEST(StatusNames, SpecificNames) {
    EXPECT_STREQ(to_string(Status::ok), "ok");
    EXPECT_STREQ(to_string(Status::digest_mismatch), "digest mismatch");
    EXPECT_STREQ(to_string(Status::fetch_refused), "download refused");
}

TEST(StatusNames, OutOfRangeValueStillGivesAName) {
    const char* name = to_string(static_cast<Status>(1000));
    ASSERT_NE(name, nullptr);
    EXPECT_GT(std::strlen(name), 0U);
}

TEST(ErrorType, DefaultIsOk) {
    const Error e;
    EXPECT_TRUE(e.ok());
    EXPECT_EQ(e.status, Status::ok);
    EXPECT_EQ(e.message(), "ok");
}

TEST(ErrorType, MessageWithDetail) {
    const Error e(Status::digest_mismatch, "expected abc, got def");
    EXPECT_FALSE(e.ok());
    EXPECT_EQ(e.message(), "digest mismatch: expected abc, got def");
}

TEST(ErrorType, MessageWithoutDetailIsTheStatusName) {
    const Error e(Status::timeout);
    EXPECT_FALSE(e.ok());
    EXPECT_EQ(e.message(), "timeout");
}

TEST(ErrorType, ImplicitFromStatus) {
    const Error e = Status::no_memory;
    EXPECT_EQ(e.status, Status::no_memory);
    EXPECT_TRUE(e.detail.empty());
}

TEST(LogLevelNames, AllLevels) {
    EXPECT_STREQ(to_string(LogLevel::debug), "debug");
    EXPECT_STREQ(to_string(LogLevel::info), "info");
    EXPECT_STREQ(to_string(LogLevel::warning), "warning");
    EXPECT_STREQ(to_string(LogLevel::error), "error");
}

TEST(LogLevelNames, OutOfRangeValueStillGivesAName) {
    // A level cast from an integer by a C caller must not make the default sink print garbage.
    EXPECT_STREQ(to_string(static_cast<LogLevel>(42)), "unknown");
}

// Restores the default sink and level whatever the test did.
class LogTest : public testing::Test {
  protected:
    void SetUp() override {
        set_log_sink({});
        set_log_level(LogLevel::warning);
    }
    void TearDown() override {
        set_log_sink({});
        set_log_level(LogLevel::warning);
    }

    using Record = std::pair<LogLevel, std::string>;

    void capture() {
        set_log_sink([this](LogLevel level, std::string_view message) {
            records_.emplace_back(level, std::string(message));
        });
    }

    std::vector<Record> records_;
};

TEST_F(LogTest, DefaultLevelIsWarning) {
    EXPECT_EQ(log_level(), LogLevel::warning);
}

TEST_F(LogTest, SinkReceivesRecordsAtOrAboveDefaultLevel) {
    capture();
    log(LogLevel::debug, "d");
    log(LogLevel::info, "i");
    log(LogLevel::warning, "w");
    log(LogLevel::error, "e");
    const std::vector<Record> expected = {{LogLevel::warning, "w"}, {LogLevel::error, "e"}};
    EXPECT_EQ(records_, expected);
}

TEST_F(LogTest, SetLogLevelFilters) {
    capture();
    set_log_level(LogLevel::debug);
    EXPECT_EQ(log_level(), LogLevel::debug);
    log(LogLevel::debug, "d");
    log(LogLevel::info, "i");
    ASSERT_EQ(records_.size(), 2U);
    EXPECT_EQ(records_[0], Record(LogLevel::debug, "d"));
    EXPECT_EQ(records_[1], Record(LogLevel::info, "i"));

    records_.clear();
    set_log_level(LogLevel::error);
    EXPECT_EQ(log_level(), LogLevel::error);
    log(LogLevel::warning, "w");
    log(LogLevel::error, "e");
    ASSERT_EQ(records_.size(), 1U);
    EXPECT_EQ(records_[0], Record(LogLevel::error, "e"));
}

TEST_F(LogTest, MessageIsPassedVerbatim) {
    capture();
    const std::string msg("with\0nul and 100% text", 22);
    log(LogLevel::error, msg);
    ASSERT_EQ(records_.size(), 1U);
    EXPECT_EQ(records_[0].second, msg);
}

TEST_F(LogTest, CustomSinkSilencesStderr) {
    capture();
    testing::internal::CaptureStderr();
    log(LogLevel::error, "to the sink only");
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(err, "");
    EXPECT_EQ(records_.size(), 1U);
}

TEST_F(LogTest, DefaultSinkWritesWarningsAndErrorsToStderr) {
    testing::internal::CaptureStderr();
    log(LogLevel::info, "hidden");
    log(LogLevel::warning, "careful");
    log(LogLevel::error, "broken");
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(err, "ota warning: careful\nota error: broken\n");
}

TEST_F(LogTest, EmptySinkRestoresDefault) {
    capture();
    log(LogLevel::error, "captured");
    set_log_sink({});
    testing::internal::CaptureStderr();
    log(LogLevel::error, "back on stderr");
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(err, "ota error: back on stderr\n");
    ASSERT_EQ(records_.size(), 1U);
    EXPECT_EQ(records_[0].second, "captured");
}

TEST_F(LogTest, ReplacingSinkStopsTheOldOne) {
    capture();
    std::vector<std::string> second;
    set_log_sink([&second](LogLevel, std::string_view m) { second.emplace_back(m); });
    log(LogLevel::error, "x");
    EXPECT_TRUE(records_.empty());
    EXPECT_EQ(second, std::vector<std::string>{"x"});
    set_log_sink({});  // `second` goes out of scope before TearDown
}

TEST(RedactUrl, RemovesQueryString) {
    EXPECT_EQ(redact_url("https://bucket.oss-cn-shanghai.aliyuncs.com/fw.bin?Expires=1&"
                         "OSSAccessKeyId=AK&Signature=abc%2B"),
              "https://bucket.oss-cn-shanghai.aliyuncs.com/fw.bin?<redacted>");
}

TEST(RedactUrl, RemovesFragment) {
    EXPECT_EQ(redact_url("https://host/fw.bin#token=secret"), "https://host/fw.bin?<redacted>");
    EXPECT_EQ(redact_url("https://host/fw.bin?sig=1#frag"), "https://host/fw.bin?<redacted>");
}

TEST(RedactUrl, RedactedOutputHoldsNoSignature) {
    const std::string out = redact_url("https://h/p?Signature=SeCrEt");
    EXPECT_EQ(out.find("SeCrEt"), std::string::npos) << out;
}

TEST(RedactUrl, PlainUrlsUnchanged) {
    EXPECT_EQ(redact_url("https://host/path/fw.bin"), "https://host/path/fw.bin");
    EXPECT_EQ(redact_url("http://127.0.0.1:8080/"), "http://127.0.0.1:8080/");
    EXPECT_EQ(redact_url(""), "");
}

}  // namespace
}  // namespace ota
