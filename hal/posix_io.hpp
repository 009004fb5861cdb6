// Whole-buffer positional I/O shared by the file-backed HAL parts (FileSink, SimulatedFlash).
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace ota::detail {

/// pread_all()'s result when the file ends before `len` bytes were read.
inline constexpr int kEndOfFile = -1;

/// Writes all of [data, data + len) at `offset`, retrying interrupted and short writes.
/// Returns 0 or the errno (EIO for a write that stores nothing).
inline int pwrite_all(int fd, const std::uint8_t* data, std::size_t len,
                      std::uint64_t offset) noexcept {
    std::size_t done = 0;
    while (done < len) {
        const ssize_t n = ::pwrite(fd, data + done, len - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n == 0) return EIO;  // POSIX allows it only for len == 0; never loop on it
        done += static_cast<std::size_t>(n);
    }
    return 0;
}

/// Reads exactly `len` bytes at `offset` into `out`. Returns 0, the errno, or kEndOfFile; `done`
/// (when given) receives how many bytes were read.
inline int pread_all(int fd, std::uint8_t* out, std::size_t len, std::uint64_t offset,
                     std::size_t* done = nullptr) noexcept {
    std::size_t got = 0;
    int result = 0;
    while (got < len) {
        const ssize_t n = ::pread(fd, out + got, len - got, static_cast<off_t>(offset + got));
        if (n < 0) {
            if (errno == EINTR) continue;
            result = errno;
            break;
        }
        if (n == 0) {
            result = kEndOfFile;
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    if (done != nullptr) *done = got;
    return result;
}

}  // namespace ota::detail
