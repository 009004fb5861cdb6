// Compatibility: this header moved to "ota/curl/curl_byte_source.hpp" (its build target's folder).
// Code that includes it by its old name keeps compiling; new code includes the new path.
#pragma once

#include "ota/curl/curl_byte_source.hpp"
