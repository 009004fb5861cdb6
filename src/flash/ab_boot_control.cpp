// AbBootControl: the bootloader's decision (boot), confirmation of a trial image, provisioning of
// a factory image, and the power-safe write of the next boot record (see ab_boot_record.cpp for
// the record's layout).
#include <algorithm>
#include <cstring>
#include <utility>

#include "common/endian.hpp"
#include "flash/ab_boot_record.hpp"
#include "ota/ab_slots.hpp"
#include "ota/log.hpp"

namespace ota {
namespace {

constexpr std::size_t kHashChunk = 4096;

}  // namespace

using detail::align_up;
using detail::check_version;
using detail::decode_body;
using detail::kCommitMarker;
using detail::kTrailerSize;
using detail::load_le32;
using detail::same_record;
using detail::slot_name;
using detail::store_le32;
using detail::valid_slot_index;

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
    if (load_le32(trailer + 4) != kCommitMarker || load_le32(trailer) != crc32(body, sizeof body)) {
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
    store_le32(trailer.data(), crc);
    store_le32(trailer.data() + 4, kCommitMarker);

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

}  // namespace ota
