// Option validation beside each options struct: every range is enforced at its named bounds and
// every message names the field (the texts are part of the observable behaviour of init()).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <string>

#include "ota/options.hpp"

namespace {

using namespace std::chrono_literals;
using ota::ClientOptions;
using ota::ProgressPolicy;
using ota::ResumePolicy;
using ota::RetryPolicy;
using ota::Status;

ClientOptions valid_options() {
    ClientOptions o;
    o.product_key = "a1X2bEnP82z";
    o.device_name = "example1";
    return o;
}

void expect_invalid(const ota::Error& e, const std::string& detail) {
    EXPECT_EQ(e.status, Status::invalid_argument);
    EXPECT_EQ(e.detail, detail);
}

TEST(ProgressPolicyValidate, DefaultsAndBoundsPass) {
    EXPECT_TRUE(ProgressPolicy{}.validate().ok());
    ProgressPolicy p;
    p.min_points = ProgressPolicy::kMinPoints;
    p.min_interval = 0ms;
    EXPECT_TRUE(p.validate().ok());
    p.min_points = ProgressPolicy::kMaxPoints;
    EXPECT_TRUE(p.validate().ok());
}

TEST(ProgressPolicyValidate, OutOfRangeNamesTheField) {
    ProgressPolicy p;
    p.min_points = ProgressPolicy::kMinPoints - 1;
    expect_invalid(p.validate(), "progress.min_points must be in 1..100, got 0");
    p.min_points = ProgressPolicy::kMaxPoints + 1;
    expect_invalid(p.validate(), "progress.min_points must be in 1..100, got 101");
    p = ProgressPolicy{};
    p.min_interval = -1ms;
    expect_invalid(p.validate(), "progress.min_interval must not be negative");
}

TEST(RetryPolicyValidate, DefaultsAndBoundsPass) {
    EXPECT_TRUE(RetryPolicy{}.validate().ok());
    RetryPolicy r;
    r.max_attempts = RetryPolicy::kMaxAttempts;
    r.total_deadline = RetryPolicy::kMaxTotalDeadline;
    r.max_backoff = RetryPolicy::kMaxBackoff;
    r.initial_backoff = RetryPolicy::kMaxBackoff;
    r.multiplier = RetryPolicy::kMaxMultiplier;
    r.jitter = 0.999;
    r.stall_window = RetryPolicy::kMaxStallWindow;
    EXPECT_TRUE(r.validate().ok());
    r.max_attempts = 1;
    r.total_deadline = RetryPolicy::kMinTotalDeadline;
    r.max_backoff = RetryPolicy::kMinBackoff;
    r.initial_backoff = RetryPolicy::kMinBackoff;
    r.multiplier = RetryPolicy::kMinMultiplier;
    r.jitter = 0.0;
    r.stall_window = RetryPolicy::kMinStallWindow;
    EXPECT_TRUE(r.validate().ok());
}

TEST(RetryPolicyValidate, EachFieldOutOfRange) {
    RetryPolicy r;
    r.max_attempts = RetryPolicy::kMaxAttempts + 1;
    expect_invalid(r.validate(), "retry.max_attempts must be in 1..10000, got 10001");
    r = RetryPolicy{};
    r.max_attempts = 0;
    expect_invalid(r.validate(), "retry.max_attempts must be in 1..10000, got 0");
    r = RetryPolicy{};
    r.total_deadline = RetryPolicy::kMinTotalDeadline - 1ms;
    expect_invalid(r.validate(), "retry.total_deadline must be in 1 s .. 7 days, got 999 ms");
    r = RetryPolicy{};
    r.max_backoff = RetryPolicy::kMaxBackoff + 1ms;
    expect_invalid(r.validate(), "retry.max_backoff must be in 1 ms .. 1 h, got 3600001 ms");
    r = RetryPolicy{};
    r.initial_backoff = r.max_backoff + 1ms;
    expect_invalid(r.validate(),
                   "retry.initial_backoff must be in 1 ms .. max_backoff, got 60001 ms");
    r = RetryPolicy{};
    r.multiplier = std::nan("");
    expect_invalid(r.validate(), "retry.multiplier must be in 1.0 .. 10.0");
    r.multiplier = 0.5;
    expect_invalid(r.validate(), "retry.multiplier must be in 1.0 .. 10.0");
    r = RetryPolicy{};
    r.jitter = 1.0;
    expect_invalid(r.validate(), "retry.jitter must be in 0.0 .. 1.0 (excluded)");
    r.jitter = std::nan("");
    expect_invalid(r.validate(), "retry.jitter must be in 0.0 .. 1.0 (excluded)");
    r = RetryPolicy{};
    r.stall_window = RetryPolicy::kMaxStallWindow + 1ms;
    expect_invalid(r.validate(), "retry.stall_window must be in 1 s .. 1 h, got 3600001 ms");
}

TEST(ResumePolicyValidate, Ranges) {
    ResumePolicy p;
    EXPECT_TRUE(p.validate().ok());
    p.record_every_bytes = ResumePolicy::kMaxRecordEveryBytes;
    p.record_min_interval = ResumePolicy::kMaxRecordMinInterval;
    EXPECT_TRUE(p.validate().ok());
    p.record_every_bytes = ResumePolicy::kMaxRecordEveryBytes + 1;
    expect_invalid(p.validate(), "resume.record_every_bytes must be in 1 .. 1 GiB");
    p.record_every_bytes = 0;
    expect_invalid(p.validate(), "resume.record_every_bytes must be in 1 .. 1 GiB");
    p = ResumePolicy{};
    p.record_min_interval = -1ms;
    expect_invalid(p.validate(), "resume.record_min_interval must be in 0 .. 1 h, got -1 ms");
}

TEST(ClientOptionsValidate, IdentityRules) {
    EXPECT_TRUE(valid_options().validate().ok());
    ClientOptions o = valid_options();
    o.product_key.clear();
    expect_invalid(o.validate(), "product_key is empty");
    o.product_key = std::string(ota::kMaxProductKeyLength + 1, 'a');
    expect_invalid(o.validate(), "product_key is longer than 20 characters");
    o.product_key = std::string(ota::kMaxProductKeyLength, 'a');
    EXPECT_TRUE(o.validate().ok());
    for (const char* bad : {"a/b", "a+b", "a#b", "a\tb", "a\x7f"}) {
        o.device_name = bad;
        expect_invalid(o.validate(),
                       "device_name contains a character not allowed in a topic level ('/', '+', "
                       "'#' or a control character)");
    }
    o.device_name = std::string(ota::kMaxDeviceNameLength + 1, 'd');
    expect_invalid(o.validate(), "device_name is longer than 32 characters");
    o = valid_options();
    o.module = std::string(65, 'm');
    expect_invalid(o.validate(), "module is longer than 64 characters");
}

TEST(ClientOptionsValidate, OtherFieldsAndNestedPolicies) {
    ClientOptions o = valid_options();
    o.progress_qos = 2;
    expect_invalid(o.validate(), "progress_qos must be 0 or 1, got 2");
    o = valid_options();
    o.max_image_size = 0;
    expect_invalid(o.validate(), "max_image_size must be at least 1");
    o = valid_options();
    o.end_of_body_wait = ClientOptions::kMaxEndOfBodyWait + 1ms;
    expect_invalid(o.validate(), "end_of_body_wait must be in 1 ms .. 60 s, got 60001 ms");
    o.end_of_body_wait = ClientOptions::kMaxEndOfBodyWait;
    EXPECT_TRUE(o.validate().ok());
    o = valid_options();
    o.progress.min_points = 0;
    expect_invalid(o.validate(), "progress.min_points must be in 1..100, got 0");
    o = valid_options();
    o.retry.max_attempts = 0;
    expect_invalid(o.validate(), "retry.max_attempts must be in 1..10000, got 0");
    o = valid_options();
    o.resume.record_every_bytes = 0;
    expect_invalid(o.validate(), "resume.record_every_bytes must be in 1 .. 1 GiB");
    o = valid_options();
    o.signature.required = true;  // without a trusted key
    EXPECT_EQ(o.validate().status, Status::invalid_argument);
}

}  // namespace
