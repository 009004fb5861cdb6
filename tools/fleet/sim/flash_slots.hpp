// `--sink flash`: a simulated device's job written to A/B slots on simulated NOR flash, and its
// "reboot" decided by the library's bootloader logic (trial boot, confirm or roll back).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ota/ab_slots.hpp"
#include "ota/firmware_sink.hpp"
#include "ota/hal_posix/simulated_flash.hpp"
#include "ota/protocol.hpp"
#include "ota/status.hpp"

namespace ota::fleet {

/// One device's flash for one job: in memory, sized for two slots of the job's image (so it
/// costs about twice the image per device while the job runs; the device drops it after the
/// reboot), provisioned with the running version in slot 0; the download goes to slot 1 through
/// a SlotSink, which reads the image back and hashes it at commit().
class FlashSlots {
  public:
    /// A flash for `job`, with a small factory image of `running_version` in slot 0.
    /// Errors: those of the simulated flash, the layout and provisioning (invalid_argument for a
    /// bad version, storage_full for an image that does not fit).
    [[nodiscard]] static Error create(const UpgradeJob& job, std::string_view running_version,
                                      std::unique_ptr<FlashSlots>& out);
    ~FlashSlots();
    FlashSlots(const FlashSlots&) = delete;
    FlashSlots& operator=(const FlashSlots&) = delete;

    /// The sink the client writes the image to.
    [[nodiscard]] FirmwareSink& sink() noexcept;
    /// The "reboot" after a committed image: the bootloader boots the pending slot as a trial;
    /// with `self_test_passes` the device confirms it, otherwise it boots again and the bootloader
    /// rolls back. `running_version` is then the version of the slot that runs.
    [[nodiscard]] Error reboot(bool self_test_passes, std::string& running_version);

  private:
    FlashSlots() = default;
    std::unique_ptr<SimulatedFlash> flash_;
    std::unique_ptr<AbBootControl> control_;
    std::unique_ptr<SlotSink> sink_;
};

}  // namespace ota::fleet
