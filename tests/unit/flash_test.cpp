// SimulatedFlash: geometry, NOR rules, alignment, wear, power cuts and torn operations, the file
// backing; make_c_flash: the C HAL adapter.
#include "ota/flash.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ota/c_api/flash_c_adapter.hpp"

namespace {

using ota::FlashGeometry;
using ota::NorProgramRule;
using ota::PowerCut;
using ota::SimulatedFlash;
using ota::SimulatedFlashOptions;
using ota::Status;
using ota::TearMode;

constexpr std::uint32_t kSector = 1024;
constexpr std::uint32_t kAlign = 8;

SimulatedFlashOptions small_options(std::uint32_t endurance = 0,
                                    NorProgramRule rule = NorProgramRule::reject) {
    SimulatedFlashOptions o;
    o.geometry = FlashGeometry{8 * kSector, kSector, kAlign};
    o.erase_endurance = endurance;
    o.program_rule = rule;
    return o;
}

std::unique_ptr<SimulatedFlash> make_flash(const SimulatedFlashOptions& o = small_options()) {
    std::unique_ptr<SimulatedFlash> f;
    const ota::Error e = SimulatedFlash::create(o, f);
    EXPECT_TRUE(e.ok()) << e.message();
    return f;
}

std::vector<std::uint8_t> bytes(std::size_t n, std::uint8_t seed) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(seed + i * 37);
    return v;
}

/// The simulated device's size as a buffer length (a few sectors: fits size_t on any target).
std::size_t whole(const ota::FlashDevice& f) {
    return static_cast<std::size_t>(f.size());
}

std::vector<std::uint8_t> read_back(ota::FlashDevice& f, std::uint64_t off, std::size_t n) {
    std::vector<std::uint8_t> out(n);
    EXPECT_EQ(f.read(off, out.data(), n), Status::ok);
    return out;
}

// A unique temporary file path, removed by the destructor.
struct TempPath {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() /
        ("ota-flash-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + ".bin");
    ~TempPath() {
        std::error_code ec;
        std::filesystem::remove(path, ec);
    }
    static inline int counter = 0;
};

TEST(FlashGeometryTest, RejectsInconsistentGeometries) {
    EXPECT_TRUE(ota::validate_geometry({4096, 1024, 8}).ok());
    EXPECT_EQ(ota::validate_geometry({0, 1024, 8}).status, Status::invalid_argument);
    EXPECT_EQ(ota::validate_geometry({4096, 0, 8}).status, Status::invalid_argument);
    EXPECT_EQ(ota::validate_geometry({4096, 1024, 0}).status, Status::invalid_argument);
    EXPECT_EQ(ota::validate_geometry({4000, 1024, 8}).status, Status::invalid_argument);
    EXPECT_EQ(ota::validate_geometry({4096, 1024, 24}).status, Status::invalid_argument);
    std::unique_ptr<SimulatedFlash> f;
    SimulatedFlashOptions bad;
    bad.geometry = {4000, 1024, 8};
    EXPECT_EQ(SimulatedFlash::create(bad, f).status, Status::invalid_argument);
    EXPECT_EQ(f, nullptr);
}

TEST(SimulatedFlashTest, StartsErasedAndReportsItsGeometry) {
    auto f = make_flash();
    EXPECT_EQ(f->size(), 8U * kSector);
    EXPECT_EQ(f->sector_size(), kSector);
    EXPECT_EQ(f->write_align(), kAlign);
    EXPECT_EQ(read_back(*f, 0, whole(*f)), std::vector<std::uint8_t>(whole(*f), 0xFF));
}

TEST(SimulatedFlashTest, ProgramThenReadReturnsTheData) {
    auto f = make_flash();
    const auto data = bytes(64, 3);
    ASSERT_EQ(f->program(kSector + 16, data.data(), data.size()), Status::ok);
    EXPECT_EQ(read_back(*f, kSector + 16, 64), data);
    // Unaligned reads are fine.
    EXPECT_EQ(read_back(*f, kSector + 17, 3),
              std::vector<std::uint8_t>(data.begin() + 1, data.begin() + 4));
}

TEST(SimulatedFlashTest, MisalignedOrOutOfRangeRequestsAreRefusedUntouched) {
    auto f = make_flash();
    const auto data = bytes(16, 1);
    EXPECT_EQ(f->program(4, data.data(), 8), Status::invalid_argument);   // offset
    EXPECT_EQ(f->program(8, data.data(), 12), Status::invalid_argument);  // length
    EXPECT_EQ(f->program(f->size() - 8, data.data(), 16), Status::invalid_argument);
    EXPECT_EQ(f->program(0, nullptr, 8), Status::invalid_argument);
    EXPECT_EQ(f->erase(512, kSector), Status::invalid_argument);
    EXPECT_EQ(f->erase(0, 512), Status::invalid_argument);
    EXPECT_EQ(f->erase(f->size(), kSector), Status::invalid_argument);
    std::uint8_t b = 0;
    EXPECT_EQ(f->read(f->size(), &b, 1), Status::invalid_argument);
    EXPECT_EQ(f->read(UINT64_MAX, &b, 1), Status::invalid_argument);
    EXPECT_EQ(f->op_count(), 0U);  // refused before reaching the device
    EXPECT_EQ(read_back(*f, 0, whole(*f)), std::vector<std::uint8_t>(whole(*f), 0xFF));
}

TEST(SimulatedFlashTest, ProgrammingOverDataNeedsAnEraseFirst) {
    auto f = make_flash();
    const std::vector<std::uint8_t> first(8, 0x0F);
    const std::vector<std::uint8_t> second(8, 0xF0);  // needs 0 -> 1 bits
    const std::vector<std::uint8_t> subset(8, 0x05);  // clears bits only
    ASSERT_EQ(f->program(0, first.data(), 8), Status::ok);
    EXPECT_EQ(f->program(0, second.data(), 8), Status::storage_failed);
    EXPECT_EQ(read_back(*f, 0, 8), first);
    EXPECT_EQ(f->program(0, subset.data(), 8), Status::ok);
    EXPECT_EQ(read_back(*f, 0, 8), subset);
    ASSERT_EQ(f->erase(0, kSector), Status::ok);
    EXPECT_EQ(read_back(*f, 0, 8), std::vector<std::uint8_t>(8, 0xFF));
    EXPECT_EQ(f->program(0, second.data(), 8), Status::ok);
    EXPECT_EQ(read_back(*f, 0, 8), second);
}

TEST(SimulatedFlashTest, AndRuleBehavesLikeRealNor) {
    auto f = make_flash(small_options(0, NorProgramRule::and_bits));
    const std::vector<std::uint8_t> first(8, 0x0F);
    const std::vector<std::uint8_t> second(8, 0x3C);
    ASSERT_EQ(f->program(0, first.data(), 8), Status::ok);
    ASSERT_EQ(f->program(0, second.data(), 8), Status::ok);
    EXPECT_EQ(read_back(*f, 0, 8), std::vector<std::uint8_t>(8, 0x0C));
}

TEST(SimulatedFlashTest, CountsOperationsAndErasesPerSector) {
    auto f = make_flash();
    const auto data = bytes(16, 9);
    ASSERT_EQ(f->erase(kSector, 3 * kSector), Status::ok);
    ASSERT_EQ(f->program(kSector, data.data(), 16), Status::ok);
    std::uint8_t b = 0;
    ASSERT_EQ(f->read(0, &b, 1), Status::ok);
    EXPECT_EQ(f->op_count(), 4U);
    EXPECT_EQ(f->erase_op_count(), 3U);
    EXPECT_EQ(f->program_count(), 1U);
    EXPECT_EQ(f->erase_count(0), 0U);
    EXPECT_EQ(f->erase_count(1), 1U);
    EXPECT_EQ(f->erase_count(3), 1U);
    EXPECT_EQ(f->erase_count(4), 0U);
    f->reset_op_count();
    EXPECT_EQ(f->op_count(), 0U);
    EXPECT_EQ(f->erase_count(1), 1U);  // wear is not reset
}

TEST(SimulatedFlashTest, WornOutSectorRefusesFurtherErases) {
    auto f = make_flash(small_options(3));
    for (int i = 0; i < 3; ++i) ASSERT_EQ(f->erase(0, kSector), Status::ok);
    const std::vector<std::uint8_t> data(8, 0x11);
    ASSERT_EQ(f->program(0, data.data(), 8), Status::ok);
    EXPECT_EQ(f->erase(0, kSector), Status::storage_failed);
    EXPECT_EQ(read_back(*f, 0, 8), data);  // left as it was
    EXPECT_EQ(f->erase_count(0), 3U);
    EXPECT_EQ(f->erase(kSector, kSector), Status::ok);  // other sectors still fine
}

TEST(SimulatedFlashTest, PowerCutStopsEverythingUntilPowerOn) {
    auto f = make_flash();
    const auto a = bytes(16, 1);
    const auto b = bytes(16, 2);
    f->schedule_power_cut(PowerCut{1, TearMode::none});
    ASSERT_EQ(f->program(0, a.data(), 16), Status::ok);               // op 0
    EXPECT_EQ(f->program(16, b.data(), 16), Status::storage_failed);  // op 1: cut before it
    EXPECT_TRUE(f->powered_off());
    std::uint8_t x = 0;
    EXPECT_EQ(f->read(0, &x, 1), Status::storage_failed);
    EXPECT_EQ(f->erase(kSector, kSector), Status::storage_failed);
    f->power_on();
    EXPECT_FALSE(f->powered_off());
    EXPECT_EQ(read_back(*f, 0, 16), a);
    EXPECT_EQ(read_back(*f, 16, 16), std::vector<std::uint8_t>(16, 0xFF));
    EXPECT_EQ(f->erase_count(1), 0U);
}

TEST(SimulatedFlashTest, TornProgramsLeaveAPartOfTheData) {
    const auto data = bytes(64, 5);
    {
        auto f = make_flash();
        f->schedule_power_cut(PowerCut{0, TearMode::prefix});
        EXPECT_EQ(f->program(0, data.data(), 64), Status::storage_failed);
        f->power_on();
        auto got = read_back(*f, 0, 64);
        EXPECT_EQ(std::vector<std::uint8_t>(got.begin(), got.begin() + 32),
                  std::vector<std::uint8_t>(data.begin(), data.begin() + 32));
        EXPECT_EQ(std::vector<std::uint8_t>(got.begin() + 32, got.end()),
                  std::vector<std::uint8_t>(32, 0xFF));
    }
    {
        auto f = make_flash();
        f->schedule_power_cut(PowerCut{0, TearMode::all_but_last});
        EXPECT_EQ(f->program(0, data.data(), 64), Status::storage_failed);
        f->power_on();
        auto got = read_back(*f, 0, 64);
        EXPECT_EQ(std::vector<std::uint8_t>(got.begin(), got.begin() + 63),
                  std::vector<std::uint8_t>(data.begin(), data.begin() + 63));
        EXPECT_EQ(got[63], 0xFF);
    }
    {
        auto f = make_flash();
        f->schedule_power_cut(PowerCut{0, TearMode::random_bits, 7});
        EXPECT_EQ(f->program(0, data.data(), 64), Status::storage_failed);
        f->power_on();
        auto got = read_back(*f, 0, 64);
        EXPECT_NE(got, data);
        EXPECT_NE(got, std::vector<std::uint8_t>(64, 0xFF));
        for (std::size_t i = 0; i < 64; ++i) {
            // Each bit is either still erased (1) or already programmed to the new value.
            EXPECT_EQ(got[i] & data[i], data[i]) << i;
        }
    }
}

TEST(SimulatedFlashTest, TornEraseLeavesThePrefixErased) {
    auto f = make_flash();
    const std::vector<std::uint8_t> zeros(kSector, 0x00);
    ASSERT_EQ(f->program(0, zeros.data(), kSector), Status::ok);
    f->reset_op_count();
    f->schedule_power_cut(PowerCut{0, TearMode::prefix});
    EXPECT_EQ(f->erase(0, kSector), Status::storage_failed);
    f->power_on();
    const auto got = read_back(*f, 0, kSector);
    EXPECT_EQ(std::vector<std::uint8_t>(got.begin(), got.begin() + kSector / 2),
              std::vector<std::uint8_t>(kSector / 2, 0xFF));
    EXPECT_EQ(std::vector<std::uint8_t>(got.begin() + kSector / 2, got.end()),
              std::vector<std::uint8_t>(kSector / 2, 0x00));
    EXPECT_EQ(f->erase_count(0), 1U);  // a torn erase still wears the sector
}

TEST(SimulatedFlashTest, CutInAMultiSectorEraseStopsAtThatSector) {
    auto f = make_flash();
    const std::vector<std::uint8_t> zeros(8, 0x00);
    for (std::uint32_t s = 0; s < 4; ++s)
        ASSERT_EQ(f->program(s * kSector, zeros.data(), 8), Status::ok);
    f->reset_op_count();
    f->schedule_power_cut(PowerCut{2, TearMode::none});
    EXPECT_EQ(f->erase(0, 4 * kSector), Status::storage_failed);
    f->power_on();
    EXPECT_EQ(read_back(*f, 0, 8), std::vector<std::uint8_t>(8, 0xFF));
    EXPECT_EQ(read_back(*f, kSector, 8), std::vector<std::uint8_t>(8, 0xFF));
    EXPECT_EQ(read_back(*f, 2 * kSector, 8), zeros);
    EXPECT_EQ(read_back(*f, 3 * kSector, 8), zeros);
}

TEST(SimulatedFlashTest, CorruptFlipsBitsAndRestoreReplacesEverything) {
    auto f = make_flash();
    const auto before = f->contents();
    ASSERT_EQ(f->corrupt(10, 0x81), Status::ok);
    EXPECT_EQ(read_back(*f, 10, 1)[0], 0x7E);
    EXPECT_EQ(f->corrupt(f->size(), 1), Status::invalid_argument);
    ASSERT_EQ(f->restore(before), Status::ok);
    EXPECT_EQ(f->contents(), before);
    EXPECT_EQ(f->restore(std::vector<std::uint8_t>(3)), Status::invalid_argument);
}

TEST(SimulatedFlashFileTest, ContentAndWearSurviveReopening) {
    TempPath tmp;
    const auto data = bytes(32, 4);
    {
        std::unique_ptr<SimulatedFlash> f;
        ASSERT_TRUE(SimulatedFlash::open_file(tmp.path, small_options(), f).ok());
        ASSERT_EQ(f->erase(2 * kSector, kSector), Status::ok);
        ASSERT_EQ(f->erase(2 * kSector, kSector), Status::ok);
        ASSERT_EQ(f->program(2 * kSector, data.data(), 32), Status::ok);
    }
    std::unique_ptr<SimulatedFlash> f;
    const ota::Error e = SimulatedFlash::open_file(tmp.path, small_options(), f);
    ASSERT_TRUE(e.ok()) << e.message();
    EXPECT_EQ(read_back(*f, 2 * kSector, 32), data);
    EXPECT_EQ(read_back(*f, 0, 8), std::vector<std::uint8_t>(8, 0xFF));
    EXPECT_EQ(f->erase_count(2), 2U);
    EXPECT_EQ(f->erase_count(1), 0U);
}

TEST(SimulatedFlashFileTest, WrongGeometryOrSecondUserIsRefused) {
    TempPath tmp;
    std::unique_ptr<SimulatedFlash> first;
    ASSERT_TRUE(SimulatedFlash::open_file(tmp.path, small_options(), first).ok());
    std::unique_ptr<SimulatedFlash> second;
    const ota::Error locked = SimulatedFlash::open_file(tmp.path, small_options(), second);
    EXPECT_EQ(locked.status, Status::storage_failed) << locked.message();
    first.reset();
    SimulatedFlashOptions other = small_options();
    other.geometry.size = 16 * kSector;
    const ota::Error e = SimulatedFlash::open_file(tmp.path, other, second);
    EXPECT_EQ(e.status, Status::invalid_argument) << e.message();
    EXPECT_EQ(second, nullptr);
    other = small_options();
    other.geometry.write_align = 16;
    EXPECT_EQ(SimulatedFlash::open_file(tmp.path, other, second).status, Status::invalid_argument);
}

TEST(SimulatedFlashFileTest, UnwritableLocationIsAStorageError) {
    std::unique_ptr<SimulatedFlash> f;
    const ota::Error e =
        SimulatedFlash::open_file("/nonexistent-dir/flash.bin", small_options(), f);
    EXPECT_EQ(e.status, Status::storage_failed);
    EXPECT_NE(e.detail.find("/nonexistent-dir/flash.bin"), std::string::npos);
}

// ---- the C HAL adapter ----

struct CFlashCtx {
    SimulatedFlash* flash = nullptr;
    int calls = 0;
    int fail_with = 0;
};

int c_read(void* ctx, uint64_t off, uint8_t* buf, size_t len) {
    auto* c = static_cast<CFlashCtx*>(ctx);
    ++c->calls;
    if (c->fail_with != 0) return c->fail_with;
    return c->flash->read(off, buf, len) == Status::ok ? OTA_FLASH_OK : OTA_FLASH_ERR_IO;
}
int c_erase(void* ctx, uint64_t off, uint64_t len) {
    auto* c = static_cast<CFlashCtx*>(ctx);
    ++c->calls;
    if (c->fail_with != 0) return c->fail_with;
    return c->flash->erase(off, len) == Status::ok ? OTA_FLASH_OK : OTA_FLASH_ERR_IO;
}
int c_program(void* ctx, uint64_t off, const uint8_t* data, size_t len) {
    auto* c = static_cast<CFlashCtx*>(ctx);
    ++c->calls;
    if (c->fail_with != 0) return c->fail_with;
    return c->flash->program(off, data, len) == Status::ok ? OTA_FLASH_OK : OTA_FLASH_ERR_IO;
}

ota_flash_hal_t c_hal(CFlashCtx& ctx) {
    ota_flash_hal_t hal{};
    hal.ctx = &ctx;
    hal.size = ctx.flash->size();
    hal.sector_size = ctx.flash->sector_size();
    hal.write_align = ctx.flash->write_align();
    hal.read = c_read;
    hal.erase = c_erase;
    hal.program = c_program;
    return hal;
}

TEST(CFlashAdapterTest, RefusesMissingHooksAndBadGeometry) {
    auto sim = make_flash();
    CFlashCtx ctx{sim.get()};
    ota_flash_hal_t hal = c_hal(ctx);
    hal.program = nullptr;
    std::string why;
    EXPECT_EQ(ota::make_c_flash(hal, &why), nullptr);
    EXPECT_NE(why.find("program"), std::string::npos) << why;
    hal = c_hal(ctx);
    hal.write_align = 3;
    EXPECT_EQ(ota::make_c_flash(hal, &why), nullptr);
    EXPECT_NE(why.find("write unit"), std::string::npos) << why;
}

TEST(CFlashAdapterTest, ForwardsCheckedRequestsAndMapsFailures) {
    auto sim = make_flash();
    CFlashCtx ctx{sim.get()};
    auto dev = ota::make_c_flash(c_hal(ctx));
    ASSERT_NE(dev, nullptr);
    EXPECT_EQ(dev->size(), sim->size());
    const auto data = bytes(24, 8);
    ASSERT_EQ(dev->erase(kSector, kSector), Status::ok);
    ASSERT_EQ(dev->program(kSector, data.data(), 24), Status::ok);
    EXPECT_EQ(read_back(*sim, kSector, 24), data);
    EXPECT_EQ(read_back(*dev, kSector, 24), data);
    const int calls = ctx.calls;
    EXPECT_EQ(dev->program(kSector + 4, data.data(), 8), Status::invalid_argument);
    EXPECT_EQ(dev->erase(100, kSector), Status::invalid_argument);
    EXPECT_EQ(ctx.calls, calls);  // never reached the hooks
    ctx.fail_with = 7;            // a positive value is a failure too
    std::uint8_t b = 0;
    EXPECT_EQ(dev->read(0, &b, 1), Status::storage_failed);
    ctx.fail_with = OTA_FLASH_ERR_IO;
    EXPECT_EQ(dev->erase(0, kSector), Status::storage_failed);
}

}  // namespace
