// The C++ side of the C persistence HAL (ota_persistence.h): a FirmwareSink over an
// ota_persistence_hal_t. Kept out of the C header so that it stays plain C99.
#pragma once

#include <memory>
#include <string>

#include "ota/c_api/ota_persistence.h"
#include "ota/firmware_sink.hpp"

namespace ota {

/// Adapts a C `ota_persistence_hal_t` to the C++ FirmwareSink interface. The struct is copied; the
/// context it points to must outlive the sink. Errors: invalid_argument from make_c_sink when a
/// required hook is NULL (returned as nullptr with `why` filled when given).
[[nodiscard]] std::unique_ptr<FirmwareSink> make_c_sink(const ota_persistence_hal_t& hal,
                                                        std::string* why = nullptr);

}  // namespace ota
