// make_c_flash: a FlashDevice over the C flash HAL (ota_flash_hal_t), and the C entry points of
// the A/B logic (ota_ab_boot, ota_ab_confirm) on the default layout.
//
// FlashDevice's public read/erase/program check ranges and alignment before a hook runs, so a C
// driver only sees requests that fit its geometry. Any non-zero hook result is storage_failed
// (the header defines success as exactly 0). No exception crosses into C: the entry points catch
// everything and return OTA_FLASH_ERR_IO.
#include "ota/c_api/flash_c_adapter.hpp"

#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "ota/ab_slots.hpp"
#include "ota/log.hpp"

// ota_ab_boot_info_t::version is sized for the longest image version the boot record holds; a
// shorter array would silently truncate it (snprintf below).
static_assert(sizeof(ota_ab_boot_info_t::version) == ota::kMaxImageVersionLength + 1,
              "ota_ab_boot_info_t::version must hold kMaxImageVersionLength characters and a NUL");

namespace ota {
namespace {

class CHalFlash final : public FlashDevice {
  public:
    explicit CHalFlash(const ota_flash_hal_t& hal) noexcept : hal_(hal) {}

    [[nodiscard]] FlashGeometry geometry() const noexcept override {
        return {hal_.size, hal_.sector_size, hal_.write_align};
    }

  protected:
    [[nodiscard]] Status do_read(std::uint64_t offset, std::uint8_t* out,
                                 std::size_t len) override {
        return map("read", offset, hal_.read(hal_.ctx, offset, out, len));
    }
    [[nodiscard]] Status do_erase(std::uint64_t offset, std::uint64_t len) override {
        return map("erase", offset, hal_.erase(hal_.ctx, offset, len));
    }
    [[nodiscard]] Status do_program(std::uint64_t offset, const std::uint8_t* data,
                                    std::size_t len) override {
        return map("program", offset, hal_.program(hal_.ctx, offset, data, len));
    }

  private:
    static Status map(const char* what, std::uint64_t offset, int rc) {
        if (rc == OTA_FLASH_OK) return Status::ok;
        log(LogLevel::warning, std::string("flash HAL: ") + what + " at offset " +
                                   std::to_string(offset) + " failed with " + std::to_string(rc));
        return Status::storage_failed;
    }

    ota_flash_hal_t hal_;
};

int to_c_result(Status s) noexcept {
    switch (s) {
        case Status::ok:
            return OTA_FLASH_OK;
        case Status::invalid_argument:
            return OTA_FLASH_ERR_ARG;
        case Status::invalid_state:
            return OTA_FLASH_ERR_STATE;
        case Status::digest_mismatch:
            return OTA_FLASH_ERR_NO_IMAGE;
        default:
            return OTA_FLASH_ERR_IO;
    }
}

// Builds the device and the control on the default layout; returns an OTA_FLASH_* result.
template <typename Fn>
int with_control(const ota_flash_hal_t* hal, Fn&& fn) noexcept {
    if (hal == nullptr) return OTA_FLASH_ERR_ARG;
    try {
        std::string why;
        std::unique_ptr<FlashDevice> dev = make_c_flash(*hal, &why);
        if (!dev) {
            log(LogLevel::error, "flash HAL: " + why);
            return OTA_FLASH_ERR_ARG;
        }
        AbLayout layout;
        if (Error e = make_default_layout(dev->geometry(), layout); !e.ok()) {
            log(LogLevel::error, e.message());
            return OTA_FLASH_ERR_ARG;
        }
        AbBootControl control(*dev, layout);
        const Error e = fn(control);
        if (!e.ok()) log(LogLevel::error, "A/B: " + e.message());
        return to_c_result(e.status);
    } catch (...) {
        return OTA_FLASH_ERR_IO;
    }
}

}  // namespace

std::unique_ptr<FlashDevice> make_c_flash(const ota_flash_hal_t& hal, std::string* why) {
    auto refuse = [&](std::string reason) -> std::unique_ptr<FlashDevice> {
        if (why != nullptr) *why = std::move(reason);
        return nullptr;
    };
    if (hal.read == nullptr || hal.erase == nullptr || hal.program == nullptr) {
        return refuse("the read, erase and program hooks are required");
    }
    if (Error e = validate_geometry({hal.size, hal.sector_size, hal.write_align}); !e.ok()) {
        return refuse(e.detail);
    }
    auto dev = std::unique_ptr<FlashDevice>(new (std::nothrow) CHalFlash(hal));
    if (!dev) return refuse("out of memory");
    return dev;
}

}  // namespace ota

extern "C" int ota_ab_boot(const ota_flash_hal_t* hal, ota_ab_boot_info_t* info) {
    if (info == nullptr) return OTA_FLASH_ERR_ARG;
    std::memset(info, 0, sizeof *info);
    return ota::with_control(hal, [&](ota::AbBootControl& control) -> ota::Error {
        ota::BootResult r;
        if (ota::Error e = control.boot(r); !e.ok()) return e;
        info->slot = r.slot;
        info->trial = r.state == ota::BootState::trial ? 1 : 0;
        info->rolled_back = r.rolled_back ? 1 : 0;
        info->fell_back = r.fell_back ? 1 : 0;
        info->image_offset = r.image_offset;
        info->image_size = r.image.size;
        std::snprintf(info->version, sizeof info->version, "%s", r.image.version.c_str());
        return {};
    });
}

extern "C" int ota_ab_confirm(const ota_flash_hal_t* hal) {
    return ota::with_control(hal, [](ota::AbBootControl& control) -> ota::Error {
        if (ota::Error e = control.load(); !e.ok()) return e;
        return control.confirm();
    });
}
