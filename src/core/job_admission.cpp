#include "core/job_admission.hpp"

#include <string>

#include "common/url_policy.hpp"
#include "ota/version.hpp"

namespace ota::detail {

namespace {

Admission refuse(Error error) {
    return Admission{Admission::Kind::refuse, std::move(error)};
}

Admission check_version(const UpgradeJob& job, const ClientOptions& options,
                        const AdmissionContext& context) {
    if (context.reported_version != nullptr && context.reported_version->has_value()) {
        Error e = check_upgrade_allowed(options.downgrade, **context.reported_version, job.version);
        if (!e.ok()) return refuse(std::move(e));
    }
    return {};
}

Admission admit_multi_file(const UpgradeJob& job, const ClientOptions& options,
                           const AdmissionContext& context) {
    if (!options.multi_file || !context.multi_file_api) {
        // The multi-file API: ClientOptions::multi_file and a file sink provider.
        return refuse({Status::invalid_argument, "multi-file jobs need the multi-file API"});
    }
    if (options.signature.needs_digest(job.ext_data_json)) {
        return refuse(
            {Status::invalid_argument, "image signatures are not supported for multi-file jobs"});
    }
    if (job.size > options.max_image_size) {
        return refuse({Status::storage_full,
                       "job size " + std::to_string(job.size) + " exceeds the limit of " +
                           std::to_string(options.max_image_size) + " bytes"});
    }
    for (std::size_t i = 0; i < job.files.size(); ++i) {
        const JobFile& f = job.files[i];
        const std::string which =
            "file " + std::to_string(i + 1) + " of " + std::to_string(job.files.size());
        if (f.size == 0) return refuse({Status::malformed_message, which + ": size is 0"});
        if (!check_image_url_scheme(f.url, options.allow_http).ok()) {
            return refuse({Status::invalid_argument,
                           which + ": unsupported image URL scheme (https required)"});
        }
    }
    return check_version(job, options, context);
}

}  // namespace

bool module_matches(std::string_view client_module, std::string_view job_module) noexcept {
    if (client_module.empty()) return job_module.empty() || job_module == "default";
    return job_module == client_module;
}

Admission admit_job(const UpgradeJob& job, const ClientOptions& options,
                    const AdmissionContext& context) {
    if (!module_matches(options.module, job.module)) {
        return Admission{Admission::Kind::ignore,
                         {Status::ok, "for module '" + job.module + "' (this client: '" +
                                          options.module + "')"}};
    }
    // Before any check of the job's contents: nothing of it is used when it is not downloaded.
    // An exact match only: reporting the version closes the task only when it is the job's.
    if (context.reported_version != nullptr && context.reported_version->has_value() &&
        **context.reported_version == job.version) {
        return Admission{Admission::Kind::running,
                         {Status::ok, "version " + job.version + " is the version running"}};
    }
    if (!job.files.empty()) return admit_multi_file(job, options, context);
    if (job.size == 0) return refuse({Status::malformed_message, "image size is 0"});
    if (job.size > options.max_image_size) {
        return refuse({Status::storage_full,
                       "image size " + std::to_string(job.size) + " exceeds the limit of " +
                           std::to_string(options.max_image_size) + " bytes"});
    }
    // An MQTT job is fetched over the device's own connection: it has no URL to judge.
    if (job.protocol != DownloadProtocol::mqtt) {
        if (Error e = check_image_url_scheme(job.url, options.allow_http); !e.ok()) {
            return refuse(std::move(e));
        }
    }
    return check_version(job, options, context);
}

}  // namespace ota::detail
