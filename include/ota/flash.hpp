// Compatibility: the flash seam and its simulator, as one header. FlashDevice moved to
// "ota/flash_device.hpp" (ota::core) and SimulatedFlash to "ota/hal_posix/simulated_flash.hpp"
// (ota::hal_posix); code that includes this header keeps compiling unchanged.
#pragma once

#include "ota/flash_device.hpp"
#include "ota/hal_posix/simulated_flash.hpp"
