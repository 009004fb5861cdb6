// Job admission: whether a decoded job may become the client's current job. Internal.
//
// A pure function of the job, the options, the version last reported and whether the
// application set up the multi-file API; it decides, the client acts (reports, logs, takes the
// job). Whether the client's state lets a job in at all is the transition table's business
// (transitions.hpp), not this function's.
#pragma once

#include <optional>
#include <string>

#include "ota/options.hpp"
#include "ota/protocol.hpp"
#include "ota/status.hpp"

namespace ota::detail {

/// What admit_job() decided.
struct Admission {
    /// accept: take the job. ignore: not for this client (another module), nothing reported.
    /// refuse: a job for this client that cannot be taken; reported as step -1 with `error`
    /// unless a job is running (see Action::replace_job). running: a job for the version the
    /// client last reported, i.e. the one it runs: not downloaded again; the client reports its
    /// version once more, which is how the cloud closes such a task (`error.detail` says why).
    enum class Kind { accept, ignore, refuse, running };
    Kind kind = Kind::accept;
    Error error;  ///< refuse: why (the step -1 description is error.detail)
};

/// What the client knows besides the job and its options.
struct AdmissionContext {
    const std::optional<std::string>* reported_version = nullptr;  ///< last report_version()
    bool multi_file_api = false;                                   ///< a file sink provider is set
};

/// Whether `job` (well-formed) may be taken by a client with `options`.
[[nodiscard]] Admission admit_job(const UpgradeJob& job, const ClientOptions& options,
                                  const AdmissionContext& context);

/// Whether `job_module` names the module of a client configured with `client_module` (an empty
/// client module takes jobs without a module or for "default").
[[nodiscard]] bool module_matches(std::string_view client_module,
                                  std::string_view job_module) noexcept;

}  // namespace ota::detail
