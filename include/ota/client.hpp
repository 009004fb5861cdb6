// The OTA client: the basic API's state machine (PROTOCOL.md section 6) as a C++ class.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ota/byte_source.hpp"
#include "ota/channel.hpp"
#include "ota/clock.hpp"
#include "ota/digest.hpp"
#include "ota/firmware_sink.hpp"
#include "ota/options.hpp"
#include "ota/protocol.hpp"
#include "ota/status.hpp"

namespace ota {

/// The client's state, numbered as the C SDK's IOT_OTAS_*.
enum class OtaState : int { uninited = 0, inited = 1, pushed = 2, fetching = 3, fetched = 4 };

/// "uninited", "inited", "pushed", "fetching", "fetched".
[[nodiscard]] const char* to_string(OtaState state) noexcept;

/// Outcome of one fetch_yield(): `bytes` > 0 copied into the caller's buffer, 0 = nothing yet;
/// a status other than ok is a failure that has already been reported to the cloud.
struct FetchResult {
    Status status = Status::ok;
    std::size_t bytes = 0;
};

/// Gives the sink for file `index` (0-based) of `count` of a multi-file job
/// (ClientOptions::multi_file). Called on the application's thread when that file's download
/// starts; the sink must stay valid until the file is committed or the job dropped. Returning
/// nullptr fails the job with step -4.
using FileSinkProvider =
    std::function<FirmwareSink*(const JobFile& file, std::size_t index, std::size_t count)>;

/// One device's (or one module's) OTA client.
///
/// Transitions: UNINITED -init-> INITED -valid push/get_reply-> PUSHED -first fetch_yield->
/// FETCHING -all bytes, end of body-> FETCHED -reset()-> INITED. Transient download failures
/// (dropped connection, timeout, stall, HTTP 408/429/5xx) stay in FETCHING: the client backs off
/// and resumes with a Range request (ClientOptions::retry); if the server ignores the Range and
/// sends the whole image again, a sink is restarted from byte 0, and without a sink the bytes the
/// application already received are skipped, so fetch_yield never hands out a byte twice. A
/// permanent download, size or storage failure, or running out of attempts or time, reports the
/// failure step once (-2 download, -4 storage; a job larger than the sink's capacity is -4 before
/// anything is downloaded), drops the partial image and ends in FETCHED, as in the original SDK:
/// is_fetch_finished() is true, check_firmware() answers "invalid", and the job (size, version,
/// digest) stays readable until a new push or reset() replaces it. With a sink that keeps resume
/// records
/// (ClientOptions::resume), the same job arriving after a crash continues where the durable part of
/// the image ends.
///
/// Broker outages never stop a download. While the channel is down, progress 0..99 the client
/// reports itself is dropped; its final 100 and its failure steps are queued (a few at most) and
/// published once, when the channel is connected again. A new push is taken in
/// INITED, PUSHED and FETCHED (replacing the job, fresh digest) and ignored in FETCHING and
/// UNINITED. A push for the version last reported with report_version() is not downloaded: the
/// version is reported again (the cloud closes the task on it). A malformed or refused push leaves
/// the state untouched; it is reported as step -1 in INITED (at most one such report per second,
/// the others only logged), and only logged while a job runs (PUSHED, FETCHING, FETCHED), since
/// progress messages carry no job id and the cloud would fail the running job. A job whose own
/// failure was reported (FETCHED, verdict "invalid") no longer runs for the cloud: refusals are
/// reported again then.
///
/// Not thread-safe: use one client from one thread (the channel hands messages over inside
/// poll()/fetch_yield()). Several clients may share one channel (e.g. one per module).
class OtaClient {
  public:
    /// `channel` and `source` must outlive the client. The client registers itself as a channel
    /// listener in init() and removes itself in deinit()/destructor.
    OtaClient(MqttChannel& channel, ByteSource& source, ClientOptions options,
              const Clock& clock = steady_clock());
    ~OtaClient();
    OtaClient(const OtaClient&) = delete;
    OtaClient& operator=(const OtaClient&) = delete;

    /// Validates the options and subscribes the upgrade and get_reply topics (QoS 1).
    /// UNINITED -> INITED. invalid_argument for bad options, invalid_state when already inited.
    /// A disconnected channel is not an error: the subscriptions are restored on connect.
    [[nodiscard]] Error init();

    /// Stops any download and returns to UNINITED. A stop is not a failure: nothing is reported,
    /// the image written so far is flushed and recorded, and the sink is suspended
    /// (FirmwareSink::suspend), so the same job resumes on the next start. The destructor does
    /// the same.
    void deinit() noexcept;

    /// Publishes the inform message (QoS 1) and remembers the version to re-report it after
    /// every reconnect. invalid_argument for a version outside 1..64 characters.
    [[nodiscard]] Error report_version(std::string_view version);

    /// Publishes a progress step (-4..100) with an optional description, subject to the
    /// ProgressPolicy. At most one failure step is sent per job (the first one, including one the
    /// client queued itself). Step -2 (download failed) is refused with invalid_state while the
    /// download runs or after it completed: the client reports a failed download itself. Returns
    /// ok also when the report was suppressed by the policy or the budget; invalid_argument
    /// outside -4..100; not_connected while the channel is down (the application's own reports
    /// are not queued).
    [[nodiscard]] Error report_progress(int step, std::string_view desc = {});

    /// Publishes firmware/get (QoS 1) asking the cloud for the pending job.
    [[nodiscard]] Error request_image();

    /// Hands queued channel events (pushes, get_replies, reconnects) to this and every other
    /// listener of the channel, waiting up to `timeout` for the first; then publishes reports
    /// that waited for the broker, if it is connected.
    [[nodiscard]] Error poll(std::chrono::milliseconds timeout);

    /// True in PUSHED and FETCHING.
    [[nodiscard]] bool is_fetching() const noexcept;
    /// True in FETCHED.
    [[nodiscard]] bool is_fetch_finished() const noexcept;

    /// Downloads the next piece of the image into `buf` (copying once), feeds the digest and, if a
    /// sink is set, writes it there. Waits up to `timeout` for data. Also delivers queued channel
    /// events first (without waiting). Starts the download (progress 0) on the first call after a
    /// push. On the last byte it waits up to ClientOptions::end_of_body_wait for the end of the
    /// body and moves to FETCHED. Returns {ok, 0} ("nothing yet") while no data arrived, while
    /// re-hashing a resumed partial image (using `buf` as scratch space) and while backing off
    /// between attempts; it then never blocks longer than `timeout` (the wait is spent in the
    /// channel's yield()). A permanent failure is reported to the cloud (-2 download, -4
    /// storage), returned by the call that saw it, and ends in FETCHED (see the class comment).
    /// invalid_state outside PUSHED/FETCHING, invalid_argument for a null/empty buffer. Does not
    /// allocate per chunk.
    [[nodiscard]] FetchResult fetch_yield(std::uint8_t* buf, std::size_t len,
                                          std::chrono::milliseconds timeout);

    /// Verifies the digest of a FETCHED image. On a match `valid` is true and the sink (if any)
    /// is committed; on a mismatch `valid` is false, step -3 is reported, and the sink's partial
    /// image is dropped. The result is cached: calling again repeats it without re-reporting.
    /// After a failed download `valid` is false and the download's failure is returned (it was
    /// reported already). invalid_state outside FETCHED.
    [[nodiscard]] Error check_firmware(bool& valid);

    /// Drops the current job (aborting the sink) and returns to INITED (the seed's RESET_STATE).
    void reset() noexcept;

    /// Restarts the current job's download from byte 0 with a fresh digest (the seed's
    /// RESET_FETCHED_SIZE). invalid_state unless PUSHED, FETCHING or FETCHED.
    [[nodiscard]] Error restart_download();

    /// Where fetched bytes are stored. nullptr (default): the application stores what
    /// fetch_yield returns itself. The sink must outlive the client or be unset first.
    /// invalid_state while FETCHING.
    [[nodiscard]] Error set_sink(FirmwareSink* sink);

    /// Where the files of a multi-file job go (ClientOptions::multi_file must be on too, else
    /// such jobs are refused with step -1). Each file is downloaded with the same retry and
    /// resume machinery (Range per file) into the sink the provider returns, verified against its
    /// own digest and committed before the next file starts; fetch_yield() still hands out every
    /// byte. A file that fails fails the job once (-2, -3 or -4); files committed before it stay
    /// committed. Progress, fetched_size() and file_size() cover the whole job; the job reaches
    /// FETCHED after the last file, and check_firmware() then returns the cached verdict. The
    /// sink of set_sink() is not used for multi-file jobs.
    void set_file_sink_provider(FileSinkProvider provider);

    /// Called (on the application's thread) when a new job has been accepted (state PUSHED).
    void set_job_handler(std::function<void(const UpgradeJob&)> handler);

    [[nodiscard]] OtaState state() const noexcept;
    /// Bytes of the image fetched so far (including those a crash-resumed download found in the
    /// sink).
    [[nodiscard]] std::uint64_t fetched_size() const noexcept;
    /// How many of the client's own reports (final 100, failure steps) wait for the broker. An
    /// application about to exit can poll() until this is 0 so that the cloud hears the outcome.
    [[nodiscard]] std::size_t queued_reports() const noexcept;
    /// The job's size in bytes, 0 without a job.
    [[nodiscard]] std::uint64_t file_size() const noexcept;
    /// 0-based index of the file being downloaded in a multi-file job (0 otherwise).
    [[nodiscard]] std::size_t file_index() const noexcept;
    /// Files of the current job: its files[] count for a multi-file job, 1 for a single image,
    /// 0 without a job.
    [[nodiscard]] std::size_t file_count() const noexcept;
    /// The current job, or nullptr.
    [[nodiscard]] const UpgradeJob* job() const noexcept;
    /// The job's expected digest (hex as announced), empty without a job.
    [[nodiscard]] std::string_view expected_digest() const noexcept;
    /// The job's version, empty without a job.
    [[nodiscard]] std::string_view version() const noexcept;
    /// The job's module, empty without a job or module.
    [[nodiscard]] std::string_view module() const noexcept;
    /// The most recent failure (ok if none since init).
    [[nodiscard]] const Error& last_error() const noexcept;
    [[nodiscard]] const ClientOptions& options() const noexcept;

  private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ota
