// The C++ side of the C flash HAL (ota_flash.h): a FlashDevice over an ota_flash_hal_t. Kept out
// of the C header so that it stays plain C99.
#pragma once

#include <memory>
#include <string>

#include "ota/c_api/ota_flash.h"
#include "ota/flash_device.hpp"

namespace ota {

/// Adapts a C `ota_flash_hal_t` to the C++ FlashDevice interface. The struct is copied; the
/// context it points to must outlive the device. Returns nullptr (with `why` filled when given)
/// when a hook is NULL or the geometry is invalid. A hook's non-zero result becomes
/// storage_failed.
[[nodiscard]] std::unique_ptr<FlashDevice> make_c_flash(const ota_flash_hal_t& hal,
                                                        std::string* why = nullptr);

}  // namespace ota
