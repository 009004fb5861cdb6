// The API's bearer token and other small secrets kept in files of the data directory.
//
// Why files with mode 0600 and no logging: the token is the only thing between the network and
// the fleet's firmware; it is generated once (32 random bytes from OpenSSL), shown to the person
// who started the console exactly once, and compared in constant time so its bytes cannot be
// guessed from response times.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace console {

/// `bytes` random bytes (OpenSSL RAND_bytes) as lowercase hex. Throws std::runtime_error when
/// the random generator fails.
[[nodiscard]] std::string random_hex(std::size_t bytes);

/// Writes `content` to a new file at `path` with mode 0600 (parent folders are made 0700);
/// fails if the file exists. Throws std::runtime_error naming the path and the reason.
void write_private_file(const std::string& path, const std::string& content);

/// Reads a whole file (at most `max_bytes`); throws std::runtime_error naming the path.
[[nodiscard]] std::string read_small_file(const std::string& path, std::size_t max_bytes);

/// The token in `path` (surrounding whitespace removed). When the file does not exist, a new
/// token (32 random bytes as 64 hex characters) is written there with mode 0600 and
/// `printed_once` is called with it (the only time it leaves the process; nothing logs it).
/// Throws std::runtime_error for an unreadable or empty file (without showing its content).
[[nodiscard]] std::string load_or_create_token(
    const std::string& path, const std::function<void(const std::string&)>& printed_once);

/// True when `a` equals `b`. The time taken depends only on the lengths, not on where the
/// strings differ.
[[nodiscard]] bool secrets_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace console
