// The power-cut proof, in the style of bootloader simulators: a whole A/B update (download through
// SlotSink, mark pending, trial boot, then confirm or a reboot without confirm) is run once to
// count its flash operations; then it is re-run with the power cut before every single one of
// them, and with that operation torn in several ways. After every cut the device is "rebooted"
// (a fresh AbBootControl on whatever the flash holds) and must boot a complete, verified image:
// the old one or the new one, exactly as the phase of the cut dictates, with consistent boot
// records. The recovery boot itself is then cut at each of its operations too. Finally the
// update is finished (or re-run) from the recovered state and must converge on the new image.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "ota/ab_slots.hpp"
#include "ota/flash.hpp"
#include "ota/log.hpp"

namespace {

using ota::AbBootControl;
using ota::AbLayout;
using ota::BootResult;
using ota::BootState;
using ota::PowerCut;
using ota::SimulatedFlash;
using ota::SlotSink;
using ota::Status;
using ota::TearMode;

constexpr std::uint32_t kSector = 4096;
constexpr std::uint32_t kAlign = 16;
constexpr std::uint64_t kSlotSectors = 12;  // 48 KiB slots
// Download write sizes, cycled: like network chunks, mostly not multiples of the write unit.
constexpr std::size_t kChunks[] = {1000, 1460, 512, 2048, 7, 3000};

std::vector<std::uint8_t> image_bytes(std::size_t n, std::uint32_t seed) {
    std::vector<std::uint8_t> v(n);
    std::uint32_t x = seed * 2654435761U + 7;
    for (auto& b : v) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b = static_cast<std::uint8_t>(x >> 3);
    }
    return v;
}

std::array<std::uint8_t, 32> sha256_of(const std::vector<std::uint8_t>& data) {
    ota::Hasher h;
    std::array<std::uint8_t, 32> out{};
    if (h.start(ota::DigestAlgorithm::sha256) != Status::ok ||
        h.update(data.data(), data.size()) != Status::ok ||
        h.finish(out.data(), out.size()) != Status::ok) {
        ADD_FAILURE() << "sha256 failed";
    }
    return out;
}

enum class Ending { confirm, reboot_without_confirm };

// What a boot after a cut must run.
enum class Outcome { old_confirmed, new_trial, new_confirmed };

const char* to_string(Outcome o) {
    switch (o) {
        case Outcome::old_confirmed:
            return "1.0.0 confirmed";
        case Outcome::new_trial:
            return "2.0.0 on trial";
        case Outcome::new_confirmed:
            return "2.0.0 confirmed";
    }
    return "?";
}

const char* to_string(Ending e) {
    return e == Ending::confirm ? "confirm" : "rollback";
}

// Flash operation counts at the ends of the update's phases (from the reference run).
struct Phases {
    std::uint64_t pending_done = 0;  // the pending record's last operation completed
    std::uint64_t trial_done = 0;    // the trial record's last operation completed
    std::uint64_t total = 0;
};

class PowerCutTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ota::SimulatedFlashOptions o;
        o.geometry = {(2 + 2 * kSlotSectors) * kSector, kSector, kAlign};
        ASSERT_TRUE(SimulatedFlash::create(o, flash).ok());
        ASSERT_TRUE(ota::make_default_layout(o.geometry, layout).ok());
        // The starting point: 1.0.0 confirmed in slot 1, the earlier 0.9.0 kept in slot 0. The
        // update therefore goes to slot 0 and must first unmark 0.9.0.
        AbBootControl c(*flash, layout);
        ASSERT_TRUE(c.provision(v09.data(), v09.size(), "0.9.0").ok());
        ASSERT_TRUE(run_update_steps(v10, "1.0.0", Ending::confirm, nullptr));
        AbBootControl check(*flash, layout);
        BootResult r;
        ASSERT_TRUE(check.boot(r).ok());
        ASSERT_EQ(r.image.version, "1.0.0");
        ASSERT_EQ(r.slot, 1);
        ASSERT_TRUE(check.record()->slots[0].valid);
        initial_seq = check.record()->sequence;
        initial = flash->contents();
    }

    // Runs one update of `image`; false as soon as a step fails (the power was cut).
    bool run_update_steps(const std::vector<std::uint8_t>& image, const std::string& version,
                          Ending ending, Phases* phases) {
        AbBootControl running(*flash, layout);
        BootResult r;
        if (!running.boot(r).ok()) return false;
        SlotSink sink(running);
        if (!sink.set_image(version).ok()) return false;
        if (sink.begin(image.size()) != Status::ok) return false;
        std::size_t off = 0;
        for (std::size_t i = 0; off < image.size(); ++i) {
            const std::size_t n = std::min(kChunks[i % std::size(kChunks)], image.size() - off);
            if (sink.write(off, image.data() + off, n) != Status::ok) return false;
            off += n;
        }
        if (sink.commit() != Status::ok) return false;
        if (phases != nullptr) phases->pending_done = flash->op_count();

        AbBootControl rebooted(*flash, layout);  // "reboot" into the new image
        if (!rebooted.boot(r).ok() || r.state != BootState::trial) return false;
        if (phases != nullptr) phases->trial_done = flash->op_count();
        if (ending == Ending::confirm) {
            if (!rebooted.verify_slot(r.slot).ok() || !rebooted.confirm().ok()) return false;
        } else {
            AbBootControl third(*flash, layout);  // reboot without confirming: roll back
            if (!third.boot(r).ok() || !r.rolled_back) return false;
        }
        if (phases != nullptr) phases->total = flash->op_count();
        return true;
    }

    // The outcome a boot must have when the first `done` operations of the update completed.
    static Outcome outcome_after(std::uint64_t done, const Phases& ph, Ending ending) {
        if (done < ph.pending_done) return Outcome::old_confirmed;
        if (done < ph.trial_done) return Outcome::new_trial;  // pending, or trial not yet written
        if (done < ph.total || ending == Ending::reboot_without_confirm) {
            return Outcome::old_confirmed;  // trial without confirm rolls back
        }
        return Outcome::new_confirmed;
    }

    static Outcome outcome_of(const BootResult& r) {
        if (r.image.version != "2.0.0") return Outcome::old_confirmed;
        return r.state == BootState::trial ? Outcome::new_trial : Outcome::new_confirmed;
    }

    // Boots the flash as it is and checks the result against the allowed outcomes; returns a
    // description of what is wrong, or "" when all is well.
    std::string check_boot(const std::vector<Outcome>& allowed, std::uint64_t max_seq,
                           BootResult& r, AbBootControl& c) {
        std::ostringstream why;
        const ota::Error e = c.boot(r);
        if (!e.ok()) return "boot failed: " + e.message();
        const bool is_new = r.image.version == "2.0.0";
        const auto& want = is_new ? v20 : v10;
        if ((!is_new && r.image.version != "1.0.0") || r.image.size != want.size() ||
            r.image.sha256 != sha256_of(want) || r.slot != (is_new ? 0 : 1)) {
            why << "booted version " << r.image.version << " in slot " << r.slot;
            return why.str();
        }
        const Outcome got = outcome_of(r);
        if (!is_new && r.state != BootState::confirmed) return "1.0.0 booted on trial";
        if (std::find(allowed.begin(), allowed.end(), got) == allowed.end()) {
            why << "booted " << to_string(got) << ", expected " << to_string(allowed.front());
            if (allowed.size() > 1) why << " or " << to_string(allowed.back());
            return why.str();
        }
        // The booted bytes themselves, not just the record's word for it.
        std::vector<std::uint8_t> content(want.size());
        if (flash->read(r.image_offset, content.data(), content.size()) != Status::ok ||
            content != want) {
            return "the booted slot does not hold the expected image";
        }
        // Records: the newest is in force, sequence numbers sane, and every slot a record marks
        // valid holds exactly the image it describes.
        const auto* rec = c.record();
        if (rec == nullptr) return "no record after boot";
        if (rec->sequence < initial_seq || rec->sequence > max_seq) {
            why << "sequence " << rec->sequence << " outside [" << initial_seq << ", " << max_seq
                << "]";
            return why.str();
        }
        const auto& copies = c.copies();
        if (copies[0] && copies[1] && copies[0]->sequence == copies[1]->sequence) {
            return "both record copies carry the same sequence number";
        }
        for (int s = 0; s < 2; ++s) {
            if (rec->slots[static_cast<std::size_t>(s)].valid) {
                if (const ota::Error v = c.verify_slot(s); !v.ok()) {
                    return "slot " + std::to_string(s) + " is marked valid but " + v.message();
                }
            }
        }
        if (!rec->slots[1].valid || rec->slots[1].sha256 != sha256_of(v10)) {
            return "the old image is no longer recorded in slot 1";
        }
        return {};
    }

    // From the recovered state, finishes (or repeats) the update; it must end on 2.0.0
    // confirmed with 1.0.0 kept as the fallback.
    std::string converge(const BootResult& recovered, AbBootControl& c) {
        if (recovered.image.version == "2.0.0") {
            if (const ota::Error e = c.confirm(); !e.ok()) return "confirm: " + e.message();
        } else if (!run_update_steps(v20, "2.0.0", Ending::confirm, nullptr)) {
            return "the repeated update failed";
        }
        AbBootControl fin(*flash, layout);
        BootResult r;
        if (const ota::Error e = fin.boot(r); !e.ok()) return "final boot: " + e.message();
        if (r.image.version != "2.0.0" || r.state != BootState::confirmed || r.slot != 0) {
            return "final boot runs " + r.image.version + " in slot " + std::to_string(r.slot);
        }
        if (!fin.verify_slot(1).ok() || fin.record()->slots[1].version != "1.0.0") {
            return "1.0.0 is not kept as the fallback";
        }
        return {};
    }

    struct Tally {
        std::uint64_t cuts = 0;
        std::uint64_t torn = 0;
        std::uint64_t nested = 0;
        std::uint64_t failures = 0;
    };

    void fail(Tally& t, const std::string& what) {
        ++t.failures;
        if (t.failures <= 20) ADD_FAILURE() << what;
    }

    // One cut (op k, `tear`) in the update ending with `ending`, then recovery, nested cuts of
    // the recovery boot, and convergence. A clean cut leaves the state after k operations; a
    // torn one may also leave the state after k + 1 (e.g. a record whose trailer made it).
    void cut_once(Ending ending, const Phases& ph, std::uint64_t max_seq, std::uint64_t k,
                  TearMode tear, std::uint32_t seed, Tally& t) {
        std::ostringstream ctx;
        ctx << to_string(ending) << ": cut at op " << k << " of " << ph.total
            << " (tear: " << ota::to_string(tear) << ", seed " << seed << "): ";
        ASSERT_EQ(flash->restore(initial), Status::ok);
        flash->reset_op_count();
        flash->schedule_power_cut(PowerCut{k, tear, seed});
        const bool finished = run_update_steps(v20, "2.0.0", ending, nullptr);
        if (finished || !flash->powered_off()) {
            fail(t, ctx.str() + "the cut did not happen (the run is not deterministic)");
            flash->power_on();
            return;
        }
        flash->power_on();
        std::vector<Outcome> allowed{outcome_after(k, ph, ending)};
        if (tear != TearMode::none) allowed.push_back(outcome_after(k + 1, ph, ending));
        const std::vector<std::uint8_t> after_cut = flash->contents();

        // The recovery boot: count its own operations, and what a boot after it would run.
        flash->reset_op_count();
        BootResult recovered;
        {
            AbBootControl c(*flash, layout);
            if (const std::string why = check_boot(allowed, max_seq, recovered, c); !why.empty()) {
                fail(t, ctx.str() + why);
                return;
            }
        }
        const std::uint64_t recovery_ops = flash->op_count();
        BootResult second;
        {
            AbBootControl c(*flash, layout);
            if (!c.boot(second).ok()) {
                fail(t, ctx.str() + "the boot after the recovery boot failed");
                return;
            }
        }
        // Cut the recovery boot at each of its operations, clean and torn.
        for (std::uint64_t j = 0; j < recovery_ops; ++j) {
            for (const TearMode nested_tear : {TearMode::none, TearMode::prefix}) {
                ASSERT_EQ(flash->restore(after_cut), Status::ok);
                flash->reset_op_count();
                flash->schedule_power_cut(PowerCut{j, nested_tear, seed});
                {
                    AbBootControl c(*flash, layout);
                    BootResult r;
                    (void)c.boot(r);
                }
                if (!flash->powered_off()) {
                    fail(t, ctx.str() + "the recovery cut did not happen");
                }
                flash->power_on();
                std::vector<Outcome> nested_allowed{outcome_of(recovered)};
                if (nested_tear != TearMode::none && j + 1 == recovery_ops) {
                    nested_allowed.push_back(outcome_of(second));
                }
                AbBootControl c(*flash, layout);
                BootResult r;
                if (const std::string why = check_boot(nested_allowed, max_seq + 1, r, c);
                    !why.empty()) {
                    fail(t, ctx.str() + "then cut at recovery op " + std::to_string(j) + " (" +
                                ota::to_string(nested_tear) + "): " + why);
                }
                ++t.nested;
            }
        }

        ASSERT_EQ(flash->restore(after_cut), Status::ok);
        AbBootControl c(*flash, layout);
        BootResult r;
        if (const std::string why = check_boot(allowed, max_seq, r, c); !why.empty()) {
            fail(t, ctx.str() + why);
            return;
        }
        if (const std::string why = converge(r, c); !why.empty()) fail(t, ctx.str() + why);
    }

    Tally run_scenario(Ending ending) {
        Tally t;
        // Hundreds of roll-backs and failed writes are expected here: keep the output readable.
        ota::set_log_sink([](ota::LogLevel, std::string_view) {});
        // The reference run: no cut, counts the operations.
        EXPECT_EQ(flash->restore(initial), Status::ok);
        flash->reset_op_count();
        Phases ph;
        EXPECT_TRUE(run_update_steps(v20, "2.0.0", ending, &ph));
        EXPECT_LT(0U, ph.pending_done);
        EXPECT_LT(ph.pending_done, ph.trial_done);
        EXPECT_LT(ph.trial_done, ph.total);
        AbBootControl done(*flash, layout);
        EXPECT_TRUE(done.load().ok());
        // At most one more record than the reference run wrote (the recovery's own).
        const std::uint64_t max_seq = done.record()->sequence + 1;
        std::cout << "[ power-cut ] " << to_string(ending) << " scenario: " << ph.total
                  << " flash operations (pending after op " << ph.pending_done
                  << ", trial after op " << ph.trial_done << ")\n";

        for (std::uint64_t k = 0; k < ph.total; ++k) {
            cut_once(ending, ph, max_seq, k, TearMode::none, 1, t);
            ++t.cuts;
            for (const auto& [tear, seed] :
                 {std::pair{TearMode::prefix, 1U}, std::pair{TearMode::all_but_last, 1U},
                  std::pair{TearMode::random_bits, 1U}, std::pair{TearMode::random_bits, 2U}}) {
                cut_once(ending, ph, max_seq, k, tear, seed, t);
                ++t.torn;
            }
        }
        ota::set_log_sink({});
        std::cout << "[ power-cut ] " << to_string(ending) << " scenario: " << t.cuts
                  << " cut points, " << t.torn << " torn operations, " << t.nested
                  << " cuts during the recovery boot, " << t.failures << " failures\n";
        return t;
    }

    std::unique_ptr<SimulatedFlash> flash;
    AbLayout layout;
    std::vector<std::uint8_t> initial;
    std::uint64_t initial_seq = 0;
    const std::vector<std::uint8_t> v09 = image_bytes(20000, 9);
    const std::vector<std::uint8_t> v10 = image_bytes(30000, 10);
    const std::vector<std::uint8_t> v20 = image_bytes(41005, 20);  // ~40 KiB, 11 sectors
};

TEST_F(PowerCutTest, EveryCutDuringAConfirmedUpdateBootsAVerifiedImage) {
    const Tally t = run_scenario(Ending::confirm);
    RecordProperty("cut_points", static_cast<int>(t.cuts));
    RecordProperty("torn_points", static_cast<int>(t.torn));
    RecordProperty("recovery_cut_points", static_cast<int>(t.nested));
    EXPECT_GT(t.cuts, 50U);
    EXPECT_EQ(t.torn, 4 * t.cuts);
    EXPECT_GT(t.nested, 0U);
    EXPECT_EQ(t.failures, 0U);
}

TEST_F(PowerCutTest, EveryCutDuringARolledBackUpdateBootsAVerifiedImage) {
    const Tally t = run_scenario(Ending::reboot_without_confirm);
    RecordProperty("cut_points", static_cast<int>(t.cuts));
    RecordProperty("torn_points", static_cast<int>(t.torn));
    RecordProperty("recovery_cut_points", static_cast<int>(t.nested));
    EXPECT_GT(t.cuts, 50U);
    EXPECT_EQ(t.torn, 4 * t.cuts);
    EXPECT_GT(t.nested, 0U);
    EXPECT_EQ(t.failures, 0U);
}

}  // namespace
