// SlotSink: the FirmwareSink that downloads into the inactive slot of an A/B layout, programming
// whole write units and marking the slot pending through AbBootControl once the image is in.
#include <algorithm>
#include <cstring>
#include <utility>

#include "flash/ab_boot_record.hpp"
#include "ota/ab_slots.hpp"
#include "ota/log.hpp"

namespace ota {

using detail::check_version;
using detail::slot_name;

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
