// A/B firmware slots on NOR flash: a power-safe boot record (two copies), the bootloader's
// decision (AbBootControl::boot), confirmation after a self-test, and SlotSink, the FirmwareSink
// that downloads into the inactive slot.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ota/digest.hpp"
#include "ota/firmware_sink.hpp"
#include "ota/flash_device.hpp"
#include "ota/protocol.hpp"
#include "ota/status.hpp"

namespace ota {

/// Longest image version a boot record holds (the platform's limit for versions).
inline constexpr std::size_t kMaxImageVersionLength = 64;

/// Where the two boot record copies and the two image slots live on the flash. Every region is
/// sector-aligned, a whole number of sectors long, inside the device, and no two overlap.
struct AbLayout {
    std::array<std::uint64_t, 2> meta_offset{};  ///< boot record copy 0 and copy 1
    std::uint64_t meta_size = 0;                 ///< bytes of each copy's region
    std::array<std::uint64_t, 2> slot_offset{};  ///< image slot 0 and slot 1
    std::uint64_t slot_size = 0;                 ///< bytes of each slot (the largest image)
};

/// The default layout: copy 0 in sector 0, copy 1 in sector 1, and the remaining sectors split
/// into two equal slots (an odd sector left over stays unused). invalid_argument when the
/// geometry is invalid or has fewer than four sectors.
[[nodiscard]] Error make_default_layout(const FlashGeometry& geometry, AbLayout& out);

/// Checks `layout` against `geometry` (see AbLayout), and that a boot record fits a copy's region.
[[nodiscard]] Error validate_layout(const AbLayout& layout, const FlashGeometry& geometry);

/// The update state a boot record holds.
///   confirmed: `active` is the image to boot; nothing is in progress.
///   pending:   the other slot holds a verified new image that the next boot tries.
///   trial:     the other slot's image has been booted but not confirmed; the next boot rolls back
///              (after AbOptions::max_trial_boots trial boots).
enum class BootState : std::uint8_t { confirmed = 1, pending = 2, trial = 3 };

/// "confirmed", "pending", "trial".
[[nodiscard]] const char* to_string(BootState state) noexcept;

/// What a boot record says about one slot.
struct SlotImage {
    bool valid = false;                     ///< holds a complete image with this size and digest
    std::uint64_t size = 0;                 ///< image bytes
    std::array<std::uint8_t, 32> sha256{};  ///< SHA-256 of those bytes, computed from the flash
    std::string version;                    ///< up to kMaxImageVersionLength characters
};

/// One boot record (one metadata copy's content). Invariants of every record written: the
/// `active` slot is valid; in pending and trial the other slot is valid too.
struct BootRecord {
    std::uint64_t sequence = 0;  ///< higher = newer; the newest valid copy wins
    int active = 0;              ///< the last confirmed slot (0 or 1)
    BootState state = BootState::confirmed;
    std::uint8_t boot_attempts = 0;  ///< trial boots of the other slot so far
    std::array<SlotImage, 2> slots;

    /// The slot a pending or trial image is in: the one that is not `active`.
    [[nodiscard]] int candidate() const noexcept { return 1 - active; }
};

/// Size in bytes of an encoded boot record's body (before the CRC trailer).
inline constexpr std::size_t kBootRecordBodySize = 244;

/// Encodes `record` as its little-endian body (kBootRecordBodySize bytes, CRC not included).
/// invalid_argument for a slot index, state or version outside the format.
[[nodiscard]] Error encode_boot_record(const BootRecord& record, std::vector<std::uint8_t>& out);

/// The CRC-32 (IEEE 802.3, as zlib's crc32) of `len` bytes.
[[nodiscard]] std::uint32_t crc32(const std::uint8_t* data, std::size_t len) noexcept;

/// Options of AbBootControl.
struct AbOptions {
    /// Boots of an unconfirmed image before the next boot rolls back; 1..255. With 1, the first
    /// reboot without confirm() rolls back.
    std::uint8_t max_trial_boots = 1;
};

/// What AbBootControl::boot() decided.
struct BootResult {
    int slot = 0;                            ///< the slot to run
    BootState state = BootState::confirmed;  ///< confirmed, or trial (confirm() or roll back)
    bool rolled_back = false;                ///< an unconfirmed image was dropped on this boot
    bool fell_back = false;  ///< the image to boot failed verification; the other one runs
    /// A record update failed (the flash refused a write): the safe choice was booted instead and
    /// the next boot repeats the decision.
    bool metadata_write_failed = false;
    SlotImage image;                 ///< the booted slot's image (version, size, digest)
    std::uint64_t image_offset = 0;  ///< where that image starts on the flash
};

/// The A/B logic over a FlashDevice: the bootloader's side (boot), the application's side
/// (load, confirm) and, through SlotSink, the downloader's.
///
/// Boot records: two copies, each in its own erase region, each a body plus a trailer (CRC-32 of
/// the body and a commit marker) programmed after the body. A record is written to the copy that
/// does not hold the newest valid one, with the next sequence number, and read back; until its
/// trailer is in place the older copy stays the newest valid one. So a power cut at any point of
/// a record update leaves either the old or the new record in force, never a mixture.
///
/// Every record update first re-reads both copies and refuses (invalid_state) when they are no
/// longer what this instance loaded, so two instances never overwrite each other's records.
///
/// Invariant: a slot marked valid in the newest record holds exactly the image its size and
/// SHA-256 describe. Before a slot is erased for a download, a record marking it invalid is
/// written first; a new image is marked (pending) only after it was read back and hashed.
///
/// Not thread-safe. The FlashDevice must outlive the object.
class AbBootControl {
  public:
    /// `layout` is checked by every operation (invalid_argument when it does not fit the flash).
    AbBootControl(FlashDevice& flash, AbLayout layout, AbOptions options = {});

    /// Reads both record copies and keeps the newest valid one; sets running_slot() as the
    /// application sees it after the bootloader ran (the trial slot in trial, else the active
    /// one). invalid_state when neither copy is valid (not provisioned); storage_failed when the
    /// flash cannot be read.
    [[nodiscard]] Error load();

    /// Factory provisioning of a blank (or wiped) device: erases both record copies, writes
    /// `image` to slot 0 and a confirmed record for it. invalid_state when a valid record
    /// exists already; storage_full when the image does not fit a slot; invalid_argument for an
    /// empty or too long version.
    [[nodiscard]] Error provision(const std::uint8_t* image, std::size_t size,
                                  std::string_view version);

    /// The bootloader's decision. Loads the records, then:
    ///  - pending: verifies the new image; if it matches, records trial and boots it, else marks
    ///    it invalid and boots the active one;
    ///  - trial: boots it again while fewer than max_trial_boots trial boots happened (re-verified,
    ///    attempt counted), else rolls back: marks it invalid and boots the active one;
    ///  - confirmed: boots the active one.
    /// The image about to be booted is always verified (SHA-256 over the flash); when it fails and
    /// the other slot holds a valid image, that one is made active and booted instead.
    /// Errors: those of load(); digest_mismatch when no slot holds an image that verifies.
    [[nodiscard]] Error boot(BootResult& out);

    /// The application's confirmation after its self-test: trial -> confirmed with the running
    /// slot active (the previous image stays as the fallback). Re-reads the records first. ok
    /// without a write when the running slot is already the confirmed one. invalid_state when
    /// nothing was loaded or booted, or the running slot is not the trial one.
    [[nodiscard]] Error confirm();

    /// Recomputes the SHA-256 of `slot`'s image on the flash and compares it with the record.
    /// digest_mismatch when it differs or the slot is not marked valid; storage_failed on read
    /// errors; invalid_state before load()/boot(); invalid_argument for a slot other than 0/1.
    [[nodiscard]] Error verify_slot(int slot);

    /// Both copies as read by the last load()/boot() (nullopt = that copy is invalid): lets tests
    /// and diagnostics check the records' consistency.
    [[nodiscard]] const std::array<std::optional<BootRecord>, 2>& copies() const noexcept {
        return copies_;
    }
    /// The newest valid record (after load()/boot() and every write), or nullptr.
    [[nodiscard]] const BootRecord* record() const noexcept {
        return current_ ? &*current_ : nullptr;
    }
    /// The slot the application runs, once known (after load() or boot()).
    [[nodiscard]] std::optional<int> running_slot() const noexcept { return running_; }
    /// The layout in use.
    [[nodiscard]] const AbLayout& layout() const noexcept { return layout_; }
    /// The flash in use.
    [[nodiscard]] FlashDevice& flash() noexcept { return flash_; }

  private:
    friend class SlotSink;

    [[nodiscard]] Error check_layout() const;
    [[nodiscard]] Error read_copy(int copy, std::optional<BootRecord>& out);
    // Reads both copies; `newest` = index of the newest valid one, -1 if none.
    [[nodiscard]] Error read_records(std::array<std::optional<BootRecord>, 2>& copies, int& newest);
    // Re-reads the records into copies_/current_ (running_ untouched).
    [[nodiscard]] Error refresh();
    // Writes `next` (with the next sequence number) into the copy that is not the newest valid
    // one, reads it back, and makes it current.
    [[nodiscard]] Error write_record(BootRecord next);
    // Hashes `size` bytes of `slot` with SHA-256 and, when `expected` is given, with its
    // algorithm too; mismatch with `expected` is digest_mismatch.
    [[nodiscard]] Error hash_slot(int slot, std::uint64_t size,
                                  std::array<std::uint8_t, 32>& sha256,
                                  const ExpectedDigest* expected);
    [[nodiscard]] Error boot_active(BootResult& out);
    // SlotSink's steps: make `slot` free for a download; mark its new image pending.
    [[nodiscard]] Error release_for_download(int slot);
    [[nodiscard]] Error mark_pending(int slot, std::uint64_t size, const std::string& version,
                                     const ExpectedDigest* expected);

    FlashDevice& flash_;
    AbLayout layout_;
    AbOptions options_;
    std::array<std::optional<BootRecord>, 2> copies_;
    std::optional<BootRecord> current_;
    int current_copy_ = -1;  // which copy holds current_
    std::optional<int> running_;
    std::vector<std::uint8_t> scratch_;  // read buffer for hashing, allocated once
};

/// A FirmwareSink that writes the image into the inactive slot of an AbBootControl.
///
/// begin() requires a loaded/booted control whose running slot is the confirmed one (not a trial
/// image, which must be confirmed or rolled back first); it first writes a record marking the
/// target slot invalid if it was marked valid (or pending), so the slot never looks valid while
/// it is being overwritten. Sectors are erased lazily, just before the first write reaches them.
/// Writes must be sequential (each at the end of the previous one; a restart from 0 is a new
/// begin()), which is how OtaClient writes; bytes past the last whole write unit are held back
/// until the next write or commit(). commit() programs that tail, reads the whole image back from
/// the flash, hashes it (and checks the digest given to set_image(), if any) and records the slot
/// as pending: the next AbBootControl::boot() tries it. abort() leaves the records untouched.
class SlotSink final : public FirmwareSink {
  public:
    /// `control` must outlive the sink.
    explicit SlotSink(AbBootControl& control);
    ~SlotSink() override;
    SlotSink(const SlotSink&) = delete;
    SlotSink& operator=(const SlotSink&) = delete;

    /// The version of the image the next commit() records (required, 1..64 characters) and,
    /// optionally, its announced digest, compared with the image read back from the flash at
    /// commit(). Call it before the download (e.g. from OtaClient's job handler).
    /// invalid_argument for a bad version or a digest that is not hex of the right length.
    [[nodiscard]] Error set_image(std::string_view version,
                                  std::optional<ExpectedDigest> expected = std::nullopt);

    [[nodiscard]] Status begin(std::uint64_t expected_size) override;
    [[nodiscard]] Status write(std::uint64_t offset, const std::uint8_t* data,
                               std::size_t len) override;
    [[nodiscard]] Status read(std::uint64_t offset, std::uint8_t* out, std::size_t len) override;
    /// Every whole write unit is programmed as it arrives, so this only checks the state; the
    /// tail shorter than a write unit becomes durable at commit().
    [[nodiscard]] Status flush() override;
    [[nodiscard]] Status commit() override;
    void abort() noexcept override;
    /// The slot size.
    [[nodiscard]] std::uint64_t capacity() const noexcept override;

    /// The slot being written, while a download is open.
    [[nodiscard]] std::optional<int> target_slot() const noexcept;
    /// Explanation of the last failure (the FirmwareSink interface carries only a Status).
    [[nodiscard]] const std::string& last_error() const noexcept { return last_error_; }

  private:
    [[nodiscard]] Status fail(Status s, std::string detail);
    [[nodiscard]] Status erase_through(std::uint64_t end);
    [[nodiscard]] Status program_at(std::uint64_t image_offset, const std::uint8_t* data,
                                    std::size_t len);

    AbBootControl& control_;
    std::string version_;
    std::optional<ExpectedDigest> expected_;
    bool open_ = false;
    int slot_ = -1;
    std::uint64_t expected_size_ = 0;
    std::uint64_t programmed_ = 0;    // image bytes programmed (a multiple of the write unit)
    std::uint64_t erased_end_ = 0;    // image bytes whose sectors were erased in this job
    std::vector<std::uint8_t> tail_;  // one write unit, allocated at begin()
    std::size_t tail_len_ = 0;
    std::string last_error_;
};

}  // namespace ota
