// Job admission as a pure function: accept, ignore (another module) or refuse with the same
// texts the client reports as step -1.
#include "core/job_admission.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace {

using ota::ClientOptions;
using ota::Status;
using ota::UpgradeJob;
using ota::detail::Admission;
using ota::detail::AdmissionContext;
using ota::detail::admit_job;

UpgradeJob image_job() {
    UpgradeJob j;
    j.version = "2.0.0";
    j.size = 1000;
    j.url = "https://ota.example.com/fw.bin";
    j.digest.hex = "0123456789abcdef0123456789abcdef";
    return j;
}

UpgradeJob two_file_job() {
    UpgradeJob j;
    j.version = "2.0.0";
    for (int i = 0; i < 2; ++i) {
        ota::JobFile f;
        f.name = "f" + std::to_string(i);
        f.size = 100;
        f.url = "https://ota.example.com/f" + std::to_string(i);
        j.files.push_back(f);
    }
    j.size = 200;
    return j;
}

Admission admit(const UpgradeJob& job, const ClientOptions& o,
                std::optional<std::string> reported = std::nullopt, bool multi_api = false) {
    return admit_job(job, o, AdmissionContext{&reported, multi_api});
}

void expect_refused(const Admission& a, Status status, const std::string& detail) {
    EXPECT_EQ(a.kind, Admission::Kind::refuse);
    EXPECT_EQ(a.error.status, status);
    EXPECT_EQ(a.error.detail, detail);
}

TEST(JobAdmission, AcceptsAWellFormedImageJob) {
    EXPECT_EQ(admit(image_job(), ClientOptions{}).kind, Admission::Kind::accept);
}

TEST(JobAdmission, IgnoresJobsForAnotherModule) {
    UpgradeJob j = image_job();
    j.module = "wifi";
    EXPECT_EQ(admit(j, ClientOptions{}).kind, Admission::Kind::ignore);
    ClientOptions o;
    o.module = "wifi";
    EXPECT_EQ(admit(j, o).kind, Admission::Kind::accept);
    j.module = "default";
    EXPECT_EQ(admit(j, ClientOptions{}).kind, Admission::Kind::accept);
    EXPECT_EQ(admit(j, o).kind, Admission::Kind::ignore);
    // Another module is ignored even when the job would also be refused.
    j.size = 0;
    EXPECT_EQ(admit(j, o).kind, Admission::Kind::ignore);
}

TEST(JobAdmission, RefusesSizeAndScheme) {
    UpgradeJob j = image_job();
    j.size = 0;
    expect_refused(admit(j, ClientOptions{}), Status::malformed_message, "image size is 0");
    ClientOptions o;
    o.max_image_size = 999;
    expect_refused(admit(image_job(), o), Status::storage_full,
                   "image size 1000 exceeds the limit of 999 bytes");
    j = image_job();
    j.url = "http://ota.example.com/fw.bin";
    expect_refused(admit(j, ClientOptions{}), Status::invalid_argument,
                   "plain http image URLs are not allowed (https required)");
    o = ClientOptions{};
    o.allow_http = true;
    EXPECT_EQ(admit(j, o).kind, Admission::Kind::accept);
    j.url = "ftp://ota.example.com/fw.bin";
    expect_refused(admit(j, o), Status::invalid_argument,
                   "unsupported image URL scheme (https required)");
    j.url = "HTTPS://ota.example.com/fw.bin";
    EXPECT_EQ(admit(j, ClientOptions{}).kind, Admission::Kind::accept);
}

TEST(JobAdmission, DowngradePolicyAppliesOnlyAfterAVersionWasReported) {
    ClientOptions o;
    o.downgrade = ota::DowngradePolicy::refuse_older;
    UpgradeJob j = image_job();
    j.version = "1.0.0";
    EXPECT_EQ(admit(j, o).kind, Admission::Kind::accept);
    const Admission a = admit(j, o, std::string("1.5.0"));
    EXPECT_EQ(a.kind, Admission::Kind::refuse);
    EXPECT_FALSE(a.error.ok());
    j.version = "2.0.0";
    EXPECT_EQ(admit(j, o, std::string("1.5.0")).kind, Admission::Kind::accept);
}

// Issue 10: a job for the version the device runs is not downloaded again; the client reports
// its version instead. Exact match only, and before any check of the job's contents (a reinstall
// of the running version that would also be refused is still answered with the version).
TEST(JobAdmission, TheRunningVersionIsNotAdmittedButAnswered) {
    UpgradeJob j = image_job();
    const Admission a = admit(j, ClientOptions{}, std::string("2.0.0"));
    EXPECT_EQ(a.kind, Admission::Kind::running);
    EXPECT_NE(a.error.detail.find("2.0.0"), std::string::npos);
    EXPECT_EQ(admit(j, ClientOptions{}, std::string("2.0.1")).kind, Admission::Kind::accept);
    EXPECT_EQ(admit(j, ClientOptions{}, std::string("2.0")).kind, Admission::Kind::accept);
    EXPECT_EQ(admit(j, ClientOptions{}).kind, Admission::Kind::accept);  // nothing reported yet
    j.size = 0;
    EXPECT_EQ(admit(j, ClientOptions{}, std::string("2.0.0")).kind, Admission::Kind::running);
    EXPECT_EQ(admit(two_file_job(), ClientOptions{}, std::string("2.0.0")).kind,
              Admission::Kind::running);
    ClientOptions strict;
    strict.downgrade = ota::DowngradePolicy::refuse_older_or_equal;
    EXPECT_EQ(admit(image_job(), strict, std::string("2.0.0")).kind, Admission::Kind::running);
    // Another module's job stays ignored, whatever its version.
    j = image_job();
    j.module = "wifi";
    EXPECT_EQ(admit(j, ClientOptions{}, std::string("2.0.0")).kind, Admission::Kind::ignore);
}

TEST(JobAdmission, MultiFileNeedsTheApiAndValidFiles) {
    const UpgradeJob j = two_file_job();
    ClientOptions o;
    expect_refused(admit(j, o, std::nullopt, true), Status::invalid_argument,
                   "multi-file jobs need the multi-file API");
    o.multi_file = true;
    expect_refused(admit(j, o, std::nullopt, false), Status::invalid_argument,
                   "multi-file jobs need the multi-file API");
    EXPECT_EQ(admit(j, o, std::nullopt, true).kind, Admission::Kind::accept);
    UpgradeJob bad = j;
    bad.files[1].size = 0;
    expect_refused(admit(bad, o, std::nullopt, true), Status::malformed_message,
                   "file 2 of 2: size is 0");
    bad = j;
    bad.files[0].url = "http://ota.example.com/f0";
    expect_refused(admit(bad, o, std::nullopt, true), Status::invalid_argument,
                   "file 1 of 2: unsupported image URL scheme (https required)");
    o.max_image_size = 199;
    expect_refused(admit(j, o, std::nullopt, true), Status::storage_full,
                   "job size 200 exceeds the limit of 199 bytes");
}

}  // namespace
