// FlashSlots (--sink flash): an image written through its sink and committed is booted as a trial
// on the "reboot"; a passing self-test confirms it, a failing one rolls back to the old version.
#include "flash_slots.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ota/digest.hpp"

namespace ota::fleet {
namespace {

struct Image {
    UpgradeJob job;
    std::vector<std::uint8_t> bytes;
};

Image make_image(std::size_t size) {
    Image img;
    img.bytes.resize(size);
    for (std::size_t i = 0; i < size; ++i) img.bytes[i] = static_cast<std::uint8_t>(i * 7 + 3);
    Hasher h;
    EXPECT_EQ(h.start(DigestAlgorithm::sha256), Status::ok);
    EXPECT_EQ(h.update(img.bytes.data(), img.bytes.size()), Status::ok);
    img.job.version = "2.0.0";
    img.job.size = size;
    img.job.digest.algorithm = DigestAlgorithm::sha256;
    EXPECT_EQ(h.finish_hex(img.job.digest.hex), Status::ok);
    return img;
}

void write_all(FirmwareSink& sink, const Image& img) {
    ASSERT_EQ(sink.begin(img.bytes.size()), Status::ok);
    constexpr std::size_t kChunk = 3000;  // not a multiple of the write unit
    for (std::size_t off = 0; off < img.bytes.size(); off += kChunk) {
        const std::size_t n = std::min(kChunk, img.bytes.size() - off);
        ASSERT_EQ(sink.write(off, img.bytes.data() + off, n), Status::ok) << off;
    }
    ASSERT_EQ(sink.commit(), Status::ok);
}

TEST(FlashSlots, ACommittedImageIsConfirmedWhenItsSelfTestPasses) {
    const Image img = make_image(100000);
    std::unique_ptr<FlashSlots> f;
    ASSERT_TRUE(FlashSlots::create(img.job, "1.0.0", f).ok());
    EXPECT_GE(f->sink().capacity(), img.bytes.size());
    write_all(f->sink(), img);
    std::string running;
    ASSERT_TRUE(f->reboot(true, running).ok());
    EXPECT_EQ(running, "2.0.0");
}

TEST(FlashSlots, AFailingSelfTestRollsBackToTheOldVersion) {
    const Image img = make_image(5000);
    std::unique_ptr<FlashSlots> f;
    ASSERT_TRUE(FlashSlots::create(img.job, "1.0.0", f).ok());
    write_all(f->sink(), img);
    std::string running;
    ASSERT_TRUE(f->reboot(false, running).ok());
    EXPECT_EQ(running, "1.0.0");
}

TEST(FlashSlots, ACorruptImageIsRefusedAtCommitAndTheOldVersionKeepsRunning) {
    Image img = make_image(5000);
    std::unique_ptr<FlashSlots> f;
    ASSERT_TRUE(FlashSlots::create(img.job, "1.0.0", f).ok());
    img.bytes[1234] ^= 0xFF;
    ASSERT_EQ(f->sink().begin(img.bytes.size()), Status::ok);
    ASSERT_EQ(f->sink().write(0, img.bytes.data(), img.bytes.size()), Status::ok);
    EXPECT_NE(f->sink().commit(), Status::ok);
    std::string running;
    ASSERT_TRUE(f->reboot(true, running).ok());
    EXPECT_EQ(running, "1.0.0");
}

TEST(FlashSlots, BadVersionsAreRefused) {
    Image img = make_image(100);
    std::unique_ptr<FlashSlots> f;
    EXPECT_FALSE(FlashSlots::create(img.job, "", f).ok());
    img.job.version = std::string(65, 'v');
    EXPECT_FALSE(FlashSlots::create(img.job, "1.0.0", f).ok());
    EXPECT_EQ(f, nullptr);
}

}  // namespace
}  // namespace ota::fleet
