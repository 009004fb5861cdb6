// FileSink: the image goes to `<final>.part` through plain POSIX file descriptors and is published
// by rename(2), which replaces the final path atomically, so a reader of the final path sees either
// the previous image or the complete new one, never a mixture.
#include "ota/hal_posix/file_sink.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <limits>
#include <string>
#include <system_error>
#include <utility>

#include "ota/log.hpp"
#include "posix_io.hpp"

namespace ota {
namespace {

// The largest file offset the platform's off_t can express; images beyond it cannot be stored.
constexpr std::uint64_t kMaxFileOffset =
    static_cast<std::uint64_t>(std::numeric_limits<off_t>::max());

// True when [offset, offset + len) lies inside an image of `size` bytes, without overflowing.
bool range_fits(std::uint64_t offset, std::size_t len, std::uint64_t size) noexcept {
    return offset <= size && static_cast<std::uint64_t>(len) <= size - offset;
}

// Out of space on the device, over quota, or over the process/file-system file size limit: the
// image does not fit, which the client reports differently from a broken medium.
bool is_no_space(int err) noexcept {
#ifdef EDQUOT
    if (err == EDQUOT) return true;
#endif
    return err == ENOSPC || err == EFBIG;
}

// Closes `fd`, returning 0 or the errno of a failed close. EINTR is not retried: on Linux the
// descriptor is released even then, and retrying could close a descriptor another thread opened.
int close_fd(int fd) noexcept {
    return ::close(fd) == 0 ? 0 : errno;
}

// Write-back of the partial file is started every kWritebackWindow bytes (see start_writeback).
constexpr std::uint64_t kWritebackWindow = 8U * 1024U * 1024U;

// Asks the kernel to start writing the dirty pages of [begin, end) to the medium without waiting
// for it, so that the fsync in commit() finds little left to do: the disk works while the rest of
// the image is still being downloaded and hashed, instead of after it. Advisory only: a failure
// here changes nothing (commit()'s fsync reports real I/O errors), so it is ignored.
void start_writeback(int fd, std::uint64_t begin, std::uint64_t end) noexcept {
#ifdef SYNC_FILE_RANGE_WRITE
    (void)::sync_file_range(fd, static_cast<off_t>(begin), static_cast<off_t>(end - begin),
                            SYNC_FILE_RANGE_WRITE);
#else
    (void)fd;
    (void)begin;
    (void)end;
#endif
}

// fsync with EINTR retried; returns 0 or errno.
int fsync_fd(int fd) noexcept {
    for (;;) {
        if (::fsync(fd) == 0) return 0;
        if (errno != EINTR) return errno;
    }
}

// Directory whose entry changes when `path` is renamed into place.
std::filesystem::path directory_of(const std::filesystem::path& path) {
    std::filesystem::path dir = path.parent_path();
    return dir.empty() ? std::filesystem::path(".") : dir;
}

// Records an I/O failure (errno text plus what was being done) and maps it to a status. Paths are
// logged: they name local files, never credentials.
Status record_io_failure(std::string& last_io_error, const char* operation,
                         const std::filesystem::path& path, int err) {
    last_io_error =
        std::string(operation) + " " + path.string() + ": " + std::system_category().message(err);
    log(LogLevel::warning, "file sink: " + last_io_error);
    return is_no_space(err) ? Status::storage_full : Status::storage_failed;
}

// Opens `path` with `flags`, retrying on EINTR; returns the descriptor or -1 (errno set).
int open_retrying(const std::filesystem::path& path, int flags, mode_t mode = 0) noexcept {
    for (;;) {
        const int fd = ::open(path.c_str(), flags, mode);
        if (fd >= 0 || errno != EINTR) return fd;
    }
}

// fsyncs directory `dir`; returns 0 or errno.
int fsync_directory(const std::filesystem::path& dir) noexcept {
    const int dir_fd = open_retrying(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) return errno;
    const int err = fsync_fd(dir_fd);
    close_fd(dir_fd);
    return err;
}

}  // namespace

FileSink::FileSink(std::filesystem::path final_path, std::uint64_t max_size)
    : final_path_(std::move(final_path)),
      part_path_(std::filesystem::path(final_path_).concat(".part")),
      record_path_(std::filesystem::path(final_path_).concat(".resume")),
      record_tmp_path_(std::filesystem::path(final_path_).concat(".resume.tmp")),
      dir_path_(directory_of(final_path_)),
      max_size_(max_size) {}

FileSink::~FileSink() {
    // A sink destroyed with an open job was stopped, not failed: failures abort() explicitly.
    suspend();
}

Status FileSink::begin(std::uint64_t expected_size) {
    // Any earlier job is dropped first, also when this begin() is refused: after a failed begin()
    // the sink is idle rather than still attached to an image the caller has given up on.
    abort();
    last_io_error_.clear();
    if (expected_size > capacity() || expected_size > kMaxFileOffset) return Status::storage_full;

    int fd = -1;
    for (;;) {
        // O_NOFOLLOW: a symlink planted at the partial path must not redirect the truncation.
        fd = ::open(part_path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd >= 0 || errno != EINTR) break;
    }
    if (fd < 0) return record_io_failure(last_io_error_, "cannot create", part_path_, errno);

    fd_ = fd;
    expected_size_ = expected_size;
    return Status::ok;
}

Status FileSink::write(std::uint64_t offset, const std::uint8_t* data, std::size_t len) {
    if (fd_ < 0) return Status::invalid_state;
    if (!range_fits(offset, len, expected_size_)) return Status::invalid_argument;
    if (data == nullptr && len > 0) return Status::invalid_argument;

    if (const int err = detail::pwrite_all(fd_, data, len, offset); err != 0) {
        return record_io_failure(last_io_error_, "cannot write", part_path_, err);
    }
    // When this write completed one or more whole windows, hand them to write-back. Stateless (it
    // depends only on this write's range), so writes in any order, resumed jobs included, work.
    const std::uint64_t window_start = offset / kWritebackWindow * kWritebackWindow;
    const std::uint64_t window_end = (offset + len) / kWritebackWindow * kWritebackWindow;
    if (window_end > window_start) start_writeback(fd_, window_start, window_end);
    return Status::ok;
}

Status FileSink::read(std::uint64_t offset, std::uint8_t* out, std::size_t len) {
    if (fd_ < 0) return Status::invalid_state;
    if (!range_fits(offset, len, expected_size_)) return Status::invalid_argument;
    if (out == nullptr && len > 0) return Status::invalid_argument;

    std::size_t done = 0;
    const int err = detail::pread_all(fd_, out, len, offset, &done);
    if (err == detail::kEndOfFile) {
        // End of file inside the image: those bytes were never written (or were lost). The
        // contract is all-or-error, so this is a storage failure, not a short success.
        last_io_error_ = "cannot read " + part_path_.string() + ": end of file at offset " +
                         std::to_string(offset + done);
        log(LogLevel::warning, "file sink: " + last_io_error_);
        return Status::storage_failed;
    }
    if (err != 0) return record_io_failure(last_io_error_, "cannot read", part_path_, err);
    return Status::ok;
}

Status FileSink::flush() {
    if (fd_ < 0) return Status::invalid_state;
    const int err = fsync_fd(fd_);
    if (err != 0) return record_io_failure(last_io_error_, "cannot sync", part_path_, err);
    return Status::ok;
}

Status FileSink::commit() {
    if (fd_ < 0) return Status::invalid_state;

    // An image shorter than announced is a caller error (commit before the last byte arrived),
    // not a storage fault, so it is invalid_state and the job stays open: the caller may still
    // write the missing bytes and commit again, or abort. Holes inside the file cannot be seen
    // here; the client verifies the digest before it commits.
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
        return record_io_failure(last_io_error_, "cannot stat", part_path_, errno);
    }
    const auto actual = static_cast<std::uint64_t>(st.st_size);
    if (actual != expected_size_) {
        log(LogLevel::warning, "file sink: commit refused, " + part_path_.string() + " holds " +
                                   std::to_string(actual) + " of " +
                                   std::to_string(expected_size_) + " bytes");
        return Status::invalid_state;
    }

    // Data first, then the name: without this fsync a power cut after rename() could publish a
    // file whose blocks never reached the medium.
    int err = fsync_fd(fd_);
    if (err != 0) return record_io_failure(last_io_error_, "cannot sync", part_path_, err);

    // From here on the descriptor is gone, so every failure ends the job and removes the partial
    // file; the final path still holds the previous image.
    const int fd = std::exchange(fd_, -1);
    err = close_fd(fd);
    if (err != 0) {
        const Status s = record_io_failure(last_io_error_, "cannot close", part_path_, err);
        ::unlink(part_path_.c_str());
        clear_record();
        return s;
    }
    if (::rename(part_path_.c_str(), final_path_.c_str()) != 0) {
        const Status s = record_io_failure(last_io_error_, "cannot rename", part_path_, errno);
        ::unlink(part_path_.c_str());
        clear_record();
        return s;
    }
    clear_record();  // the partial file it described is now the final image

    // The rename lives in the directory; sync it so the new name survives a power cut. If this
    // fails the final path already holds the complete new image, but its durability is unknown,
    // which the caller must hear about.
    const std::filesystem::path dir = directory_of(final_path_);
    int dir_fd = -1;
    for (;;) {
        dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd >= 0 || errno != EINTR) break;
    }
    if (dir_fd < 0) return record_io_failure(last_io_error_, "cannot open directory", dir, errno);
    err = fsync_fd(dir_fd);
    close_fd(dir_fd);
    if (err != 0) return record_io_failure(last_io_error_, "cannot sync directory", dir, err);
    return Status::ok;
}

void FileSink::abort() noexcept {
    // Only an open job owns the partial file; an idle sink leaves the file system alone (another
    // sink, or a later begin(), may be using that name). The final path is never touched here.
    if (fd_ < 0) return;
    close_fd(std::exchange(fd_, -1));
    ::unlink(part_path_.c_str());
    clear_record();  // it would point at the partial file just removed
    expected_size_ = 0;
}

void FileSink::suspend() noexcept {
    if (fd_ < 0) return;
    close_fd(std::exchange(fd_, -1));
    expected_size_ = 0;
    // Without a record nothing can ever resume this partial file (the next begin() would only
    // truncate it), so it is not left lying around.
    struct stat st {};
    if (::stat(record_path_.c_str(), &st) != 0 && errno == ENOENT) ::unlink(part_path_.c_str());
}

Status FileSink::resume(std::uint64_t expected_size, std::uint64_t& stored) {
    stored = 0;
    abort();  // as begin(): an open job is dropped first
    last_io_error_.clear();
    if (expected_size > capacity() || expected_size > kMaxFileOffset) return Status::storage_full;

    // No O_CREAT, no O_TRUNC: only an existing partial file is taken, as it is.
    const int fd = open_retrying(part_path_, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        const int err = errno;
        if (err == ENOENT) {
            last_io_error_ = "no partial image at " + part_path_.string();
            return Status::storage_failed;
        }
        return record_io_failure(last_io_error_, "cannot reopen", part_path_, err);
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        close_fd(fd);
        return record_io_failure(last_io_error_, "cannot stat", part_path_, err);
    }
    if (!S_ISREG(st.st_mode)) {
        close_fd(fd);
        last_io_error_ = part_path_.string() + " is not a regular file";
        return Status::storage_failed;
    }
    const auto length = static_cast<std::uint64_t>(st.st_size);
    if (length > expected_size) {
        close_fd(fd);
        last_io_error_ = part_path_.string() + " holds " + std::to_string(length) +
                         " bytes, more than the " + std::to_string(expected_size) + " expected";
        return Status::invalid_argument;
    }
    fd_ = fd;
    expected_size_ = expected_size;
    stored = length;
    return Status::ok;
}

Status FileSink::save_record(const std::uint8_t* data, std::size_t len) {
    if (len > kMaxResumeRecordSize || (data == nullptr && len > 0)) {
        return Status::invalid_argument;
    }
    // Written aside and renamed over the record: a power cut leaves the old or the new one.
    const int fd = open_retrying(record_tmp_path_,
                                 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return record_io_failure(last_io_error_, "cannot create", record_tmp_path_, errno);
    std::size_t done = 0;
    while (done < len) {
        const ssize_t n = ::write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int err = n < 0 ? errno : EIO;
            close_fd(fd);
            ::unlink(record_tmp_path_.c_str());
            return record_io_failure(last_io_error_, "cannot write", record_tmp_path_, err);
        }
        done += static_cast<std::size_t>(n);
    }
    int err = fsync_fd(fd);
    const int close_err = close_fd(fd);
    if (err == 0) err = close_err;
    if (err != 0) {
        ::unlink(record_tmp_path_.c_str());
        return record_io_failure(last_io_error_, "cannot sync", record_tmp_path_, err);
    }
    if (::rename(record_tmp_path_.c_str(), record_path_.c_str()) != 0) {
        err = errno;
        ::unlink(record_tmp_path_.c_str());
        return record_io_failure(last_io_error_, "cannot rename", record_tmp_path_, err);
    }
    err = fsync_directory(dir_path_);
    if (err != 0) return record_io_failure(last_io_error_, "cannot sync directory", dir_path_, err);
    return Status::ok;
}

Status FileSink::load_record(std::vector<std::uint8_t>& out) {
    out.clear();
    const int fd = open_retrying(record_path_, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        const int err = errno;
        if (err == ENOENT) return Status::ok;  // no record
        return record_io_failure(last_io_error_, "cannot open", record_path_, err);
    }
    // One byte more than allowed, to tell a record of the maximum size from a larger file.
    out.resize(kMaxResumeRecordSize + 1);
    std::size_t done = 0;
    for (;;) {
        const ssize_t n = ::read(fd, out.data() + done, out.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            close_fd(fd);
            out.clear();
            return record_io_failure(last_io_error_, "cannot read", record_path_, err);
        }
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
        if (done == out.size()) break;
    }
    close_fd(fd);
    if (done > kMaxResumeRecordSize) {
        out.clear();
        last_io_error_ = record_path_.string() + " is larger than a resume record can be";
        log(LogLevel::warning, "file sink: " + last_io_error_);
        return Status::storage_failed;
    }
    out.resize(done);
    return Status::ok;
}

void FileSink::clear_record() noexcept {
    ::unlink(record_path_.c_str());
    ::unlink(record_tmp_path_.c_str());
}

}  // namespace ota
