// A/B slots: the boot record format, AbBootControl (boot / confirm / provision) and SlotSink.
//
// Boot record copy layout inside its region (all little-endian):
//   body    kBootRecordBodySize bytes, programmed first (padded with 0xFF to the write unit)
//   trailer at align_up(body, write unit): CRC-32 of the body, then the commit marker; programmed
//           second, so a copy whose trailer is missing or wrong is simply not valid.
// Body: magic u32, format u16, body size u16, sequence u64, active u8, state u8, attempts u8,
// reserved u8, then per slot: valid u8, version length u8, reserved u16 + u32, size u64,
// SHA-256 [32], version [64] (zero-padded).
//
// This file holds the codec (encode/decode, CRC) and the layout rules; AbBootControl lives in
// ab_boot_control.cpp and SlotSink in slot_sink.cpp.
#include "flash/ab_boot_record.hpp"

#include <cstring>
#include <utility>

#include "common/endian.hpp"
#include "ota/ab_slots.hpp"

namespace ota {
namespace detail {
namespace {

bool valid_state(std::uint8_t s) noexcept {
    return s == static_cast<std::uint8_t>(BootState::confirmed) ||
           s == static_cast<std::uint8_t>(BootState::pending) ||
           s == static_cast<std::uint8_t>(BootState::trial);
}

}  // namespace

std::uint64_t align_up(std::uint64_t v, std::uint64_t unit) noexcept {
    return (v + unit - 1) / unit * unit;
}

bool valid_slot_index(int slot) noexcept {
    return slot == 0 || slot == 1;
}

Error check_version(std::string_view version) {
    if (version.empty() || version.size() > kMaxImageVersionLength) {
        return {Status::invalid_argument, "image version must have 1 to " +
                                              std::to_string(kMaxImageVersionLength) +
                                              " characters"};
    }
    return {};
}

std::optional<BootRecord> decode_body(const std::uint8_t* b, std::uint64_t slot_size) {
    if (load_le32(b) != kRecordMagic || load_le16(b + 4) != kRecordFormat ||
        load_le16(b + 6) != kBootRecordBodySize) {
        return std::nullopt;
    }
    BootRecord r;
    r.sequence = load_le64(b + 8);
    if (b[16] > 1 || !valid_state(b[17]) || b[19] != 0) return std::nullopt;
    r.active = b[16];
    r.state = static_cast<BootState>(b[17]);
    r.boot_attempts = b[18];
    for (std::size_t i = 0; i < 2; ++i) {
        const std::uint8_t* e = b + kSlotEntriesAt + i * kSlotEntrySize;
        if (e[0] > 1 || e[1] > kMaxImageVersionLength) return std::nullopt;
        SlotImage& s = r.slots[i];
        s.valid = e[0] == 1;
        s.size = load_le64(e + 8);
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

}  // namespace detail

using detail::align_up;
using detail::check_version;
using detail::kRecordFormat;
using detail::kRecordMagic;
using detail::kSlotEntriesAt;
using detail::kSlotEntrySize;
using detail::kTrailerSize;
using detail::store_le16;
using detail::store_le32;
using detail::store_le64;
using detail::valid_slot_index;
using detail::valid_state;

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
    store_le32(b, kRecordMagic);
    store_le16(b + 4, kRecordFormat);
    store_le16(b + 6, static_cast<std::uint16_t>(kBootRecordBodySize));
    store_le64(b + 8, r.sequence);
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
        store_le64(e + 8, s.size);
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

}  // namespace ota
