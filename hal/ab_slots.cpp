// A/B slots: the boot record format, AbBootControl (boot / confirm / provision) and SlotSink.
//
// Boot record copy layout inside its region (all little-endian):
//   body    kBootRecordBodySize bytes, programmed first (padded with 0xFF to the write unit)
//   trailer at align_up(body, write unit): CRC-32 of the body, then the commit marker; programmed
//           second, so a copy whose trailer is missing or wrong is simply not valid.
// Body: magic u32, format u16, body size u16, sequence u64, active u8, state u8, attempts u8,
// reserved u8, then per slot: valid u8, version length u8, reserved u16 + u32, size u64,
// SHA-256 [32], version [64] (zero-padded).
#include "ota/ab_slots.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "ota/log.hpp"

namespace ota {
namespace {

constexpr std::uint32_t kRecordMagic = 0x4241544FU;   // "OTAB"
constexpr std::uint32_t kCommitMarker = 0x4D4D4F43U;  // "COMM"
constexpr std::uint16_t kRecordFormat = 1;
constexpr std::size_t kTrailerSize = 8;
constexpr std::size_t kSlotEntrySize = 112;
constexpr std::size_t kSlotEntriesAt = 20;
constexpr std::size_t kHashChunk = 4096;
static_assert(kSlotEntriesAt + 2 * kSlotEntrySize == kBootRecordBodySize,
              "the body size constant must match the layout");

std::uint64_t align_up(std::uint64_t v, std::uint64_t unit) noexcept {
    return (v + unit - 1) / unit * unit;
}

void put_u16(std::uint8_t* p, std::uint16_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
}
void put_u32(std::uint8_t* p, std::uint32_t v) noexcept {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void put_u64(std::uint8_t* p, std::uint64_t v) noexcept {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint16_t get_u16(const std::uint8_t* p) noexcept {
    return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
std::uint32_t get_u32(const std::uint8_t* p) noexcept {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}
std::uint64_t get_u64(const std::uint8_t* p) noexcept {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

bool valid_slot_index(int slot) noexcept {
    return slot == 0 || slot == 1;
}

bool valid_state(std::uint8_t s) noexcept {
    return s == static_cast<std::uint8_t>(BootState::confirmed) ||
           s == static_cast<std::uint8_t>(BootState::pending) ||
           s == static_cast<std::uint8_t>(BootState::trial);
}

Error check_version(std::string_view version) {
    if (version.empty() || version.size() > kMaxImageVersionLength) {
        return {Status::invalid_argument, "image version must have 1 to " +
                                              std::to_string(kMaxImageVersionLength) +
                                              " characters"};
    }
    return {};
}

// Decodes a body whose CRC and marker were already checked; nullopt when a field is out of range
// or a record invariant is broken (such a copy is treated as invalid).
std::optional<BootRecord> decode_body(const std::uint8_t* b, std::uint64_t slot_size) {
    if (get_u32(b) != kRecordMagic || get_u16(b + 4) != kRecordFormat ||
        get_u16(b + 6) != kBootRecordBodySize) {
        return std::nullopt;
    }
    BootRecord r;
    r.sequence = get_u64(b + 8);
    if (b[16] > 1 || !valid_state(b[17]) || b[19] != 0) return std::nullopt;
    r.active = b[16];
    r.state = static_cast<BootState>(b[17]);
    r.boot_attempts = b[18];
    for (std::size_t i = 0; i < 2; ++i) {
        const std::uint8_t* e = b + kSlotEntriesAt + i * kSlotEntrySize;
        if (e[0] > 1 || e[1] > kMaxImageVersionLength) return std::nullopt;
        SlotImage& s = r.slots[i];
        s.valid = e[0] == 1;
        s.size = get_u64(e + 8);
        std::memcpy(s.sha256.data(), e + 16, 32);
        s.version.assign(reinterpret_cast<const char*>(e + 48), e[1]);
        if (s.valid && (s.size > slot_size || s.version.empty())) return std::nullopt;
    }
    if (!r.slots[static_cast<std::size_t>(r.active)].valid) return std::nullopt;
    if (r.state != BootState::confirmed &&
        !r.slots[static_cast<std::size_t>(r.candidate())].valid) {
        return std::nullopt;
    }
    return r;
}

bool same_record(const BootRecord& a, const BootRecord& b) noexcept {
    if (a.sequence != b.sequence || a.active != b.active || a.state != b.state ||
        a.boot_attempts != b.boot_attempts) {
        return false;
    }
    for (std::size_t i = 0; i < 2; ++i) {
        const SlotImage& x = a.slots[i];
        const SlotImage& y = b.slots[i];
        if (x.valid != y.valid) return false;
        if (x.valid && (x.size != y.size || x.sha256 != y.sha256 || x.version != y.version)) {
            return false;
        }
    }
    return true;
}

std::string slot_name(int slot) {
    return "slot " + std::to_string(slot);
}

}  // namespace

const char* to_string(BootState state) noexcept {
    switch (state) {
        case BootState::confirmed:
            return "confirmed";
        case BootState::pending:
            return "pending";
        case BootState::trial:
            return "trial";
    }
    return "unknown";
}

std::uint32_t crc32(const std::uint8_t* data, std::size_t len) noexcept {
    std::uint32_t crc = 0xFFFFFFFFU;
    for (std::size_t i = 0; i < len; ++i) {
        crc ^= data[i];
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320U & (0U - (crc & 1U)));
    }
    return ~crc;
}

Error encode_boot_record(const BootRecord& r, std::vector<std::uint8_t>& out) {
    if (!valid_slot_index(r.active))
        return {Status::invalid_argument, "active slot must be 0 or 1"};
    if (!valid_state(static_cast<std::uint8_t>(r.state))) {
        return {Status::invalid_argument, "unknown boot state"};
    }
    out.assign(kBootRecordBodySize, 0);
    std::uint8_t* b = out.data();
    put_u32(b, kRecordMagic);
    put_u16(b + 4, kRecordFormat);
    put_u16(b + 6, static_cast<std::uint16_t>(kBootRecordBodySize));
    put_u64(b + 8, r.sequence);
    b[16] = static_cast<std::uint8_t>(r.active);
    b[17] = static_cast<std::uint8_t>(r.state);
    b[18] = r.boot_attempts;
    for (std::size_t i = 0; i < 2; ++i) {
        const SlotImage& s = r.slots[i];
        if (!s.valid) continue;  // an invalid slot is all zeros: one canonical form
        if (Error e = check_version(s.version); !e.ok()) return e;
        std::uint8_t* e = b + kSlotEntriesAt + i * kSlotEntrySize;
        e[0] = 1;
        e[1] = static_cast<std::uint8_t>(s.version.size());
        put_u64(e + 8, s.size);
        std::memcpy(e + 16, s.sha256.data(), 32);
        std::memcpy(e + 48, s.version.data(), s.version.size());
    }
    return {};
}

Error validate_layout(const AbLayout& l, const FlashGeometry& g) {
    if (Error e = validate_geometry(g); !e.ok()) return e;
    struct Region {
        const char* name;
        std::uint64_t offset;
        std::uint64_t size;
    };
    const Region regions[] = {{"boot record copy 0", l.meta_offset[0], l.meta_size},
                              {"boot record copy 1", l.meta_offset[1], l.meta_size},
                              {"slot 0", l.slot_offset[0], l.slot_size},
                              {"slot 1", l.slot_offset[1], l.slot_size}};
    for (const Region& r : regions) {
        if (r.size == 0 || r.offset % g.sector_size != 0 || r.size % g.sector_size != 0) {
            return {Status::invalid_argument,
                    std::string("A/B layout: ") + r.name +
                        " must be a non-empty, sector-aligned whole number of sectors"};
        }
        if (r.offset > g.size || r.size > g.size - r.offset) {
            return {Status::invalid_argument,
                    std::string("A/B layout: ") + r.name + " lies outside the flash"};
        }
    }
    for (std::size_t i = 0; i < 4; ++i) {
        for (std::size_t j = i + 1; j < 4; ++j) {
            const Region& a = regions[i];
            const Region& b = regions[j];
            if (a.offset < b.offset + b.size && b.offset < a.offset + a.size) {
                return {Status::invalid_argument,
                        std::string("A/B layout: ") + a.name + " overlaps " + b.name};
            }
        }
    }
    const std::uint64_t need =
        align_up(kBootRecordBodySize, g.write_align) + align_up(kTrailerSize, g.write_align);
    if (l.meta_size < need) {
        return {Status::invalid_argument,
                "A/B layout: a boot record needs " + std::to_string(need) + " bytes per copy"};
    }
    return {};
}

Error make_default_layout(const FlashGeometry& g, AbLayout& out) {
    if (Error e = validate_geometry(g); !e.ok()) return e;
    const std::uint64_t sectors = g.size / g.sector_size;
    if (sectors < 4) {
        return {Status::invalid_argument, "A/B layout: the flash needs at least four sectors"};
    }
    AbLayout l;
    l.meta_offset = {0, g.sector_size};
    l.meta_size = g.sector_size;
    const std::uint64_t slot_sectors = (sectors - 2) / 2;
    l.slot_size = slot_sectors * g.sector_size;
    l.slot_offset = {2ULL * g.sector_size, (2 + slot_sectors) * g.sector_size};
    if (Error e = validate_layout(l, g); !e.ok()) return e;
    out = l;
    return {};
}

// ---------------------------------------------------------------------------------------------
// AbBootControl

AbBootControl::AbBootControl(FlashDevice& flash, AbLayout layout, AbOptions options)
    : flash_(flash), layout_(layout), options_(options) {}

Error AbBootControl::check_layout() const {
    if (options_.max_trial_boots == 0) {
        return {Status::invalid_argument, "max_trial_boots must be at least 1"};
    }
    return validate_layout(layout_, flash_.geometry());
}

Error AbBootControl::read_copy(int copy, std::optional<BootRecord>& out) {
    out.reset();
    const std::uint64_t base = layout_.meta_offset[static_cast<std::size_t>(copy)];
    std::uint8_t body[kBootRecordBodySize];
    std::uint8_t trailer[kTrailerSize];
    const std::uint64_t trailer_at = base + align_up(kBootRecordBodySize, flash_.write_align());
    if (flash_.read(base, body, sizeof body) != Status::ok ||
        flash_.read(trailer_at, trailer, sizeof trailer) != Status::ok) {
        return {Status::storage_failed, "cannot read boot record copy " + std::to_string(copy)};
    }
    if (get_u32(trailer + 4) != kCommitMarker || get_u32(trailer) != crc32(body, sizeof body)) {
        return {};
    }
    out = decode_body(body, layout_.slot_size);
    return {};
}

Error AbBootControl::read_records(std::array<std::optional<BootRecord>, 2>& copies, int& newest) {
    newest = -1;
    for (int c = 0; c < 2; ++c) {
        if (Error e = read_copy(c, copies[static_cast<std::size_t>(c)]); !e.ok()) return e;
    }
    for (int c = 0; c < 2; ++c) {
        const auto& copy = copies[static_cast<std::size_t>(c)];
        if (copy &&
            (newest < 0 || copy->sequence > copies[static_cast<std::size_t>(newest)]->sequence)) {
            newest = c;
        }
    }
    return {};
}

Error AbBootControl::refresh() {
    current_.reset();
    current_copy_ = -1;
    if (Error e = check_layout(); !e.ok()) return e;
    int newest = -1;
    if (Error e = read_records(copies_, newest); !e.ok()) return e;
    if (newest < 0) {
        return {Status::invalid_state,
                "no valid boot record: the flash is not provisioned or both copies are damaged"};
    }
    current_ = copies_[static_cast<std::size_t>(newest)];
    current_copy_ = newest;
    return {};
}

Error AbBootControl::load() {
    running_.reset();
    if (Error e = refresh(); !e.ok()) return e;
    running_ = current_->state == BootState::trial ? current_->candidate() : current_->active;
    return {};
}

Error AbBootControl::write_record(BootRecord next) {
    // Decisions were taken on the records as loaded: if another instance (or a tool) changed
    // them since, writing now could overwrite the newest record with a stale successor.
    std::array<std::optional<BootRecord>, 2> on_flash;
    int newest = -1;
    if (Error e = read_records(on_flash, newest); !e.ok()) return e;
    const bool unchanged =
        current_ ? newest == current_copy_ &&
                       same_record(*on_flash[static_cast<std::size_t>(newest)], *current_)
                 : newest < 0;
    if (!unchanged) {
        return {Status::invalid_state,
                "the boot records changed since they were loaded: load() or boot() again"};
    }
    next.sequence = current_ ? current_->sequence + 1 : 1;
    const int copy = current_copy_ == 0 ? 1 : 0;
    std::vector<std::uint8_t> body;
    if (Error e = encode_boot_record(next, body); !e.ok()) return e;
    const std::uint32_t align = flash_.write_align();
    const std::uint64_t body_len = align_up(kBootRecordBodySize, align);
    const std::uint32_t crc = crc32(body.data(), body.size());
    body.resize(static_cast<std::size_t>(body_len), 0xFF);
    std::vector<std::uint8_t> trailer(static_cast<std::size_t>(align_up(kTrailerSize, align)),
                                      0xFF);
    put_u32(trailer.data(), crc);
    put_u32(trailer.data() + 4, kCommitMarker);

    const std::uint64_t base = layout_.meta_offset[static_cast<std::size_t>(copy)];
    // From the erase on, this copy is invalid; the other one (the current record) stays in force
    // until the trailer below is complete.
    copies_[static_cast<std::size_t>(copy)].reset();
    const std::string where = "boot record copy " + std::to_string(copy);
    if (flash_.erase(base, layout_.meta_size) != Status::ok) {
        return {Status::storage_failed, "cannot erase " + where};
    }
    if (flash_.program(base, body.data(), body.size()) != Status::ok) {
        return {Status::storage_failed, "cannot program " + where};
    }
    if (flash_.program(base + body_len, trailer.data(), trailer.size()) != Status::ok) {
        return {Status::storage_failed, "cannot program the trailer of " + where};
    }
    std::optional<BootRecord> back;
    if (Error e = read_copy(copy, back); !e.ok()) return e;
    if (!back || !same_record(*back, next)) {
        return {Status::storage_failed, where + " does not read back as written"};
    }
    copies_[static_cast<std::size_t>(copy)] = next;
    current_ = std::move(next);
    current_copy_ = copy;
    return {};
}

Error AbBootControl::hash_slot(int slot, std::uint64_t size, std::array<std::uint8_t, 32>& sha256,
                               const ExpectedDigest* expected) {
    if (size > layout_.slot_size) {
        return {Status::digest_mismatch, slot_name(slot) + ": image larger than the slot"};
    }
    Hasher sha;
    Hasher other;  // the expected digest's algorithm when it is not SHA-256
    const bool use_other = expected != nullptr && expected->algorithm != DigestAlgorithm::sha256;
    if (sha.start(DigestAlgorithm::sha256) != Status::ok ||
        (use_other && other.start(expected->algorithm) != Status::ok)) {
        return {Status::crypto_failed, "cannot start the image digest"};
    }
    if (scratch_.size() < kHashChunk) scratch_.resize(kHashChunk);
    const std::uint64_t base = layout_.slot_offset[static_cast<std::size_t>(slot)];
    for (std::uint64_t done = 0; done < size;) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kHashChunk, size - done));
        if (flash_.read(base + done, scratch_.data(), n) != Status::ok) {
            return {Status::storage_failed, "cannot read " + slot_name(slot)};
        }
        if (sha.update(scratch_.data(), n) != Status::ok ||
            (use_other && other.update(scratch_.data(), n) != Status::ok)) {
            return {Status::crypto_failed, "image digest update failed"};
        }
        done += n;
    }
    if (sha.finish(sha256.data(), sha256.size()) != Status::ok) {
        return {Status::crypto_failed, "cannot finish the image digest"};
    }
    if (expected != nullptr) {
        std::string actual;
        if (use_other) {
            if (other.finish_hex(actual) != Status::ok) {
                return {Status::crypto_failed, "cannot finish the image digest"};
            }
        } else {
            actual = to_hex(sha256.data(), sha256.size());
        }
        if (!hex_equal(actual, expected->hex)) {
            return {Status::digest_mismatch, slot_name(slot) + " reads back as " +
                                                 to_string(expected->algorithm) + " " + actual +
                                                 ", expected " + expected->hex};
        }
    }
    return {};
}

Error AbBootControl::verify_slot(int slot) {
    if (!valid_slot_index(slot)) return {Status::invalid_argument, "slot must be 0 or 1"};
    if (!current_) return {Status::invalid_state, "no boot record loaded: call load() or boot()"};
    const SlotImage& img = current_->slots[static_cast<std::size_t>(slot)];
    if (!img.valid) return {Status::digest_mismatch, slot_name(slot) + " holds no valid image"};
    std::array<std::uint8_t, 32> sha{};
    if (Error e = hash_slot(slot, img.size, sha, nullptr); !e.ok()) return e;
    if (sha != img.sha256) {
        return {Status::digest_mismatch, slot_name(slot) + " (version " + img.version +
                                             ") does not match its recorded SHA-256"};
    }
    return {};
}

Error AbBootControl::provision(const std::uint8_t* image, std::size_t size,
                               std::string_view version) {
    if (Error e = check_version(version); !e.ok()) return e;
    if (image == nullptr && size > 0) return {Status::invalid_argument, "image is null"};
    if (Error e = load(); e.ok()) {
        return {Status::invalid_state, "the flash already holds a valid boot record"};
    } else if (e.status != Status::invalid_state) {
        return e;
    }
    if (size > layout_.slot_size) {
        return {Status::storage_full, "a " + std::to_string(size) + "-byte image does not fit a " +
                                          std::to_string(layout_.slot_size) + "-byte slot"};
    }
    // Both copies go first: a leftover record with a high sequence number must not win later.
    for (std::size_t c = 0; c < 2; ++c) {
        copies_[c].reset();
        if (flash_.erase(layout_.meta_offset[c], layout_.meta_size) != Status::ok) {
            return {Status::storage_failed, "cannot erase boot record copy " + std::to_string(c)};
        }
    }
    const std::uint32_t align = flash_.write_align();
    const std::uint64_t whole = size / align * align;
    const std::uint64_t base = layout_.slot_offset[0];
    if (flash_.erase(base, align_up(std::max<std::uint64_t>(size, 1), flash_.sector_size())) !=
            Status::ok ||
        flash_.program(base, image, static_cast<std::size_t>(whole)) != Status::ok) {
        return {Status::storage_failed, "cannot write the factory image to slot 0"};
    }
    if (whole < size) {
        std::vector<std::uint8_t> tail(align, 0xFF);
        std::memcpy(tail.data(), image + whole, static_cast<std::size_t>(size - whole));
        if (flash_.program(base + whole, tail.data(), tail.size()) != Status::ok) {
            return {Status::storage_failed, "cannot write the factory image to slot 0"};
        }
    }
    BootRecord r;
    r.active = 0;
    r.state = BootState::confirmed;
    r.slots[0].valid = true;
    r.slots[0].size = size;
    r.slots[0].version = std::string(version);
    if (Error e = hash_slot(0, size, r.slots[0].sha256, nullptr); !e.ok()) return e;
    std::array<std::uint8_t, 32> expected{};
    Hasher h;
    if (h.start(DigestAlgorithm::sha256) != Status::ok || h.update(image, size) != Status::ok ||
        h.finish(expected.data(), expected.size()) != Status::ok) {
        return {Status::crypto_failed, "cannot hash the factory image"};
    }
    if (expected != r.slots[0].sha256) {
        return {Status::storage_failed, "the factory image does not read back as written"};
    }
    current_.reset();
    current_copy_ = -1;
    if (Error e = write_record(r); !e.ok()) return e;
    running_ = 0;
    return {};
}

Error AbBootControl::boot_active(BootResult& out) {
    const int active = current_->active;
    if (verify_slot(active).ok()) {
        running_ = active;
        out.slot = active;
        out.state = BootState::confirmed;
        out.image = current_->slots[static_cast<std::size_t>(active)];
        out.image_offset = layout_.slot_offset[static_cast<std::size_t>(active)];
        return {};
    }
    const int other = 1 - active;
    log(LogLevel::error, "A/B boot: " + slot_name(active) + " does not verify");
    if (!verify_slot(other).ok()) {
        return {Status::digest_mismatch, "no slot holds an image that verifies"};
    }
    BootRecord next = *current_;
    next.active = other;
    next.state = BootState::confirmed;
    next.boot_attempts = 0;
    next.slots[static_cast<std::size_t>(active)] = SlotImage{};
    const SlotImage image = current_->slots[static_cast<std::size_t>(other)];
    if (Error e = write_record(next); !e.ok()) {
        log(LogLevel::warning, "A/B boot: cannot record the fallback: " + e.message());
        out.metadata_write_failed = true;
    }
    running_ = other;
    out.slot = other;
    out.state = BootState::confirmed;
    out.fell_back = true;
    out.image = image;
    out.image_offset = layout_.slot_offset[static_cast<std::size_t>(other)];
    return {};
}

Error AbBootControl::boot(BootResult& out) {
    out = BootResult{};
    if (Error e = load(); !e.ok()) return e;
    const BootRecord r = *current_;
    const int cand = r.candidate();
    const auto cand_index = static_cast<std::size_t>(cand);

    if (r.state == BootState::pending || r.state == BootState::trial) {
        const bool try_again =
            r.state == BootState::pending || r.boot_attempts < options_.max_trial_boots;
        if (try_again) {
            if (verify_slot(cand).ok()) {
                BootRecord next = r;
                next.state = BootState::trial;
                next.boot_attempts = static_cast<std::uint8_t>(
                    r.state == BootState::pending ? 1 : r.boot_attempts + 1);
                if (Error e = write_record(next); e.ok()) {
                    running_ = cand;
                    out.slot = cand;
                    out.state = BootState::trial;
                    out.image = r.slots[cand_index];
                    out.image_offset = layout_.slot_offset[cand_index];
                    return {};
                } else {
                    // Without a trial record a crash of the new image could never roll back.
                    log(LogLevel::warning,
                        "A/B boot: cannot record the trial boot, booting the confirmed image: " +
                            e.message());
                    out.metadata_write_failed = true;
                    return boot_active(out);
                }
            }
            log(LogLevel::error,
                "A/B boot: the new image in " + slot_name(cand) + " does not verify; dropping it");
            out.fell_back = true;
        } else {
            log(LogLevel::warning, "A/B boot: " + slot_name(cand) + " (version " +
                                       r.slots[cand_index].version +
                                       ") was not confirmed; rolling back");
            out.rolled_back = true;
        }
        BootRecord next = r;
        next.state = BootState::confirmed;
        next.boot_attempts = 0;
        next.slots[cand_index] = SlotImage{};
        if (Error e = write_record(next); !e.ok()) {
            log(LogLevel::warning, "A/B boot: cannot record the roll-back: " + e.message());
            out.metadata_write_failed = true;
        }
    }
    return boot_active(out);
}

Error AbBootControl::confirm() {
    if (!current_ || !running_) {
        return {Status::invalid_state, "no boot record loaded: call load() or boot()"};
    }
    // The records as they are now: the bootloader may have run since this instance loaded them.
    if (Error e = refresh(); !e.ok()) return e;
    const BootRecord& r = *current_;
    if (r.state == BootState::trial && *running_ == r.candidate()) {
        BootRecord next = r;
        next.active = *running_;
        next.state = BootState::confirmed;
        next.boot_attempts = 0;
        return write_record(next);
    }
    if (r.state != BootState::trial && *running_ == r.active) return {};
    return {Status::invalid_state, "the running " + slot_name(*running_) +
                                       " is not a trial image (state " + to_string(r.state) + ")"};
}

Error AbBootControl::release_for_download(int slot) {
    const BootRecord& r = *current_;
    if (!r.slots[static_cast<std::size_t>(slot)].valid && r.state == BootState::confirmed) {
        return {};
    }
    BootRecord next = r;
    next.state = BootState::confirmed;
    next.boot_attempts = 0;
    next.slots[static_cast<std::size_t>(slot)] = SlotImage{};
    return write_record(next);
}

Error AbBootControl::mark_pending(int slot, std::uint64_t size, const std::string& version,
                                  const ExpectedDigest* expected) {
    SlotImage img;
    img.valid = true;
    img.size = size;
    img.version = version;
    if (Error e = hash_slot(slot, size, img.sha256, expected); !e.ok()) return e;
    BootRecord next = *current_;
    next.state = BootState::pending;
    next.boot_attempts = 0;
    next.slots[static_cast<std::size_t>(slot)] = std::move(img);
    return write_record(next);
}

// ---------------------------------------------------------------------------------------------
// SlotSink

SlotSink::SlotSink(AbBootControl& control) : control_(control) {}

SlotSink::~SlotSink() {
    abort();
}

Status SlotSink::fail(Status s, std::string detail) {
    last_error_ = std::move(detail);
    log(LogLevel::warning, "slot sink: " + last_error_);
    return s;
}

Error SlotSink::set_image(std::string_view version, std::optional<ExpectedDigest> expected) {
    if (Error e = check_version(version); !e.ok()) return e;
    if (expected && !is_hex_digest(expected->hex, expected->algorithm)) {
        return {Status::invalid_argument, "expected digest is not a hex " +
                                              std::string(to_string(expected->algorithm)) +
                                              " digest"};
    }
    version_ = std::string(version);
    expected_ = std::move(expected);
    return {};
}

std::uint64_t SlotSink::capacity() const noexcept {
    return control_.layout().slot_size;
}

std::optional<int> SlotSink::target_slot() const noexcept {
    return open_ ? std::optional<int>(slot_) : std::nullopt;
}

Status SlotSink::begin(std::uint64_t expected_size) {
    abort();
    last_error_.clear();
    const BootRecord* r = control_.record();
    const std::optional<int> running = control_.running_slot();
    if (r == nullptr || !running) {
        return fail(Status::invalid_state, "no boot record loaded: call boot() or load() first");
    }
    if (r->state == BootState::trial || *running != r->active) {
        return fail(Status::invalid_state,
                    "a trial image is running: confirm it (or let it roll back) before the next "
                    "download");
    }
    if (expected_size > capacity()) {
        return fail(Status::storage_full, "a " + std::to_string(expected_size) +
                                              "-byte image does not fit a " +
                                              std::to_string(capacity()) + "-byte slot");
    }
    const int slot = r->candidate();
    if (Error e = control_.release_for_download(slot); !e.ok()) {
        return fail(Status::storage_failed, "cannot free " + slot_name(slot) + ": " + e.message());
    }
    tail_.assign(control_.flash().write_align(), 0xFF);
    tail_len_ = 0;
    slot_ = slot;
    expected_size_ = expected_size;
    programmed_ = 0;
    erased_end_ = 0;
    open_ = true;
    return Status::ok;
}

Status SlotSink::erase_through(std::uint64_t end) {
    const std::uint32_t sector = control_.flash().sector_size();
    const std::uint64_t base = control_.layout().slot_offset[static_cast<std::size_t>(slot_)];
    while (erased_end_ < end) {
        if (control_.flash().erase(base + erased_end_, sector) != Status::ok) {
            return fail(Status::storage_failed, "cannot erase " + slot_name(slot_) + " at offset " +
                                                    std::to_string(erased_end_));
        }
        erased_end_ += sector;
    }
    return Status::ok;
}

Status SlotSink::program_at(std::uint64_t image_offset, const std::uint8_t* data, std::size_t len) {
    if (const Status s = erase_through(image_offset + len); s != Status::ok) return s;
    const std::uint64_t base = control_.layout().slot_offset[static_cast<std::size_t>(slot_)];
    if (control_.flash().program(base + image_offset, data, len) != Status::ok) {
        return fail(Status::storage_failed, "cannot program " + slot_name(slot_) + " at offset " +
                                                std::to_string(image_offset));
    }
    return Status::ok;
}

Status SlotSink::write(std::uint64_t offset, const std::uint8_t* data, std::size_t len) {
    if (!open_) return Status::invalid_state;
    const std::uint64_t position = programmed_ + tail_len_;
    if (offset > expected_size_ || len > expected_size_ - offset || (data == nullptr && len > 0)) {
        return Status::invalid_argument;
    }
    if (offset != position) {
        return fail(Status::invalid_argument, "writes must be sequential: got offset " +
                                                  std::to_string(offset) + ", expected " +
                                                  std::to_string(position));
    }
    const std::size_t align = tail_.size();
    if (tail_len_ > 0) {
        const std::size_t take = std::min(len, align - tail_len_);
        std::memcpy(tail_.data() + tail_len_, data, take);
        tail_len_ += take;
        data += take;
        len -= take;
        if (tail_len_ < align) return Status::ok;
        if (const Status s = program_at(programmed_, tail_.data(), align); s != Status::ok) {
            return s;
        }
        programmed_ += align;
        tail_len_ = 0;
    }
    const std::size_t whole = len / align * align;
    if (whole > 0) {
        if (const Status s = program_at(programmed_, data, whole); s != Status::ok) return s;
        programmed_ += whole;
    }
    if (whole < len) {
        std::memcpy(tail_.data(), data + whole, len - whole);
        tail_len_ = len - whole;
    }
    return Status::ok;
}

Status SlotSink::read(std::uint64_t offset, std::uint8_t* out, std::size_t len) {
    if (!open_) return Status::invalid_state;
    const std::uint64_t position = programmed_ + tail_len_;
    if (offset > position || len > position - offset || (out == nullptr && len > 0)) {
        return Status::invalid_argument;
    }
    const std::uint64_t base = control_.layout().slot_offset[static_cast<std::size_t>(slot_)];
    const std::size_t from_flash =
        offset < programmed_
            ? static_cast<std::size_t>(std::min<std::uint64_t>(len, programmed_ - offset))
            : 0;
    if (from_flash > 0 && control_.flash().read(base + offset, out, from_flash) != Status::ok) {
        return fail(Status::storage_failed, "cannot read " + slot_name(slot_));
    }
    if (from_flash < len) {
        const auto in_tail = static_cast<std::size_t>(offset + from_flash - programmed_);
        std::memcpy(out + from_flash, tail_.data() + in_tail, len - from_flash);
    }
    return Status::ok;
}

Status SlotSink::flush() {
    return open_ ? Status::ok : Status::invalid_state;
}

Status SlotSink::commit() {
    if (!open_) return Status::invalid_state;
    if (programmed_ + tail_len_ != expected_size_) {
        return fail(Status::invalid_state,
                    "the image is incomplete: " + std::to_string(programmed_ + tail_len_) + " of " +
                        std::to_string(expected_size_) + " bytes written");
    }
    if (version_.empty()) {
        return fail(Status::invalid_state, "no image version: call set_image() before commit()");
    }
    const BootRecord* r = control_.record();
    if (r == nullptr || r->state != BootState::confirmed || r->candidate() != slot_) {
        return fail(Status::invalid_state, "the boot record changed during the download");
    }
    if (tail_len_ > 0) {
        std::fill(tail_.begin() + static_cast<std::ptrdiff_t>(tail_len_), tail_.end(), 0xFF);
        if (const Status s = program_at(programmed_, tail_.data(), tail_.size()); s != Status::ok) {
            return s;
        }
        programmed_ += tail_.size();
        tail_len_ = 0;
    }
    const ExpectedDigest* expected = expected_ ? &*expected_ : nullptr;
    if (Error e = control_.mark_pending(slot_, expected_size_, version_, expected); !e.ok()) {
        // The image stays unmarked; the caller aborts or retries with a new download.
        return fail(e.status == Status::digest_mismatch ? Status::storage_failed : e.status,
                    "cannot mark " + slot_name(slot_) + " pending: " + e.message());
    }
    open_ = false;
    return Status::ok;
}

void SlotSink::abort() noexcept {
    open_ = false;
    tail_len_ = 0;
    programmed_ = 0;
    erased_end_ = 0;
}

}  // namespace ota
