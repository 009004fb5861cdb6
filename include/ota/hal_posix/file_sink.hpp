// A FirmwareSink that stores the image as a file, published atomically.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "ota/firmware_sink.hpp"

namespace ota {

/// Writes the image to `<final path>.part` and, on commit(), fsyncs it, renames it over the final
/// path and fsyncs the directory: the final path only ever holds a complete image (the previous
/// one, or the new one). abort() removes the partial file.
///
/// Crash resume: the client's resume record is kept in `<final path>.resume`, replaced atomically
/// (written to `<final path>.resume.tmp`, fsynced, renamed, directory fsynced). resume() reopens
/// the `.part` file an earlier run left behind. commit() and abort() remove the record; suspend()
/// and the destructor keep it with the partial file (a stop is not a failure), so a stopped or
/// killed process resumes where its last record points.
class FileSink final : public FirmwareSink {
  public:
    /// `final_path`: where the committed image goes. `max_size`: capacity() (default unlimited).
    explicit FileSink(std::filesystem::path final_path,
                      std::uint64_t max_size = std::numeric_limits<std::uint64_t>::max());
    ~FileSink() override;
    FileSink(const FileSink&) = delete;
    FileSink& operator=(const FileSink&) = delete;

    [[nodiscard]] Status begin(std::uint64_t expected_size) override;
    [[nodiscard]] Status write(std::uint64_t offset, const std::uint8_t* data,
                               std::size_t len) override;
    [[nodiscard]] Status read(std::uint64_t offset, std::uint8_t* out, std::size_t len) override;
    [[nodiscard]] Status flush() override;
    [[nodiscard]] Status commit() override;
    void abort() noexcept override;
    /// Closes the partial file and keeps it with `<final>.resume` for resume(); when there is no
    /// record the partial file could never be resumed and is removed.
    void suspend() noexcept override;
    [[nodiscard]] std::uint64_t capacity() const noexcept override { return max_size_; }
    /// Reopens `<final>.part` without truncating it; `stored` is its length. See FirmwareSink.
    [[nodiscard]] Status resume(std::uint64_t expected_size, std::uint64_t& stored) override;
    /// Replaces `<final>.resume` atomically (temporary file, fsync, rename, directory fsync).
    [[nodiscard]] Status save_record(const std::uint8_t* data, std::size_t len) override;
    /// Reads `<final>.resume`; ok with an empty `out` when there is none. A file larger than
    /// kMaxResumeRecordSize is storage_failed.
    [[nodiscard]] Status load_record(std::vector<std::uint8_t>& out) override;
    /// Removes `<final>.resume` and any temporary file a torn save left.
    void clear_record() noexcept override;

    /// The committed image's path.
    [[nodiscard]] const std::filesystem::path& final_path() const noexcept { return final_path_; }
    /// The in-progress file's path (`<final>.part`).
    [[nodiscard]] const std::filesystem::path& partial_path() const noexcept { return part_path_; }
    /// The resume record's path (`<final>.resume`).
    [[nodiscard]] const std::filesystem::path& record_path() const noexcept { return record_path_; }
    /// last_io_error(): what failed, on which file, and the OS's reason.
    [[nodiscard]] std::string error_detail() const override { return last_io_error_; }
    /// errno-style text of the last I/O failure, empty if none.
    [[nodiscard]] const std::string& last_io_error() const noexcept { return last_io_error_; }

  private:
    std::filesystem::path final_path_;
    std::filesystem::path part_path_;
    std::filesystem::path record_path_;
    std::filesystem::path record_tmp_path_;
    std::filesystem::path dir_path_;
    std::uint64_t max_size_;
    std::uint64_t expected_size_ = 0;
    int fd_ = -1;
    std::string last_io_error_;
};

}  // namespace ota
