// AbBootControl and SlotSink on a SimulatedFlash: layout, boot records, the update state machine
// (every transition), verification and fall-back, SlotSink's contract, the OtaClient flow, and
// the C entry points.
#include "ota/ab_slots.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ota/c_api/ota_flash.h"
#include "ota/client.hpp"
#include "ota/hal_posix/simulated_flash.hpp"
#include "ota/protocol.hpp"
#include "support/fake_broker.hpp"
#include "support/scripted_source.hpp"

namespace {

using namespace std::chrono_literals;
using ota::AbBootControl;
using ota::AbLayout;
using ota::BootRecord;
using ota::BootResult;
using ota::BootState;
using ota::Error;
using ota::SimulatedFlash;
using ota::SlotSink;
using ota::Status;

constexpr std::uint32_t kSector = 4096;

std::vector<std::uint8_t> image_bytes(std::size_t n, std::uint32_t seed) {
    std::vector<std::uint8_t> v(n);
    std::uint32_t x = seed * 2654435761U + 1;
    for (auto& b : v) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b = static_cast<std::uint8_t>(x);
    }
    return v;
}

std::array<std::uint8_t, 32> sha256_of(const std::vector<std::uint8_t>& data) {
    ota::Hasher h;
    std::array<std::uint8_t, 32> out{};
    EXPECT_EQ(h.start(ota::DigestAlgorithm::sha256), Status::ok);
    EXPECT_EQ(h.update(data.data(), data.size()), Status::ok);
    EXPECT_EQ(h.finish(out.data(), out.size()), Status::ok);
    return out;
}

std::string hex_digest(ota::DigestAlgorithm alg, const std::vector<std::uint8_t>& data) {
    std::string hex;
    EXPECT_TRUE(ota::digest_hex(alg, data.data(), data.size(), hex).ok());
    return hex;
}

class AbSlotsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ota::SimulatedFlashOptions o;
        o.geometry = {34ULL * kSector, kSector, 16};
        ASSERT_TRUE(SimulatedFlash::create(o, flash).ok());
        ASSERT_TRUE(ota::make_default_layout(o.geometry, layout).ok());
    }

    std::unique_ptr<AbBootControl> control(ota::AbOptions o = {}) {
        return std::make_unique<AbBootControl>(*flash, layout, o);
    }

    // Factory image v1 in slot 0, then a boot.
    void provision(AbBootControl& c) {
        const Error e = c.provision(factory.data(), factory.size(), "1.0.0");
        ASSERT_TRUE(e.ok()) << e.message();
        BootResult r;
        ASSERT_TRUE(c.boot(r).ok());
        ASSERT_EQ(r.slot, 0);
    }

    // Downloads `image` through a SlotSink in `chunk`-byte writes and commits it.
    Status download(AbBootControl& c, const std::vector<std::uint8_t>& image,
                    const std::string& version, std::size_t chunk = 1000) {
        SlotSink sink(c);
        EXPECT_TRUE(sink.set_image(version).ok());
        if (const Status s = sink.begin(image.size()); s != Status::ok) return s;
        for (std::size_t off = 0; off < image.size(); off += chunk) {
            const std::size_t n = std::min(chunk, image.size() - off);
            if (const Status s = sink.write(off, image.data() + off, n); s != Status::ok) return s;
        }
        return sink.commit();
    }

    BootResult reboot(ota::AbOptions o = {}) {
        auto c = control(o);
        BootResult r;
        const Error e = c->boot(r);
        EXPECT_TRUE(e.ok()) << e.message();
        return r;
    }

    std::vector<std::uint8_t> slot_content(int slot, std::size_t n) const {
        std::vector<std::uint8_t> out(n);
        EXPECT_EQ(flash->read(layout.slot_offset[static_cast<std::size_t>(slot)], out.data(), n),
                  Status::ok);
        return out;
    }

    std::unique_ptr<SimulatedFlash> flash;
    AbLayout layout;
    const std::vector<std::uint8_t> factory = image_bytes(30000, 1);
    const std::vector<std::uint8_t> update = image_bytes(41000 + 5, 2);  // not a multiple of 16
};

TEST(AbLayoutTest, DefaultLayoutAndValidation) {
    AbLayout l;
    ASSERT_TRUE(ota::make_default_layout({35ULL * kSector, kSector, 8}, l).ok());
    EXPECT_EQ(l.meta_offset[0], 0U);
    EXPECT_EQ(l.meta_offset[1], kSector);
    EXPECT_EQ(l.meta_size, kSector);
    EXPECT_EQ(l.slot_offset[0], 2ULL * kSector);
    EXPECT_EQ(l.slot_size, 16ULL * kSector);  // the odd sector stays unused
    EXPECT_EQ(l.slot_offset[1], 18ULL * kSector);
    EXPECT_EQ(ota::make_default_layout({3ULL * kSector, kSector, 8}, l).status,
              Status::invalid_argument);

    const ota::FlashGeometry g{34ULL * kSector, kSector, 8};
    ASSERT_TRUE(ota::make_default_layout(g, l).ok());
    AbLayout bad = l;
    bad.slot_offset[1] = l.slot_offset[0] + kSector;  // overlaps slot 0
    EXPECT_EQ(ota::validate_layout(bad, g).status, Status::invalid_argument);
    bad = l;
    bad.slot_size = 17ULL * kSector;  // slot 1 runs off the end
    EXPECT_EQ(ota::validate_layout(bad, g).status, Status::invalid_argument);
    bad = l;
    bad.meta_offset[1] = 100;  // not sector-aligned
    EXPECT_EQ(ota::validate_layout(bad, g).status, Status::invalid_argument);
    // A record copy needs room for the body and the trailer in whole write units.
    AbLayout tiny;
    const ota::FlashGeometry small_sectors{64ULL * 256, 256, 256};
    ASSERT_TRUE(ota::make_default_layout({64ULL * 512, 512, 8}, tiny).ok());
    EXPECT_EQ(ota::make_default_layout(small_sectors, tiny).status, Status::invalid_argument);
}

TEST(AbRecordTest, Crc32MatchesTheStandardCheckValue) {
    const std::string check = "123456789";
    EXPECT_EQ(ota::crc32(reinterpret_cast<const std::uint8_t*>(check.data()), check.size()),
              0xCBF43926U);
}

TEST(AbRecordTest, EncodingIsCanonicalAndChecked) {
    BootRecord r;
    r.sequence = 0x0102030405060708ULL;
    r.slots[0] = {true, 1234, {}, "1.0.0"};
    std::vector<std::uint8_t> body;
    ASSERT_TRUE(ota::encode_boot_record(r, body).ok());
    ASSERT_EQ(body.size(), ota::kBootRecordBodySize);
    EXPECT_EQ(body[0], 'O');
    EXPECT_EQ(body[3], 'B');
    EXPECT_EQ(body[8], 0x08);  // little-endian sequence
    EXPECT_EQ(body[15], 0x01);
    r.slots[1].version = "ignored";  // an invalid slot encodes as zeros
    std::vector<std::uint8_t> again;
    ASSERT_TRUE(ota::encode_boot_record(r, again).ok());
    EXPECT_EQ(again, body);
    r.slots[0].version = std::string(65, 'v');
    EXPECT_EQ(ota::encode_boot_record(r, body).status, Status::invalid_argument);
    r.slots[0].version = "1";
    r.active = 2;
    EXPECT_EQ(ota::encode_boot_record(r, body).status, Status::invalid_argument);
}

TEST_F(AbSlotsTest, BlankFlashIsNotProvisioned) {
    auto c = control();
    BootResult r;
    EXPECT_EQ(c->boot(r).status, Status::invalid_state);
    EXPECT_EQ(c->load().status, Status::invalid_state);
    EXPECT_EQ(c->confirm().status, Status::invalid_state);
}

TEST_F(AbSlotsTest, ProvisionWritesAConfirmedFactoryImage) {
    auto c = control();
    ASSERT_TRUE(c->provision(factory.data(), factory.size(), "1.0.0").ok());
    EXPECT_EQ(c->provision(factory.data(), factory.size(), "1.0.0").status, Status::invalid_state);
    const BootResult r = reboot();
    EXPECT_EQ(r.slot, 0);
    EXPECT_EQ(r.state, BootState::confirmed);
    EXPECT_EQ(r.image.version, "1.0.0");
    EXPECT_EQ(r.image.size, factory.size());
    EXPECT_EQ(r.image.sha256, sha256_of(factory));
    EXPECT_EQ(r.image_offset, layout.slot_offset[0]);
    EXPECT_EQ(slot_content(0, factory.size()), factory);
}

TEST_F(AbSlotsTest, ProvisionRefusesBadInput) {
    auto c = control();
    const auto big = image_bytes(static_cast<std::size_t>(layout.slot_size) + 1, 3);
    EXPECT_EQ(c->provision(big.data(), big.size(), "1.0.0").status, Status::storage_full);
    EXPECT_EQ(c->provision(factory.data(), factory.size(), "").status, Status::invalid_argument);
    EXPECT_EQ(c->provision(factory.data(), factory.size(), std::string(65, 'x')).status,
              Status::invalid_argument);
}

TEST_F(AbSlotsTest, UpdateIsPendingThenTrialThenConfirmed) {
    auto c = control();
    provision(*c);
    ASSERT_EQ(download(*c, update, "2.0.0"), Status::ok);
    ASSERT_NE(c->record(), nullptr);
    EXPECT_EQ(c->record()->state, BootState::pending);
    EXPECT_EQ(c->record()->slots[1].version, "2.0.0");
    EXPECT_EQ(c->record()->slots[1].sha256, sha256_of(update));
    EXPECT_EQ(slot_content(1, update.size()), update);

    // "Reboot": the bootloader runs the new image on trial.
    auto boot2 = control();
    BootResult r;
    ASSERT_TRUE(boot2->boot(r).ok());
    EXPECT_EQ(r.slot, 1);
    EXPECT_EQ(r.state, BootState::trial);
    EXPECT_EQ(r.image.version, "2.0.0");
    EXPECT_FALSE(r.rolled_back);
    EXPECT_EQ(boot2->record()->boot_attempts, 1);
    ASSERT_TRUE(boot2->verify_slot(1).ok());
    ASSERT_TRUE(boot2->confirm().ok());
    EXPECT_EQ(boot2->record()->state, BootState::confirmed);
    EXPECT_EQ(boot2->record()->active, 1);
    const std::uint64_t seq = boot2->record()->sequence;
    ASSERT_TRUE(boot2->confirm().ok());  // idempotent, no new record
    EXPECT_EQ(boot2->record()->sequence, seq);

    // Every later boot runs 2.0.0; 1.0.0 stays as the fallback.
    const BootResult after = reboot();
    EXPECT_EQ(after.slot, 1);
    EXPECT_EQ(after.state, BootState::confirmed);
    EXPECT_EQ(after.image.version, "2.0.0");
    auto check = control();
    ASSERT_TRUE(check->load().ok());
    EXPECT_TRUE(check->record()->slots[0].valid);
    EXPECT_EQ(check->record()->slots[0].version, "1.0.0");
}

TEST_F(AbSlotsTest, UnconfirmedUpdateRollsBackOnTheNextBoot) {
    auto c = control();
    provision(*c);
    ASSERT_EQ(download(*c, update, "2.0.0"), Status::ok);
    const BootResult trial = reboot();
    ASSERT_EQ(trial.state, BootState::trial);
    // No confirm (the self-test failed or the image crashed): the next boot rolls back.
    const BootResult r = reboot();
    EXPECT_TRUE(r.rolled_back);
    EXPECT_EQ(r.slot, 0);
    EXPECT_EQ(r.state, BootState::confirmed);
    EXPECT_EQ(r.image.version, "1.0.0");
    auto check = control();
    ASSERT_TRUE(check->load().ok());
    EXPECT_EQ(check->record()->state, BootState::confirmed);
    EXPECT_FALSE(check->record()->slots[1].valid);
    const BootResult again = reboot();
    EXPECT_FALSE(again.rolled_back);
    EXPECT_EQ(again.slot, 0);
}

TEST_F(AbSlotsTest, MaxTrialBootsAllowsSeveralTrialsBeforeRollingBack) {
    auto c = control();
    provision(*c);
    ASSERT_EQ(download(*c, update, "2.0.0"), Status::ok);
    const ota::AbOptions three{3};
    for (int i = 1; i <= 3; ++i) {
        auto b = control(three);
        BootResult r;
        ASSERT_TRUE(b->boot(r).ok());
        EXPECT_EQ(r.state, BootState::trial) << i;
        EXPECT_EQ(b->record()->boot_attempts, i);
    }
    const BootResult r = reboot(three);
    EXPECT_TRUE(r.rolled_back);
    EXPECT_EQ(r.slot, 0);
}

TEST_F(AbSlotsTest, ApplicationSideLoadThenConfirm) {
    auto c = control();
    provision(*c);
    ASSERT_EQ(download(*c, update, "2.0.0"), Status::ok);
    (void)reboot();  // the bootloader
    auto app = control();
    ASSERT_TRUE(app->load().ok());
    EXPECT_EQ(app->running_slot(), 1);
    ASSERT_TRUE(app->confirm().ok());
    EXPECT_EQ(reboot().image.version, "2.0.0");
}

TEST_F(AbSlotsTest, ConfirmOutsideATrialIsRefused) {
    auto c = control();
    provision(*c);
    ASSERT_TRUE(c->confirm().ok());  // running the confirmed image: nothing to do
    ASSERT_EQ(download(*c, update, "2.0.0"), Status::ok);
    // Pending but not booted: the running image is still slot 0, so there is nothing to confirm
    // and the pending one stays pending.
    ASSERT_TRUE(c->confirm().ok());
    EXPECT_EQ(c->record()->state, BootState::pending);
    auto trial = control();
    BootResult r;
    ASSERT_TRUE(trial->boot(r).ok());
    ASSERT_EQ(r.state, BootState::trial);
    // An application instance that believes it runs slot 0 cannot confirm the trial image.
    EXPECT_EQ(c->confirm().status, Status::invalid_state);
}

TEST_F(AbSlotsTest, CorruptPendingImageIsNeverBooted) {
    auto c = control();
    provision(*c);
    ASSERT_EQ(download(*c, update, "2.0.0"), Status::ok);
    ASSERT_EQ(flash->corrupt(layout.slot_offset[1] + 20000, 0x10), Status::ok);
    const BootResult r = reboot();
    EXPECT_EQ(r.slot, 0);
    EXPECT_TRUE(r.fell_back);
    EXPECT_FALSE(r.rolled_back);
    EXPECT_EQ(r.state, BootState::confirmed);
    EXPECT_EQ(r.image.version, "1.0.0");
    auto check = control();
    ASSERT_TRUE(check->load().ok());
    EXPECT_FALSE(check->record()->slots[1].valid);
    EXPECT_EQ(check->record()->state, BootState::confirmed);
}

TEST_F(AbSlotsTest, CorruptTrialImageIsNotBootedAgain) {
    auto c = control();
    provision(*c);
    ASSERT_EQ(download(*c, update, "2.0.0"), Status::ok);
    ASSERT_EQ(reboot().state, BootState::trial);
    ASSERT_EQ(flash->corrupt(layout.slot_offset[1], 0x01), Status::ok);
    const BootResult r = reboot(ota::AbOptions{5});  // would allow another trial boot
    EXPECT_EQ(r.slot, 0);
    EXPECT_EQ(r.image.version, "1.0.0");
}

TEST_F(AbSlotsTest, CorruptActiveImageFallsBackToTheOtherSlot) {
    auto c = control();
    provision(*c);
    ASSERT_EQ(download(*c, update, "2.0.0"), Status::ok);
    {
        auto b = control();
        BootResult r;
        ASSERT_TRUE(b->boot(r).ok());
        ASSERT_TRUE(b->confirm().ok());
    }
    ASSERT_EQ(flash->corrupt(layout.slot_offset[1] + 5, 0x80), Status::ok);
    const BootResult r = reboot();
    EXPECT_TRUE(r.fell_back);
    EXPECT_EQ(r.slot, 0);
    EXPECT_EQ(r.image.version, "1.0.0");
    auto check = control();
    ASSERT_TRUE(check->load().ok());
    EXPECT_EQ(check->record()->active, 0);
    EXPECT_FALSE(check->record()->slots[1].valid);
}

TEST_F(AbSlotsTest, NoImageThatVerifiesIsAnError) {
    auto c = control();
    provision(*c);
    ASSERT_EQ(flash->corrupt(layout.slot_offset[0], 0x01), Status::ok);
    auto b = control();
    BootResult r;
    const Error e = b->boot(r);
    EXPECT_EQ(e.status, Status::digest_mismatch) << e.message();
}

TEST_F(AbSlotsTest, RecordsAlternateCopiesAndADamagedNewestCopyFallsBackToTheOlder) {
    auto c = control();
    provision(*c);
    ASSERT_TRUE(c->load().ok());
    const auto& copies = c->copies();
    ASSERT_TRUE(copies[0].has_value());
    EXPECT_FALSE(copies[1].has_value());
    ASSERT_EQ(download(*c, update, "2.0.0"), Status::ok);
    ASSERT_TRUE(c->load().ok());
    ASSERT_TRUE(c->copies()[0] && c->copies()[1]);
    const std::uint64_t s0 = c->copies()[0]->sequence;
    const std::uint64_t s1 = c->copies()[1]->sequence;
    EXPECT_EQ(s0 + 1, s1);
    EXPECT_EQ(c->record()->state, BootState::pending);
    // One flipped bit in the newest copy: the older (confirmed, slot 0) record is in force.
    ASSERT_EQ(flash->corrupt(layout.meta_offset[1] + 30, 0x04), Status::ok);
    ASSERT_TRUE(c->load().ok());
    EXPECT_FALSE(c->copies()[1].has_value());
    EXPECT_EQ(c->record()->sequence, s0);
    EXPECT_EQ(c->record()->state, BootState::confirmed);
    const BootResult r = reboot();
    EXPECT_EQ(r.slot, 0);
}

TEST_F(AbSlotsTest, SinkRefusesToStartWithoutABootOrDuringATrial) {
    {
        auto c = control();
        SlotSink sink(*c);
        EXPECT_EQ(sink.begin(100), Status::invalid_state);
        EXPECT_NE(sink.last_error().find("boot()"), std::string::npos) << sink.last_error();
    }
    auto c = control();
    provision(*c);
    ASSERT_EQ(download(*c, update, "2.0.0"), Status::ok);
    auto trial = control();
    BootResult r;
    ASSERT_TRUE(trial->boot(r).ok());
    SlotSink sink(*trial);
    EXPECT_EQ(sink.begin(100), Status::invalid_state);
    EXPECT_NE(sink.last_error().find("trial"), std::string::npos) << sink.last_error();
}

TEST_F(AbSlotsTest, SinkContract) {
    auto c = control();
    provision(*c);
    SlotSink sink(*c);
    EXPECT_EQ(sink.capacity(), layout.slot_size);
    EXPECT_EQ(sink.begin(layout.slot_size + 1), Status::storage_full);
    EXPECT_EQ(sink.write(0, update.data(), 10), Status::invalid_state);
    EXPECT_EQ(sink.set_image("").status, Status::invalid_argument);
    EXPECT_EQ(sink.set_image("2.0.0", ota::ExpectedDigest{ota::DigestAlgorithm::md5, "xyz"}).status,
              Status::invalid_argument);

    ASSERT_EQ(sink.begin(100), Status::ok);
    EXPECT_EQ(sink.target_slot(), 1);
    EXPECT_EQ(sink.write(0, update.data(), 13), Status::ok);
    EXPECT_EQ(sink.write(20, update.data() + 20, 5), Status::invalid_argument);  // a gap
    EXPECT_EQ(sink.write(95, update.data(), 10), Status::invalid_argument);      // past the end
    EXPECT_EQ(sink.write(13, update.data() + 13, 40), Status::ok);
    // Read-back spans what is programmed and the held-back tail.
    std::vector<std::uint8_t> back(53);
    ASSERT_EQ(sink.read(0, back.data(), back.size()), Status::ok);
    EXPECT_EQ(back, std::vector<std::uint8_t>(update.begin(), update.begin() + 53));
    EXPECT_EQ(sink.read(50, back.data(), 10), Status::invalid_argument);  // not written yet
    EXPECT_EQ(sink.flush(), Status::ok);
    EXPECT_EQ(sink.commit(), Status::invalid_state);  // incomplete
    ASSERT_EQ(sink.write(53, update.data() + 53, 47), Status::ok);
    EXPECT_EQ(sink.commit(), Status::invalid_state);  // no version set
    EXPECT_NE(sink.last_error().find("set_image"), std::string::npos);
    ASSERT_TRUE(sink.set_image("2.0.0").ok());
    EXPECT_EQ(sink.commit(), Status::ok);
    EXPECT_EQ(sink.target_slot(), std::nullopt);
    EXPECT_EQ(sink.flush(), Status::invalid_state);
    EXPECT_EQ(c->record()->slots[1].size, 100U);
}

TEST_F(AbSlotsTest, AbortLeavesTheRecordsUntouched) {
    auto c = control();
    provision(*c);
    SlotSink sink(*c);
    ASSERT_TRUE(sink.set_image("2.0.0").ok());
    ASSERT_EQ(sink.begin(update.size()), Status::ok);
    ASSERT_EQ(sink.write(0, update.data(), 5000), Status::ok);
    const auto meta_before = std::vector<std::uint8_t>(flash->contents().begin(),
                                                       flash->contents().begin() + 2 * kSector);
    sink.abort();
    sink.abort();
    EXPECT_EQ(std::vector<std::uint8_t>(flash->contents().begin(),
                                        flash->contents().begin() + 2 * kSector),
              meta_before);
    EXPECT_EQ(sink.commit(), Status::invalid_state);
    EXPECT_EQ(reboot().image.version, "1.0.0");
}

TEST_F(AbSlotsTest, StartingADownloadFirstUnmarksTheSlotItOverwrites) {
    auto c = control();
    provision(*c);
    ASSERT_EQ(download(*c, update, "2.0.0"), Status::ok);
    auto b = control();
    BootResult r;
    ASSERT_TRUE(b->boot(r).ok());
    ASSERT_TRUE(b->confirm().ok());
    ASSERT_TRUE(b->record()->slots[0].valid);  // 1.0.0 kept as the fallback

    // The next download goes to slot 0: before its first sector is erased, no record may still
    // claim that slot holds 1.0.0.
    SlotSink sink(*b);
    ASSERT_TRUE(sink.set_image("3.0.0").ok());
    flash->reset_op_count();
    ASSERT_EQ(sink.begin(update.size()), Status::ok);
    EXPECT_EQ(flash->erase_op_count(), 1U);  // only the record copy so far
    auto check = control();
    ASSERT_TRUE(check->load().ok());
    EXPECT_FALSE(check->record()->slots[0].valid);
    EXPECT_EQ(check->record()->active, 1);
    ASSERT_EQ(sink.write(0, update.data(), 100), Status::ok);
    EXPECT_EQ(flash->erase_op_count(), 2U);  // the slot's first sector, lazily
}

TEST_F(AbSlotsTest, ANewDownloadReplacesAPendingImage) {
    auto c = control();
    provision(*c);
    ASSERT_EQ(download(*c, update, "2.0.0"), Status::ok);
    ASSERT_EQ(c->record()->state, BootState::pending);
    const auto third = image_bytes(20000, 9);
    ASSERT_EQ(download(*c, third, "3.0.0", 4096), Status::ok);
    const BootResult r = reboot();
    EXPECT_EQ(r.state, BootState::trial);
    EXPECT_EQ(r.image.version, "3.0.0");
    EXPECT_EQ(r.image.size, third.size());
}

TEST_F(AbSlotsTest, CommitComparesTheFlashWithTheAnnouncedDigest) {
    auto c = control();
    provision(*c);
    for (const auto alg : {ota::DigestAlgorithm::md5, ota::DigestAlgorithm::sha256}) {
        SlotSink sink(*c);
        ASSERT_TRUE(
            sink.set_image("2.0.0", ota::ExpectedDigest{alg, hex_digest(alg, update)}).ok());
        ASSERT_EQ(sink.begin(update.size()), Status::ok);
        ASSERT_EQ(sink.write(0, update.data(), update.size()), Status::ok);
        EXPECT_EQ(sink.commit(), Status::ok) << ota::to_string(alg);
    }
    // A flash that stores something else than was written is caught before the slot is marked.
    SlotSink sink(*c);
    auto other = update;
    other[7] ^= 1;
    ASSERT_TRUE(
        sink.set_image("2.0.1", ota::ExpectedDigest{ota::DigestAlgorithm::md5,
                                                    hex_digest(ota::DigestAlgorithm::md5, other)})
            .ok());
    ASSERT_EQ(sink.begin(update.size()), Status::ok);
    ASSERT_EQ(sink.write(0, update.data(), update.size()), Status::ok);
    EXPECT_EQ(sink.commit(), Status::storage_failed);
    EXPECT_NE(sink.last_error().find("expected"), std::string::npos) << sink.last_error();
    EXPECT_EQ(c->record()->state, BootState::confirmed);
    EXPECT_FALSE(c->record()->slots[1].valid);
    EXPECT_EQ(reboot().image.version, "1.0.0");
}

TEST_F(AbSlotsTest, WornOutFlashFailsTheDownloadAndKeepsTheOldImage) {
    ota::SimulatedFlashOptions o;
    o.geometry = {34ULL * kSector, kSector, 16};
    o.erase_endurance = 3;
    ASSERT_TRUE(SimulatedFlash::create(o, flash).ok());
    auto c = control();
    provision(*c);
    Status last = Status::ok;
    int updates = 0;
    for (; updates < 10 && last == Status::ok; ++updates) {
        auto b = control();
        BootResult r;
        ASSERT_TRUE(b->boot(r).ok());
        last = download(*b, image_bytes(9000, static_cast<std::uint32_t>(updates + 10)),
                        "2." + std::to_string(updates));
        if (last != Status::ok) break;
        ASSERT_TRUE(b->boot(r).ok());
        ASSERT_TRUE(b->confirm().ok());
    }
    EXPECT_EQ(last, Status::storage_failed);
    EXPECT_LT(updates, 10);
    BootResult r;
    auto b = control();
    // The records' sectors wear out first (two erases per update each); whatever failed, the
    // device still boots an image that verifies.
    const Error e = b->boot(r);
    ASSERT_TRUE(e.ok()) << e.message();
    EXPECT_TRUE(b->verify_slot(r.slot).ok());
}

// ---- the OtaClient flow: push -> fetch -> check_firmware (commit) -> boot -> confirm ----

TEST_F(AbSlotsTest, OtaClientDownloadsIntoTheInactiveSlotAndTheNewVersionIsReported) {
    auto c = control();
    provision(*c);
    ota::test::FakeBroker broker;
    ota::test::FakeChannel channel(broker, "dev");
    ota::test::ScriptedResponse resp;
    resp.content_length = update.size();
    resp.body = update;
    resp.max_chunk = 3000;
    resp.end_with_last_chunk = true;
    ota::test::ScriptedSource source(resp);
    ota::ClientOptions opts;
    opts.product_key = "pk1";
    opts.device_name = "dev1";
    SlotSink sink(*c);
    {
        ota::OtaClient client(channel, source, opts);
        ASSERT_TRUE(client.init().ok());
        ASSERT_TRUE(client.set_sink(&sink).ok());
        client.set_job_handler([&](const ota::UpgradeJob& job) {
            ASSERT_TRUE(sink.set_image(job.version, job.digest).ok());
        });
        ASSERT_TRUE(client.report_version(c->record()->slots[0].version).ok());

        ota::UpgradeJob job;
        job.version = "2.0.0";
        job.size = update.size();
        job.url = "https://fw.example.com/2.0.0.bin";
        job.digest = {ota::DigestAlgorithm::sha256,
                      hex_digest(ota::DigestAlgorithm::sha256, update)};
        const ota::Topics topics = ota::make_topics("pk1", "dev1");
        broker.publish(topics.upgrade, ota::encode_upgrade_push(job, 42));
        ASSERT_TRUE(client.poll(0ms).ok());
        ASSERT_TRUE(client.is_fetching());
        std::vector<std::uint8_t> buf(2048);
        for (int i = 0; i < 1000 && !client.is_fetch_finished(); ++i) {
            const ota::FetchResult fr = client.fetch_yield(buf.data(), buf.size(), 10ms);
            ASSERT_EQ(fr.status, Status::ok) << client.last_error().message();
        }
        bool valid = false;
        ASSERT_TRUE(client.check_firmware(valid).ok());
        ASSERT_TRUE(valid);
    }
    ASSERT_EQ(c->record()->state, BootState::pending);

    // Reboot into the new image, self-test, reconnect and report, then confirm.
    auto booted = control();
    BootResult r;
    ASSERT_TRUE(booted->boot(r).ok());
    ASSERT_EQ(r.state, BootState::trial);
    ASSERT_TRUE(booted->verify_slot(r.slot).ok());
    broker.clear_published();
    {
        ota::OtaClient client(channel, source, opts);
        ASSERT_TRUE(client.init().ok());
        ASSERT_TRUE(client.report_version(r.image.version).ok());
    }
    ASSERT_TRUE(booted->confirm().ok());
    const auto informs = broker.published_on(ota::make_topics("pk1", "dev1").inform);
    ASSERT_EQ(informs.size(), 1U);
    EXPECT_EQ(nlohmann::json::parse(informs[0].payload).at("params").at("version"), "2.0.0");
    EXPECT_EQ(reboot().image.version, "2.0.0");
    EXPECT_EQ(slot_content(1, update.size()), update);
}

TEST_F(AbSlotsTest, OtaClientReportsAStorageFailureWhenTheSlotCannotTakeTheImage) {
    auto c = control();
    provision(*c);
    ota::test::FakeBroker broker;
    ota::test::FakeChannel channel(broker, "dev");
    ota::test::ScriptedSource source;
    ota::ClientOptions opts;
    opts.product_key = "pk1";
    opts.device_name = "dev1";
    SlotSink sink(*c);
    ota::OtaClient client(channel, source, opts);
    ASSERT_TRUE(client.init().ok());
    ASSERT_TRUE(client.set_sink(&sink).ok());
    ota::UpgradeJob job;
    job.version = "9.0.0";
    job.size = layout.slot_size + 1;
    job.url = "https://fw.example.com/big.bin";
    job.digest = {ota::DigestAlgorithm::md5, std::string(32, 'a')};
    const ota::Topics topics = ota::make_topics("pk1", "dev1");
    broker.publish(topics.upgrade, ota::encode_upgrade_push(job, 43));
    ASSERT_TRUE(client.poll(0ms).ok());
    std::vector<std::uint8_t> buf(1024);
    const ota::FetchResult fr = client.fetch_yield(buf.data(), buf.size(), 10ms);
    EXPECT_NE(fr.status, Status::ok);
    bool saw_burn_failed = false;
    for (const auto& m : broker.published_on(topics.progress)) {
        if (m.payload.find("\"-4\"") != std::string::npos) saw_burn_failed = true;
    }
    EXPECT_TRUE(saw_burn_failed);
    EXPECT_EQ(reboot().image.version, "1.0.0");
}

// ---- the C entry points ----

struct CCtx {
    SimulatedFlash* flash;
};
int hal_read(void* ctx, uint64_t off, uint8_t* buf, size_t len) {
    return static_cast<CCtx*>(ctx)->flash->read(off, buf, len) == Status::ok ? 0 : -1;
}
int hal_erase(void* ctx, uint64_t off, uint64_t len) {
    return static_cast<CCtx*>(ctx)->flash->erase(off, len) == Status::ok ? 0 : -1;
}
int hal_program(void* ctx, uint64_t off, const uint8_t* data, size_t len) {
    return static_cast<CCtx*>(ctx)->flash->program(off, data, len) == Status::ok ? 0 : -1;
}

TEST_F(AbSlotsTest, CEntryPointsBootAndConfirm) {
    CCtx ctx{flash.get()};
    ota_flash_hal_t hal{};
    hal.ctx = &ctx;
    hal.size = flash->size();
    hal.sector_size = flash->sector_size();
    hal.write_align = flash->write_align();
    hal.read = hal_read;
    hal.erase = hal_erase;
    hal.program = hal_program;
    ota_ab_boot_info_t info;
    EXPECT_EQ(ota_ab_boot(&hal, &info), OTA_FLASH_ERR_STATE);  // blank
    EXPECT_EQ(ota_ab_boot(nullptr, &info), OTA_FLASH_ERR_ARG);
    EXPECT_EQ(ota_ab_boot(&hal, nullptr), OTA_FLASH_ERR_ARG);

    auto c = control();
    provision(*c);
    ASSERT_EQ(download(*c, update, "2.0.0"), Status::ok);
    ASSERT_EQ(ota_ab_boot(&hal, &info), OTA_FLASH_OK);
    EXPECT_EQ(info.slot, 1);
    EXPECT_EQ(info.trial, 1);
    EXPECT_EQ(info.rolled_back, 0);
    EXPECT_EQ(info.image_offset, layout.slot_offset[1]);
    EXPECT_EQ(info.image_size, update.size());
    EXPECT_STREQ(info.version, "2.0.0");
    ASSERT_EQ(ota_ab_confirm(&hal), OTA_FLASH_OK);
    ASSERT_EQ(ota_ab_boot(&hal, &info), OTA_FLASH_OK);
    EXPECT_EQ(info.slot, 1);
    EXPECT_EQ(info.trial, 0);

    ASSERT_EQ(flash->corrupt(layout.slot_offset[1], 1), Status::ok);
    ASSERT_EQ(flash->corrupt(layout.slot_offset[0], 1), Status::ok);
    EXPECT_EQ(ota_ab_boot(&hal, &info), OTA_FLASH_ERR_NO_IMAGE);
    hal.program = nullptr;
    EXPECT_EQ(ota_ab_confirm(&hal), OTA_FLASH_ERR_ARG);
}

}  // namespace
