// FileSink against the real file system: every test runs in its own fresh temporary directory.
#include "ota/hal_posix/file_sink.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "ota/client.hpp"
#include "ota/digest.hpp"
#include "ota/log.hpp"
#include "ota/status.hpp"
#include "support/fake_broker.hpp"
#include "support/scripted_source.hpp"

namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<std::uint8_t>;

// A deterministic, non-repeating-looking byte pattern so misplaced chunks are detected.
Bytes pattern(std::size_t n, std::uint8_t seed) {
    Bytes out(n);
    std::uint32_t x = 2463534242u ^ seed;
    for (auto& b : out) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b = static_cast<std::uint8_t>(x);
    }
    return out;
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

// Captures log records for the lifetime of the object, then restores the default sink.
struct LogCapture {
    std::vector<std::pair<ota::LogLevel, std::string>> records;
    LogCapture() {
        ota::set_log_sink([this](ota::LogLevel level, std::string_view msg) {
            records.emplace_back(level, std::string(msg));
        });
    }
    ~LogCapture() { ota::set_log_sink({}); }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;
};

class FileSinkTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string templ = (fs::path(::testing::TempDir()) / "ota_file_sink_XXXXXX").string();
        ASSERT_NE(::mkdtemp(templ.data()), nullptr);
        dir_ = templ;
        final_ = dir_ / "firmware.bin";
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    // Writes `data` through the sink in chunks of `chunk` bytes, in order.
    static void write_all(ota::FileSink& sink, const Bytes& data, std::size_t chunk) {
        for (std::size_t off = 0; off < data.size(); off += chunk) {
            const std::size_t n = std::min(chunk, data.size() - off);
            ASSERT_EQ(sink.write(off, data.data() + off, n), ota::Status::ok) << "offset " << off;
        }
    }

    fs::path dir_;
    fs::path final_;
};

TEST_F(FileSinkTest, PartialPathIsFinalPathPlusPart) {
    ota::FileSink sink(final_);
    EXPECT_EQ(sink.final_path(), final_);
    EXPECT_EQ(sink.partial_path(), dir_ / "firmware.bin.part");
    EXPECT_EQ(sink.capacity(), std::numeric_limits<std::uint64_t>::max());
    EXPECT_TRUE(sink.last_io_error().empty());
}

TEST_F(FileSinkTest, InOrderWritesReadBackAndCommit) {
    const Bytes image = pattern(10000, 1);
    ota::FileSink sink(final_);
    ASSERT_EQ(sink.begin(image.size()), ota::Status::ok);
    EXPECT_TRUE(fs::exists(sink.partial_path()));
    write_all(sink, image, 333);
    ASSERT_EQ(sink.flush(), ota::Status::ok);

    Bytes back(image.size());
    ASSERT_EQ(sink.read(0, back.data(), back.size()), ota::Status::ok);
    EXPECT_EQ(back, image);
    Bytes middle(100);
    ASSERT_EQ(sink.read(4321, middle.data(), middle.size()), ota::Status::ok);
    EXPECT_EQ(middle, Bytes(image.begin() + 4321, image.begin() + 4421));

    EXPECT_FALSE(fs::exists(final_)) << "nothing may be published before commit";
    ASSERT_EQ(sink.commit(), ota::Status::ok);
    EXPECT_EQ(read_file(final_), image);
    EXPECT_FALSE(fs::exists(sink.partial_path()));
    EXPECT_TRUE(sink.last_io_error().empty());
}

TEST_F(FileSinkTest, OutOfOrderWritesLandAtTheirOffsets) {
    const Bytes image = pattern(4096, 2);
    const std::size_t chunk = 512;
    ota::FileSink sink(final_);
    ASSERT_EQ(sink.begin(image.size()), ota::Status::ok);
    // Last chunk first, then the rest from the back, interleaved.
    const std::size_t order[] = {7, 0, 5, 2, 6, 1, 4, 3};
    for (std::size_t i : order) {
        ASSERT_EQ(sink.write(i * chunk, image.data() + i * chunk, chunk), ota::Status::ok);
    }
    Bytes back(image.size());
    ASSERT_EQ(sink.read(0, back.data(), back.size()), ota::Status::ok);
    EXPECT_EQ(back, image);
    ASSERT_EQ(sink.commit(), ota::Status::ok);
    EXPECT_EQ(read_file(final_), image);
}

TEST_F(FileSinkTest, OldImageStaysIntactUntilCommitReplacesItAtomically) {
    const Bytes old_image = pattern(3000, 3);
    const Bytes new_image = pattern(5000, 4);
    write_file(final_, old_image);

    // A reader holding the old image open keeps seeing the old bytes: commit swaps the name, it
    // never rewrites the old file in place.
    const int old_fd = ::open(final_.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(old_fd, 0);

    ota::FileSink sink(final_);
    ASSERT_EQ(sink.begin(new_image.size()), ota::Status::ok);
    write_all(sink, new_image, 1000);
    EXPECT_EQ(read_file(final_), old_image) << "final path changed before commit";
    ASSERT_EQ(sink.commit(), ota::Status::ok);
    EXPECT_EQ(read_file(final_), new_image);
    EXPECT_FALSE(fs::exists(sink.partial_path()));

    Bytes via_old_fd(old_image.size());
    EXPECT_EQ(::pread(old_fd, via_old_fd.data(), via_old_fd.size(), 0),
              static_cast<ssize_t>(old_image.size()));
    EXPECT_EQ(via_old_fd, old_image);
    ::close(old_fd);
}

TEST_F(FileSinkTest, AbortRemovesPartialAndKeepsOldImage) {
    const Bytes old_image = pattern(100, 5);
    write_file(final_, old_image);
    ota::FileSink sink(final_);
    ASSERT_EQ(sink.begin(200), ota::Status::ok);
    const Bytes half = pattern(100, 6);
    ASSERT_EQ(sink.write(0, half.data(), half.size()), ota::Status::ok);
    sink.abort();
    EXPECT_FALSE(fs::exists(sink.partial_path()));
    EXPECT_EQ(read_file(final_), old_image);
    // The job is over: further calls are out of state.
    EXPECT_EQ(sink.write(0, half.data(), 1), ota::Status::invalid_state);
    EXPECT_EQ(sink.commit(), ota::Status::invalid_state);
    EXPECT_EQ(read_file(final_), old_image);
}

TEST_F(FileSinkTest, AbortIsSafeInAnyStateAndRepeatedly) {
    const Bytes image = pattern(64, 7);
    ota::FileSink sink(final_);
    sink.abort();  // idle
    sink.abort();
    ASSERT_EQ(sink.begin(image.size()), ota::Status::ok);
    ASSERT_EQ(sink.write(0, image.data(), image.size()), ota::Status::ok);
    ASSERT_EQ(sink.commit(), ota::Status::ok);
    sink.abort();  // after commit: must not touch the committed image
    sink.abort();
    EXPECT_EQ(read_file(final_), image);
    EXPECT_FALSE(fs::exists(sink.partial_path()));
}

TEST_F(FileSinkTest, SecondBeginDiscardsTheFirstPartial) {
    ota::FileSink sink(final_);
    const Bytes first = pattern(1000, 8);
    ASSERT_EQ(sink.begin(first.size()), ota::Status::ok);
    ASSERT_EQ(sink.write(0, first.data(), first.size()), ota::Status::ok);

    const Bytes second = pattern(10, 9);
    ASSERT_EQ(sink.begin(second.size()), ota::Status::ok);
    EXPECT_EQ(fs::file_size(sink.partial_path()), 0u) << "old partial bytes survived begin()";
    // The new job has the new size: writing at the old job's offsets is out of range.
    EXPECT_EQ(sink.write(500, first.data(), 10), ota::Status::invalid_argument);
    ASSERT_EQ(sink.write(0, second.data(), second.size()), ota::Status::ok);
    ASSERT_EQ(sink.commit(), ota::Status::ok);
    EXPECT_EQ(read_file(final_), second);
}

TEST_F(FileSinkTest, WritesAndReadsOutsideTheImageAreInvalidArguments) {
    ota::FileSink sink(final_);
    ASSERT_EQ(sink.begin(100), ota::Status::ok);
    const Bytes data = pattern(100, 10);
    EXPECT_EQ(sink.write(1, data.data(), 100), ota::Status::invalid_argument);
    EXPECT_EQ(sink.write(100, data.data(), 1), ota::Status::invalid_argument);
    EXPECT_EQ(sink.write(101, data.data(), 0), ota::Status::invalid_argument);
    // offset + len would wrap around to a small number.
    EXPECT_EQ(sink.write(std::numeric_limits<std::uint64_t>::max(), data.data(), 2),
              ota::Status::invalid_argument);
    EXPECT_EQ(sink.write(0, nullptr, 1), ota::Status::invalid_argument);
    EXPECT_EQ(sink.write(100, data.data(), 0), ota::Status::ok);  // empty write at the end

    Bytes out(2);
    EXPECT_EQ(sink.read(99, out.data(), 2), ota::Status::invalid_argument);
    EXPECT_EQ(sink.read(std::numeric_limits<std::uint64_t>::max(), out.data(), 2),
              ota::Status::invalid_argument);
    EXPECT_EQ(sink.read(0, nullptr, 1), ota::Status::invalid_argument);
    // Nothing out of range reached the file.
    EXPECT_EQ(fs::file_size(sink.partial_path()), 0u);
}

TEST_F(FileSinkTest, ReadingBytesNeverWrittenFails) {
    ota::FileSink sink(final_);
    ASSERT_EQ(sink.begin(100), ota::Status::ok);
    const Bytes head = pattern(40, 11);
    ASSERT_EQ(sink.write(0, head.data(), head.size()), ota::Status::ok);
    Bytes out(20);
    EXPECT_EQ(sink.read(30, out.data(), out.size()), ota::Status::storage_failed);
    EXPECT_FALSE(sink.last_io_error().empty());
}

TEST_F(FileSinkTest, CallsOutsideAJobAreInvalidState) {
    ota::FileSink sink(final_);
    const Bytes data = pattern(4, 12);
    Bytes out(4);
    EXPECT_EQ(sink.write(0, data.data(), data.size()), ota::Status::invalid_state);
    EXPECT_EQ(sink.read(0, out.data(), out.size()), ota::Status::invalid_state);
    EXPECT_EQ(sink.flush(), ota::Status::invalid_state);
    EXPECT_EQ(sink.commit(), ota::Status::invalid_state);
    EXPECT_FALSE(fs::exists(final_));
    EXPECT_FALSE(fs::exists(sink.partial_path()));

    ASSERT_EQ(sink.begin(data.size()), ota::Status::ok);
    ASSERT_EQ(sink.write(0, data.data(), data.size()), ota::Status::ok);
    ASSERT_EQ(sink.commit(), ota::Status::ok);
    EXPECT_EQ(sink.write(0, data.data(), data.size()), ota::Status::invalid_state);
    EXPECT_EQ(sink.commit(), ota::Status::invalid_state);
}

TEST_F(FileSinkTest, BeginOverCapacityIsStorageFullAndCreatesNothing) {
    ota::FileSink sink(final_, 1024);
    EXPECT_EQ(sink.capacity(), 1024u);
    EXPECT_EQ(sink.begin(1025), ota::Status::storage_full);
    EXPECT_FALSE(fs::exists(sink.partial_path()));
    const Bytes data = pattern(1, 13);
    EXPECT_EQ(sink.write(0, data.data(), 1), ota::Status::invalid_state);
    EXPECT_EQ(sink.begin(1024), ota::Status::ok);
}

TEST_F(FileSinkTest, RefusedBeginStillDropsTheEarlierJob) {
    ota::FileSink sink(final_, 100);
    ASSERT_EQ(sink.begin(50), ota::Status::ok);
    EXPECT_EQ(sink.begin(101), ota::Status::storage_full);
    EXPECT_FALSE(fs::exists(sink.partial_path()));
    const Bytes data = pattern(1, 14);
    EXPECT_EQ(sink.write(0, data.data(), 1), ota::Status::invalid_state);
}

TEST_F(FileSinkTest, CommitWithMissingBytesIsRefusedAndFinalUntouched) {
    const Bytes old_image = pattern(77, 15);
    write_file(final_, old_image);
    const Bytes image = pattern(1000, 16);
    ota::FileSink sink(final_);
    ASSERT_EQ(sink.begin(image.size()), ota::Status::ok);
    ASSERT_EQ(sink.write(0, image.data(), 600), ota::Status::ok);
    EXPECT_EQ(sink.commit(), ota::Status::invalid_state);
    EXPECT_EQ(read_file(final_), old_image);
    EXPECT_TRUE(fs::exists(sink.partial_path())) << "the job stays open after a refused commit";

    // The caller may complete the image and commit again.
    ASSERT_EQ(sink.write(600, image.data() + 600, 400), ota::Status::ok);
    ASSERT_EQ(sink.commit(), ota::Status::ok);
    EXPECT_EQ(read_file(final_), image);
}

TEST_F(FileSinkTest, SinkCanBeReusedAfterCommit) {
    ota::FileSink sink(final_);
    const Bytes first = pattern(300, 17);
    ASSERT_EQ(sink.begin(first.size()), ota::Status::ok);
    write_all(sink, first, 64);
    ASSERT_EQ(sink.commit(), ota::Status::ok);

    const Bytes second = pattern(123, 18);
    ASSERT_EQ(sink.begin(second.size()), ota::Status::ok);
    EXPECT_EQ(read_file(final_), first);
    write_all(sink, second, 50);
    ASSERT_EQ(sink.commit(), ota::Status::ok);
    EXPECT_EQ(read_file(final_), second);
    EXPECT_FALSE(fs::exists(sink.partial_path()));
}

TEST_F(FileSinkTest, EmptyImageCommits) {
    write_file(final_, pattern(10, 19));
    ota::FileSink sink(final_);
    ASSERT_EQ(sink.begin(0), ota::Status::ok);
    ASSERT_EQ(sink.commit(), ota::Status::ok);
    EXPECT_TRUE(fs::exists(final_));
    EXPECT_EQ(fs::file_size(final_), 0u);
}

TEST_F(FileSinkTest, DestructorAbortsUncommittedJob) {
    const Bytes old_image = pattern(500, 20);
    write_file(final_, old_image);
    const fs::path part = fs::path(final_).concat(".part");
    {
        ota::FileSink sink(final_);
        const Bytes image = pattern(500, 21);
        ASSERT_EQ(sink.begin(image.size()), ota::Status::ok);
        ASSERT_EQ(sink.write(0, image.data(), image.size()), ota::Status::ok);  // complete, yet
        ASSERT_TRUE(fs::exists(part));                                          // uncommitted
    }
    EXPECT_FALSE(fs::exists(part));
    EXPECT_EQ(read_file(final_), old_image);
}

// A stop (suspend, or the destructor of a sink with an open job) is not a failure: the partial
// file and its resume record stay, and a later run resumes them.
TEST_F(FileSinkTest, SuspendKeepsThePartialImageAndItsRecordForResume) {
    const Bytes old_image = pattern(64, 60);
    write_file(final_, old_image);
    const Bytes image = pattern(4000, 61);
    const Bytes record = pattern(40, 62);
    ota::FileSink sink(final_);
    ASSERT_EQ(sink.begin(image.size()), ota::Status::ok);
    ASSERT_EQ(sink.write(0, image.data(), 2500), ota::Status::ok);
    ASSERT_EQ(sink.flush(), ota::Status::ok);
    ASSERT_EQ(sink.save_record(record.data(), record.size()), ota::Status::ok);
    sink.suspend();
    sink.suspend();  // repeatable
    EXPECT_EQ(sink.write(2500, image.data() + 2500, 10), ota::Status::invalid_state)
        << "a suspended sink holds no open job";
    EXPECT_EQ(read_file(sink.partial_path()), Bytes(image.begin(), image.begin() + 2500));
    EXPECT_EQ(read_file(sink.record_path()), record);
    EXPECT_EQ(read_file(final_), old_image) << "a stop never publishes the partial image";

    ota::FileSink next(final_);
    std::uint64_t stored = 0;
    ASSERT_EQ(next.resume(image.size(), stored), ota::Status::ok);
    EXPECT_EQ(stored, 2500U);
    ASSERT_EQ(next.write(2500, image.data() + 2500, image.size() - 2500), ota::Status::ok);
    ASSERT_EQ(next.commit(), ota::Status::ok);
    EXPECT_EQ(read_file(final_), image);
    EXPECT_FALSE(fs::exists(next.record_path()));
}

TEST_F(FileSinkTest, DestructorOfAnOpenJobWithARecordIsAStop) {
    const Bytes image = pattern(3000, 63);
    const Bytes record = pattern(24, 64);
    const fs::path part = fs::path(final_).concat(".part");
    const fs::path rec = fs::path(final_).concat(".resume");
    {
        ota::FileSink sink(final_);
        ASSERT_EQ(sink.begin(image.size()), ota::Status::ok);
        ASSERT_EQ(sink.write(0, image.data(), 1200), ota::Status::ok);
        ASSERT_EQ(sink.save_record(record.data(), record.size()), ota::Status::ok);
    }
    EXPECT_EQ(read_file(part), Bytes(image.begin(), image.begin() + 1200));
    EXPECT_EQ(read_file(rec), record);
    EXPECT_FALSE(fs::exists(final_));
}

TEST_F(FileSinkTest, AbortAfterARecordStillDropsBoth) {
    const Bytes image = pattern(3000, 65);
    const Bytes record = pattern(24, 66);
    ota::FileSink sink(final_);
    ASSERT_EQ(sink.begin(image.size()), ota::Status::ok);
    ASSERT_EQ(sink.write(0, image.data(), 1200), ota::Status::ok);
    ASSERT_EQ(sink.save_record(record.data(), record.size()), ota::Status::ok);
    sink.abort();  // a definitive failure
    EXPECT_FALSE(fs::exists(sink.partial_path()));
    EXPECT_FALSE(fs::exists(sink.record_path()));
}

TEST_F(FileSinkTest, DestructorAfterCommitKeepsTheNewImage) {
    const Bytes image = pattern(50, 22);
    {
        ota::FileSink sink(final_);
        ASSERT_EQ(sink.begin(image.size()), ota::Status::ok);
        ASSERT_EQ(sink.write(0, image.data(), image.size()), ota::Status::ok);
        ASSERT_EQ(sink.commit(), ota::Status::ok);
    }
    EXPECT_EQ(read_file(final_), image);
}

TEST_F(FileSinkTest, BeginInMissingDirectoryReportsTheError) {
    LogCapture logs;
    ota::FileSink sink(dir_ / "no-such-dir" / "firmware.bin");
    EXPECT_EQ(sink.begin(10), ota::Status::storage_failed);
    EXPECT_NE(sink.last_io_error().find("No such file"), std::string::npos) << sink.last_io_error();
    EXPECT_NE(sink.last_io_error().find("no-such-dir"), std::string::npos);
    ASSERT_FALSE(logs.records.empty());
    EXPECT_EQ(logs.records.back().first, ota::LogLevel::warning);
    const Bytes data = pattern(1, 23);
    EXPECT_EQ(sink.write(0, data.data(), 1), ota::Status::invalid_state);
    EXPECT_FALSE(fs::exists(dir_ / "no-such-dir"));
}

TEST_F(FileSinkTest, SymlinkAtPartialPathIsNotFollowed) {
    const fs::path victim = dir_ / "victim.txt";
    const Bytes victim_bytes = pattern(32, 24);
    write_file(victim, victim_bytes);
    fs::create_symlink(victim, fs::path(final_).concat(".part"));

    ota::FileSink sink(final_);
    EXPECT_EQ(sink.begin(10), ota::Status::storage_failed);
    EXPECT_FALSE(sink.last_io_error().empty());
    EXPECT_EQ(read_file(victim), victim_bytes) << "begin() truncated a file through a symlink";
}

// Lowers the soft file-size limit and ignores SIGXFSZ so that writing past the limit fails with
// EFBIG instead of killing the process; restores both on destruction.
class FileSizeLimit {
  public:
    explicit FileSizeLimit(rlim_t bytes) {
        ok_ = ::getrlimit(RLIMIT_FSIZE, &saved_) == 0;
        if (!ok_) return;
        old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
        rlimit lowered = saved_;
        lowered.rlim_cur = bytes;
        ok_ = old_handler_ != SIG_ERR && ::setrlimit(RLIMIT_FSIZE, &lowered) == 0;
    }
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &saved_);
        if (old_handler_ != SIG_ERR) std::signal(SIGXFSZ, old_handler_);
    }
    FileSizeLimit(const FileSizeLimit&) = delete;
    FileSizeLimit& operator=(const FileSizeLimit&) = delete;
    bool ok() const { return ok_; }

  private:
    rlimit saved_{};
    void (*old_handler_)(int) = SIG_ERR;
    bool ok_ = false;
};

TEST_F(FileSinkTest, WriteFailingLikeAFullDiskIsStorageFull) {
    const Bytes old_image = pattern(64, 25);
    write_file(final_, old_image);
    const Bytes image = pattern(16384, 26);
    ota::FileSink sink(final_);
    ASSERT_EQ(sink.begin(image.size()), ota::Status::ok);

    ota::Status write_status = ota::Status::ok;
    std::uintmax_t part_size = 0;
    {
        LogCapture logs;
        FileSizeLimit limit(4096);
        ASSERT_TRUE(limit.ok());
        // One call: the first pwrite stops short at the limit, the retry for the rest fails.
        write_status = sink.write(0, image.data(), image.size());
        part_size = fs::file_size(sink.partial_path());
        ASSERT_FALSE(logs.records.empty());
        EXPECT_EQ(logs.records.back().first, ota::LogLevel::warning);
        EXPECT_NE(logs.records.back().second.find(sink.last_io_error()), std::string::npos);
    }
    EXPECT_EQ(write_status, ota::Status::storage_full);
    EXPECT_FALSE(sink.last_io_error().empty());
    EXPECT_NE(sink.last_io_error().find("too large"), std::string::npos) << sink.last_io_error();
    EXPECT_EQ(part_size, 4096u) << "the short write was not continued up to the limit";

    // The half-written image is not committable and never reaches the final path.
    EXPECT_EQ(sink.commit(), ota::Status::invalid_state);
    EXPECT_EQ(read_file(final_), old_image);
    sink.abort();
    EXPECT_FALSE(fs::exists(sink.partial_path()));
    EXPECT_EQ(read_file(final_), old_image);

    // The limit is back: the same image now stores fine.
    ASSERT_EQ(sink.begin(image.size()), ota::Status::ok);
    ASSERT_EQ(sink.write(0, image.data(), image.size()), ota::Status::ok);
    ASSERT_EQ(sink.commit(), ota::Status::ok);
    EXPECT_EQ(read_file(final_), image);
}

TEST_F(FileSinkTest, RecordSaveFailingLikeAFullDiskKeepsThePreviousRecord) {
    ota::FileSink sink(final_);
    const Bytes old_record = pattern(40, 27);
    ASSERT_EQ(sink.save_record(old_record.data(), old_record.size()), ota::Status::ok);
    const Bytes record = pattern(400, 28);
    ota::Status save_status = ota::Status::ok;
    {
        LogCapture logs;
        FileSizeLimit limit(100);
        ASSERT_TRUE(limit.ok());
        // The first write stops short at the limit, the retry for the rest fails with EFBIG.
        save_status = sink.save_record(record.data(), record.size());
    }
    EXPECT_EQ(save_status, ota::Status::storage_full);
    EXPECT_NE(sink.last_io_error().find("cannot write"), std::string::npos) << sink.last_io_error();
    EXPECT_FALSE(fs::exists(dir_ / "firmware.bin.resume.tmp")) << "the torn copy is removed";
    Bytes loaded;
    ASSERT_EQ(sink.load_record(loaded), ota::Status::ok);
    EXPECT_EQ(loaded, old_record) << "a failed save never replaces the record";
}

}  // namespace

// ---- crash resume: the record file and reopening the partial image ---------------------------

namespace {

Bytes text_bytes(const std::string& s) {
    return Bytes(s.begin(), s.end());
}

TEST_F(FileSinkTest, ResumeRecordRoundTripsAndIsReplacedWhole) {
    ota::FileSink sink(final_);
    EXPECT_EQ(sink.record_path(), dir_ / "firmware.bin.resume");
    Bytes loaded = text_bytes("stale");
    ASSERT_EQ(sink.load_record(loaded), ota::Status::ok);
    EXPECT_TRUE(loaded.empty()) << "no record yet";

    const Bytes first = text_bytes("first record");
    ASSERT_EQ(sink.save_record(first.data(), first.size()), ota::Status::ok);  // while idle
    ASSERT_EQ(sink.load_record(loaded), ota::Status::ok);
    EXPECT_EQ(loaded, first);
    const Bytes second = text_bytes("2nd");
    ASSERT_EQ(sink.save_record(second.data(), second.size()), ota::Status::ok);
    ASSERT_EQ(sink.load_record(loaded), ota::Status::ok);
    EXPECT_EQ(loaded, second);  // shorter than the first: nothing of it is left over
    EXPECT_FALSE(fs::exists(dir_ / "firmware.bin.resume.tmp"));

    sink.clear_record();
    sink.clear_record();  // repeatable
    EXPECT_FALSE(fs::exists(sink.record_path()));
    ASSERT_EQ(sink.load_record(loaded), ota::Status::ok);
    EXPECT_TRUE(loaded.empty());
}

TEST_F(FileSinkTest, ResumeRecordSizeLimits) {
    ota::FileSink sink(final_);
    const Bytes largest(ota::FirmwareSink::kMaxResumeRecordSize, 'x');
    ASSERT_EQ(sink.save_record(largest.data(), largest.size()), ota::Status::ok);
    Bytes loaded;
    ASSERT_EQ(sink.load_record(loaded), ota::Status::ok);
    EXPECT_EQ(loaded, largest);
    const Bytes too_large(ota::FirmwareSink::kMaxResumeRecordSize + 1, 'x');
    EXPECT_EQ(sink.save_record(too_large.data(), too_large.size()), ota::Status::invalid_argument);
    // A file of that size placed there by something else is not taken as a record.
    write_file(sink.record_path(), too_large);
    LogCapture logs;
    EXPECT_EQ(sink.load_record(loaded), ota::Status::storage_failed);
    EXPECT_TRUE(loaded.empty());
}

TEST_F(FileSinkTest, ResumeReopensThePartialImageWithoutTruncatingIt) {
    const Bytes image = pattern(10000, 40);
    // What a killed process leaves: 3000 bytes of the partial image.
    write_file(dir_ / "firmware.bin.part", Bytes(image.begin(), image.begin() + 3000));
    ota::FileSink sink(final_);
    std::uint64_t stored = 0;
    ASSERT_EQ(sink.resume(image.size(), stored), ota::Status::ok);
    EXPECT_EQ(stored, 3000U);
    Bytes back(3000);
    ASSERT_EQ(sink.read(0, back.data(), back.size()), ota::Status::ok);
    EXPECT_TRUE(std::equal(back.begin(), back.end(), image.begin()));
    ASSERT_EQ(sink.write(3000, image.data() + 3000, image.size() - 3000), ota::Status::ok);
    const Bytes record = text_bytes("record");
    ASSERT_EQ(sink.save_record(record.data(), record.size()), ota::Status::ok);
    ASSERT_EQ(sink.commit(), ota::Status::ok);
    EXPECT_EQ(read_file(final_), image);
    EXPECT_FALSE(fs::exists(sink.partial_path()));
    EXPECT_FALSE(fs::exists(sink.record_path())) << "commit removes the record";
}

TEST_F(FileSinkTest, ResumeRefusals) {
    ota::FileSink sink(final_, 5000);
    std::uint64_t stored = 99;
    LogCapture logs;
    EXPECT_EQ(sink.resume(4000, stored), ota::Status::storage_failed) << "no partial image";
    EXPECT_EQ(stored, 0U);
    EXPECT_FALSE(fs::exists(sink.partial_path())) << "resume never creates one";
    write_file(sink.partial_path(), pattern(3000, 41));
    EXPECT_EQ(sink.resume(2000, stored), ota::Status::invalid_argument) << "longer than expected";
    EXPECT_EQ(sink.resume(6000, stored), ota::Status::storage_full) << "over capacity";
    EXPECT_EQ(sink.write(0, pattern(10, 1).data(), 10), ota::Status::invalid_state)
        << "idle after a refused resume";
    EXPECT_EQ(read_file(sink.partial_path()).size(), 3000U) << "a refusal leaves the file alone";

    // A symlink planted at the partial path is not followed.
    fs::remove(sink.partial_path());
    const fs::path victim = dir_ / "victim";
    write_file(victim, pattern(100, 42));
    fs::create_symlink(victim, sink.partial_path());
    EXPECT_NE(sink.resume(4000, stored), ota::Status::ok);
    EXPECT_EQ(read_file(victim), pattern(100, 42));
}

TEST_F(FileSinkTest, AbortRemovesPartialAndRecordButAnIdleSinkTouchesNothing) {
    write_file(dir_ / "firmware.bin.part", pattern(100, 43));
    write_file(dir_ / "firmware.bin.resume", text_bytes("left by a killed process"));
    {
        ota::FileSink idle(final_);
        idle.abort();
    }  // an idle sink's destructor and abort() leave a crashed run's files for the next one
    EXPECT_TRUE(fs::exists(dir_ / "firmware.bin.part"));
    EXPECT_TRUE(fs::exists(dir_ / "firmware.bin.resume"));

    ota::FileSink sink(final_);
    std::uint64_t stored = 0;
    ASSERT_EQ(sink.resume(1000, stored), ota::Status::ok);
    sink.abort();
    EXPECT_FALSE(fs::exists(dir_ / "firmware.bin.part"));
    EXPECT_FALSE(fs::exists(dir_ / "firmware.bin.resume"));
}

}  // namespace

// ---- crash resume end to end: OtaClient + FileSink ------------------------------------------

namespace {

using namespace std::chrono_literals;

const std::string kUpgradeTopic = "/ota/device/upgrade/pk1/dn1";

class FileSinkResumeTest : public FileSinkTest {
  protected:
    std::string push_json(const Bytes& body, const std::string& url) const {
        std::string md5;
        EXPECT_TRUE(ota::digest_hex(ota::DigestAlgorithm::md5, body.data(), body.size(), md5).ok());
        return nlohmann::json{
            {"code", "1000"},
            {"data", {{"size", body.size()}, {"version", "2.0.0"}, {"url", url}, {"md5", md5}}},
            {"id", 1},
            {"message", "success"}}
            .dump();
    }

    static ota::test::ScriptedResponse ranged(const Bytes& body) {
        ota::test::ScriptedResponse r;
        r.body = body;
        r.max_chunk = 1000;
        r.range_from_offset = true;
        return r;
    }

    static ota::ClientOptions options() {
        ota::ClientOptions o;
        o.product_key = "pk1";
        o.device_name = "dn1";
        o.resume.record_every_bytes = 2000;
        o.resume.record_min_interval = 0ms;
        return o;
    }

    /// One device run over `final_`: takes the job and fetches until `stop_at` bytes (or the
    /// end); with a stop, the partial and record files are saved aside before the client and
    /// sink unwind (which records the stop's own position), as if the process had been killed
    /// there. Returns the source's open() offsets.
    std::vector<std::uint64_t> run(const Bytes& body, std::uint64_t stop_at, bool* valid = nullptr,
                                   const std::string& url = "https://h/fw.bin?Signature=S1") {
        ota::test::FakeBroker broker;
        ota::test::FakeChannel channel(broker, "dev");
        ota::test::ScriptedSource source(ranged(body));
        ota::test::ManualClock clock;
        ota::FileSink sink(final_);
        ota::OtaClient client(channel, source, options(), clock);
        EXPECT_TRUE(client.init().ok());
        EXPECT_TRUE(client.set_sink(&sink).ok());
        broker.publish(kUpgradeTopic, push_json(body, url));
        EXPECT_TRUE(client.poll(0ms).ok());
        Bytes buf(1000);
        for (int i = 0; i < 1000 && client.is_fetching() && client.fetched_size() < stop_at; ++i) {
            EXPECT_EQ(client.fetch_yield(buf.data(), buf.size(), 10ms).status, ota::Status::ok);
            clock.advance(100ms);
        }
        std::vector<std::uint64_t> offsets;
        for (const auto& o : source.opens()) offsets.push_back(o.offset);
        if (client.is_fetch_finished()) {
            bool ok = false;
            EXPECT_TRUE(client.check_firmware(ok).ok());
            if (valid != nullptr) *valid = ok;
        } else {
            for (const char* ext : {".part", ".resume"}) {
                const fs::path p = fs::path(final_).concat(ext);
                if (fs::exists(p)) fs::copy_file(p, fs::path(p).concat(".kept"));
            }
        }
        return offsets;
    }

    /// Puts the files saved by run() back, as the restarted process finds them.
    void restore_crash_files() {
        for (const char* ext : {".part", ".resume"}) {
            const fs::path p = fs::path(final_).concat(ext);
            const fs::path kept = fs::path(p).concat(".kept");
            if (fs::exists(kept)) fs::rename(kept, p);
        }
    }
};

TEST_F(FileSinkResumeTest, KilledRunIsResumedFromTheRecordAndTheImageIsExact) {
    const Bytes image = pattern(10000, 50);
    run(image, 5000);
    restore_crash_files();
    ASSERT_TRUE(fs::exists(fs::path(final_).concat(".resume")));
    EXPECT_EQ(fs::file_size(fs::path(final_).concat(".part")), 5000U);
    bool valid = false;
    // The job arrives again with a freshly signed URL: same object, same job.
    const auto offsets = run(image, ~0ULL, &valid, "https://h/fw.bin?Signature=S2");
    EXPECT_EQ(offsets, (std::vector<std::uint64_t>{4000}));  // the last record: 4000 bytes
    EXPECT_TRUE(valid);
    EXPECT_EQ(read_file(final_), image);
    EXPECT_FALSE(fs::exists(fs::path(final_).concat(".part")));
    EXPECT_FALSE(fs::exists(fs::path(final_).concat(".resume")));
}

// issue 10: a stop (the client and the sink unwinding, as on SIGTERM) keeps the partial file
// and records every byte written, so the next run resumes exactly there.
TEST_F(FileSinkResumeTest, StoppedRunResumesWhereItStopped) {
    const Bytes image = pattern(10000, 54);
    run(image, 5000);  // unwinds normally: a stop, not a kill
    EXPECT_EQ(fs::file_size(fs::path(final_).concat(".part")), 5000U);
    ASSERT_TRUE(fs::exists(fs::path(final_).concat(".resume")));
    bool valid = false;
    const auto offsets = run(image, ~0ULL, &valid);
    EXPECT_EQ(offsets, (std::vector<std::uint64_t>{5000}));
    EXPECT_TRUE(valid);
    EXPECT_EQ(read_file(final_), image);
}

// issue 10: the -4 report carries the OS's reason for the storage failure.
TEST_F(FileSinkResumeTest, StorageFailureReportCarriesTheOsReason) {
    const Bytes image = pattern(16384, 55);
    ota::test::FakeBroker broker;
    ota::test::FakeChannel channel(broker, "dev");
    ota::test::ScriptedSource source(ranged(image));
    ota::test::ManualClock clock;
    ota::FileSink sink(final_);
    ota::OtaClient client(channel, source, options(), clock);
    ASSERT_TRUE(client.init().ok());
    ASSERT_TRUE(client.set_sink(&sink).ok());
    broker.publish(kUpgradeTopic, push_json(image, "https://h/fw.bin?Signature=S1"));
    ASSERT_TRUE(client.poll(0ms).ok());
    Bytes buf(1000);
    {
        LogCapture logs;
        FileSizeLimit limit(4096);
        ASSERT_TRUE(limit.ok());
        for (int i = 0; i < 100 && client.is_fetching(); ++i) {
            (void)client.fetch_yield(buf.data(), buf.size(), 10ms);
            clock.advance(100ms);
        }
    }
    ASSERT_EQ(client.last_error().status, ota::Status::storage_full);
    std::string desc;
    for (const auto& m : broker.published_on("/ota/device/progress/pk1/dn1")) {
        const auto j = nlohmann::json::parse(m.payload);
        if (j.at("params").at("step") == "-4") desc = j.at("params").at("desc");
    }
    EXPECT_NE(desc.find("File too large"), std::string::npos) << desc;
}

TEST_F(FileSinkResumeTest, GarbageOrTornRecordFilesAreIgnored) {
    const Bytes image = pattern(10000, 51);
    run(image, 5000);
    restore_crash_files();
    const Bytes good = read_file(fs::path(final_).concat(".resume"));
    ASSERT_FALSE(good.empty());
    const Bytes part = read_file(fs::path(final_).concat(".part"));
    for (const Bytes& bad :
         {Bytes(good.begin(), good.begin() + good.size() / 2), pattern(300, 52), Bytes{}}) {
        write_file(fs::path(final_).concat(".part"), part);
        write_file(fs::path(final_).concat(".resume"), bad);
        bool valid = false;
        LogCapture logs;  // the discarded record is logged as a warning
        const auto offsets = run(image, ~0ULL, &valid);
        EXPECT_EQ(offsets, (std::vector<std::uint64_t>{0})) << "restarted from byte 0";
        EXPECT_TRUE(valid);
        EXPECT_EQ(read_file(final_), image);
        EXPECT_FALSE(fs::exists(fs::path(final_).concat(".resume")));
    }
}

TEST_F(FileSinkResumeTest, AnotherJobDiscardsThePartialImage) {
    run(pattern(10000, 53), 5000);
    restore_crash_files();
    const Bytes other = pattern(7000, 54);
    bool valid = false;
    const auto offsets = run(other, ~0ULL, &valid);
    EXPECT_EQ(offsets, (std::vector<std::uint64_t>{0}));
    EXPECT_TRUE(valid);
    EXPECT_EQ(read_file(final_), other);
}

TEST_F(FileSinkResumeTest, PartialImageShorterThanTheRecordIsDiscarded) {
    const Bytes image = pattern(10000, 55);
    run(image, 5000);
    restore_crash_files();
    fs::resize_file(fs::path(final_).concat(".part"), 1000);  // lost on the medium
    bool valid = false;
    LogCapture logs;
    const auto offsets = run(image, ~0ULL, &valid);
    EXPECT_EQ(offsets, (std::vector<std::uint64_t>{0}));
    EXPECT_TRUE(valid);
    EXPECT_EQ(read_file(final_), image);
}

}  // namespace
