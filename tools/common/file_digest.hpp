// Size and digest of a file, for the host tools that publish jobs (ota_cloud, ota_fleet's cloud).
// A tools helper, not part of the library (which does no file I/O of its own in ota::core).
#pragma once

#include <cstdint>
#include <string>

#include "ota/digest.hpp"
#include "ota/status.hpp"

namespace ota::tools {

/// Reads the file at `path` in 1 MiB pieces (memory does not grow with the file) and sets `size`
/// to its length and `hex` to its lower-case hex digest with `alg`. Errors: storage_failed
/// "cannot read <path>" (with the system's reason) when the file cannot be opened or read,
/// crypto_failed when the digest fails. `size` and `hex` are unspecified after an error.
[[nodiscard]] Error digest_file(const std::string& path, DigestAlgorithm alg, std::uint64_t& size,
                                std::string& hex);

}  // namespace ota::tools
