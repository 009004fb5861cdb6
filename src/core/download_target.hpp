// What one download fetches: a single image, or one file of a multi-file job. Internal.
//
// The job as announced (UpgradeJob) stays untouched for the job's whole life; the download
// machinery walks a list of targets derived from it once, so that the job the application sees
// through OtaClient::job() is always the one it was handed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/resume_record.hpp"
#include "ota/log.hpp"
#include "ota/protocol.hpp"

namespace ota::detail {

/// One image to fetch, verify and store: `index` is its place in the job (0 for a single image).
struct DownloadTarget {
    std::string url;
    std::uint64_t size = 0;
    ExpectedDigest digest;
    std::size_t index = 0;
    DownloadProtocol protocol = DownloadProtocol::https;  ///< mqtt: MqttByteSource, no url
    std::uint64_t stream_id = 0;                          ///< mqtt only
    std::uint64_t stream_file_id = 0;                     ///< mqtt only
};

/// What the byte source opens: the URL, or for MQTT a pseudo-URL naming the stream (only
/// the MQTT source accepts it, so it cannot be fetched over HTTP by mistake).
[[nodiscard]] inline std::string source_url(const DownloadTarget& t) {
    if (t.protocol != DownloadProtocol::mqtt) return t.url;
    return "mqtt:stream/" + std::to_string(t.stream_id) + "/file/" +
           std::to_string(t.stream_file_id);
}

/// Where the target comes from, for logs and progress descs: the URL without its query string
/// (redact_url), or "MQTT stream <id>/<file>".
[[nodiscard]] inline std::string source_description(const DownloadTarget& t) {
    if (t.protocol != DownloadProtocol::mqtt) return redact_url(t.url);
    return "MQTT stream " + std::to_string(t.stream_id) + "/" + std::to_string(t.stream_file_id);
}

/// The URL part of the target's resume identity (resume_record.hpp).
[[nodiscard]] inline std::string_view identity_url(const DownloadTarget& t) noexcept {
    return t.protocol == DownloadProtocol::mqtt ? kMqttIdentityUrl : std::string_view(t.url);
}

/// The targets of `job` in download order: its files[] for a multi-file job, else the image.
[[nodiscard]] inline std::vector<DownloadTarget> download_targets(const UpgradeJob& job) {
    std::vector<DownloadTarget> out;
    if (job.files.empty()) {
        out.push_back(DownloadTarget{job.url, job.size, job.digest, 0, job.protocol, job.stream_id,
                                     job.stream_file_id});
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
