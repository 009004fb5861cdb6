// Compatibility: this header moved to "ota/paho/paho_channel.hpp" (its build target's folder). Code
// that includes it by its old name keeps compiling; new code includes the new path.
#pragma once

#include "ota/paho/paho_channel.hpp"
