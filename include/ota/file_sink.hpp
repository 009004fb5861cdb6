// Compatibility: this header moved to "ota/hal_posix/file_sink.hpp" (its build target's folder).
// Code that includes it by its old name keeps compiling; new code includes the new path.
#pragma once

#include "ota/hal_posix/file_sink.hpp"
