// The advanced (linkkit-style) interface: a callback announces new firmware, and one call runs the
// whole download synchronously into a persistence sink.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ota/byte_source.hpp"
#include "ota/channel.hpp"
#include "ota/client.hpp"
#include "ota/clock.hpp"
#include "ota/firmware_sink.hpp"
#include "ota/options.hpp"
#include "ota/status.hpp"

namespace ota {

/// What the FOTA callback is told. `type` 0 = new firmware available (the only type so far).
struct FotaEvent {
    int type = 0;
    std::string version;  ///< the offered version
    std::string module;   ///< the job's module, empty for the default module
    std::uint64_t size = 0;
};

/// Called on the application's thread, from inside FotaAgent::poll(), after the event was
/// queued; it may call FotaAgent::download() right away (as the seed's example does).
using FotaCallback = std::function<void(const FotaEvent& event)>;

/// Reports bytes written so far and the image size during download().
using DownloadProgress = std::function<void(std::uint64_t written, std::uint64_t total)>;

/// The linkkit-style OTA flow over an OtaClient:
///   start(version) -> poll() ... callback(type 0, version) -> download(sink) -> report new version
/// The client reports progress and failures to the cloud itself (auto_progress is forced on).
class FotaAgent {
  public:
    /// `channel` and `source` must outlive the agent.
    FotaAgent(MqttChannel& channel, ByteSource& source, ClientOptions options,
              const Clock& clock = steady_clock());
    ~FotaAgent();
    FotaAgent(const FotaAgent&) = delete;
    FotaAgent& operator=(const FotaAgent&) = delete;

    /// Sets the callback for new-firmware events (replacing any earlier one).
    void on_new_firmware(FotaCallback callback);

    /// Subscribes the OTA topics and reports the running version (re-reported after reconnects).
    [[nodiscard]] Error start(std::string_view running_version);

    /// Delivers queued channel events, waiting up to `timeout` for the first, then runs the FOTA
    /// callback for a new job (outside the channel's delivery, so the callback may download).
    [[nodiscard]] Error poll(std::chrono::milliseconds timeout);

    /// Asks the cloud for the pending job (firmware/get); its answer arrives through poll().
    [[nodiscard]] Error request_image();

    /// Runs the whole download of the pending job synchronously into `sink`: begin, writes,
    /// verification, then commit (valid image) or abort (any failure). Returns ok only when the
    /// image was verified and committed. Failures are reported to the cloud (-2/-3/-4) by the
    /// client. invalid_state without a pending job. Bounded by the client's retry policy.
    [[nodiscard]] Error download(FirmwareSink& sink, const DownloadProgress& progress = {});

    /// Stops the agent: a stop, not a failure. Only sets a flag, so it may be called from another
    /// thread or a signal handler. A download() in progress returns within about 200 ms plus one
    /// read with invalid_state ("stopped"), reporting nothing to the cloud: the sink is suspended
    /// (FirmwareSink::suspend) with its partial image and resume record, so the same job resumes
    /// on the next start. poll() and download() after a stop return invalid_state until start()
    /// is called again. Destroying the agent during a download is the same stop.
    void stop() noexcept;

    /// True after stop() until the next start().
    [[nodiscard]] bool stopped() const noexcept;

    /// Reports a new running version (call after installing and rebooting into the image).
    [[nodiscard]] Error report_version(std::string_view version);

    /// The underlying client (for getters such as version(), file_size()).
    [[nodiscard]] OtaClient& client() noexcept;

  private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ota
