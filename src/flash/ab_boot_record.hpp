// Private pieces of the A/B boot record shared by the codec (ab_boot_record.cpp), the boot
// control (ab_boot_control.cpp) and the slot sink (slot_sink.cpp). The record's layout is
// described at the top of ab_boot_record.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ota/ab_slots.hpp"
#include "ota/status.hpp"

namespace ota::detail {

inline constexpr std::uint32_t kRecordMagic = 0x4241544FU;   // "OTAB"
inline constexpr std::uint32_t kCommitMarker = 0x4D4D4F43U;  // "COMM"
inline constexpr std::uint16_t kRecordFormat = 1;
inline constexpr std::size_t kTrailerSize = 8;
inline constexpr std::size_t kSlotEntrySize = 112;
inline constexpr std::size_t kSlotEntriesAt = 20;
static_assert(kSlotEntriesAt + 2 * kSlotEntrySize == kBootRecordBodySize,
              "the body size constant must match the layout");

/// `v` rounded up to a multiple of `unit`.
[[nodiscard]] std::uint64_t align_up(std::uint64_t v, std::uint64_t unit) noexcept;

/// Slot 0 or 1.
[[nodiscard]] bool valid_slot_index(int slot) noexcept;

/// invalid_argument unless `version` has 1..kMaxImageVersionLength characters.
[[nodiscard]] Error check_version(std::string_view version);

/// Decodes a body whose CRC and marker were already checked; nullopt when a field is out of range
/// or a record invariant is broken (such a copy is treated as invalid).
[[nodiscard]] std::optional<BootRecord> decode_body(const std::uint8_t* b, std::uint64_t slot_size);

/// The same record as far as the flash can tell (invalid slots compare equal whatever they hold).
[[nodiscard]] bool same_record(const BootRecord& a, const BootRecord& b) noexcept;

/// "slot N", for messages.
[[nodiscard]] std::string slot_name(int slot);

}  // namespace ota::detail
