// Images above 4 GiB on every target, 32-bit ones (armhf: size_t and long are 32 bits) included:
// progress, Range requests and resume offsets, the resume record, Content-Range, MQTT block
// offsets, the job decoder, the POSIX file sink and the C persistence seam all keep 64-bit sizes
// and offsets. No test holds such an image: the fakes keep a small window of it (the bytes
// around the offset under test) and count the rest. Every expected value differs from what the
// same computation gives with a size or offset cut to 32 bits (kFiveGiB -> 1 GiB, ...), so a
// truncation anywhere on the path fails the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/content_range.hpp"
#include "core/download_attempt.hpp"
#include "core/download_target.hpp"
#include "core/percent.hpp"
#include "core/resume_journal.hpp"
#include "core/resume_record.hpp"
#include "integration/scripted_http_server.hpp"
#include "ota/c_api/c_sink_adapter.hpp"
#include "ota/curl_byte_source.hpp"
#include "ota/file_download.hpp"
#include "ota/hal_posix/file_sink.hpp"
#include "ota/mqtt_byte_source.hpp"
#include "ota/protocol.hpp"
#include "support/client_fixture.hpp"
#include "support/fake_file_cloud.hpp"

namespace {

using namespace std::chrono_literals;
using namespace ota::test::client_fixture;
using ota::Status;

constexpr std::uint64_t kGiB = 1ULL << 30;
constexpr std::uint64_t kFiveGiB = 5 * kGiB;  // 5368709120; cut to 32 bits: 1 GiB
/// 4 GiB + 1 MiB: cut to 32 bits it is 1 MiB, so even the first few KiB move its percentage.
constexpr std::uint64_t kJustAbove4GiB = (1ULL << 32) + (1ULL << 20);

constexpr std::uint32_t low32(std::uint64_t v) {
    return static_cast<std::uint32_t>(v);
}
static_assert(low32(kFiveGiB) == kGiB && low32(kJustAbove4GiB) == (1U << 20),
              "the sizes under test change when cut to 32 bits");

/// Byte `at` of the synthetic images below: any offset, 64-bit, gives its own byte.
std::uint8_t byte_at(std::uint64_t at) {
    return static_cast<std::uint8_t>((at ^ (at >> 8) ^ (at >> 16) ^ (at >> 32) * 7) & 0xFFU);
}

/// `n` bytes of the synthetic image from offset `from`.
std::vector<std::uint8_t> image_part(std::uint64_t from, std::size_t n) {
    std::vector<std::uint8_t> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = byte_at(from + i);
    return out;
}

/// A FirmwareSink for images of any size that keeps only the bytes in [window_at, window_at +
/// window_len) and the highest offset written; everything else is checked and counted. It keeps
/// a resume record and a partial image across suspend() like a file would.
class WindowSink final : public ota::FirmwareSink {
  public:
    WindowSink(std::uint64_t window_at, std::size_t window_len)
        : window_at_(window_at), window_(window_len) {}

    Status begin(std::uint64_t expected_size) override {
        begun_sizes.push_back(expected_size);
        expected_ = expected_size;
        stored_ = 0;
        std::fill(window_.begin(), window_.end(), std::uint8_t{0});
        active_ = true;
        partial_ = true;
        return Status::ok;
    }
    Status write(std::uint64_t offset, const std::uint8_t* data, std::size_t len) override {
        if (!active_) return Status::invalid_state;
        if (offset > expected_ || len > expected_ - offset) return Status::invalid_argument;
        write_offsets.push_back(offset);
        for (std::size_t i = 0; i < len; ++i) {
            const std::uint64_t at = offset + i;
            if (at >= window_at_ && at - window_at_ < window_.size()) {
                window_[static_cast<std::size_t>(at - window_at_)] = data[i];
            }
        }
        stored_ = std::max(stored_, offset + len);
        return Status::ok;
    }
    Status read(std::uint64_t offset, std::uint8_t* out, std::size_t len) override {
        if (!active_) return Status::invalid_state;
        if (offset < window_at_ || offset - window_at_ > window_.size() ||
            len > window_.size() - (offset - window_at_)) {
            return Status::storage_failed;  // outside what this fake keeps
        }
        std::memcpy(out, window_.data() + (offset - window_at_), len);
        return Status::ok;
    }
    Status flush() override { return active_ ? Status::ok : Status::invalid_state; }
    Status commit() override { return Status::storage_failed; }  // never reached here
    void abort() noexcept override {
        active_ = false;
        partial_ = false;
    }
    void suspend() noexcept override { active_ = false; }
    Status resume(std::uint64_t expected_size, std::uint64_t& stored) override {
        stored = 0;
        if (!partial_ || expected_size != expected_) return Status::storage_failed;
        active_ = true;
        stored = stored_;
        return Status::ok;
    }
    Status save_record(const std::uint8_t* data, std::size_t len) override {
        record.assign(data, data + len);
        return Status::ok;
    }
    Status load_record(std::vector<std::uint8_t>& out) override {
        out = record;
        return Status::ok;
    }
    void clear_record() noexcept override { record.clear(); }

    /// The window's bytes.
    [[nodiscard]] const std::vector<std::uint8_t>& window() const noexcept { return window_; }
    /// The resume record as text.
    [[nodiscard]] std::string record_text() const {
        return std::string(record.begin(), record.end());
    }

    std::vector<std::uint64_t> begun_sizes;
    std::vector<std::uint64_t> write_offsets;
    std::vector<std::uint8_t> record;

  private:
    std::uint64_t window_at_;
    std::vector<std::uint8_t> window_;
    std::uint64_t expected_ = 0;
    std::uint64_t stored_ = 0;
    bool active_ = false;
    bool partial_ = false;
};

/// "bytes first-last/total" for the rest of an image of `total` bytes from `first`.
std::string content_range_from(std::uint64_t first, std::uint64_t total) {
    return "bytes " + std::to_string(first) + "-" + std::to_string(total - 1) + "/" +
           std::to_string(total);
}

// ---- progress percent ------------------------------------------------------------------------

TEST(LargeSizePercent, IsComputedOnTheWhole64BitSizes) {
    using ota::detail::percent_of;
    // Cut to 32 bits these would be 0.5 of 1 GiB (50) and 4 KiB of 1 GiB (0).
    EXPECT_EQ(percent_of(kFiveGiB - kGiB / 2, kFiveGiB), 90);
    EXPECT_EQ(percent_of((1ULL << 32) + 4096, kFiveGiB), 80);
    // 64 KiB of 4 GiB + 1 MiB is below one percent (cut: 64 KiB of 1 MiB = 6 %).
    EXPECT_EQ(percent_of(64 * 1024, kJustAbove4GiB), 0);
    EXPECT_EQ(percent_of(kJustAbove4GiB - 1, kJustAbove4GiB), 99);
    EXPECT_EQ(percent_of(kJustAbove4GiB, kJustAbove4GiB), 100);
    // Where done * 100 no longer fits 64 bits.
    EXPECT_EQ(percent_of(UINT64_MAX / 4 * 3, UINT64_MAX), 75);
    EXPECT_EQ(percent_of(UINT64_MAX - 1, UINT64_MAX), 99);
}

// ---- Content-Range ---------------------------------------------------------------------------

TEST(LargeSizeContentRange, ParsesOffsetsAndTotalsAbove4GiB) {
    const auto r = ota::detail::parse_content_range("bytes 4831838208-5368709119/5368709120");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->first, kFiveGiB - kGiB / 2);
    EXPECT_EQ(r->last, kFiveGiB - 1);
    ASSERT_TRUE(r->total.has_value());
    EXPECT_EQ(*r->total, kFiveGiB);
    // Across the 32-bit boundary: cut, first would be 4294967295 > last 0 (refused).
    const auto across = ota::detail::parse_content_range("bytes 4294967295-4294967296/4294967297");
    ASSERT_TRUE(across.has_value());
    EXPECT_EQ(across->first, 0xFFFFFFFFULL);
    EXPECT_EQ(across->last, 0x100000000ULL);
    EXPECT_EQ(*across->total, 0x100000001ULL);
}

// ---- one download attempt: Range offset, Content-Range and Content-Length --------------------

class LargeSizeAttempt : public ::testing::Test {
  protected:
    LargeSizeAttempt() : attempt_(source_, policy_, clock_) {}

    ota::detail::AttemptOutcome read() {
        return attempt_.read(buf_.data(), buf_.size(), 0ms, kFiveGiB, true);
    }

    ota::RetryPolicy policy_;
    ManualClock clock_;
    ScriptedSource source_;
    ota::detail::DownloadAttempt attempt_;
    std::vector<std::uint8_t> buf_ = std::vector<std::uint8_t>(256);
};

TEST_F(LargeSizeAttempt, AsksForTheRangeFromAnOffsetAbove4GiBAndAcceptsTheMatching206) {
    const std::uint64_t from = kFiveGiB - kGiB / 2;  // cut: 512 MiB
    ScriptedResponse r;
    r.status = 206;
    r.content_range = content_range_from(from, kFiveGiB);
    r.content_length = kFiveGiB - from;
    r.body = image_part(from, 100);
    source_.set_response(r);
    ASSERT_EQ(attempt_.open("https://ota.example.com/fw.bin", from).kind,
              ota::detail::AttemptOutcome::Kind::nothing);
    ASSERT_EQ(source_.opens().size(), 1U);
    EXPECT_EQ(source_.opens()[0].offset, from) << "the Range starts there";
    const auto o = read();
    ASSERT_EQ(o.kind, ota::detail::AttemptOutcome::Kind::data) << o.why;
    EXPECT_EQ(o.bytes, 100U);
}

TEST_F(LargeSizeAttempt, RefusesA206ForTheOffsetCutTo32Bits) {
    // A server (or a bug) answering for the low 32 bits of the offset must not be taken for
    // the requested range: the bytes would land 4 GiB too early.
    const std::uint64_t from = kFiveGiB - kGiB / 2;
    ScriptedResponse r;
    r.status = 206;
    r.content_range = content_range_from(low32(from), kFiveGiB);
    r.content_length = kFiveGiB - low32(from);
    r.body = image_part(low32(from), 100);
    source_.set_response(r);
    (void)attempt_.open("https://ota.example.com/fw.bin", from);
    const auto o = read();
    EXPECT_EQ(o.kind, ota::detail::AttemptOutcome::Kind::failed);
    EXPECT_NE(o.why.find("expected bytes 4831838208-5368709119/5368709120"), std::string::npos)
        << o.why;
}

TEST_F(LargeSizeAttempt, ChecksContentLengthAgainstTheWholeSize) {
    ScriptedResponse r;
    r.status = 200;
    r.content_length = kFiveGiB;
    r.body = image_part(0, 10);
    source_.set_response(r);
    (void)attempt_.open("https://ota.example.com/fw.bin", 0);
    EXPECT_EQ(read().kind, ota::detail::AttemptOutcome::Kind::data);

    r.content_length = kGiB;  // the size cut to 32 bits
    source_.set_response(r);
    (void)attempt_.open("https://ota.example.com/fw.bin", 0);
    const auto o = read();
    EXPECT_EQ(o.kind, ota::detail::AttemptOutcome::Kind::failed);
    EXPECT_EQ(o.status, Status::size_mismatch);
}

// ---- the Range header on the wire (CurlByteSource) ------------------------------------------

TEST(LargeSizeCurlSource, SendsTheRangeFromAnOffsetAbove4GiB) {
    const std::uint64_t from = kFiveGiB - kGiB / 2;  // cut: 536870912
    const std::string range = "bytes 4831838208-4831838211/5368709120";
    // The integration tests' scripted server (tests/integration/scripted_http_server.hpp).
    ota::test::ScriptedHttpServer server([&](const ota::test::HttpRequest&, std::size_t) {
        ota::test::HttpResponse r;
        r.status = 206;
        r.headers = {{"Content-Range", range}};
        r.body = {'a', 'b', 'c', 'd'};
        r.close = true;
        return r;
    });
    ota::HttpOptions o;
    o.allow_http = true;
    ota::CurlByteSource source(o);
    const ota::Error e =
        source.open("http://127.0.0.1:" + std::to_string(server.port()) + "/fw.bin", from);
    ASSERT_TRUE(e.ok()) << e.message();
    std::vector<std::uint8_t> buf(64);
    std::optional<ota::ResponseHead> head;
    std::string body;
    ota::ReadResult r;
    for (int i = 0; i < 100 && !r.end_of_body && r.status == Status::ok; ++i) {
        r = source.read(buf.data(), buf.size(), 100ms);
        if (r.head != nullptr) head = *r.head;
        body.append(reinterpret_cast<const char*>(buf.data()), r.bytes);
    }
    source.close();
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1U);
    EXPECT_NE(requests[0].head.find("\r\nRange: bytes=4831838208-\r\n"), std::string::npos)
        << requests[0].head;
    EXPECT_EQ(r.status, Status::ok) << source.last_error_detail();
    EXPECT_EQ(body, "abcd");
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->content_range, range);
}

// ---- the resume record and the journal -------------------------------------------------------

ota::ExpectedDigest some_md5() {
    ota::ExpectedDigest d;
    d.algorithm = ota::DigestAlgorithm::md5;
    d.hex = "00112233445566778899aabbccddeeff";
    return d;
}

TEST(LargeSizeResumeRecord, RoundTripsSizesAndByteCountsAbove4GiB) {
    const std::string identity = ota::detail::resume_identity("2.0.0", kFiveGiB, some_md5(),
                                                              "https://ota.example.com/fw.bin", "");
    EXPECT_NE(identity.find("size:5368709120\n"), std::string::npos) << identity;
    for (const std::uint64_t bytes :
         {std::uint64_t{(1ULL << 32) + 1}, kFiveGiB - 1, std::uint64_t{UINT64_MAX}}) {
        std::string record = identity;
        ota::detail::finish_resume_record(record, identity.size(), bytes);
        EXPECT_NE(record.find("bytes:" + std::to_string(bytes) + "\n"), std::string::npos);
        const auto parsed = ota::detail::parse_resume_record(record, identity);
        ASSERT_TRUE(parsed.has_value()) << record;
        EXPECT_EQ(*parsed, bytes);
    }
    // Another size is another job, also when it agrees in the low 32 bits.
    const std::string cut = ota::detail::resume_identity("2.0.0", low32(kFiveGiB), some_md5(),
                                                         "https://ota.example.com/fw.bin", "");
    std::string record = identity;
    ota::detail::finish_resume_record(record, identity.size(), 1000);
    EXPECT_FALSE(ota::detail::parse_resume_record(record, cut).has_value());
}

TEST(LargeSizeResumeJournal, ResumesAPartialImageAbove4GiBWhereItsRecordSays) {
    const std::uint64_t at = kFiveGiB - kGiB / 2;  // cut: 512 MiB
    ota::ResumePolicy policy;
    ManualClock clock;
    ota::detail::DownloadTarget target;
    target.url = "https://ota.example.com/fw.bin?Signature=S";
    target.size = kFiveGiB;
    target.digest = some_md5();
    WindowSink sink(at, 4096);

    ota::detail::ResumeJournal first(policy);
    std::uint64_t from = 99;
    ASSERT_EQ(first.open(sink, target, "2.0.0", "", clock.now(), from), Status::ok);
    EXPECT_EQ(from, 0U);
    ASSERT_EQ(sink.begun_sizes, std::vector<std::uint64_t>{kFiveGiB});
    const auto part = image_part(at, 123);
    ASSERT_EQ(sink.write(at, part.data(), part.size()), Status::ok);
    ASSERT_EQ(first.save(sink, at + part.size(), clock.now(), true), Status::ok);
    EXPECT_NE(sink.record_text().find("size:5368709120\nd"), std::string::npos);
    EXPECT_NE(sink.record_text().find("bytes:4831838331\n"), std::string::npos)
        << sink.record_text();
    sink.suspend();  // the process ends here

    ota::detail::ResumeJournal second(policy);
    ASSERT_EQ(second.open(sink, target, "2.0.0", "", clock.now(), from), Status::ok);
    EXPECT_EQ(from, at + part.size());
    EXPECT_EQ(sink.begun_sizes.size(), 1U) << "resumed, not begun again";
}

// ---- MQTT block offsets ----------------------------------------------------------------------

TEST(LargeSizeFileDownload, BlockRequestsAndRepliesKeepOffsetsAbove4GiB) {
    ota::BlockRequest req;
    req.id = "7";
    req.stream_id = 25914;
    req.file_id = 1;
    req.offset = kFiveGiB - 1024;
    req.size = 1024;
    const std::string payload = ota::encode_block_request(req);
    EXPECT_NE(payload.find("\"offset\":5368708096"), std::string::npos) << payload;
    const auto back = ota::decode_block_request(payload);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->offset, kFiveGiB - 1024);

    ota::BlockReplyHeader h;
    h.id = "7";
    h.file_length = kFiveGiB;
    h.offset = kFiveGiB - 1024;
    const std::string block(16, 'x');
    const auto reply = ota::decode_block_reply(ota::encode_block_reply(h, block));
    ASSERT_EQ(reply.errc, ota::BlockReplyErrc::ok) << reply.why;
    EXPECT_EQ(reply.header->offset, kFiveGiB - 1024);
    EXPECT_EQ(reply.header->file_length, kFiveGiB);
}

TEST(LargeSizeMqttSource, FetchesTheEndOfA5GiBStreamFromItsOffset) {
    constexpr std::size_t kTail = 3000;
    const std::uint64_t from = kFiveGiB - kTail;  // cut: 1 GiB - 3000
    const auto tail = image_part(from, kTail);
    FakeBroker broker;
    FakeChannel device{broker, "dev"};
    ManualClock clock;
    ota::test::FakeFileCloud cloud(broker, kPk, kDn, std::string(tail.begin(), tail.end()));
    cloud.base = from;
    cloud.file_length = kFiveGiB;
    ota::test::CloudServedChannel served(device, cloud);
    ota::MqttDownloadOptions o;
    o.block_size = 1024;
    o.window = 4;
    ota::MqttByteSource source(served, kPk, kDn, o, clock);
    source.set_stream(25914, 1, kFiveGiB);
    ASSERT_TRUE(source.open("mqtt:stream/25914/file/1", from).ok());

    std::vector<std::uint8_t> got;
    std::optional<ota::ResponseHead> head;
    std::vector<std::uint8_t> buf(700);
    ota::ReadResult r;
    for (int i = 0; i < 100 && !r.end_of_body && r.status == Status::ok; ++i) {
        r = source.read(buf.data(), buf.size(), 100ms);
        if (r.head != nullptr) head = *r.head;
        got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r.bytes));
    }
    EXPECT_EQ(r.status, Status::ok) << source.last_error_detail();
    EXPECT_TRUE(r.end_of_body);
    EXPECT_EQ(got, tail);
    ASSERT_FALSE(cloud.requests().empty());
    std::vector<std::uint64_t> offsets;
    for (const auto& q : cloud.requests()) offsets.push_back(q.offset);
    EXPECT_EQ(offsets, (std::vector<std::uint64_t>{from, from + 1024, from + 2048}));
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->http_status, 206);
    EXPECT_EQ(head->content_range, content_range_from(from, kFiveGiB));
    EXPECT_EQ(head->content_length, std::optional<std::uint64_t>(kTail));
}

// ---- the job decoder -------------------------------------------------------------------------

TEST(LargeSizeDecoder, TakesSizesAbove4GiBAsNumbersAndAsDecimalStrings) {
    for (const char* size : {"5368709120", "\"5368709120\""}) {
        const std::string push =
            std::string(R"({"code":"1000","message":"success","id":1,"data":{"size":)") + size +
            R"(,"version":"2.0.0","url":"https://ota.example.com/fw.bin","md5":")" +
            std::string(32, 'a') + R"("}})";
        const auto r = ota::decode_upgrade_push(push);
        ASSERT_TRUE(r.job.has_value()) << push;
        EXPECT_EQ(r.job->size, kFiveGiB) << size;
    }
}

// ---- the POSIX file sink ---------------------------------------------------------------------

class LargeSizeFileSink : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ =
            std::filesystem::temp_directory_path() /
            ("ota_large_size_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
             "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    std::filesystem::path dir_;
};

TEST_F(LargeSizeFileSink, StoresAndReadsBackBytesAbove4GiBInASparseFile) {
    // Only the written blocks take room: the file is sparse (no preallocation).
    ota::FileSink sink(dir_ / "image.bin");
    ASSERT_EQ(sink.begin(kFiveGiB), Status::ok) << "off_t must reach 5 GiB on this target";
    const std::uint64_t at = (1ULL << 32) + 7;  // cut: 7
    const auto mid = image_part(at, 64);
    const auto last = image_part(kFiveGiB - 32, 32);
    ASSERT_EQ(sink.write(at, mid.data(), mid.size()), Status::ok) << sink.error_detail();
    ASSERT_EQ(sink.write(kFiveGiB - 32, last.data(), last.size()), Status::ok);
    std::vector<std::uint8_t> back(64);
    ASSERT_EQ(sink.read(at, back.data(), back.size()), Status::ok);
    EXPECT_EQ(back, mid);
    ASSERT_EQ(sink.read(7, back.data(), back.size()), Status::ok);
    EXPECT_EQ(back, std::vector<std::uint8_t>(64, 0)) << "nothing was written at the cut offset";
    EXPECT_EQ(std::filesystem::file_size(sink.partial_path()), kFiveGiB);
    ASSERT_EQ(sink.commit(), Status::ok) << "the whole size is there";
    EXPECT_EQ(std::filesystem::file_size(dir_ / "image.bin"), kFiveGiB);
}

// ---- the C persistence seam ------------------------------------------------------------------

struct CHookLog {
    std::vector<std::uint64_t> begins;
    std::vector<std::uint64_t> writes;
    std::vector<std::uint64_t> reads;
};

TEST(LargeSizeCSink, HooksGetTheFull64BitSizesAndOffsets) {
    CHookLog log;
    ota_persistence_hal_t hal{};
    hal.ctx = &log;
    hal.begin = [](void* ctx, uint64_t size) {
        static_cast<CHookLog*>(ctx)->begins.push_back(size);
        return OTA_PERSIST_OK;
    };
    hal.write = [](void* ctx, uint64_t offset, const uint8_t*, size_t) {
        static_cast<CHookLog*>(ctx)->writes.push_back(offset);
        return OTA_PERSIST_OK;
    };
    hal.read = [](void* ctx, uint64_t offset, uint8_t* buf, size_t len) {
        static_cast<CHookLog*>(ctx)->reads.push_back(offset);
        std::memset(buf, 0, len);
        return OTA_PERSIST_OK;
    };
    hal.commit = [](void*) { return OTA_PERSIST_OK; };
    hal.capacity = kFiveGiB;
    std::string why;
    const auto sink = ota::make_c_sink(hal, &why);
    ASSERT_NE(sink, nullptr) << why;
    EXPECT_EQ(sink->capacity(), kFiveGiB);
    ASSERT_EQ(sink->begin(kFiveGiB), Status::ok);
    const std::uint8_t data[4] = {1, 2, 3, 4};
    ASSERT_EQ(sink->write(kFiveGiB - 4, data, sizeof data), Status::ok);
    std::uint8_t out[4];
    ASSERT_EQ(sink->read((1ULL << 32) + 1, out, sizeof out), Status::ok);
    EXPECT_EQ(log.begins, std::vector<std::uint64_t>{kFiveGiB});
    EXPECT_EQ(log.writes, std::vector<std::uint64_t>{kFiveGiB - 4});
    EXPECT_EQ(log.reads, std::vector<std::uint64_t>{(1ULL << 32) + 1});
}

// ---- the client: a 4 GiB + 1 MiB job over HTTPS ----------------------------------------------

std::string push_of(std::uint64_t size) {
    return nlohmann::json{
        {"code", "1000"},
        {"id", 1},
        {"message", "success"},
        {"data",
         {{"size", size}, {"version", "2.0.0"}, {"url", kUrl}, {"md5", std::string(32, 'a')}}}}
        .dump();
}

class LargeSizeClient : public ClientHarness {
  protected:
    static constexpr std::size_t kFirst = 64 * 1024;  // bytes before the first cut
    static constexpr std::size_t kMore = 8 * 1024;    // bytes of the resumed attempt

    // The client stops (and saves a record into `store`) before `store` goes.
    void TearDown() override { client.reset(); }

    void start() {
        create_client(device_options());
        ASSERT_TRUE(client->set_sink(&store).ok());
        broker.publish(kUpgradeTopic, push_of(kJustAbove4GiB));
        ASSERT_TRUE(client->poll(0ms).ok());
        ASSERT_TRUE(client->is_fetching());
    }

    /// Fetches until `want` bytes are there (or a failure, or a bound), the clock moving 50 ms
    /// per call so that backoffs pass.
    void fetch_until(std::uint64_t want) {
        std::vector<std::uint8_t> buf(4096);
        for (int i = 0; i < 2000 && client->fetched_size() < want; ++i) {
            const auto r = client->fetch_yield(buf.data(), buf.size(), 100ms);
            ASSERT_EQ(r.status, Status::ok) << client->last_error().message();
            clock.advance(50ms);
        }
    }

    /// The rest of the image from `from`, as a server honouring the Range sends it; the body
    /// holds `n` bytes and then neither ends nor sends more.
    static ScriptedResponse ranged(std::uint64_t from, std::size_t n) {
        ScriptedResponse r;
        r.status = 206;
        r.content_range = content_range_from(from, kJustAbove4GiB);
        r.content_length = kJustAbove4GiB - from;
        r.body = image_part(from, n);
        r.never_end = true;
        return r;
    }

    WindowSink store{0, 2 * kFirst};
};

TEST_F(LargeSizeClient, ResumesWithRangeAndKeepsTheProgressOfTheWhole64BitSize) {
    ScriptedResponse first;
    first.status = 200;
    first.content_length = kJustAbove4GiB;
    first.body = image_part(0, kFirst);  // then the body ends: cut short, retried
    source.set_script({first, ranged(kFirst, kMore)});
    start();
    fetch_until(kFirst + kMore);

    EXPECT_TRUE(failures().empty()) << failure_descs().front();
    EXPECT_EQ(client->file_size(), kJustAbove4GiB);
    EXPECT_EQ(client->fetched_size(), kFirst + kMore);
    ASSERT_EQ(source.opens().size(), 2U);
    EXPECT_EQ(source.opens()[1].offset, kFirst) << "Range: bytes=65536-";
    EXPECT_EQ(store.begun_sizes, std::vector<std::uint64_t>{kJustAbove4GiB});
    // 72 KiB of 4 GiB + 1 MiB is below one percent: only the start (0) was reported. Cut to 32
    // bits the size would be 1 MiB, and 7 % would have gone out.
    EXPECT_EQ(steps(), std::vector<int>{0});
    // The record saved at the cut names the whole size.
    EXPECT_NE(store.record_text().find("size:4296015872\n"), std::string::npos)
        << store.record_text();
    const auto window = store.window();
    EXPECT_TRUE(std::equal(window.begin(), window.begin() + kFirst + kMore,
                           image_part(0, kFirst + kMore).begin()));

    // The process stops; the next one resumes from the record with a Range request.
    client.reset();
    const std::string identity = ota::detail::resume_identity(
        "2.0.0", kJustAbove4GiB,
        ota::ExpectedDigest{ota::DigestAlgorithm::md5, std::string(32, 'a')}, kUrl, "");
    const auto resume_at = ota::detail::parse_resume_record(store.record_text(), identity);
    ASSERT_TRUE(resume_at.has_value()) << store.record_text();
    EXPECT_EQ(*resume_at, kFirst + kMore) << "the stop saved a record of everything fetched";
    source.set_script({ranged(*resume_at, 4096)});
    broker.clear_published();
    start();
    fetch_until(*resume_at + 4096);
    EXPECT_TRUE(failures().empty()) << failure_descs().front();
    EXPECT_EQ(source.opens().back().offset, *resume_at);
    EXPECT_EQ(client->fetched_size(), *resume_at + 4096);
    EXPECT_EQ(store.begun_sizes.size(), 1U) << "resumed, not begun again";
}

}  // namespace
