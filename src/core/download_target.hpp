// What one download fetches: a single image, or one file of a multi-file job. Internal.
//
// The job as announced (UpgradeJob) stays untouched for the job's whole life; the download
// machinery walks a list of targets derived from it once, so that the job the application sees
// through OtaClient::job() is always the one it was handed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ota/protocol.hpp"

namespace ota::detail {

/// One image to fetch, verify and store: `index` is its place in the job (0 for a single image).
struct DownloadTarget {
    std::string url;
    std::uint64_t size = 0;
    ExpectedDigest digest;
    std::size_t index = 0;
};

/// The targets of `job` in download order: its files[] for a multi-file job, else the image.
[[nodiscard]] inline std::vector<DownloadTarget> download_targets(const UpgradeJob& job) {
    std::vector<DownloadTarget> out;
    if (job.files.empty()) {
        out.push_back(DownloadTarget{job.url, job.size, job.digest, 0});
        return out;
    }
    out.reserve(job.files.size());
    for (std::size_t i = 0; i < job.files.size(); ++i) {
        const JobFile& f = job.files[i];
        out.push_back(DownloadTarget{f.url, f.size, f.digest, i});
    }
    return out;
}

}  // namespace ota::detail
