// FileSink when the file system says no: the names it uses are taken by directories, FIFOs or
// symlinks, the image crosses a write-back window, or the path has no directory part. Each case
// checks the status, the error text and what is left on disk, on the real file system.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "ota/hal_posix/file_sink.hpp"
#include "ota/log.hpp"
#include "ota/status.hpp"

namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes bytes_of(const std::string& s) {
    return Bytes(s.begin(), s.end());
}

Bytes read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const fs::path& p, const Bytes& data) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
    ASSERT_TRUE(out.good());
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

class FileSinkFaultTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string templ = (fs::path(::testing::TempDir()) / "ota_sink_fault_XXXXXX").string();
        ASSERT_NE(::mkdtemp(templ.data()), nullptr);
        dir_ = templ;
        final_ = dir_ / "firmware.bin";
        // The sink logs every I/O failure as a warning; keep the test output clean.
        ota::set_log_sink([](ota::LogLevel, std::string_view) {});
    }
    void TearDown() override {
        ota::set_log_sink({});
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    fs::path dir_;
    fs::path final_;
};

TEST_F(FileSinkFaultTest, NullBuffersAreRefusedUnlessTheLengthIsZero) {
    ota::FileSink sink(final_);
    ASSERT_EQ(sink.begin(8), ota::Status::ok);
    EXPECT_EQ(sink.write(0, nullptr, 4), ota::Status::invalid_argument);
    EXPECT_EQ(sink.read(0, nullptr, 4), ota::Status::invalid_argument);
    EXPECT_EQ(sink.write(0, nullptr, 0), ota::Status::ok);
    EXPECT_EQ(sink.read(0, nullptr, 0), ota::Status::ok);
    EXPECT_EQ(fs::file_size(sink.partial_path()), 0U) << "nothing was written";

    EXPECT_EQ(sink.save_record(nullptr, 3), ota::Status::invalid_argument);
    EXPECT_FALSE(fs::exists(sink.record_path()));
    ASSERT_EQ(sink.save_record(nullptr, 0), ota::Status::ok);
    Bytes loaded = bytes_of("stale");
    ASSERT_EQ(sink.load_record(loaded), ota::Status::ok);
    EXPECT_TRUE(loaded.empty()) << "an empty record round-trips as empty";
}

TEST_F(FileSinkFaultTest, ImagesBeyondTheLargestFileOffsetAreStorageFull) {
    // The default capacity is unlimited, so only off_t's range refuses this size.
    ota::FileSink sink(final_);
    EXPECT_EQ(sink.begin(std::numeric_limits<std::uint64_t>::max()), ota::Status::storage_full);
    EXPECT_FALSE(fs::exists(sink.partial_path()));
    write_file(sink.partial_path(), bytes_of("partial"));
    std::uint64_t stored = 99;
    EXPECT_EQ(sink.resume(std::numeric_limits<std::uint64_t>::max(), stored),
              ota::Status::storage_full);
    EXPECT_EQ(stored, 0U);
    EXPECT_EQ(read_file(sink.partial_path()), bytes_of("partial")) << "left as it was";
}

TEST_F(FileSinkFaultTest, WritesAcrossTheWriteBackWindowLandWhereTheyBelong) {
    // Write-back is started every 8 MiB; a write crossing that boundary, one ending exactly on
    // it and the last bytes of the image must all read back and commit unchanged.
    constexpr std::uint64_t kWindow = 8U * 1024U * 1024U;
    constexpr std::uint64_t kSize = kWindow + 4096U;
    const Bytes across = bytes_of("crossing the window");
    const Bytes up_to = bytes_of("ends at the window");
    const Bytes tail = bytes_of("last bytes");
    ota::FileSink sink(final_);
    ASSERT_EQ(sink.begin(kSize), ota::Status::ok);
    const std::uint64_t across_at = kWindow - 5U;
    const std::uint64_t up_to_at = kWindow - 1024U - up_to.size();
    ASSERT_EQ(sink.write(across_at, across.data(), across.size()), ota::Status::ok);
    ASSERT_EQ(sink.write(up_to_at, up_to.data(), up_to.size()), ota::Status::ok);
    ASSERT_EQ(sink.write(kSize - tail.size(), tail.data(), tail.size()), ota::Status::ok);

    Bytes back(across.size());
    ASSERT_EQ(sink.read(across_at, back.data(), back.size()), ota::Status::ok);
    EXPECT_EQ(back, across);
    ASSERT_EQ(sink.commit(), ota::Status::ok);

    const Bytes image = read_file(final_);
    ASSERT_EQ(image.size(), kSize);
    const auto at = [&](std::uint64_t offset, std::size_t len) {
        return Bytes(image.begin() + static_cast<std::ptrdiff_t>(offset),
                     image.begin() + static_cast<std::ptrdiff_t>(offset + len));
    };
    EXPECT_EQ(at(across_at, across.size()), across);
    EXPECT_EQ(at(up_to_at, up_to.size()), up_to);
    EXPECT_EQ(at(kSize - tail.size(), tail.size()), tail);
    EXPECT_EQ(image[0], 0U) << "bytes never written read as zeros";
}

TEST_F(FileSinkFaultTest, CommitOntoADirectoryFailsAndEndsTheJob) {
    // The final path is taken by a directory: rename(2) cannot replace it with a file.
    fs::create_directory(final_);
    write_file(final_ / "keep", bytes_of("untouched"));
    ota::FileSink sink(final_);
    const Bytes image = bytes_of("new image");
    ASSERT_EQ(sink.begin(image.size()), ota::Status::ok);
    ASSERT_EQ(sink.write(0, image.data(), image.size()), ota::Status::ok);
    const Bytes record = bytes_of("record");
    ASSERT_EQ(sink.save_record(record.data(), record.size()), ota::Status::ok);

    EXPECT_EQ(sink.commit(), ota::Status::storage_failed);
    EXPECT_TRUE(contains(sink.last_io_error(), "cannot rename")) << sink.last_io_error();
    EXPECT_TRUE(contains(sink.last_io_error(), sink.partial_path().string()));
    EXPECT_FALSE(fs::exists(sink.partial_path())) << "a failed commit removes the partial image";
    EXPECT_FALSE(fs::exists(sink.record_path())) << "and the record that described it";
    EXPECT_TRUE(fs::is_directory(final_));
    EXPECT_EQ(read_file(final_ / "keep"), bytes_of("untouched"));
    EXPECT_EQ(sink.write(0, image.data(), 1), ota::Status::invalid_state) << "the job is over";
}

TEST_F(FileSinkFaultTest, ResumeRefusesAPartialPathThatIsNotARegularFile) {
    ota::FileSink sink(final_);
    ASSERT_EQ(::mkfifo(sink.partial_path().c_str(), 0600), 0);
    std::uint64_t stored = 99;
    EXPECT_EQ(sink.resume(100, stored), ota::Status::storage_failed);
    EXPECT_EQ(stored, 0U);
    EXPECT_TRUE(contains(sink.last_io_error(), "not a regular file")) << sink.last_io_error();
    EXPECT_TRUE(fs::is_fifo(sink.partial_path())) << "a refusal leaves the path alone";
    EXPECT_EQ(sink.flush(), ota::Status::invalid_state) << "no job was opened";
}

TEST_F(FileSinkFaultTest, SaveRecordReportsATakenTemporaryName) {
    ota::FileSink sink(final_);
    const Bytes old_record = bytes_of("old record");
    ASSERT_EQ(sink.save_record(old_record.data(), old_record.size()), ota::Status::ok);

    const fs::path tmp = dir_ / "firmware.bin.resume.tmp";
    fs::create_directory(tmp);
    const Bytes record = bytes_of("new record");
    EXPECT_EQ(sink.save_record(record.data(), record.size()), ota::Status::storage_failed);
    EXPECT_TRUE(contains(sink.last_io_error(), "cannot create")) << sink.last_io_error();
    EXPECT_TRUE(contains(sink.last_io_error(), tmp.string()));
    Bytes loaded;
    ASSERT_EQ(sink.load_record(loaded), ota::Status::ok);
    EXPECT_EQ(loaded, old_record) << "the previous record survives a failed save";
}

TEST_F(FileSinkFaultTest, SaveRecordOntoADirectoryFailsAndLeavesNoTemporaryFile) {
    ota::FileSink sink(final_);
    fs::create_directory(sink.record_path());
    write_file(sink.record_path() / "keep", bytes_of("x"));
    const Bytes record = bytes_of("record");
    EXPECT_EQ(sink.save_record(record.data(), record.size()), ota::Status::storage_failed);
    EXPECT_TRUE(contains(sink.last_io_error(), "cannot rename")) << sink.last_io_error();
    EXPECT_FALSE(fs::exists(dir_ / "firmware.bin.resume.tmp"));
    EXPECT_TRUE(fs::is_directory(sink.record_path()));
}

TEST_F(FileSinkFaultTest, LoadRecordFromADirectoryIsAStorageFailure) {
    ota::FileSink sink(final_);
    fs::create_directory(sink.record_path());
    Bytes loaded = bytes_of("stale");
    EXPECT_EQ(sink.load_record(loaded), ota::Status::storage_failed);
    EXPECT_TRUE(loaded.empty());
    EXPECT_TRUE(contains(sink.last_io_error(), "cannot read")) << sink.last_io_error();
    EXPECT_TRUE(contains(sink.last_io_error(), sink.record_path().string()));
}

TEST_F(FileSinkFaultTest, LoadRecordDoesNotFollowASymlink) {
    // A record planted as a symlink could make the sink read any file as its resume state.
    const fs::path elsewhere = dir_ / "elsewhere";
    write_file(elsewhere, bytes_of("a record somewhere else"));
    ota::FileSink sink(final_);
    fs::create_symlink(elsewhere, sink.record_path());
    Bytes loaded = bytes_of("stale");
    EXPECT_EQ(sink.load_record(loaded), ota::Status::storage_failed);
    EXPECT_TRUE(loaded.empty());
    EXPECT_TRUE(contains(sink.last_io_error(), "cannot open")) << sink.last_io_error();
    EXPECT_EQ(read_file(elsewhere), bytes_of("a record somewhere else"));
}

// Runs the test body in another working directory and returns to the old one afterwards.
class WorkingDirectory {
  public:
    explicit WorkingDirectory(const fs::path& dir) : old_(fs::current_path()) {
        fs::current_path(dir);
    }
    ~WorkingDirectory() { fs::current_path(old_); }
    WorkingDirectory(const WorkingDirectory&) = delete;
    WorkingDirectory& operator=(const WorkingDirectory&) = delete;

  private:
    fs::path old_;
};

TEST_F(FileSinkFaultTest, ABareFileNameLivesInTheWorkingDirectory) {
    const WorkingDirectory cwd(dir_);
    ota::FileSink sink("image.bin");
    EXPECT_EQ(sink.partial_path(), fs::path("image.bin.part"));
    const Bytes image = bytes_of("relative image");
    ASSERT_EQ(sink.begin(image.size()), ota::Status::ok);
    ASSERT_EQ(sink.write(0, image.data(), image.size()), ota::Status::ok);
    const Bytes record = bytes_of("record");
    ASSERT_EQ(sink.save_record(record.data(), record.size()), ota::Status::ok);
    EXPECT_TRUE(fs::exists(dir_ / "image.bin.resume"));
    ASSERT_EQ(sink.commit(), ota::Status::ok) << sink.last_io_error();
    EXPECT_EQ(read_file(dir_ / "image.bin"), image);
    EXPECT_FALSE(fs::exists(dir_ / "image.bin.part"));
    EXPECT_FALSE(fs::exists(dir_ / "image.bin.resume"));
}

}  // namespace
