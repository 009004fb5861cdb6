// FlashSlots: see flash_slots.hpp.
#include "flash_slots.hpp"

#include <vector>

namespace ota::fleet {

namespace {
constexpr std::uint32_t kSector = 4096;
constexpr std::uint32_t kWriteAlign = 8;
// The factory image in slot 0: its content does not matter, only its version.
constexpr std::size_t kFactoryImage = 64;
}  // namespace

FlashSlots::~FlashSlots() = default;

Error FlashSlots::create(const UpgradeJob& job, std::string_view running_version,
                         std::unique_ptr<FlashSlots>& out) {
    std::unique_ptr<FlashSlots> f(new FlashSlots());
    const std::uint64_t slot =
        (std::max<std::uint64_t>(job.size, 1) + kSector - 1) / kSector * kSector;
    SimulatedFlashOptions options;
    options.geometry = {2 * kSector + 2 * slot, kSector, kWriteAlign};
    if (Error e = SimulatedFlash::create(options, f->flash_); !e.ok()) return e;
    AbLayout layout;
    if (Error e = make_default_layout(options.geometry, layout); !e.ok()) return e;
    f->control_ = std::make_unique<AbBootControl>(*f->flash_, layout);
    const std::vector<std::uint8_t> factory(kFactoryImage, 0x5A);
    if (Error e =
            f->control_->provision(factory.data(), factory.size(), std::string(running_version));
        !e.ok()) {
        return e;
    }
    BootResult booted;
    if (Error e = f->control_->boot(booted); !e.ok()) return e;
    f->sink_ = std::make_unique<SlotSink>(*f->control_);
    if (Error e = f->sink_->set_image(job.version, job.digest); !e.ok()) return e;
    out = std::move(f);
    return {};
}

FirmwareSink& FlashSlots::sink() noexcept {
    return *sink_;
}

Error FlashSlots::reboot(bool self_test_passes, std::string& running_version) {
    BootResult booted;
    if (Error e = control_->boot(booted); !e.ok()) return e;
    if (booted.state == BootState::trial && !self_test_passes) {
        // Not confirmed: the next boot rolls back to the image that ran before.
        if (Error e = control_->boot(booted); !e.ok()) return e;
    } else if (booted.state == BootState::trial) {
        if (Error e = control_->verify_slot(booted.slot); !e.ok()) return e;
        if (Error e = control_->confirm(); !e.ok()) return e;
    }
    running_version = booted.image.version;
    return {};
}

}  // namespace ota::fleet
